"""django-helpdesk 2.6 adapter (source and target). See docs/real-helpdesks.md."""

from hdmigrate.adapter import AdapterSpec
from hdmigrate.links import WebPages

from .source import DjangoHelpdeskSource
from .target import DjangoHelpdeskTarget

CONFIG_SCHEMA = {
    "type": "object",
    "required": ["adapter", "url", "username_env", "password_env"],
    "properties": {
        "adapter": {"const": "django_helpdesk"},
        "url": {"type": "string", "description": "site root or its /helpdesk/api base URL"},
        "username_env": {"type": "string"},
        "password_env": {"type": "string"},
        "queue": {"type": "integer", "default": 1, "description": "queue id for migrated tickets"},
        "validate_attachment_types": {"type": "boolean", "default": True,
                                      "description": "the server keeps its attachment extension allow-list"},
        "stamp_prefix": {"type": "string", "default": ""},
    },
}

ADAPTER = AdapterSpec(name="django_helpdesk", description="django-helpdesk 2.6 REST API (source and target)",
                      source=DjangoHelpdeskSource, target=DjangoHelpdeskTarget, config_schema=CONFIG_SCHEMA,
                      web_pages=WebPages({"ticket": ("{base}/helpdesk/tickets/{id}/",)},
                                         base=lambda c: (c.get("url") or "").rstrip("/").removesuffix("/helpdesk/api")))
