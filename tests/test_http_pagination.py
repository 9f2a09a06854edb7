"""Resumable paginators (hdmigrate/http/pagination.py) and the adapter loops now built on them:
each page's cursor is a plain JSON value, a paginator resumes from a committed cursor, and a
repeated next link, cursor or page stops the stream by name."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from adapters.django_helpdesk.source import DjangoHelpdeskSource
from adapters.freshdesk.client import FreshdeskClient
from adapters.rt.client import pages as rt_pages
from adapters.zendesk.source import ZendeskSource
from hdmigrate.adapter import AdapterContext
from hdmigrate.http import ApiPage, HttpClient, PaginationLoop

ZD = "https://acme.zendesk.com"


def zendesk() -> ZendeskSource:
    return ZendeskSource(AdapterContext(config={"url": ZD}, secrets={"email": "a@acme.test", "token": "tok-123456"}))


def assert_json_able(pages: list[ApiPage]) -> None:
    for page in pages:
        assert json.loads(json.dumps(page.cursor)) == page.cursor


# ---------------------------------------------------------------- the paginators

@respx.mock
def test_next_url_pages_carry_the_next_link_and_resume_from_it():
    respx.get(f"{ZD}/api/v2/groups", params={"page[size]": "2"}).mock(return_value=httpx.Response(200, json={
        "groups": [{"id": 1}, {"id": 2}], "links": {"next": f"{ZD}/api/v2/groups?page[after]=b"}}))
    respx.get(f"{ZD}/api/v2/groups", params={"page[after]": "b"}).mock(return_value=httpx.Response(200, json={
        "groups": [{"id": 3}], "links": {"next": None}}))
    with HttpClient(ZD, sleep=lambda s: None) as c:
        pages = list(c.pages_by_next_url("/api/v2/groups", {"page[size]": 2}, items=lambda b: b["groups"],
                                          next_url=lambda b: b["links"]["next"]))
        assert [([i["id"] for i in p.items], p.cursor, p.done) for p in pages] == [
            ([1, 2], f"{ZD}/api/v2/groups?page[after]=b", False), ([3], None, True)]
        assert_json_able(pages)
        resumed = list(c.pages_by_next_url("/api/v2/groups", {"page[size]": 2}, cursor=pages[0].cursor,
                                           items=lambda b: b["groups"], next_url=lambda b: b["links"]["next"]))
    assert [[i["id"] for i in p.items] for p in resumed] == [[3]]


@respx.mock
def test_cursor_field_pages_keep_the_last_cursor_and_stop_on_a_repeat():
    route = respx.get(f"{ZD}/api/v2/incremental/x")
    route.side_effect = [
        httpx.Response(200, json={"x": [{"id": 1}], "after_cursor": "c1", "end_of_stream": False}),
        httpx.Response(200, json={"x": [{"id": 2}], "after_cursor": "c2", "end_of_stream": True}),
    ]
    with HttpClient(ZD, sleep=lambda s: None) as c:
        pages = list(c.pages_by_cursor_field("/api/v2/incremental/x", {"per_page": 10}, items=lambda b: b["x"],
                                             next_cursor=lambda b: b.get("after_cursor"),
                                             done=lambda b: b.get("end_of_stream"), start_params={"start_time": 0}))
    assert [(p.cursor, p.done) for p in pages] == [("c1", False), ("c2", True)]   # the end keeps c2
    assert dict(route.calls[0].request.url.params) == {"per_page": "10", "start_time": "0"}
    assert dict(route.calls[1].request.url.params) == {"per_page": "10", "cursor": "c1"}
    route.side_effect = [httpx.Response(200, json={"x": [{"id": 1}], "after_cursor": "c1"})] * 3
    with HttpClient(ZD, sleep=lambda s: None) as c, pytest.raises(PaginationLoop, match="stream x: .*'c1'"):
        list(c.pages_by_cursor_field("/api/v2/incremental/x", items=lambda b: b["x"], stream="x",
                                     next_cursor=lambda b: b.get("after_cursor")))


@respx.mock
def test_numbered_pages_stop_at_the_cap_and_resume_from_a_page_number():
    route = respx.get(f"{ZD}/items")
    route.side_effect = lambda request: httpx.Response(200, json=[{"id": int(request.url.params["page"])}])
    with HttpClient(ZD, sleep=lambda s: None) as c:
        pages = list(c.pages_by_number("/items", items=lambda b: b, has_next=lambda b, r, n: True,
                                       start=3, max_page=5))
    assert [(p.number, p.cursor, p.done, p.has_next) for p in pages] == [
        (3, 4, False, True), (4, 5, False, True), (5, None, True, True)]      # capped, not endless
    assert_json_able(pages)


# ---------------------------------------------------------------- the adapters' loops on them

@respx.mock
def test_zendesk_list_stream_commits_next_links_and_resumes():
    nxt = f"{ZD}/api/v2/groups.json?page[after]=x"
    respx.get(f"{ZD}/api/v2/groups", params={"page[size]": "100"}).mock(return_value=httpx.Response(200, json={
        "groups": [{"id": 1}], "meta": {"has_more": True}, "links": {"next": nxt}}))
    respx.get(nxt).mock(return_value=httpx.Response(200, json={
        "groups": [{"id": 2}], "meta": {"has_more": False}, "links": {"next": None}}))
    source = zendesk()
    try:
        pages = list(source._fetch_list("groups", None))
        resumed = list(source._fetch_list("groups", pages[0].cursor))
    finally:
        source.close()
    assert [(p.items[0][0], p.cursor, p.done) for p in pages] == [("1", nxt, False), ("2", None, True)]
    assert [(p.items[0][0], p.done) for p in resumed] == [("2", True)]


@respx.mock
def test_zendesk_incremental_cursor_stream_sideloads_and_resumes():
    route = respx.get(f"{ZD}/api/v2/incremental/users/cursor")
    route.side_effect = [
        httpx.Response(200, json={"users": [{"id": 5, "role": "agent"}], "after_cursor": "u1",
                                  "end_of_stream": False}),
        httpx.Response(200, json={"users": [{"id": 6, "role": "end-user"}], "after_cursor": "u2",
                                  "end_of_stream": True}),
    ]
    source = zendesk()
    try:
        pages = list(source._fetch_cursor_based("/api/v2/incremental/users/cursor", "users", "u0", 0, None))
    finally:
        source.close()
    assert [(p.cursor, p.done) for p in pages] == [("u1", False), ("u2", True)]
    assert route.calls[0].request.url.params["cursor"] == "u0"
    assert "start_time" not in route.calls[0].request.url.params


@respx.mock
def test_freshdesk_pages_follow_the_link_header_through_its_endpoint_budget():
    root = "https://acme.freshdesk.com/api/v2"
    respx.get(f"{root}/groups", params={"page": "1"}).mock(return_value=httpx.Response(
        200, json=[{"id": 1}], headers={"link": f'<{root}/groups?page=2>; rel="next"'}))
    respx.get(f"{root}/groups", params={"page": "2"}).mock(return_value=httpx.Response(200, json=[{"id": 2}]))
    respx.get(f"{root}/search/tickets").mock(return_value=httpx.Response(200, json={"results": [{"id": 9}]}))
    fd = FreshdeskClient("https://acme.freshdesk.com", "fd-api-key-123", sleep=lambda s: None)
    assert list(fd.pages("groups")) == [(1, [{"id": 1}], True), (2, [{"id": 2}], False)]
    assert list(fd.pages("groups", max_page=1)) == [(1, [{"id": 1}], True)]
    assert fd.all("search/tickets") == [{"id": 9}]
    assert fd.requests == 4


@respx.mock
def test_rt_pages_stop_at_the_named_page_count_and_post_searches():
    rt = "https://rt.acme.test/REST/2.0"
    route = respx.get(f"{rt}/tickets")
    route.side_effect = lambda request: httpx.Response(200, json={
        "items": [{"id": int(request.url.params["page"])}], "pages": 2})
    search = respx.post(f"{rt}/tickets").mock(return_value=httpx.Response(200, json={"items": [{"id": 1}], "pages": 1}))
    with HttpClient(rt, sleep=lambda s: None) as http:
        assert list(rt_pages(http, "GET", "tickets", {"query": "id > 0"})) == [[{"id": 1}], [{"id": 2}]]
        assert list(rt_pages(http, "POST", "tickets", body=[{"field": "id"}])) == [[{"id": 1}]]
    assert route.call_count == 2
    assert json.loads(search.calls[0].request.content) == [{"field": "id"}]


@respx.mock
def test_django_helpdesk_stream_commits_the_page_read_and_ends_on_invalid_page():
    base = "https://help.acme.test/helpdesk/api"
    pages = {1: {"results": [{"id": 1}], "next": f"{base}/tickets/?page=2"},
             2: {"results": [{"id": 2}], "next": f"{base}/tickets/?page=3"}}
    respx.get(f"{base}/tickets/").mock(side_effect=lambda request: (
        httpx.Response(200, json=pages[int(request.url.params["page"])])
        if int(request.url.params["page"]) in pages else httpx.Response(404, json={"detail": "Invalid page."})))
    source = DjangoHelpdeskSource(AdapterContext(config={"url": "https://help.acme.test"},
                                                 secrets={"username": "admin", "password": "dj-pass-123"}))
    source._payload = lambda ticket: ticket
    try:
        got = [(p.items, p.cursor, p.done) for p in source.fetch("tickets")]
        resumed = [(p.items, p.cursor, p.done) for p in source.fetch("tickets", cursor="2")]
    finally:
        source.close()
    assert got == [([("1", {"id": 1})], "1", False), ([("2", {"id": 2})], "2", False), ([], "2", True)]
    assert resumed == [([], "2", True)]


@respx.mock
def test_link_header_pages_commit_the_next_link_and_stop_on_a_repeat():
    first, second = f"{ZD}/api/items?page=2", f"{ZD}/api/items?page=3"
    respx.get(f"{ZD}/api/items", params={"page": "1"}).mock(return_value=httpx.Response(
        200, json=[{"id": 1}], headers={"Link": f'<{first}>; rel="next"'}))
    respx.get(first).mock(return_value=httpx.Response(200, json=[{"id": 2}], headers={"Link": f'<{second}>; rel="next"'}))
    respx.get(second).mock(return_value=httpx.Response(200, json=[{"id": 3}], headers={"Link": f'<{first}>; rel="next"'}))
    with HttpClient(ZD, sleep=lambda s: None) as c:
        pages = []
        with pytest.raises(PaginationLoop, match="stream items: the source repeated the next link"):
            for page in c.pages_by_link_header("/api/items", {"page": 1}, items=lambda b: b, stream="items"):
                pages.append(page)
        assert [(p.items[0]["id"], p.cursor) for p in pages] == [(1, first), (2, second), (3, first)]
        resumed = next(iter(c.pages_by_link_header("/api/items", items=lambda b: b, cursor=second)))
    assert (resumed.items, resumed.cursor) == ([{"id": 3}], first)
