"""The one HTTP client of a Help Scout account (Mailbox API 2.0): OAuth2 client credentials and
HAL pagination on top of hdmigrate.http (retries, pacing, redaction).

- The token comes from `POST /v2/oauth2/token` (grant_type=client_credentials). It lives in
  memory only (never written, redacted from every message) and is fetched again on a 401.
- Lists are HAL: items under `_embedded.<name>`, `page: {size, totalElements, totalPages,
  number}` (numbers start at 1), no `next` link on the last page. The page number is the
  resumable cursor the engine commits.
- Rate: one budget per account (200/400/800 requests a minute by plan, docs.helpscout.com
  article 1140), and "Write requests (POST, PUT, DELETE, PATCH) count as 2 requests toward the
  rate limit" (developer.helpscout.com/mailbox-api/overview/rate-limiting): a write takes two
  slots of the host's limiter. The limiter starts at the plan's `[run] rate_limit` policy (or
  200, the Standard plan) and learns the account's limit from `X-RateLimit-Limit-Minute` /
  `X-RateLimit-Remaining-Minute` (hdmigrate.http.ratelimit: up and down within the policy, a
  RatePolicy as Freshdesk's); a 429 waits `X-RateLimit-Retry-After` seconds. Whether the token
  endpoint counts against the budget is not in the stored documents: it is fetched rarely and
  paced as one read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from hdmigrate.adapter import AdapterContext
from hdmigrate.errors import ApiError, Cause, ConfigError, FatalApiError, RecordRejected
from hdmigrate.http import HttpClient
from hdmigrate.http.pagination import by_number

API_URL = "https://api.helpscout.net"
TOKEN_PATH = "/v2/oauth2/token"
DEFAULT_RATE_LIMIT = 200.0      # Standard plan (docs.helpscout.com/article/1140-mailbox-api)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})    # each counts as 2 (rate-limiting page)
# 412: "maximum number of threads" and "too old" locked conversations (threads/update page): one
# conversation refuses the write, so that record fails and the run goes on.
PRECONDITION_FAILED = 412
MAX_PAGES = 100_000             # a HAL list that never ends is a server fault, not data

CONFIG_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "helpscout adapter settings",
    "type": "object",
    "required": ["adapter", "app_id_env", "app_secret_env"],
    "properties": {
        "adapter": {"const": "helpscout"},
        "app_id_env": {"type": "string", "minLength": 1,
                       "description": "Environment variable holding the OAuth2 app id (client credentials)"},
        "app_secret_env": {"type": "string", "minLength": 1,
                           "description": "Environment variable holding the OAuth2 app secret"},
        "url": {"type": "string", "pattern": "^https?://", "default": API_URL, "x-wizard-asks": True,
                "description": "API base URL; default https://api.helpscout.net (a sandbox's URL for tests)"},
        "mailbox": {"type": ["string", "integer"], "x-wizard-asks": True,
                    "description": "Target: the mailbox (id or name) the conversations are written to "
                                   "(unset: the account's only mailbox); source: read only this mailbox "
                                   "(unset: all)"},
    },
    "additionalProperties": False,
}


class _Bearer(httpx.Auth):
    """Adds the current access token; the token itself is held by HelpScoutClient."""

    def __init__(self) -> None:
        self.token: str | None = None

    def auth_flow(self, request: httpx.Request):
        if self.token and not request.url.path.endswith(TOKEN_PATH):
            request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


class HelpScoutClient:
    """HttpClient + token handling + HAL helpers for one account."""

    def __init__(self, ctx: AdapterContext, transport: Any = None, **kw: Any):
        app_id, secret = ctx.secrets.get("app_id"), ctx.secrets.get("app_secret")
        if not app_id or not secret:
            raise ConfigError(f"helpscout {ctx.role}: the app id and secret (app_id_env, app_secret_env) "
                              "are required (Help Scout: Your Profile > My Apps)")
        self._app_id, self._secret = app_id, secret
        self._auth = _Bearer()
        self.http = HttpClient(ctx.config.get("url") or API_URL, auth=self._auth,
                               rate_limit=ctx.rate_limit or DEFAULT_RATE_LIMIT, transport=transport,
                               secrets=[app_id, secret], log=ctx.log,
                               headers={"Accept": "application/hal+json, application/json",
                                        "User-Agent": "hdmigrate-helpscout"}, **kw)
        self.token_fetches = 0
        self.write_slots = 0            # second limiter slots taken for writes

    # ---- auth
    def refresh_token(self) -> None:
        """Fetch a new access token (client credentials); held in memory, redacted everywhere."""
        try:
            r = self.http.request("POST", TOKEN_PATH, data={
                "grant_type": "client_credentials", "client_id": self._app_id, "client_secret": self._secret})
        except (RecordRejected, FatalApiError) as e:
            # Help Scout answers a refused app id or secret with 400 "<id> is not a valid API Key"
            # (the recorded v2 token failure), so the status alone would read as a bad request.
            raise FatalApiError(f"{self.http.base_url}: Help Scout refused the app id and secret "
                                f"(check app_id_env and app_secret_env): {e.excerpt or e}", status=e.status,
                                cause=Cause.AUTH) from None
        token = (r.json() or {}).get("access_token")
        if not token:
            raise FatalApiError(f"{self.http.base_url}: the token endpoint answered without an access_token")
        self.http.secrets = tuple(dict.fromkeys([*self.http.secrets, token]))
        self._auth.token = token
        self.token_fetches += 1

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One API call; a 401 (token expired or revoked) fetches a new token and retries once."""
        if self._auth.token is None:
            self.refresh_token()
        try:
            return self._send(method, path, **kw)
        except FatalApiError as e:
            if e.status != 401:
                raise
        self.refresh_token()
        return self._send(method, path, **kw)

    def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        if method.upper() in WRITE_METHODS:
            self.http.limiter.acquire()     # a write's second slot (HttpClient takes the first)
            self.write_slots += 1
        try:
            return self.http.request(method, path, **kw)
        except (RecordRejected, FatalApiError) as e:
            if isinstance(e, RecordRejected) or e.status == PRECONDITION_FAILED:
                raise _rejected(method, path, e) from None
            raise

    def get_json(self, path: str, params: Any = None) -> Any:
        r = self.request("GET", path, params=params)
        return r.json() if r.content else None

    # ---- HAL
    def _get_page(self, path: str, params: Any) -> tuple[Any, httpx.Response]:
        r = self.request("GET", path, params=params)
        return (r.json() if r.content else None), r

    def pages(self, path: str, key: str, params: dict | None = None, start: int = 1) -> Iterator[tuple[int, list[dict], bool]]:
        """(page number, items, is_last) from page `start` (a committed cursor) to the last one,
        on the shared page-number paginator (its repeat guard and page cap)."""
        def has_next(body, response, number) -> bool:
            info = (body or {}).get("page") or {}
            return "next" in ((body or {}).get("_links") or {}) and number < int(info.get("totalPages") or number + 1)

        for page in by_number(self._get_page, path, params, items=lambda body: embedded(body, key),
                              has_next=has_next, start=start, max_page=MAX_PAGES, stream=path):
            yield page.number, page.items, page.done

    def page(self, path: str, key: str, params: dict | None = None, number: int = 1) -> tuple[list[dict], bool]:
        """(items, is_last) of one HAL list page."""
        _, items, last = next(self.pages(path, key, params, number))
        return items, last

    def all(self, path: str, key: str, params: dict | None = None) -> list[dict]:
        return [item for _, items, _ in self.pages(path, key, params) for item in items]

    def create(self, path: str, body: dict) -> str:
        """POST a new resource; Help Scout answers 201 with its id in `Resource-ID`. Not resent
        when the answer is lost: the engine looks the record up by its stamp instead."""
        r = self.request("POST", path, json=body, idempotent=False)
        rid = r.headers.get("resource-id") or _id_from_location(r.headers.get("location"))
        if not rid:
            raise FatalApiError(f"POST {path}: answered {r.status_code} without a Resource-ID header")
        return str(rid)

    def close(self) -> None:
        self.http.close()


