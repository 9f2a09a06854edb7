"""Request Tracker 5 (REST2) adapter: source and target. See docs/real-helpdesks.md."""

from hdmigrate.adapter import AdapterSpec
from hdmigrate.links import WebPages

from .source import RtSource
from .target import RtTarget

CONFIG_SCHEMA = {
    "type": "object",
    "required": ["adapter", "url", "token_env"],
    "properties": {
        "adapter": {"const": "rt"},
        "url": {"type": "string", "description": "RT web root or its /REST/2.0 base URL"},
        "token_env": {"type": "string", "description": "environment variable holding a REST2 auth token"},
        "act_as_created_users": {"type": "boolean", "default": False,
                                 "description": "give users the migration creates a random in-memory "
                                                "password and post their comments as them"},
        "api_user": {"type": "string", "default": "root", "description": "the user the token belongs to"},
        "queue": {"type": "string", "default": "General", "description": "queue for tickets without a group"},
        "stamp_prefix": {"type": "string", "default": "",
                         "description": "prefix of the hdmigrate-source-id stamp (several sources into one RT)"},
    },
}

ADAPTER = AdapterSpec(name="rt", description="Request Tracker 5 over REST2 (source and target)",
                      source=RtSource, target=RtTarget, config_schema=CONFIG_SCHEMA,
                      web_pages=WebPages({"ticket": ("{base}/Ticket/Display.html?id={id}",)},
                                         base=lambda c: (c.get("url") or "").rstrip("/").removesuffix("/REST/2.0")))
