"""Freshdesk adapter: recorded real responses parse; mapping both ways; respx unit tests."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import httpx
import pytest
import respx
import yaml

from adapters.freshdesk import to_vendor, values as m
from adapters.freshdesk.client import endpoint_class, endpoint_limits, form_fields
from adapters.freshdesk.source import FreshdeskSource, ticket_records
from hdmigrate.adapter import AdapterContext
from hdmigrate.canonical import validation_error
from hdmigrate.http import reset_limiters


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!binary", lambda loader, node: base64.b64decode(loader.construct_scalar(node)))


def cassette(path: Path) -> list[tuple[str, str, int, object]]:
    """(method, uri, status, decoded JSON body or None) per recorded interaction."""
    out = []
    for it in yaml.load(path.read_text(), Loader=_Loader)["http_interactions"]:
        body = it["response"]["body"].get("string")
        if isinstance(body, bytes):
            try:
                body = gzip.decompress(body)
            except OSError:
                pass
            try:
                body = body.decode()
            except UnicodeDecodeError:
                body = None
        try:
            data = json.loads(body) if body and body.strip() else None
        except ValueError:
            data = None
        out.append((it["request"]["method"], it["request"]["uri"], it["response"]["status"]["code"], data))
    return out


def fd_dir(shared_dir: Path) -> Path:
    return shared_dir / "vendor-fixtures" / "freshdesk"


def _source() -> FreshdeskSource:
    return FreshdeskSource(AdapterContext(config={"url": "https://acme.freshdesk.com"}, secrets={"api_key": "k"}))


def _valid(kind, rec):
    if kind == "attachment":
        rec = {**rec, "sha256": "0" * 64}
    assert validation_error(kind, rec) is None, (kind, rec, validation_error(kind, rec))


def _stream_of(uri: str) -> str | None:
    path = uri.split("?")[0].rstrip("/")
    for stream in ("ticket_fields", "contact_fields", "company_fields", "companies", "groups", "agents", "contacts"):
        if path.endswith("/" + stream):
            return stream
    return None


def test_every_recorded_import_response_parses(shared_dir):
    src = _source()
    interactions = cassette(fd_dir(shared_dir) / "zammad-import-cassettes" / "freshdesk_import.yml")
    seen = {"ticket": 0, "comment": 0, "attachment": 0, "contact": 0, "agent": 0, "custom_field": 0}
    tickets, convs = {}, {}
    for method, uri, status, body in interactions:
        stream = _stream_of(uri)
        if stream and isinstance(body, list):
            for item in body:
                for kind, rec in src.to_canonical(stream, item):
                    _valid(kind, rec)
                    seen[kind] = seen.get(kind, 0) + 1
        elif "/tickets/" in uri and uri.rstrip("/").split("/")[-1].isdigit() and isinstance(body, dict):
            tickets[body["id"]] = body
        elif uri.split("?")[0].endswith("/conversations") and isinstance(body, list):
            convs[int(uri.split("/tickets/")[1].split("/")[0])] = body
    assert tickets and convs
    for tid, t in tickets.items():
        payload = {**t, "conversations": convs.get(tid, []), "_hdm_agent_ids": [80014400475, 80014400480]}
        for kind, rec in src.to_canonical("tickets", payload):
            _valid(kind, rec)
            seen[kind] += 1
    assert seen["ticket"] == len(tickets) and seen["comment"] >= len(tickets)
    assert seen["attachment"] >= 3 and seen["custom_field"] >= 4 and seen["contact"] >= 5
    # ticket 13: the inline image of the description and the standalone file
    recs = list(ticket_records({**tickets[13], "conversations": convs[13], "_hdm_agent_ids": [80014400475]}))
    atts = [r for k, r in recs if k == "attachment"]
    assert {a["inline"] for a in atts} == {True, False}
    assert any(a["content_id"] == "80012226479" for a in atts if a["inline"])
    notes = [r for k, r in recs if k == "comment" and not r["id"].endswith("description")]
    assert notes and all(n["public"] is False and n["author_id"] == "a80014400475" for n in notes)


def test_recorded_custom_fields_and_status_choices(shared_dir):
    interactions = cassette(fd_dir(shared_dir) / "zammad-import-cassettes" / "freshdesk_import.yml")
    fields = next(b for _, u, _, b in interactions if "/ticket_fields" in u)
    src = _source()
    out = {r["key"]: r for f in fields for _, r in src.to_canonical("ticket_fields", f)}
    assert out["cf_custom_integer"]["type"] == "integer"
    assert out["cf_custom_decimal"]["type"] == "decimal"
    assert out["cf_test_checkbox"]["type"] == "checkbox"
    assert out["cf_custom_dropdown"]["options"] == [{"value": "key1", "label": "key1"}, {"value": "key2", "label": "key2"}]
    status = next(f for f in fields if f["name"] == "status")
    assert m.status_to_canonical(6, status["choices"]["6"][0]) == ("pending", False)
    assert m.status_to_canonical(7, status["choices"]["7"][0]) == ("on_hold", False)


def test_python_freshdesk_v2_samples_parse(shared_dir):
    root = fd_dir(shared_dir) / "python-freshdesk" / "v2"
    src = _source()
    streams = {"agents.json": "agents", "agent_1.json": "agents", "contacts.json": "contacts", "contact.json": "contacts",
               "contact_updated.json": "contacts", "companies.json": "companies", "company.json": "companies",
               "groups.json": "groups", "group_1.json": "groups", "ticket_1.json": "tickets",
               "ticket_1_updated.json": "tickets", "all_tickets.json": "tickets", "outbound_email_1.json": "tickets",
               "search_tickets.json": "tickets", "search_contacts.json": "contacts", "search_companies.json": "companies"}
    count = 0
    for name, stream in streams.items():
        data = json.loads((root / name).read_text())
        items = data["results"] if isinstance(data, dict) and "results" in data else data
        for item in items if isinstance(items, list) else [items]:
            if stream == "tickets":
                item = {**item, "conversations": json.loads((root / "conversations.json").read_text())}
            for kind, rec in src.to_canonical(stream, item):
                _valid(kind, rec)
                count += 1
    assert count > 20
    t = dict(ticket_records({**json.loads((root / "ticket_1.json").read_text()), "conversations": []}))
    assert t["ticket"]["status"] == "open" and t["ticket"]["priority"] == "low" and t["ticket"]["channel"] == "web"
    assert t["ticket"]["type"] == "question" and t["ticket"]["solved_at"] == "2020-07-24T15:35:21Z"


def test_recorded_auth_failure_is_fatal(shared_dir):
    recorded = cassette(fd_dir(shared_dir) / "zammad-import-cassettes" /
                        "import_freshdesk_fields_validation_invalid_credentials.yml")
    _, _, status, body = recorded[0]
    reset_limiters()
    with respx.mock(assert_all_called=False) as mock:
        mock.get("https://acme.freshdesk.com/api/v2/agents/me").mock(return_value=httpx.Response(status, json=body))
        src = _source()
        from hdmigrate.errors import FatalApiError
        with pytest.raises(FatalApiError):
            src.check()


@pytest.mark.parametrize("status", ["new", "open", "pending", "on_hold", "solved", "closed"])
def test_status_round_trip(status):
    code = m.status_from_canonical(status)
    assert code in (2, 3, 4, 5)
    back, exact = m.status_to_canonical(code)
    assert exact and (back == status or status in m.STATUS_NEAREST_ONLY)


def test_mapping_both_ways():
    for p in ("low", "normal", "high", "urgent"):
        assert m.priority_to_canonical(m.priority_from_canonical(p)) == p
    for ch, code in (("email", 1), ("web", 2), ("phone", 3), ("chat", 7)):
        assert m.channel_from_canonical(ch) == (code, True)
        assert m.channel_to_canonical(code) == ch
    assert m.channel_from_canonical("sms") == (2, False)
    assert m.channel_to_canonical(10) == "email" and m.channel_to_canonical(5) == "social"
    assert m.conversation_channel(2, "phone") == "phone" and m.conversation_channel(0, "web") == "email"
    assert m.type_from_canonical("question", ["Question", "Incident"]) == "Question"
    assert m.type_from_canonical("task", ["Question"]) is None
    assert m.status_from_canonical("on_hold", {"on_hold": "7"}) == 7
    assert to_vendor.field_value("custom_checkbox", "yes") is True
    assert to_vendor.field_value("custom_number", "12") == 12
    assert to_vendor.field_value("custom_date", "2021-04-09T00:00:00Z") == "2021-04-09"
    for score in (1, 2, 3, 4, 5):
        assert m.csat_to_canonical(m.csat_from_canonical(score, "1-5")) == (score, "1-5")
    assert m.csat_from_canonical("good", "good_bad") == 103


def test_endpoint_limits_follow_documented_plans():
    assert endpoint_limits(200) == {"create": 80, "update": 80, "tickets_list": 20, "contacts_list": 20}
    assert endpoint_limits(700)["tickets_list"] == 200
    assert endpoint_limits(1000)["create"] == 400
    assert endpoint_class("GET", "tickets?page=2") == "tickets_list"
    assert endpoint_class("GET", "tickets/5") is None
    assert endpoint_class("POST", "tickets/5/notes") == "create"
    assert ("custom_fields[cf_a]", "1") in form_fields({"custom_fields": {"cf_a": 1}, "tags": ["x", "y"]})
    assert ("tags[]", "y") in form_fields({"tags": ["x", "y"]})


def test_ticket_walk_restarts_window_after_page_300():
    """A list that still has a next page at page 300 continues in a new updated_since window."""
    reset_limiters()
    calls = []

    def tickets(request):
        q = dict(request.url.params)
        calls.append((q.get("updated_since"), q.get("page")))
        page = int(q["page"])
        if q["updated_since"].startswith("1970") and page == 300:
            return httpx.Response(200, json=[{"id": 1, "updated_at": "2020-01-01T00:00:00Z"}],
                                  headers={"link": '<https://acme.freshdesk.com/api/v2/tickets?page=301>; rel="next"'})
        if q["updated_since"].startswith("2020"):
            return httpx.Response(200, json=[{"id": 2, "updated_at": "2020-02-01T00:00:00Z"}])
        raise AssertionError(q)

    with respx.mock(assert_all_called=False) as mock:
        mock.get("https://acme.freshdesk.com/api/v2/tickets").mock(side_effect=tickets)
        mock.get(path__regex=r"/api/v2/tickets/\d+$").mock(side_effect=lambda r: httpx.Response(
            200, json={"id": int(r.url.path.split("/")[-1]), "status": 2, "subject": "s", "requester_id": 9,
                       "description": "d", "conversations": [], "updated_at": "2020-01-01T00:00:00Z"}))
        mock.get("https://acme.freshdesk.com/api/v2/agents").mock(return_value=httpx.Response(200, json=[]))
        mock.get("https://acme.freshdesk.com/api/v2/ticket_fields").mock(return_value=httpx.Response(200, json=[]))
        src = _source()
        pages = list(src.fetch("tickets", cursor=json.dumps({"since": "1970-01-01T00:00:00Z", "page": 300})))
    assert calls == [("1970-01-01T00:00:00Z", "300"), ("2020-01-01T00:00:00Z", "1")]
    assert [p.done for p in pages] == [False, True]
    assert json.loads(pages[0].cursor)["since"] == "2020-01-01T00:00:00Z"
    assert json.loads(pages[-1].cursor) == {"since": "2020-02-01T00:00:00Z", "page": 1}
