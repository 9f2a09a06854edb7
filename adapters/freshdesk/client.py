"""Freshdesk API v2 over the shared HTTP layer (hdmigrate.http): auth, paths, pagination, limits.

Everything Freshdesk-specific about talking HTTP lives here: Basic auth `api_key:X`, the
`/api/v2` prefix, `page`/`per_page` (max 100) with the next page in the `link` header, the
per-endpoint minute limits under the account limit (api-facts.md section 2), multipart bodies
(`attachments[]`, and form-field spellings of arrays and `custom_fields`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urljoin, urlparse

import httpx

from hdmigrate.errors import Cause, ConfigError
from hdmigrate.http import HttpClient, RatePolicy, by_number, limiter_for, policy_for
from hdmigrate.netguard import guarded_transport

PER_PAGE = 100
# Freshdesk plans: account limit per minute -> documented per-endpoint limits (api-facts.md):
# Growth 200 (create 80 / update 80 / tickets-list 20 / contacts-list 20), Pro 400
# (160/160/100/100), Enterprise 700 (280/280/200/200). As ratios of the account limit:
ENDPOINT_RATIOS = {"create": 0.4, "update": 0.4, "tickets_list": 0.1, "contacts_list": 0.1}
PLAN_LIMITS = {200: (80, 80, 20, 20), 400: (160, 160, 100, 100), 700: (280, 280, 200, 200)}
DEFAULT_RATE_LIMIT = 200.0  # Growth: the lowest paid plan; the X-Ratelimit-* headers then steer
# Where attachment_url and inline image URLs live: the account's own and Freshdesk's attachment
# hosts (attachment.freshdesk.com, eucattachment.freshdesk.com) and its S3 buckets
# (s3.amazonaws.com/cdn.freshdesk.com/…, s3.eu-central-1.amazonaws.com/euc-cdn.freshdesk.com/…).
ATTACHMENT_HOSTS = ("*.freshdesk.com", "s3.amazonaws.com", "s3.*.amazonaws.com", "*.s3.amazonaws.com",
                    "*.s3.*.amazonaws.com")


def endpoint_limits(account_limit: float) -> dict[str, float]:
    """Per-endpoint minute limits under an account limit, from the documented plan table (exact
    for the documented plans, by the Growth ratios otherwise)."""
    a = int(account_limit)
    if a in PLAN_LIMITS:
        c, u, t, k = PLAN_LIMITS[a]
        return {"create": c, "update": u, "tickets_list": t, "contacts_list": k}
    return {k: max(1.0, account_limit * r) for k, r in ENDPOINT_RATIOS.items()}


def endpoint_budgets(requests_by_kind: dict[str, int], account_rate: float) -> dict[str, tuple[int, float]]:
    """A first migration's writes are all creates (POST): they share the create budget, a
    documented part of the account's (for the estimate, hdmigrate/estimate.py)."""
    return {"create": (sum(requests_by_kind.values()), endpoint_limits(account_rate)["create"])}


def endpoint_class(method: str, path: str) -> str | None:
    path = "/" + path.split("?", 1)[0].strip("/")
    if method == "POST":
        return "create"
    if method in ("PUT", "PATCH"):
        return "update"
    if method == "GET" and path.endswith("/tickets"):
        return "tickets_list"
    if method == "GET" and path.endswith("/contacts"):
        return "contacts_list"
    return None


def request_credits(method: str, path: str, params: dict | None = None) -> int:
    """API credits one request costs (the API reference, "Embedding", "List All Tickets", "View a
    Ticket"): each `include` on List All Tickets costs 2 more, each on View a Ticket 1 more
    (include=conversations: 2 in all); everything else 1."""
    includes = [i for i in str((params or {}).get("include") or "").split(",") if i.strip()]
    if method != "GET" or not includes:
        return 1
    if path.split("?", 1)[0].strip("/").endswith("tickets"):
        return 1 + 2 * len(includes)
    return 1 + len(includes)         # "an additional API call credit per embedded resource"


# Freshdesk's machine error codes (its API reference, "Errors") that say more than the status.
_CODE_CAUSES = {"require_feature": Cause.PLAN_FEATURE, "account_suspended": Cause.PLAN_FEATURE,
                "invalid_credentials": Cause.AUTH, "access_denied": Cause.PERMISSION}


def vendor_cause(status: int, body) -> Cause | None:
    """The cause a Freshdesk error body names (`code`, or `errors[].code`)."""
    if not isinstance(body, dict):
        return None
    codes = [body.get("code")] + [e.get("code") for e in body.get("errors") or [] if isinstance(e, dict)]
    return next((_CODE_CAUSES[c] for c in codes if c in _CODE_CAUSES), None)


def _page_items(body) -> list:
    if isinstance(body, dict) and "results" in body:   # search endpoints
        return body["results"]
    return body or []


def _link_next(body, r: httpx.Response, page: int) -> bool:
    return "next" in (r.links or {}) or bool(r.headers.get("link") and 'rel="next"' in r.headers["link"])


def base_url(url: str) -> str:
    if not url:
        raise ConfigError("freshdesk: `url` is required (https://yourdomain.freshdesk.com)")
    parsed = urlparse(url if "://" in url else "https://" + url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"freshdesk: invalid url {url!r}")
    return f"{parsed.scheme}://{parsed.netloc}/api/v2/"


