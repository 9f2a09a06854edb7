"""API answers read within a memory bound (hdmigrate/http/jsonbody.py), over respx: small answers
keep orjson (and what only the standard library reads), large ones are parsed while they arrive
and still look like any answer to the adapters (`r.json()`, `r.content`)."""

from __future__ import annotations

import json

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
