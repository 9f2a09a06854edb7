"""Issue 13.4: delta runs keep privacy and never claim work they did not do.

A comment made private in the source after the first run is made private in the target (Zendesk:
make_private; Freshdesk: written again as a private note and the public one deleted; its always
public description: the text moves into a private note) or its record fails naming why. A target
without update support (RT, django-helpdesk, any target not declaring Capability.UPDATE) never
reports "updated": the record is reported `update_not_applied` (a degradation; the run still exits
0) and a comment private in the source fails (exit 1), on every delta run until resolved. Files
added to a comment already written are written (jsonl, Freshdesk) or reported (Zendesk)."""

from __future__ import annotations

import json

import pytest

from adapters.freshdesk.sandbox import make_sandbox as make_freshdesk
from hdmigrate.canonical_dump import DumpWriter, iter_records
from adapters.zendesk.sandbox import make_sandbox as make_zendesk
from hdmigrate import registry
from hdmigrate.adapter import AdapterSpec, Capability, Target, WriteResult
from hdmigrate.engine import Engine
from hdmigrate.plan import plan_from_dict
from hdmigrate.report import CollectingReporter
from hdmigrate.store import Store

FILE = b"%PDF-1.4 invoice 2041\n"
NEW_FILE = b"%PDF-1.4 added later\n"


def _dump(root):
    w = DumpWriter(root, source="test")
    w.add("agent", {"id": "a1", "name": "Ana Agent", "email": "ana@example.org", "role": "agent"})
    w.add("contact", {"id": "c1", "name": "Carl Kunde", "email": "carl@example.org"})
    for n in (1, 2):
        w.add("ticket", {"id": f"t{n}", "subject": f"Invoice {n}", "status": "open", "requester_id": "c1",
                         "created_at": "2024-01-0{n}T08:00:00Z".format(n=n)})
        w.add("comment", {"id": f"t{n}m1", "ticket_id": f"t{n}", "author_id": "c1", "public": True,
                          "body_text": f"Opening message {n}", "created_at": f"2024-01-0{n}T08:00:00Z"})
        w.add("comment", {"id": f"t{n}m2", "ticket_id": f"t{n}", "author_id": "a1", "public": True,
                          "body_text": f"Internal: card ending 4242 (ticket {n})",
                          "created_at": f"2024-01-0{n}T09:00:00Z", "attachment_ids": [f"t{n}f1"]})
        sha = w.add_blob(FILE)
        w.add("attachment", {"id": f"t{n}f1", "comment_id": f"t{n}m2", "ticket_id": f"t{n}", "file_name": "invoice.pdf",
                             "content_type": "application/pdf", "size": len(FILE), "sha256": sha})
    w.close()


