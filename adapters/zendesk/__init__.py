"""Zendesk Support: source (incremental exports) and target (Ticket Import API), plus a sandbox."""

from hdmigrate.adapter import AdapterSpec, web_pages

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
    web_url=web_pages({"ticket": "{base}/agent/tickets/{id}", "organization": "{base}/agent/organizations/{id}"}),
)
