"""django-helpdesk API access (`/helpdesk/api/`) through the shared HTTP layer, HTTP basic auth."""

from __future__ import annotations

from hdmigrate.errors import ConfigError
from hdmigrate.http import HttpClient


def api_base(url: str) -> str:
    if not url:
        raise ConfigError("django_helpdesk: `url` is required (e.g. http://127.0.0.1:8711)")
    url = url.rstrip("/")
    return url if url.endswith("/helpdesk/api") else url + "/helpdesk/api"


def make_client(ctx) -> HttpClient:
    user, password = ctx.secrets.get("username"), ctx.secrets.get("password")
    if not user or not password:
        raise ConfigError("django_helpdesk: set username_env and password_env in the plan and export them")
    return HttpClient(api_base(ctx.config.get("url", "")), auth=(user, password),
                      headers={"Accept": "application/json"}, rate_limit=ctx.rate_limit, log=ctx.log)
