"""Pagination over the client: each style yields pages and stops a stream that repeats itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx

from hdmigrate.netguard import PageGuard

class PaginationMixin:
    """HttpClient's paginators."""

    def paginate_link_header(self, path: str, params: Any = None, *,
                             stream: str | None = None) -> Iterator[httpx.Response]:
        """RFC 5988 `Link: <…>; rel="next"` pagination (Freshdesk); yields each page's response.
        A next link seen before raises PaginationLoop naming `stream`."""
        guard = PageGuard(stream or path)
        url: str | None = path
        if not params:
            guard.see(str(self._url(path)), "next link")
        first = True
        while url:
            response = self.request("GET", url, params=params if first else None)
            first = False
            yield response
            url = response.links.get("next", {}).get("url")
            if url:
                guard.see(str(self._url(url)), "next link")

    def paginate_next_url(self, path: str, params: Any = None, *,
                          next_url: Callable[[Any], str | None], stream: str | None = None) -> Iterator[Any]:
        """Pagination where the JSON body names the next URL (Zendesk links.next / next_page /
        after_url, RT next_page); yields each page's JSON body. A next URL seen before raises
        PaginationLoop naming `stream`."""
        guard = PageGuard(stream or path)
        url: str | None = path
        if not params:
            guard.see(str(self._url(path)), "next link")
        first = True
        while url:
            body = self.get_json(url, params=params if first else None)
            first = False
            yield body
            url = next_url(body) if body is not None else None
            if url:
                guard.see(str(self._url(url)), "next link")

    def paginate_offset(self, path: str, params: Any = None, *, page_param: str = "page",
                        size_param: str | None = "per_page", size: int = 100,
                        items: Callable[[Any], list], start: int = 1,
                        stream: str | None = None) -> Iterator[Any]:
        """Page-number pagination; stops after a page with fewer than `size` items. A page with
        the same items as an earlier one (the server ignores the page number) raises
        PaginationLoop."""
        guard = PageGuard(stream or path)
        page = start
        while True:
            query = dict(params or {})
            query[page_param] = page
            if size_param:
                query[size_param] = size
            body = self.get_json(path, params=query)
            yield body
            found = (items(body) or []) if body is not None else []
            if len(found) < size:
                return
            guard.see_items(item.get("id") if isinstance(item, dict) else item for item in found)
            page += 1