def embedded(body: dict | None, key: str) -> list[dict]:
    """The `_embedded.<key>` list of a HAL body (absent on an empty page)."""
    found = ((body or {}).get("_embedded") or {}).get(key)
    return found if isinstance(found, list) else []


def error_summary(body: dict | None) -> str:
    """A Help Scout error body as one line: message, logRef and each `path: message`."""
    body = body or {}
    parts = [str(body.get("message") or "error")]
    for err in embedded(body, "errors"):
        parts.append(f"{err.get('path')}: {err.get('message')}")
    if body.get("logRef"):
        parts.append(f"logRef {body['logRef']}")
    return "; ".join(parts)


def _rejected(method: str, path: str, error: ApiError) -> RecordRejected:
    """The record's failure, worded from Help Scout's error body (message, each `path: message`,
    logRef) when the answer carried one."""
    try:
        body = json.loads(error.excerpt or "")
    except ValueError:
        body = None
    said = error_summary(body) if isinstance(body, dict) and ("message" in body or "_embedded" in body) \
        else (error.excerpt or str(error))
    return RecordRejected(f"{method.upper()} {path}: Help Scout refused it (HTTP {error.status}): {said}",
                          status=error.status, method=error.method, url=error.url, request_id=error.request_id,
                          excerpt=error.excerpt, cause=error.cause)


def _id_from_location(location: str | None) -> str | None:
    tail = (location or "").rstrip("/").rpartition("/")[2]
    return tail if tail.isdigit() else None
