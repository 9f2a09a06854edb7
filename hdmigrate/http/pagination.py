"""Resumable paginators: each style yields `ApiPage`s whose `cursor` is a plain JSON value (a URL,
a cursor string, a page number) that the engine commits after the page's items, and from which
the same paginator resumes. Every style stops a stream that repeats its next link, cursor or page
content (PageGuard → PaginationLoop naming the stream), and page numbers can be capped.

Each function takes `get(url, params) -> (body, response)`, so an adapter whose requests go
through its own wrapper (Freshdesk's per-endpoint budgets, RT's POST searches) uses the same
paginator; `HttpClient.pages_by_*` bind the client's own GET.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from hdmigrate.netguard import PageGuard

# (url or path, query params or None) -> (the page's JSON body or None, its response)
GetPage = Callable[[str, Any], "tuple[Any, httpx.Response]"]
Items = Callable[[Any], list]


@dataclass(frozen=True)
class ApiPage:
    """One page. `cursor`: where the next page starts (JSON-able; None when the source names no
    next page); `done`: the stream ends with this page. `number`, `has_next`, `status`: for
    page-number pagination (the page read, whether the source announced another, its status)."""

    items: list
    cursor: Any
    done: bool
    body: Any = None
    number: int | None = None
    has_next: bool = False
    status: int | None = None


def _ids(items: list) -> Iterator[Any]:
    return (item.get("id") if isinstance(item, dict) else item for item in items)


def by_next_url(get: GetPage, path: str, params: Any = None, *, items: Items,
                next_url: Callable[[Any], str | None], cursor: str | None = None, stream: str,
                key: Callable[[str, Any], str] = lambda url, params: f"{url}?{params or ''}") -> Iterator[ApiPage]:
    """The body names the next URL (Zendesk links.next, RT next_page). Resumes from `cursor` (a
    next URL committed earlier); `key` gives the guard's key of a URL and its params."""
    guard = PageGuard(stream)
    url, query = (cursor, None) if cursor else (path, params)
    guard.see(key(url, query), "next link")
    while True:
        body, _ = get(url, query)
        nxt = next_url(body) if body is not None else None
        yield ApiPage(items(body) if body is not None else [], nxt or None, not nxt, body)
        if not nxt:
            return
        guard.see(key(nxt, None), "next link")
        url, query = nxt, None


def by_link_header(get: GetPage, path: str, params: Any = None, *, items: Items, cursor: str | None = None,
                   stream: str, key: Callable[[str, Any], str] = lambda url, params: f"{url}?{params or ''}",
                   ) -> Iterator[ApiPage]:
    """RFC 8288 `Link: <…>; rel="next"` (GitHub-style APIs, Freshdesk's lists): the cursor is the
    next link's URL."""
    last: list[httpx.Response] = []

    def get_keeping_response(url: str, query: Any) -> tuple[Any, httpx.Response]:
        body, response = get(url, query)
        last[:] = [response]
        return body, response
    return by_next_url(get_keeping_response, path, params, items=items, cursor=cursor, stream=stream, key=key,
                       next_url=lambda body: last[0].links.get("next", {}).get("url") if last else None)


def by_cursor_field(get: GetPage, path: str, params: dict | None = None, *, items: Items,
                    next_cursor: Callable[[Any], str | None], done: Callable[[Any], bool] = lambda body: False,
                    cursor_param: str = "cursor", start_params: dict | None = None,
                    cursor: str | None = None, stream: str) -> Iterator[ApiPage]:
    """The body names the next cursor, sent back as `cursor_param` (Zendesk incremental
    exports' after_cursor). The last page keeps the last cursor, so a later delta run resumes
    there; the first request without a cursor sends `start_params` instead."""
    guard = PageGuard(stream)
    guard.see(cursor)
    query = {**(params or {}), **({cursor_param: cursor} if cursor else (start_params or {}))}
    while True:
        body, _ = get(path, query)
        body = body or {}
        after = next_cursor(body)
        finished = bool(done(body)) or not after
        yield ApiPage(items(body), after or cursor, finished, body)
        if finished:
            return
        guard.see(after)        # a source repeating its cursor would loop and burn the quota
        cursor, query = after, {**(params or {}), cursor_param: after}


