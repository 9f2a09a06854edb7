"""Reading a Zendesk target back (issue 14, item 5): a comment's `author_kind` comes from its
author's own role (ZD-OAS User.role: end-user → contact), checked over recorded Zendesk user and
comment objects served with respx, including by an API that ignores List Users' `role` filter.
Then a jsonl → Zendesk sandbox migration verifies clean."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import httpx
import pytest
import respx

from adapters.zendesk.source import ZendeskSource
from hdmigrate.adapter import AdapterContext

BASE = "https://acme.zendesk.com"
CASSETTES = "vendor-fixtures/zendesk/zendesk_api_client_rb/cassettes"
ZAMMAD = "vendor-fixtures/zendesk/zammad-import-cassettes/zendesk_import.yml-extracts"


def _ctx():
    return AdapterContext(config={"url": BASE}, secrets={"email": "a@acme.com", "token": "sekret"})


def _recorded_users(shared_dir: Path, name: str) -> list[dict]:
    data = json.loads((shared_dir / CASSETTES / name).read_text())
    out = []
    for interaction in data["http_interactions"]:
        body = interaction["response"]["body"]
        text = body.get("string") or base64.b64decode(body.get("base64_string") or "").decode()
        out += json.loads(text).get("users") or []
    return out


def _people(shared_dir):
    end_user = _recorded_users(shared_dir, "valid_user_end-user.json")[0]
    agent = _recorded_users(shared_dir, "valid_user_agent.json")[0]
    assert end_user["role"] == "end-user" and agent["role"] == "agent"
    return end_user, agent


def _events(shared_dir, end_user, agent) -> dict:
    """The ticket-events export of ticket 1's recorded comments, the first by the end-user."""
    comments = json.loads((shared_dir / ZAMMAD / "tickets_1_comments.json").read_text())["comments"]
    children = []
    for i, c in enumerate(comments):
        children.append({**c, "event_type": "Comment", "author_id": end_user["id"] if i == 0 else agent["id"]})
    return {"ticket_events": [{"ticket_id": 1, "created_at": comments[0]["created_at"], "child_events": children}],
            "end_time": 1700000000, "end_of_stream": True}


def _comment_kinds(source, stream="ticket_events") -> dict[str, str]:
    out = {}
    for page in source.fetch(stream):
        for _raw_id, payload in page.items:
            for kind, record in source.to_canonical(stream, payload):
                if kind == "comment":
                    out[str(record["author_id"])] = record.get("author_kind")
    return out


def test_author_kind_from_the_role_when_list_users_ignores_the_filter(shared_dir):
    end_user, agent = _people(shared_dir)
    with respx.mock(base_url=BASE) as mock:
        # An API that ignores `role`: every user comes back for role=admin and role=agent.
        mock.get("/api/v2/users").mock(return_value=httpx.Response(200, json={
            "users": [end_user, agent], "meta": {"has_more": False}, "links": {}}))
        mock.get("/api/v2/incremental/ticket_events").mock(
            return_value=httpx.Response(200, json=_events(shared_dir, end_user, agent)))
        source = ZendeskSource(_ctx())
        kinds = _comment_kinds(source)
    assert source.agent_ids() == {str(agent["id"])}
    assert kinds == {f"u{end_user['id']}": "contact", f"u{agent['id']}": "agent"}


def test_author_kind_from_the_users_export_of_the_same_read(shared_dir):
    end_user, agent = _people(shared_dir)
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.get("/api/v2/incremental/users/cursor").mock(return_value=httpx.Response(200, json={
            "users": [end_user, agent], "after_cursor": None, "end_of_stream": True}))
        list_users = mock.get("/api/v2/users").mock(return_value=httpx.Response(500))
        mock.get("/api/v2/incremental/ticket_events").mock(
            return_value=httpx.Response(200, json=_events(shared_dir, end_user, agent)))
        source = ZendeskSource(_ctx())
        people = {r["id"]: k for page in source.fetch("users") for _i, p in page.items
                  for k, r in source.to_canonical("users", p)}
        kinds = _comment_kinds(source)
    assert people == {f"u{end_user['id']}": "contact", f"u{agent['id']}": "agent"}
    assert kinds == {f"u{end_user['id']}": "contact", f"u{agent['id']}": "agent"}
    assert not list_users.called          # the export already said who is who


class _Load:
    options: dict = {}
    mapping: dict = {}

    def target_id(self, kind, source_id):
        return None


