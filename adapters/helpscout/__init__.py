"""Help Scout (Mailbox API 2.0): source and target, plus a loopback sandbox.

client.py (OAuth2 client credentials, HAL pages), to_canonical.py and to_vendor.py (pure
mappings), source.py and target.py (I/O), sandbox/ (the emulation `hdmigrate sandbox helpscout`
serves).
"""

from hdmigrate.adapter import AdapterSpec

from .client import CONFIG_SCHEMA
from .source import HelpScoutSource
from .target import HelpScoutTarget

ADAPTER = AdapterSpec(
    name="helpscout",
    description="Help Scout Mailbox API 2.0: conversations in, imported conversations and threads out (no e-mail sent)",
    source=HelpScoutSource,
    target=HelpScoutTarget,
    config_schema=CONFIG_SCHEMA,
    sandbox="adapters.helpscout.sandbox:make_sandbox",
)
