"""Issue 13.8: an ambiguous privacy flag ends private. Only an explicit JSON true (Zendesk
`public`, django-helpdesk `public`) or an explicit false (Freshdesk `private`) makes a comment
public; a missing flag, null or the string "false" never publishes a note."""

from __future__ import annotations

import pytest

from adapters.django_helpdesk import to_canonical as dh_mapping
from adapters.freshdesk.source import inline_id, ticket_records
from hdmigrate import canonical_dump as dump
from adapters.zendesk import to_canonical as zd_mapping
from adapters.zendesk import to_vendor as zd_vendor
from hdmigrate.engine import Engine
from hdmigrate.plan import load_plan
from hdmigrate.report import CollectingReporter
from hdmigrate.store import Store
from tests.dumps import read_dump, write_plan

AMBIGUOUS = [{}, {"public": "false"}, {"public": "true"}, {"public": None}, {"public": 1}, {"public": "0"}]


@pytest.mark.parametrize("flag", AMBIGUOUS)
def test_zendesk_comment_without_explicit_true_is_private(flag):
    raw = {"id": 7, "ticket_id": 3, "author_id": 11, "body": "internal: card ends 4242",
           "created_at": "2024-01-01T00:00:00Z", **flag}
    record, _ = zd_mapping.comment(raw)
    assert record["public"] is False
    assert "source_public" in record["extra"]        # the odd value is kept, not thrown away
    # and the target side never turns a non-true flag into a public comment either
    assert zd_vendor.comment_body({**record, "public": flag.get("public")}, "5", [])["public"] is False


def test_zendesk_comment_with_json_true_is_public():
    record, _ = zd_mapping.comment({"id": 7, "ticket_id": 3, "author_id": 11, "body": "hi", "public": True})
    assert record["public"] is True
    assert "source_public" not in record["extra"]
    assert zd_vendor.comment_body(record, "5", [])["public"] is True


def _freshdesk_ticket(conversation: dict) -> dict:
    return {"id": 9, "subject": "s", "status": 2, "priority": 1, "source": 1, "requester_id": 5,
            "description": "<p>hello</p>", "created_at": "2024-01-01T00:00:00Z",
            "conversations": [{"id": 90, "user_id": 5, "body": "<p>note</p>",
                               "created_at": "2024-01-02T00:00:00Z", **conversation}]}


@pytest.mark.parametrize("flag", [{}, {"private": "false"}, {"private": None}, {"private": 0}, {"private": True}])
def test_freshdesk_conversation_without_explicit_false_is_private(flag):
    comments = [r for k, r in ticket_records(_freshdesk_ticket(flag)) if k == "comment"]
    note = next(c for c in comments if c["id"] == "90")
    assert note["public"] is False


def test_freshdesk_conversation_with_private_false_is_public():
    comments = [r for k, r in ticket_records(_freshdesk_ticket({"private": False})) if k == "comment"]
    assert next(c for c in comments if c["id"] == "90")["public"] is True


def test_freshdesk_inline_image_id_is_stable_across_processes():
    import subprocess
    import sys
    src = "https://acme.freshdesk.com/api/v2/inline/attachment?token=abc"
    code = f"from adapters.freshdesk.source import inline_id; print(inline_id({src!r}))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "12345", "PATH": ""}).stdout.strip()
    assert other == inline_id(src) and inline_id(src) != inline_id(src + "x")


@pytest.mark.parametrize("value", [None, "false", "true", 1])
def test_django_helpdesk_followup_without_explicit_true_is_private(value):
    payload = {"ticket": {"id": 1, "title": "t", "status": 1, "priority": 3, "queue": 1,
                          "submitter_email": "a@example.com",
                          "followup_set": [{"id": 5, "date": "2024-01-01T00:00:00Z", "comment": "secret",
                                            "user": None, "public": value}]}}
    comment = next(r for k, r in dh_mapping.ticket_to_canonical(payload) if k == "comment")
    assert comment["public"] is False


@pytest.mark.parametrize("value", ["false", None, "missing"])
def test_jsonl_comment_with_ambiguous_flag_is_refused_not_published(tmp_path, value):
    src = tmp_path / "src"
    w = dump.DumpWriter(src, source="x")
    w.add("contact", {"id": "c1", "name": "Ann"})
    w.add("ticket", {"id": "t1", "subject": "s", "status": "open", "requester_id": "c1"})
    comment = {"id": "m1", "ticket_id": "t1", "author_id": "c1", "body_text": "secret"}
    if value != "missing":
        comment["public"] = value
    w.add("comment", comment)
    w.close()
    plan = write_plan(tmp_path / "p.toml", src, tmp_path / "out")
    engine = Engine(load_plan(plan), None, CollectingReporter())
    try:
        summary = engine.run()
    finally:
        engine.store.close()
    assert summary["exit_code"] == 1
    store = Store(load_plan(plan).workdir())
    try:
        failure = next(f for f in store.failures() if f["kind"] == "comment")
    finally:
        store.close()
    assert failure["id"] == "m1" and "public" in failure["reason"]
    assert not read_dump(tmp_path / "out").get("comment")
