"""Freshdesk (API v2) adapter: source, target and a loopback sandbox."""

from hdmigrate.adapter import AdapterSpec
from hdmigrate.links import WebPages

from .source import FreshdeskSource
from .target import FreshdeskTarget

CONFIG_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "freshdesk plan section",
    "type": "object",
    "required": ["adapter", "url", "api_key_env"],
    "properties": {
        "adapter": {"const": "freshdesk"},
        "url": {"type": "string", "description": "https://yourdomain.freshdesk.com (http only on loopback)"},
        "api_key_env": {"type": "string", "description": "name of the environment variable holding the API key"},
        "archived": {"type": "boolean", "default": True,
                     "description": "source: probe ids missing from the ticket list for archived tickets"},
        "spam_and_deleted": {"enum": ["report", "migrate"], "default": "report",
                             "description": "source: spam tickets and tickets in the trash are named in the "
                                            "run's report (report) or migrated like the others (migrate)"},
    },
    "additionalProperties": True,
}

ADAPTER = AdapterSpec(
    name="freshdesk",
    description="Freshdesk API v2 (source and target; cannot backdate, history kept in notes)",
    source=FreshdeskSource,
    target=FreshdeskTarget,
    config_schema=CONFIG_SCHEMA,
    sandbox="adapters.freshdesk.sandbox:make_sandbox",
    # The agent UI's pages; /helpdesk/tickets/N (the older UI) and the portal's /support/tickets/N too.
    web_pages=WebPages({"ticket": ("{base}/a/tickets/{id}", "{base}/helpdesk/tickets/{id}", "{base}/support/tickets/{id}"),
                        "organization": ("{base}/a/companies/{id}",)}),
)