def _edit(root, kind, rid, **changes):
    records = list(iter_records(root, kind))
    for r in records:
        if r["id"] == rid:
            r.update(changes)
    with open(root / f"{kind}.jsonl", "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def _add_file(root, comment_id):
    w = DumpWriter(root, source="test")
    sha = w.add_blob(NEW_FILE)
    w.add("attachment", {"id": f"{comment_id}-new", "comment_id": comment_id, "ticket_id": comment_id[:2],
                         "file_name": "added.pdf", "content_type": "application/pdf", "size": len(NEW_FILE),
                         "sha256": sha})
    w.close()
    comment = next(c for c in iter_records(root, "comment") if c["id"] == comment_id)
    _edit(root, "comment", comment_id, attachment_ids=[*comment["attachment_ids"], f"{comment_id}-new"])


def _run(plan, work):
    reporter = CollectingReporter()
    engine = Engine(plan, work, reporter)
    try:
        return engine.run(), reporter
    finally:
        engine.store.close()


def _plan(tmp_path, target):
    return plan_from_dict({"source": {"adapter": "jsonl", "path": str(tmp_path / "dump")}, "target": target,
                           "run": {"workdir": str(tmp_path / "work"),
                                   "rate_limit": {"source": 600000, "target": 600000}}}, base_dir=tmp_path)


def _store(tmp_path, fn):
    store = Store(tmp_path / "work")
    try:
        return fn(store)
    finally:
        store.close()


@pytest.fixture
def sandbox(request, monkeypatch):
    platform = request.param
    box = (make_freshdesk() if platform == "freshdesk" else make_zendesk()).start()
    if platform == "zendesk":
        box.job_delay = 0.01
    for k, v in box.env.items():
        monkeypatch.setenv(k, v)
    target = {**box.plan_section, **({"job_poll_seconds": 0.05} if platform == "zendesk" else {})}
    try:
        yield platform, box, target
    finally:
        box.stop()


def _target_comments(platform, box, ticket_target_id):
    """(public?, text) of each comment the sandbox holds for one ticket."""
    if platform == "zendesk":
        comments = [c for c in box.store.all("comment") if str(c["_ticket_id"]) == str(ticket_target_id)]
        return [(c["public"], c["body"], c) for c in comments]
    notes = box.store.find("conversation", ticket_id=int(ticket_target_id))
    return [(not n["private"], n["body_text"], n) for n in notes]


@pytest.mark.parametrize("sandbox", ["zendesk", "freshdesk"], indirect=True)
def test_comment_made_private_in_the_source_becomes_private_in_the_target(tmp_path, sandbox):
    platform, box, target = sandbox
    _dump(tmp_path / "dump")
    plan = _plan(tmp_path, target)
    first, _ = _run(plan, tmp_path / "work")
    assert first["exit_code"] == 0, first
    _edit(tmp_path / "dump", "comment", "t1m2", public=False)
    summary, _ = _run(plan, tmp_path / "work")
    assert summary["exit_code"] == 0, summary
    assert summary["kinds"]["comment"]["updated"] == 1 and summary["kinds"]["comment"]["created"] == 0
    ticket = _store(tmp_path, lambda s: s.id_entry("ticket", "t1")["target_id"])
    held = [(public, text) for public, text, _ in _target_comments(platform, box, ticket) if "4242" in text]
    assert held == [(False, held[0][1])], held          # one copy, and private
    other = _store(tmp_path, lambda s: s.id_entry("ticket", "t2")["target_id"])
    assert [p for p, text, _ in _target_comments(platform, box, other) if "4242" in text] == [True]
    # a third run: nothing left to do, nothing claimed
    again, _ = _run(plan, tmp_path / "work")
    assert again["exit_code"] == 0 and again["kinds"]["comment"]["updated"] == 0


@pytest.mark.parametrize("sandbox", ["freshdesk"], indirect=True)
def test_freshdesk_description_made_private_moves_into_a_private_note(tmp_path, sandbox):
    """Freshdesk shows the description to the requester: the opening message made private becomes
    a private note (with its file), the description a placeholder, and its file is deleted."""
    platform, box, target = sandbox
    _dump(tmp_path / "dump")
    w = DumpWriter(tmp_path / "dump", source="test")
    sha = w.add_blob(NEW_FILE)
    w.add("attachment", {"id": "t1m1-f", "comment_id": "t1m1", "ticket_id": "t1", "file_name": "passport.pdf",
                         "content_type": "application/pdf", "size": len(NEW_FILE), "sha256": sha})
    w.close()
    _edit(tmp_path / "dump", "comment", "t1m1", attachment_ids=["t1m1-f"])
    plan = _plan(tmp_path, target)
    assert _run(plan, tmp_path / "work")[0]["exit_code"] == 0
    ticket = int(_store(tmp_path, lambda s: s.id_entry("ticket", "t1")["target_id"]))
    assert "Opening message 1" in box.store.get("ticket", ticket)["description"]
    _edit(tmp_path / "dump", "comment", "t1m1", public=False)
    summary, _ = _run(plan, tmp_path / "work")
    assert summary["exit_code"] == 0, summary
    assert summary["kinds"]["comment"]["updated"] == 1
    held = box.store.get("ticket", ticket)
    assert "Opening message 1" not in held["description"] and held["attachments"] == []
    notes = [n for n in box.store.find("conversation", ticket_id=ticket) if "Opening message 1" in n["body"]]
    assert [(n["private"], [a["name"] for a in n["attachments"]]) for n in notes] == [(True, ["passport.pdf"])]
    assert _store(tmp_path, lambda s: s.id_entry("comment", "t1m1")["target_id"]) == str(notes[0]["id"])
    again, _ = _run(plan, tmp_path / "work")
    assert again["exit_code"] == 0 and again["kinds"]["comment"]["updated"] == 0


@pytest.mark.parametrize("sandbox", ["zendesk", "freshdesk"], indirect=True)
def test_file_added_to_a_written_comment_is_written_or_reported(tmp_path, sandbox):
    platform, box, target = sandbox
    _dump(tmp_path / "dump")
    plan = _plan(tmp_path, target)
    assert _run(plan, tmp_path / "work")[0]["exit_code"] == 0
    _add_file(tmp_path / "dump", "t1m2")
    summary, _ = _run(plan, tmp_path / "work")
    assert summary["exit_code"] == 0, summary
    ticket = _store(tmp_path, lambda s: s.id_entry("ticket", "t1")["target_id"])
    note = next(c for _, text, c in _target_comments(platform, box, ticket) if "4242" in text)
    names = sorted(a.get("name") or a.get("file_name") for a in note["attachments"])
    degradations = _store(tmp_path, lambda s: s.degradations(summary["run_id"]))
    if platform == "freshdesk":
        assert names == ["added.pdf", "invoice.pdf"]
        assert summary["kinds"]["attachment"]["created"] == 1
        assert _store(tmp_path, lambda s: s.id_entry("attachment", "t1m2-new")["state"]) == "done"
    else:
        assert names == ["invoice.pdf"]      # Zendesk cannot add a file to a written comment: said so
        d = next(d for d in degradations if d["id"] == "t1m2-new")
        assert d["kind"] == "attachment" and d["code"] == "update_not_applied" and "Zendesk" in d["detail"]


def test_jsonl_writes_a_file_added_to_a_written_comment(tmp_path):
    _dump(tmp_path / "dump")
    plan = _plan(tmp_path, {"adapter": "jsonl", "path": str(tmp_path / "out")})
    assert _run(plan, tmp_path / "work")[0]["exit_code"] == 0
    _add_file(tmp_path / "dump", "t1m2")
    summary, _ = _run(plan, tmp_path / "work")
    assert summary["exit_code"] == 0, summary
    assert "t1m2-new" in {a["id"] for a in iter_records(tmp_path / "out", "attachment")}
    comment = next(c for c in iter_records(tmp_path / "out", "comment") if c["id"] == "t1m2")
    assert comment["attachment_ids"] == ["t1f1", "t1m2-new"]


class FrozenTarget(Target):
    """Writes, but declares no update support (like RT and django-helpdesk)."""

    name = "frozen"
    capabilities = frozenset({Capability.PRIVATE_NOTES, Capability.ATTACHMENTS})
    bundles_comments = False
    written: dict = {}

    def write(self, kind, record, ctx):
        self.written[(kind, record["id"])] = record
        return WriteResult(f"F-{kind}-{record['id']}")


@pytest.fixture
def frozen_registered(monkeypatch):
    adapters = dict(registry.all_adapters())
    adapters["frozen"] = AdapterSpec(name="frozen", description="no updates", target=FrozenTarget)
    monkeypatch.setattr(registry, "all_adapters", lambda: adapters)
    FrozenTarget.written = {}


def test_target_without_update_support_reports_not_updated(tmp_path, frozen_registered):
    _dump(tmp_path / "dump")
    plan = _plan(tmp_path, {"adapter": "frozen"})
    assert _run(plan, tmp_path / "work")[0]["exit_code"] == 0
    _edit(tmp_path / "dump", "ticket", "t1", status="solved")
    _edit(tmp_path / "dump", "comment", "t2m2", public=False)
    _add_file(tmp_path / "dump", "t1m2")
    for delta in range(2):     # the stale records are reported again by every delta run
        summary, reporter = _run(plan, tmp_path / "work")
        assert summary["exit_code"] == 1, summary
        assert summary["totals"]["updated"] == 0
        assert summary["kinds"]["ticket"]["degraded"] == 1
        degraded = {(e["kind"], e["id"]): e for e in reporter.events
                    if e["event"] == "record_degraded" and e["code"] == "update_not_applied"}
        assert "cannot update ticket records" in degraded[("ticket", "t1")]["reason"]
        assert ("comment", "t1m2") in degraded
        # the new file: reported once, then left out like any file a target refused
        assert (("attachment", "t1m2-new") in degraded) == (delta == 0)
        failure = _store(tmp_path, lambda s: next(f for f in s.failures(summary["run_id"]) if f["id"] == "t2m2"))
        assert "private in the source" in failure["reason"] and "by hand" in failure["reason"]
    assert FrozenTarget.written[("ticket", "t1")]["status"] == "open"     # nothing was sent


def test_dry_run_predicts_not_updated(tmp_path, frozen_registered):
    _dump(tmp_path / "dump")
    plan = _plan(tmp_path, {"adapter": "frozen"})
    assert _run(plan, tmp_path / "work")[0]["exit_code"] == 0
    _edit(tmp_path / "dump", "ticket", "t1", status="solved")
    reporter = CollectingReporter()
    engine = Engine(plan, tmp_path / "work", reporter)
    try:
        summary = engine.run(dry_run=True)
    finally:
        engine.store.close()
    assert summary["kinds"]["ticket"]["updated"] == 0
    assert any(e["event"] == "record_degraded" and e["code"] == "update_not_applied" and e["id"] == "t1"
               for e in reporter.events)


def test_base_update_has_no_silent_default():
    from hdmigrate.adapter import AdapterContext
    target = Target(AdapterContext(config={}))
    assert not target.can_update("ticket")
    with pytest.raises(NotImplementedError):
        target.update("ticket", "1", {"id": "t1"}, None)


class _NoFiles:
    def attachments(self, comment):
        return []

    def target_id(self, kinds, source_id):
        return None


def test_zendesk_refusing_make_private_fails_the_record_naming_why():
    """A comment Zendesk will not make private (e.g. 403 for a light agent's token) is a failure
    that says the comment is still public, never an "updated"."""
    import httpx
    import respx

    from adapters.zendesk.target import ZendeskTarget
    from hdmigrate.adapter import AdapterContext
    from hdmigrate.errors import RecordError

    base = "https://acme.zendesk.com"
    with respx.mock(base_url=base) as mock:
        mock.get("/api/v2/tickets/9/comments").mock(return_value=httpx.Response(200, json={
            "comments": [{"id": 90, "public": True, "body": "hi"}, {"id": 91, "public": True, "body": "card 4242"}],
            "meta": {"has_more": False}}))
        refused = mock.put("/api/v2/tickets/9/comments/91/make_private").mock(
            return_value=httpx.Response(403, json={"error": "Forbidden"}))
        target = ZendeskTarget(AdapterContext(config={"url": base}, secrets={"email": "a@acme.com", "token": "t"}),
                               sleep=lambda s: None)
        with pytest.raises(RecordError) as failed:
            target.update("comment", "9:1", {"id": "c2", "ticket_id": "t", "public": False,
                                             "body_text": "card 4242"}, _NoFiles())
    assert refused.called
    assert "still public" in str(failed.value) and "403" in str(failed.value)
