"""Building the HTTP client for one Zendesk account (hdmigrate.http does retries and pacing)."""

from __future__ import annotations

import time
from typing import Any

from hdmigrate.adapter import AdapterContext
from hdmigrate.errors import ConfigError, FatalApiError, TransientApiError
from hdmigrate.http import HttpClient

DEFAULT_RATE_LIMIT = 700.0   # requests per minute (Enterprise); the plan's [run] rate_limit wins

CONFIG_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "zendesk adapter settings",
    "type": "object",
    "required": ["adapter", "url", "email_env", "token_env"],
    "properties": {
        "adapter": {"const": "zendesk"},
        "url": {"type": "string", "pattern": "^https?://",
                "description": "Base URL of the account, e.g. https://acme.zendesk.com"},
        "email_env": {"type": "string", "minLength": 1,
                      "description": "Environment variable holding the admin's email"},
        "token_env": {"type": "string", "minLength": 1,
                      "description": "Environment variable holding the API token"},
        "archive_immediately": {"type": "boolean", "default": False,
                                "description": "Target: closed tickets go straight to the archive "
                                               "(Zendesk suggests it above 750k tickets)"},
        "page_size": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1000,
                      "description": "Source: items per incremental export page"},
        "job_poll_seconds": {"type": "number", "minimum": 0, "default": 1.0,
                             "description": "Target: first wait between job status polls"},
        "job_timeout_seconds": {"type": "number", "minimum": 1, "default": 900},
    },
    "additionalProperties": True,
}


def make_client(ctx: AdapterContext, transport: Any = None, **kw: Any) -> HttpClient:
    url = (ctx.config.get("url") or "").rstrip("/")
    if not url:
        raise ConfigError(f"zendesk {ctx.role}: `url` is required (e.g. https://acme.zendesk.com)")
    email = ctx.secrets.get("email")
    token = ctx.secrets.get("token")
    if not email or not token:
        raise ConfigError(f"zendesk {ctx.role}: the email and token (email_env, token_env) are required")
    return HttpClient(url, auth=(f"{email}/token", token),
                      rate_limit=ctx.rate_limit or DEFAULT_RATE_LIMIT, transport=transport,
                      secrets=[token], log=ctx.log,
                      headers={"Accept": "application/json", "User-Agent": "hdmigrate-zendesk"}, **kw)


def check_account(client: HttpClient) -> dict:
    """GET /users/me. Zendesk answers bad credentials with 200 and an anonymous user (id null)."""
    body = client.get_json("/api/v2/users/me") or {}
    me = body.get("user") or {}
    if me.get("id") is None:
        raise FatalApiError(f"{client.base_url}: Zendesk did not accept the credentials (it answered "
                            "with an anonymous user); check the email and API token", status=200)
    if me.get("role") != "admin":
        raise FatalApiError(f"{client.base_url}: {me.get('email')} is {me.get('role')!r}; exports and "
                            "imports need an admin", status=403)
    return me


def wait_for_job(client: HttpClient, job: dict, *, poll: float = 1.0, timeout: float = 900.0,
                 sleep=time.sleep) -> dict:
    """Poll GET /api/v2/job_statuses/{id} until the job is completed or failed."""
    status = job
    deadline = time.monotonic() + timeout
    wait = poll
    while status.get("status") not in ("completed", "failed", "killed"):
        if time.monotonic() > deadline:
            raise TransientApiError(f"job {job.get('id')} still {status.get('status')!r} after {timeout:.0f}s")
        sleep(wait)
        wait = min(wait * 1.5, 10.0)
        status = (client.get_json(f"/api/v2/job_statuses/{job['id']}") or {}).get("job_status") or {}
    return status
