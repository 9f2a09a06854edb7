"""Zendesk Support: source (incremental exports) and target (Ticket Import API), plus a sandbox."""

from hdmigrate.adapter import AdapterSpec
from hdmigrate.links import WebPages

from .client import CONFIG_SCHEMA
from .source import ZendeskSource
from .target import ZendeskTarget

ADAPTER = AdapterSpec(
    name="zendesk",
    description="Zendesk Support: incremental exports in, Ticket Import API out",
    source=ZendeskSource,
    target=ZendeskTarget,
    config_schema=CONFIG_SCHEMA,
    sandbox="adapters.zendesk.sandbox:make_sandbox",
    # The agent UI's pages; the classic /tickets/N and the help center's requests are the same tickets.
    web_pages=WebPages({"ticket": ("{base}/agent/tickets/{id}", "{base}/tickets/{id}", "{base}/hc/requests/{id}",
                                   "{base}/hc/{any}/requests/{id}"),
                        "organization": ("{base}/agent/organizations/{id}",)}),
)
