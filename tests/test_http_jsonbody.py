"""API answers read within a memory bound (hdmigrate/http/jsonbody.py), over respx: small answers
keep orjson (and what only the standard library reads), large ones are parsed while they arrive
and still look like any answer to the adapters (`r.json()`, `r.content`)."""

from __future__ import annotations

import json
import math

import httpx
import pytest
import respx

from hdmigrate.errors import Cause, FatalApiError
from hdmigrate.http import HttpClient, ResponseTooLarge
from hdmigrate.http import jsonbody

BASE = "https://acme.zendesk.com"
MB = 1024 * 1024


def client() -> HttpClient:
    return HttpClient(BASE, sleep=lambda s: None, max_attempts=1)


def page(n: int) -> dict:
    return {"tickets": [{"id": i, "subject": f"Grüße {i} " + "x" * 40, "tags": ["a"], "score": 1.5,
                         "via": None, "public": True} for i in range(n)], "next_page": None}


@respx.mock
def test_a_large_answer_is_the_same_to_every_caller():
    body = page(60_000)                                   # ~6 MiB: past the in-memory threshold
    data = json.dumps(body).encode()
    assert len(data) > jsonbody.IN_MEMORY_BYTES
    respx.get(f"{BASE}/big").mock(return_value=httpx.Response(200, content=data,
                                                               headers={"Content-Type": "application/json"}))
    with client() as c:
        assert c.get_json("/big") == body
        response = c.get("/big")
    assert response.json() == body                        # the adapters' own r.json()
    assert response.content == data[:jsonbody.HEAD_BYTES]  # excerpts and messages keep the head


@respx.mock
def test_small_answers_read_what_only_the_standard_library_reads():
    respx.get(f"{BASE}/odd").mock(return_value=httpx.Response(200, content=b'{"big": 123456789012345678901234567890}'))
    with client() as c:
        assert c.get_json("/odd") == {"big": 123456789012345678901234567890}


@respx.mock
def test_a_large_answer_that_is_not_json_fails_as_before():
    respx.get(f"{BASE}/html").mock(return_value=httpx.Response(
        200, content=b"<html>" + b"<p>login</p>" * (jsonbody.IN_MEMORY_BYTES // 10), headers={"Content-Type": "text/html"}))
    with client() as c, pytest.raises(FatalApiError, match="expected JSON, got text/html") as info:
        c.get_json("/html")
    assert info.value.cause == Cause.BAD_ANSWER


@respx.mock
def test_a_small_answer_over_the_parse_budget_is_refused(monkeypatch):
    monkeypatch.setattr(jsonbody, "PARSE_BUDGET_BYTES", 1 * MB)
    respx.get(f"{BASE}/empties").mock(return_value=httpx.Response(200, content=b"[" + b"{}," * 200_000 + b"{}]"))
    with client() as c, pytest.raises(ResponseTooLarge, match="more than 1 MiB of memory once parsed") as info:
        c.get_json("/empties")
    assert info.value.cause == Cause.TOO_LARGE


@respx.mock
def test_deep_nesting_is_refused_in_memory_and_while_streaming():
    deep = b'{"a": ' * 2000 + b"1" + b"}" * 2000
    respx.get(f"{BASE}/deep").mock(return_value=httpx.Response(200, content=deep))
    padded = b'{"pad": "' + b"p" * jsonbody.IN_MEMORY_BYTES + b'", "x": ' + b"[" * 600 + b"]" * 600 + b"}"
    respx.get(f"{BASE}/deep-large").mock(return_value=httpx.Response(200, content=padded))
    with client() as c:
        for path in ("/deep", "/deep-large"):
            with pytest.raises(ResponseTooLarge, match="nests deeper than 512 levels"):
                c.get_json(path)


def test_the_token_scan_sees_through_escaped_quotes():
    sink = jsonbody._Sink(1 << 40)
    sink._measure(b'{"a": "x\\"y')          # the string is still open after its escaped quote
    assert sink._run == len('x\\"y')
    sink._measure(b'z", "b": 1}')
    assert sink._run == len(': 1}')                  # since the last real quote


# -- one array, item by item (jsonbody.items_of, HttpClient.get_json_items) -----------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
                     st.floats(allow_nan=False), st.text(max_size=20))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(items=st.lists(_values, max_size=6), head=st.dictionaries(st.text(max_size=8), _values, max_size=4),
       first=st.booleans(), indent=st.sampled_from([None, 0, 2]), ascii_only=st.booleans())
def test_items_one_at_a_time_are_what_the_whole_parse_gives(items, head, first, indent, ascii_only):
    head = {k: v for k, v in head.items() if k != "events"}
    body = {"events": items, **head} if first else {**head, "events": items}
    data = json.dumps(body, indent=indent, ensure_ascii=ascii_only).encode()
    answer = jsonbody.items_of(data, "events")
    assert list(answer.items) == jsonbody.loads(data)["events"]
    assert answer.head == {k: v for k, v in jsonbody.loads(data).items() if k != "events"}


@pytest.mark.parametrize("data", [
    b'{"events": [1, 2,]}', b'{"events": [1 2]}', b'{"events": [1], "end": 1} x', b'{"events": [1], "end": }',
    b'{"events": [1]', b'{"events": ["\x01"]}', b'{"events" [1]}', b'{"events": [1], "end": 1,}',
])
def test_what_the_whole_parse_refuses_is_refused_item_by_item(data):
    with pytest.raises(ValueError):
        jsonbody.loads(data)
    with pytest.raises(ValueError):
        list(jsonbody.items_of(data, "events").items)


def test_the_array_twice_is_refused_not_read_twice():
    # the whole parse keeps the last one; item by item the first is gone by then: refused
    with pytest.raises(ValueError):
        list(jsonbody.items_of(b'{"events": [1], "events": [2]}', "events").items)


def test_what_is_not_a_utf8_object_is_read_whole_as_before():
    # a byte-order mark, another top level, NaN: the standard library's verdict, as in loads
    assert list(jsonbody.items_of(b'\xef\xbb\xbf{"events": [1]}', "events").items) == [1]
    assert math.isnan(list(jsonbody.items_of(b'{"events": [NaN]}', "events").items)[0])
    answer = jsonbody.items_of(b'{"events": 5, "end": 1}', "events")    # not an array: no items
    assert list(answer.items) == [] and answer.head == {"end": 1}
    with pytest.raises(ValueError):
        jsonbody.items_of(b'[1, 2]', "events")
    with pytest.raises(ValueError):
        jsonbody.items_of(b'{"events": ["\xff"]}', "events")


@respx.mock
def test_get_json_items_names_a_fault_late_in_the_answer_as_get_json_does():
    respx.get(f"{BASE}/api/v2/x").mock(return_value=httpx.Response(
        200, content=b'{"events": [{"id": 1}, {"id": 2}], "end_time": oops}',
        headers={"content-type": "application/json"}))
    answer = client().get_json_items("/api/v2/x", "events")
    with pytest.raises(FatalApiError) as e:
        list(answer.items)
    assert e.value.cause == Cause.BAD_ANSWER and "expected JSON" in str(e.value)


@respx.mock
def test_get_json_items_over_a_large_answer_parsed_while_read():
    big = {"events": [{"id": i, "body": "x" * 1000} for i in range(6000)], "end_time": 7}
    respx.get(f"{BASE}/api/v2/x").mock(return_value=httpx.Response(200, json=big))
    answer = client().get_json_items("/api/v2/x", "events")
    assert [e["id"] for e in answer.items] == list(range(6000)) and answer.head == {"end_time": 7}
