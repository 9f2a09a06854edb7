"""Every recorded Help Scout Mailbox API 2.0 body in ../shared/vendor-fixtures/helpscout parses:
record bodies map to canonical records (`recorded_records`, also the contract suite's reader),
token answers are read by the client, recorded request bodies have the shape to_vendor writes.
The v1 cassettes are the retired API: used for field meanings only, not read here."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import respx

from adapters.helpscout import to_canonical, to_vendor
from adapters.helpscout.client import HelpScoutClient, embedded
from adapters.helpscout.source import HelpScoutSource
from hdmigrate.adapter import AdapterContext
from hdmigrate.canonical import validation_error
from hdmigrate.errors import FatalApiError

STREAM_OF = {"mailboxes": "mailboxes", "conversations": "conversations", "fields": "fields"}


def fixture_root(shared_dir: Path) -> Path:
    return shared_dir / "vendor-fixtures" / "helpscout" / "helpscoutv2-node" / "fixures"


def _load(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def recorded_records(shared_dir: Path):
    """(label, stream, payload) of every record a recorded v2 answer holds."""
    for path in sorted(fixture_root(shared_dir).rglob("*_response.json")):
        body = _load(path)
        label = f"{path.parent.name}/{path.name}"
        if path.name == "get_mailbox_success_response.json":
            yield label, "mailboxes", body
        elif path.name == "get_conversation_success_response.json":
            yield label, "conversations", body
        for key, stream in STREAM_OF.items():
            for item in embedded(body, key):
                yield f"{label}: {key} {item.get('id')}", stream, item


def _source() -> HelpScoutSource:
    return HelpScoutSource(AdapterContext(config={"adapter": "helpscout"}, secrets={}))


def test_every_record_body_maps_to_valid_records(shared_dir):
    source, seen = _source(), {}
    for label, stream, payload in recorded_records(shared_dir):
        for kind, record in source.to_canonical(stream, payload):
            if kind == "attachment":
                record = {**record, "sha256": "0" * 64}
            assert validation_error(kind, record) is None, (label, kind, validation_error(kind, record))
            seen[kind] = seen.get(kind, 0) + 1
    assert seen == {"group": 3, "ticket": 2, "custom_field": 1}, seen


def test_the_recorded_conversation_keeps_what_matters(shared_dir):
    body = _load(fixture_root(shared_dir) / "conversation" / "get_conversation_success_response.json")
    [(kind, ticket)] = list(to_canonical.conversation(body))
    assert kind == "ticket"
    assert ticket["status"] == "closed" and ticket["solved_at"] == "2012-03-16T14:07:23Z"
    assert ticket["requester_id"] == "c238604" and ticket["group_id"] == "m13" and ticket["number"] == "12"
    assert ticket["tags"] == ["vip"] and ticket["channel"] == "email"
    assert ticket["custom_fields"] == {"Account Type": "8518", "Account Status": "33077"}
    assert ticket["extra"]["cc"] == ["bear@normal.com"] and ticket["extra"]["thread_count"] == 2


def test_the_recorded_dropdown_field_keeps_its_options(shared_dir):
    body = _load(fixture_root(shared_dir) / "mailbox" / "get_fields_success_response.json")
    field = to_canonical.field(embedded(body, "fields")[0], 1)
    assert field["type"] == "dropdown" and field["key"] == "Beers"
    assert [o["label"] for o in field["options"]] == ["IPA", "Stout"]


def test_the_recorded_folders_are_a_hal_page(shared_dir):
    body = _load(fixture_root(shared_dir) / "mailbox" / "get_folders_success_response.json")
    assert [f["name"] for f in embedded(body, "folders")] == ["My Tickets"]   # no canonical kind: not exported


def test_a_conversation_body_has_the_recorded_request_shape(shared_dir):
    recorded = _load(fixture_root(shared_dir) / "conversation" / "create_conversation_request.json")
    account = to_vendor.Account(85, "Support", fields=[{"id": 531, "name": "plan"}])
    ticket = {"id": "7", "subject": "Subject", "status": "open", "requester_id": "c1", "tags": ["vip"],
              "created_at": "2012-10-10T12:00:00Z", "custom_fields": {"plan": "trial"}}
    body, _ = to_vendor.conversation(ticket, [], account, customer_id=100, assignee_email=None)
    assert set(recorded) <= set(body) | {"threads"}
    assert body["fields"] == recorded["fields"] and body["customer"] == recorded["customer"]
    assert body["createdAt"] == recorded["createdAt"] and body["type"] == recorded["type"]
    _, thread, _ = to_vendor.thread({"id": "1", "public": True, "body_html": recorded["threads"][0]["text"]}, [],
                                    account, author=("contact", 100), customer_id=100, opening=True)
    assert {k: thread[k] for k in recorded["threads"][0]} == recorded["threads"][0]


def test_the_update_uses_the_recorded_patch_shape(shared_dir):
    recorded = _load(fixture_root(shared_dir) / "conversation" / "patch_conversation_request.json")
    assert set(recorded) == {"op", "path", "value"} and recorded["path"] == "/subject"


def _client(transport) -> HelpScoutClient:
    ctx = AdapterContext(config={"url": "https://api.helpscout.test"}, secrets={"app_id": "app", "app_secret": "s" * 20})
    return HelpScoutClient(ctx, transport=transport)


def test_the_recorded_token_answers_are_read(shared_dir):
    root = fixture_root(shared_dir) / "token"
    with respx.mock(base_url="https://api.helpscout.test", assert_all_called=False) as mock:
        mock.post("/v2/oauth2/token").mock(return_value=httpx.Response(200, json=_load(root / "create_token_success_response.json")))
        client = _client(httpx.HTTPTransport())
        client.refresh_token()
        assert client._auth.token == "8ec9b17346d442feb7b382c3e0569314"
        assert "8ec9b17346d442feb7b382c3e0569314" in client.http.secrets   # redacted from every message
        refreshed = _load(root / "refresh_token_success_response.json")
        mock.post("/v2/oauth2/token").mock(return_value=httpx.Response(200, json=refreshed))
        client.refresh_token()
        assert client._auth.token == refreshed["access_token"]
        failure = _load(root / "create_token_failure_response.json")
        mock.post("/v2/oauth2/token").mock(return_value=httpx.Response(400, json=failure))
        with pytest.raises(FatalApiError, match="refused the app id and secret"):
            client.refresh_token()