def by_number(get: GetPage, path: str, params: dict | None = None, *, items: Items,
              has_next: Callable[[Any, httpx.Response, int], bool], page_param: str = "page",
              size_param: str | None = None, size: int | None = None, start: int = 1,
              max_page: int | None = None, stop_on_empty: bool = True, stream: str) -> Iterator[ApiPage]:
    """Page numbers from `start` (a committed `cursor`), until `has_next(body, response, page)`
    says no, a page is empty (`stop_on_empty`) or `max_page` is reached. A page with the same
    items as an earlier one (a server ignoring the page number) raises PaginationLoop."""
    guard = PageGuard(stream)
    page = start
    while True:
        query = {**(params or {}), page_param: page}
        if size_param:
            query[size_param] = size
        body, response = get(path, query)
        found = (items(body) if body is not None else []) or []
        announced = bool(has_next(body, response, page))
        more = announced and (bool(found) or not stop_on_empty) and not (max_page and page >= max_page)
        yield ApiPage(found, page + 1 if more else None, not more, body, number=page, has_next=announced,
                      status=response.status_code if response is not None else None)
        if not more:
            return
        guard.see_items(_ids(found))
        page += 1


class PaginationMixin:
    """HttpClient's paginators over its own GET."""

    def _get_page(self, url: str, params: Any) -> tuple[Any, httpx.Response]:
        response = self.request("GET", url, params=params)
        return self._json(response), response

    def _page_key(self, url: str, params: Any) -> str:
        return str(self._url(url).copy_merge_params(params) if params else self._url(url))

    def pages_by_next_url(self, path: str, params: Any = None, **kw: Any) -> Iterator[ApiPage]:
        kw.setdefault("stream", path)
        return by_next_url(self._get_page, path, params, key=self._page_key, **kw)

    def pages_by_link_header(self, path: str, params: Any = None, **kw: Any) -> Iterator[ApiPage]:
        kw.setdefault("stream", path)
        return by_link_header(self._get_page, path, params, key=self._page_key, **kw)

    def pages_by_cursor_field(self, path: str, params: dict | None = None, **kw: Any) -> Iterator[ApiPage]:
        kw.setdefault("stream", path)
        return by_cursor_field(self._get_page, path, params, **kw)

    def pages_by_number(self, path: str, params: dict | None = None, **kw: Any) -> Iterator[ApiPage]:
        kw.setdefault("stream", path)
        return by_number(self._get_page, path, params, **kw)

    # The body-per-page forms the first adapters were written against.
    def paginate_next_url(self, path: str, params: Any = None, *,
                          next_url: Callable[[Any], str | None], stream: str | None = None) -> Iterator[Any]:
        """Yields each page's JSON body, following the next URL the body names."""
        for page in self.pages_by_next_url(path, params, items=lambda body: [], next_url=next_url,
                                           stream=stream or path):
            yield page.body

    def paginate_link_header(self, path: str, params: Any = None, *,
                             stream: str | None = None) -> Iterator[httpx.Response]:
        """RFC 8288 `Link: <…>; rel="next"` pagination; yields each page's response."""
        def get(url: str, query: Any) -> tuple[Any, httpx.Response]:
            response = self.request("GET", url, params=query)
            return response, response
        for page in by_link_header(get, path, params, items=lambda response: [], stream=stream or path,
                                   key=self._page_key):
            yield page.body

    def paginate_offset(self, path: str, params: Any = None, *, page_param: str = "page",
                        size_param: str | None = "per_page", size: int = 100,
                        items: Callable[[Any], list], start: int = 1,
                        stream: str | None = None) -> Iterator[Any]:
        """Page numbers; stops after a page with fewer than `size` items. Yields the bodies."""
        for page in self.pages_by_number(path, params, items=items, page_param=page_param,
                                         size_param=size_param, size=size, start=start,
                                         stream=stream or path,
                                         has_next=lambda body, response, number: True,
                                         stop_on_empty=True):
            yield page.body
            if len(page.items) < size:
                return