class FreshdeskClient:
    """Requests of each per-endpoint class (create, update, tickets list, contacts list) go
    through an HttpClient of their own whose limiter is that class's bucket, fed by that class's
    X-Ratelimit-* headers (Freshdesk reports the lower per-endpoint total there, e.g. 40 on
    /contacts while the account has 100); every request also takes a slot of the account bucket
    shared by all clients of the host. So a per-endpoint header never lowers the account rate."""

    def __init__(self, url: str, api_key: str, rate_limit: "float | RatePolicy | None" = None,
                 transport: httpx.BaseTransport | None = None, **http_options):
        if not api_key:
            raise ConfigError("freshdesk: no API key (set the variable named by api_key_env)")
        self.base = base_url(url)
        self.root = self.base[: -len("api/v2/")]
        # The account budget and each endpoint class learn their limits from the headers of
        # their own answers, starting from the documented plan table.
        policy = rate_limit if isinstance(rate_limit, RatePolicy) else policy_for(rate_limit, DEFAULT_RATE_LIMIT)
        account = policy.start or DEFAULT_RATE_LIMIT
        caps = endpoint_limits(policy.ceiling) if policy.ceiling else {}
        # One transport (connection pool, TLS context) for the account client and the four
        # endpoint-class clients: one CA-bundle load and one TLS handshake per host, not five.
        transport = transport or guarded_transport()
        common = dict(auth=(api_key, "X"), transport=transport, secrets=[api_key],
                      attachment_hosts=ATTACHMENT_HOSTS, vendor_cause=vendor_cause, **http_options)
        self.http = HttpClient(self.base, rate_limit=policy, **common)
        self.account_limiter = self.http.limiter
        host = self.http.host
        timing = {k: v for k, v in http_options.items() if k in ("clock", "sleep")}
        self._by_class = {}
        for cls, limit in endpoint_limits(account).items():
            own = RatePolicy(start=limit, ceiling=caps.get(cls), share=policy.share)
            self._by_class[cls] = HttpClient(self.base, rate_limit=own,
                                             limiter=limiter_for(f"{host}#{cls}", own, **timing), **common)
        self.requests = 0
        self.credits = 0
        self.by_class: dict[str, int] = {}

    # --- plain calls --------------------------------------------------------------------
    def request(self, method: str, path: str, **kw) -> httpx.Response:
        self.requests += 1
        if method.upper() == "POST":
            # A create that may have reached Freshdesk is not resent blindly: the engine looks it
            # up again (find_existing) instead, so a dropped connection never duplicates it.
            kw.setdefault("idempotent", False)
        cls = endpoint_class(method.upper(), path)
        self.by_class[cls or "other"] = self.by_class.get(cls or "other", 0) + 1
        credits = request_credits(method.upper(), path, kw.get("params"))
        self.credits += credits
        for _ in range(credits - 1):
            # An embed costs credits of the account's budget beyond the request's own slot.
            self.account_limiter.acquire()
        if cls is None:
            return self.http.request(method, path, **kw)
        self.account_limiter.acquire()
        return self._by_class[cls].request(method, path, **kw)

    def get(self, path: str, params: dict | None = None, allow=()) -> httpx.Response:
        return self.request("GET", path, params=params, allow=allow)

    def get_json(self, path: str, params: dict | None = None, allow=()):
        r = self.get(path, params, allow=allow)
        if r.status_code in allow and r.status_code >= 300:
            return None
        return r.json() if r.content else None

    def post_json(self, path: str, body: dict, allow=()) -> httpx.Response:
        return self.request("POST", path, json=body, allow=allow)

    def put_json(self, path: str, body: dict, allow=()) -> httpx.Response:
        return self.request("PUT", path, json=body, allow=allow)

    def post_multipart(self, path: str, body: dict, files: list[tuple[str, bytes, str]],
                       method: str = "POST") -> httpx.Response:
        """Freshdesk multipart: arrays as repeated `key[]` fields, custom fields as
        `custom_fields[key]`, files as `attachments[]`."""
        data: dict[str, list[str]] = {}
        for key, value in form_fields(body):
            data.setdefault(key, []).append(value)
        return self.request(method, path, data=data,
                            files=[("attachments[]", (name, data, ctype)) for name, data, ctype in files])

    def delete(self, path: str, allow=(404,)) -> httpx.Response:
        return self.request("DELETE", path, allow=allow)

    # --- pagination ---------------------------------------------------------------------
    def pages(self, path: str, params: dict | None = None, start_page: int = 1,
              max_page: int | None = None) -> Iterator[tuple[int, list, bool]]:
        """(page number, items, has_next) per page, following the `link: <...>; rel="next"` header.
        A page with the same items as an earlier one (the server ignores `page`) raises
        PaginationLoop naming the path."""
        params = dict(params or {})
        params.setdefault("per_page", PER_PAGE)

        def get(url: str, query: dict):
            r = self.get(url, query)           # through this endpoint class's budget
            return (r.json() if r.content else None), r
        for page in by_number(get, path, params, items=_page_items, has_next=_link_next, start=start_page,
                              max_page=max_page, stream=path):
            yield page.number, page.items, page.has_next

    def all(self, path: str, params: dict | None = None) -> list:
        out: list = []
        for _, items, _ in self.pages(path, params):
            out.extend(items)
        return out

    # --- files --------------------------------------------------------------------------
    def download(self, url: str, max_bytes: int | None = None) -> bytes:
        self.requests += 1
        if url.startswith("/"):
            url = urljoin(self.root, url.lstrip("/"))
        return self.http.download(url, max_bytes=max_bytes)

    def close(self) -> None:
        self.http.close()
        for c in self._by_class.values():
            c.close()


def form_fields(body: dict) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in body.items():
        if value is None:
            continue
        if key == "custom_fields" and isinstance(value, dict):
            for k, v in value.items():
                if v is not None:
                    out.append((f"custom_fields[{k}]", _scalar(v)))
        elif isinstance(value, (list, tuple)):
            for v in value:
                out.append((f"{key}[]", _scalar(v)))
        elif isinstance(value, dict):
            out.append((key, json.dumps(value)))
        else:
            out.append((key, _scalar(value)))
    return out


def _scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
