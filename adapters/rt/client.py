"""REST2 access for Request Tracker 5 through the shared HTTP layer."""

from __future__ import annotations

from collections.abc import Iterator

from hdmigrate.errors import ConfigError
from hdmigrate.http import HttpClient, by_number

PER_PAGE = 100   # REST2 caps per_page at 100


def rest2_base(url: str) -> str:
    """Accept the RT web root or the REST2 base URL."""
    if not url:
        raise ConfigError("rt: `url` is required (e.g. http://127.0.0.1:8712 or .../REST/2.0)")
    url = url.rstrip("/")
    return url if url.endswith("/REST/2.0") else url + "/REST/2.0"


def make_client(ctx, *, auth=None, token: str | None = None) -> HttpClient:
    base = rest2_base(ctx.config.get("url", ""))
    headers = {"Accept": "application/json"}
    secrets = []
    if token:
        headers["Authorization"] = f"token {token}"
        secrets.append(token)
    return HttpClient(base, auth=auth, headers=headers, rate_limit=ctx.rate_limit, secrets=secrets,
                      log=ctx.log)


def pages(http: HttpClient, method: str, path: str, params: dict | None = None,
          body=None, per_page: int = PER_PAGE) -> Iterator[list[dict]]:
    """REST2 page/per_page pagination (GET with query or POST with a JSON search body). A page
    with the same items as an earlier one raises PaginationLoop naming the path."""
    def get(url: str, query: dict):
        response = http.request(method, url, params=query, json=body if method != "GET" else None)
        return http._json(response), response

    def more(data, response, page: int) -> bool:     # RT names its page count
        return page < int(float((data or {}).get("pages") or 0))
    for page in by_number(get, path, params, items=lambda data: (data or {}).get("items") or [], has_next=more,
                          size_param="per_page", size=per_page, stream=path):
        yield page.items