def _suspension_server(mock, *, kept_on_create: bool, kept_on_update: bool):
    """A Zendesk that may not keep `suspended` when a user is created (and may not on update)."""
    mock.get("/api/v2/users/count").mock(return_value=httpx.Response(200, json={"count": {"value": 0}}))
    mock.get("/api/v2/users").mock(return_value=httpx.Response(200, json={"users": [], "meta": {"has_more": False}}))
    mock.get("/api/v2/users/search").mock(return_value=httpx.Response(200, json={"users": [], "count": 0}))
    mock.post("/api/v2/users/create_many").mock(return_value=httpx.Response(403, json={"error": "Forbidden"}))
    mock.post("/api/v2/users").mock(return_value=httpx.Response(201, json={"user": {"id": 77, "role": "agent"}}))
    mock.get("/api/v2/users/show_many").mock(return_value=httpx.Response(200, json={
        "users": [{"id": 77, "role": "agent", "active": True, "suspended": kept_on_create}]}))
    return mock.put("/api/v2/users/77").mock(return_value=httpx.Response(200, json={
        "user": {"id": 77, "role": "agent", "active": True, "suspended": kept_on_update}}))


def _write_inactive_agent():
    from adapters.zendesk.target import ZendeskTarget
    target = ZendeskTarget(_ctx(), sleep=lambda s: None)
    return target.write_batch("agent", [{"id": "a9", "name": "Gone", "email": "gone@x.org", "role": "agent",
                                         "active": False}], _Load())[0]


def test_suspension_the_server_did_not_keep_is_asked_again_then_recorded():
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        update = _suspension_server(mock, kept_on_create=False, kept_on_update=True)
        result = _write_inactive_agent()
    assert result.target_id == "77" and update.called and not result.degradations
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        _suspension_server(mock, kept_on_create=False, kept_on_update=False)
        result = _write_inactive_agent()
    assert [(d.kind, d.id, d.field, d.code) for d in result.degradations] == [
        ("agent", "a9", "active", "value_unmapped")]
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        update = _suspension_server(mock, kept_on_create=True, kept_on_update=True)
        result = _write_inactive_agent()
    assert not update.called and not result.degradations


@pytest.mark.parametrize("page_size", [1000, 7])
def test_jsonl_to_zendesk_sandbox_verifies_clean(tmp_path, monkeypatch, page_size):
    """Inactive agents, customers' comments, empty files and unwritable ratings: all either kept
    or explained by what the run recorded (verify exit 0). Read back 7 events a page, the
    export repeats each boundary's second on the next page (as Zendesk's time-based exports do):
    a comment read twice is one comment, not an extra one shifting its ticket's others."""
    import sys
    sys.path.insert(0, str(Path(__file__).parent / "reliability"))
    import rkit

    from adapters.zendesk.sandbox import make_sandbox
    from hdmigrate.engine import Engine
    from hdmigrate.plan import plan_from_dict
    from hdmigrate.testing.sample import write_dump
    write_dump(tmp_path / "src", tickets=12, seed=3, empty_files=1)
    target = make_sandbox().start()
    target.job_delay = 0.01
    try:
        for k, v in target.env.items():
            monkeypatch.setenv(k, v)
        plan = plan_from_dict({"source": {"adapter": "jsonl", "path": str(tmp_path / "src")},
                               "target": {**target.plan_section, "job_poll_seconds": 0.05,
                                          "page_size": page_size},
                               "run": {"workdir": str(tmp_path / "work"),
                                       "rate_limit": {"source": 600000, "target": 600000}}}, base_dir=tmp_path)
        engine = Engine(plan, tmp_path / "work")
        try:
            assert engine.run()["exit_code"] == 0
        finally:
            engine.store.close()
        code, doc, _ = rkit.verify_inproc(tmp_path / "work")
        assert code == 0, doc["summary"]
        assert doc["counts"]["comment"]["target"] == doc["counts"]["comment"]["matched"]
        assert doc["counts"]["comment"]["extra"] == 0
        codes = doc["summary"]["explained_by_code"]
        assert codes.get("attachment_empty") and codes.get("csat_not_writable")
        inactive = [a for a in target.store.all("user") if a.get("suspended")]
        assert inactive, "the sample's inactive agent is suspended in the target"
    finally:
        target.stop()
    assert "HDM_NEVER_SET" not in os.environ
