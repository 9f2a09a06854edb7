"""Engine semantics over the jsonl source and a dummy target with failure knobs."""

from __future__ import annotations

import json

import pytest

from hdmigrate.canonical_dump import DumpWriter
from hdmigrate.engine import Engine
from hdmigrate.plan import plan_from_dict
from hdmigrate.report import CollectingReporter
from hdmigrate.testing.dummy import SPEC, DummyTarget, registered


@pytest.fixture(autouse=True)
def dummy_registered():
    with registered():
        yield


@pytest.fixture
def dump(tmp_path):
    root = tmp_path / "src"
    w = DumpWriter(root, source="test")
    w.add("organization", {"id": "o1", "name": "Ölwerke AG"})
    w.add("agent", {"id": "a1", "name": "Ana", "email": "ana@example.org"})
    w.add("contact", {"id": "c1", "name": "Chen 陈", "email": "chen@example.org", "organization_id": "o1"})
    w.add("contact", {"id": "c2", "name": "Dora", "organization_id": "o-missing"})
    sha = w.add_blob(b"%PDF-1.4 invoice")
    for t in range(1, 6):
        w.add("ticket", {"id": f"t{t}", "subject": f"Rechnung {t}", "status": "open", "requester_id": "c1",
                         "assignee_id": "a1", "created_at": f"2021-0{t}-01T08:00:00Z"})
        for m in range(3):
            comment = {"id": f"t{t}m{m}", "ticket_id": f"t{t}", "author_id": "c1" if m == 0 else "a1",
                       "public": m != 2, "body_html": f"<p>Nachricht {m}</p>",
                       "created_at": f"2021-0{t}-01T{8 + m:02d}:00:00Z"}
            if t == 1 and m == 0:
                comment["attachment_ids"] = ["f1"]
            w.add("comment", comment)
    w.add("attachment", {"id": "f1", "comment_id": "t1m0", "file_name": "rechnung.pdf",
                         "content_type": "application/pdf", "size": 16, "sha256": sha})
    w.add("ticket", {"id": "t9", "subject": "orphan", "status": "new", "requester_id": "c404"})
    w.add("comment", {"id": "t9m0", "ticket_id": "t9", "author_id": "a1", "public": True, "body_text": "x"})
    w.close()
    return root


def make_plan(tmp_path, dump, **extra):
    data = {"source": {"adapter": "jsonl", "path": str(dump)}, "target": {"adapter": "dummy"}}
    for k, v in extra.items():
        data[k] = v
    return plan_from_dict(data, tmp_path)


def run(tmp_path, dump, dry_run=False, **extra):
    reporter = CollectingReporter()
    engine = Engine(make_plan(tmp_path, dump, **extra), tmp_path / "wd", reporter)
    try:
        summary = engine.run(dry_run=dry_run)
    finally:
        engine.store.close()
    return summary, reporter


def test_full_run_writes_in_reference_order_and_names_failures(tmp_path, dump):
    summary, rep = run(tmp_path, dump)
    assert summary["exit_code"] == 1
    kinds = summary["kinds"]
    assert kinds["ticket"]["created"] == 5 and kinds["ticket"]["failed"] == 1
    assert kinds["comment"]["created"] == 15 and kinds["comment"]["failed"] == 1
    assert kinds["attachment"]["created"] == 1
    order = [k for k, _ in DummyTarget.calls]
    assert order.index("organization") < order.index("contact") < order.index("ticket") < order.index("comment")
    failed = {(e["kind"], e["id"]): e["reason"] for e in rep.events if e["event"] == "record_failed"}
    assert "c404" in failed[("ticket", "t9")] and "does not exist in the source" in failed[("ticket", "t9")]
    assert "ticket t9" in failed[("comment", "t9m0")]
    # the attachment travels with its comment, byte for byte
    assert DummyTarget.written[("comment", "t1m0")]["attachments"] == [("f1", b"%PDF-1.4 invoice")]
    assert DummyTarget.written[("comment", "t1m0")]["ticket_target"] == "T-ticket-t1"
    # the optional broken reference is dropped with a degradation, not a failure
    assert DummyTarget.written[("contact", "c2")]["record"]["organization_id"] is None
    assert kinds["contact"]["degraded"] == 1
    assert rep.events[-1]["event"] == "summary"


def test_dry_run_writes_nothing_and_reports_the_same_outcome(tmp_path, dump):
    summary, rep = run(tmp_path, dump, dry_run=True)
    assert DummyTarget.calls == []
    assert summary["dry_run"] and summary["exit_code"] == 1
    assert summary["kinds"]["ticket"]["created"] == 5 and summary["kinds"]["ticket"]["failed"] == 1
    assert summary["kinds"]["comment"]["degraded"] == 16 - 1
    codes = {e["code"] for e in rep.events if e["event"] == "record_degraded"}
    assert {"timestamp_not_preserved", "reference_missing"} <= codes
    # a real run afterwards writes everything the dry run promised
    real, _ = run(tmp_path, dump)
    assert real["kinds"]["ticket"]["created"] == 5 and real["kinds"]["comment"]["created"] == 15


def test_rerun_repeats_no_write_and_counts_unchanged(tmp_path, dump):
    run(tmp_path, dump)
    calls = len(DummyTarget.calls)
    summary, _ = run(tmp_path, dump)
    # only the records that failed are tried again
    assert {x for x in DummyTarget.calls[calls:]} <= {("ticket", "t9")}
    assert summary["kinds"]["ticket"]["unchanged"] == 5
    assert summary["kinds"]["comment"]["unchanged"] == 15


def test_changed_record_is_updated_on_delta_run(tmp_path, dump):
    run(tmp_path, dump)
    lines = (dump / "ticket.jsonl").read_text(encoding="utf-8").splitlines()
    t1 = json.loads(lines[0])
    t1["status"] = "solved"
    lines[0] = json.dumps(t1, ensure_ascii=False)
    (dump / "ticket.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary, _ = run(tmp_path, dump)
    assert summary["kinds"]["ticket"]["updated"] == 1
    assert summary["kinds"]["ticket"]["unchanged"] == 4


def test_rejected_record_fails_alone(tmp_path, dump):
    DummyTarget.knobs = {"reject": {"t2"}}
    summary, rep = run(tmp_path, dump)
    assert summary["kinds"]["ticket"]["created"] == 4
    reasons = {e["id"]: e["reason"] for e in rep.events if e["event"] == "record_failed"}
    assert "422 ticket t2 invalid" in reasons["t2"]
    assert "ticket t2" in reasons["t2m0"]  # its comments are reported as blocked by it
    assert summary["kinds"]["comment"]["created"] == 12


def test_fatal_api_error_stops_with_exit_3_and_resumes(tmp_path, dump):
    DummyTarget.knobs = {"fatal": {"t3"}}
    summary, _ = run(tmp_path, dump)
    assert summary["exit_code"] == 3 and "bad credentials" in summary["error"]
    DummyTarget.knobs = {}
    summary, _ = run(tmp_path, dump)
    assert summary["exit_code"] == 1  # only t9 (missing requester) fails
    assert len([k for k in DummyTarget.written if k[0] == "ticket"]) == 5


@pytest.mark.parametrize("after", [1, 4, 9, 17, 22])
def test_interrupt_then_resume_writes_each_record_once(tmp_path, dump, after):
    DummyTarget.knobs = {"interrupt_after": after}
    summary, _ = run(tmp_path, dump)
    assert summary["exit_code"] == 4
    DummyTarget.knobs = {}
    summary, _ = run(tmp_path, dump)
    writes = [c for c in DummyTarget.calls]
    successful = [c for c in writes if c in DummyTarget.written]
    assert len(set(DummyTarget.written)) == 1 + 1 + 2 + 5 + 15  # org, agent, contacts, tickets, comments
    # each record was written once: the call that was interrupted raised before writing
    assert len(writes) - writes.count(writes[after]) + 1 >= len(set(successful))
    assert summary["kinds"]["ticket"]["created"] == 5


def test_bundling_target_gets_comments_with_the_ticket(tmp_path, dump):
    DummyTarget.knobs = {"bundles": True, "ticket_batch": 2}
    summary, _ = run(tmp_path, dump)
    assert ("comment", "t1m0") not in DummyTarget.calls  # comments travel inside the ticket write
    assert DummyTarget.written[("ticket", "t1")]["comments"] == ["t1m0", "t1m1", "t1m2"]
    assert summary["kinds"]["comment"]["created"] == 15
    again, _ = run(tmp_path, dump)
    assert again["kinds"]["comment"]["unchanged"] == 15


def test_sample_loads_n_tickets_and_what_they_reference(tmp_path, dump):
    summary, _ = run(tmp_path, dump, options={"sample": 3})
    tickets = summary["kinds"]["ticket"]
    assert tickets["created"] + tickets["failed"] == 3  # t9 (no created_at) sorts first and fails
    assert summary["kinds"]["comment"]["created"] == 3 * (tickets["created"])
    assert ("contact", "c2") not in DummyTarget.written  # not referenced by the sample
    assert ("contact", "c1") in DummyTarget.written and ("organization", "o1") in DummyTarget.written


def test_scope_kinds_limits_the_load(tmp_path, dump):
    summary, _ = run(tmp_path, dump, scope={"kinds": ["organization", "contact"]})
    assert set(summary["kinds"]) <= {"organization", "contact"}
    assert not any(k == "ticket" for k, _ in DummyTarget.calls)


def test_workdir_of_another_migration_is_refused(tmp_path, dump):
    run(tmp_path, dump)
    other = plan_from_dict({"source": {"adapter": "jsonl", "path": str(tmp_path)}, "target": {"adapter": "dummy"}}, tmp_path)
    engine = Engine(other, tmp_path / "wd", CollectingReporter())
    from hdmigrate.errors import StateError
    with pytest.raises(StateError, match="another migration"):
        engine.run()
    engine.store.close()


class SlowOrderedTarget(DummyTarget):
    """Answers slowly and checks that a ticket's comments arrive in their order."""

    def write(self, kind, record, ctx):
        import time
        time.sleep(0.002)
        if kind == "comment":
            seen = [c for k, c in self.calls if k == "comment" and c.startswith(record["ticket_id"] + "m")]
            assert all(c < record["id"] for c in seen), (seen, record["id"])
        return super().write(kind, record, ctx)


@pytest.mark.parametrize("workers", [2, 4])
def test_parallel_workers_write_everything_once_and_in_ticket_order(tmp_path, dump, monkeypatch, workers):
    monkeypatch.setattr(SPEC, "target", SlowOrderedTarget)
    summary, _ = run(tmp_path, dump, run={"workers": workers})
    assert summary["kinds"]["comment"]["created"] == 15
    assert len(SlowOrderedTarget.calls) == len(set(SlowOrderedTarget.calls))  # no record written twice
    assert DummyTarget.written[("comment", "t1m0")]["attachments"] == [("f1", b"%PDF-1.4 invoice")]
    again, _ = run(tmp_path, dump, run={"workers": workers})
    assert again["kinds"]["comment"]["unchanged"] == 15
    assert again["kinds"]["attachment"]["unchanged"] == 1


class FlakyBatchTarget(DummyTarget):
    """A bulk target whose job fails some items with a passing error, once."""

    failed_once: set = set()

    def write_batch(self, kind, records, ctx):
        from hdmigrate.errors import TransientApiError
        out = []
        for record in records:
            if kind == "ticket" and record["id"] in ("t2", "t4") and record["id"] not in self.failed_once:
                self.failed_once.add(record["id"])
                out.append(TransientApiError("job item failed: internal error"))
            else:
                out.append(self.write(kind, record, ctx))
        return out


def test_transient_item_failures_are_retried_in_the_same_run(tmp_path, dump, monkeypatch):
    monkeypatch.setattr(SPEC, "target", FlakyBatchTarget)
    FlakyBatchTarget.failed_once = set()
    DummyTarget.knobs = {"ticket_batch": 5}
    summary, _ = run(tmp_path, dump)
    assert summary["kinds"]["ticket"]["created"] == 5
    assert summary["kinds"]["ticket"]["failed"] == 1  # only t9, whose requester does not exist
    assert summary["kinds"]["comment"]["created"] == 15


def test_custom_field_lookup_by_entity_and_key(tmp_path):
    from hdmigrate.canonical_dump import DumpWriter
    src = tmp_path / "src"
    w = DumpWriter(src, source="t")
    w.add("custom_field", {"id": "ticket:plan", "entity": "ticket", "key": "plan", "type": "dropdown"})
    w.add("contact", {"id": "c1", "name": "n"})
    w.add("ticket", {"id": "t1", "subject": "s", "status": "open", "requester_id": "c1", "custom_fields": {"plan": "pro"}})
    w.close()
    seen = {}

    class FieldTarget(DummyTarget):
        def write(self, kind, record, ctx):
            if kind == "ticket":
                seen["field"] = ctx.custom_field("ticket", "plan")
                seen["none"] = ctx.custom_field("contact", "plan")
            return super().write(kind, record, ctx)

    SPEC.target = FieldTarget
    try:
        run(tmp_path, src)
    finally:
        SPEC.target = DummyTarget
    field, target_id = seen["field"]
    assert field["key"] == "plan" and target_id == "T-custom_field-ticket:plan"
    assert seen["none"] is None


def test_records_found_after_an_interruption_keep_their_degradations(tmp_path, dump):
    DummyTarget.knobs = {"interrupt_after": 10}
    run(tmp_path, dump)
    # the interrupted write landed in the target although the id map still says pending
    interrupted = DummyTarget.calls[10]
    DummyTarget.written[interrupted] = {"target_id": f"T-{interrupted[0]}-{interrupted[1]}"}
    DummyTarget.knobs = {}
    run(tmp_path, dump)
    from hdmigrate.store import Store
    store = Store(tmp_path / "wd")
    try:
        codes = {(d["kind"], d["id"]): d["code"] for d in store.degradations()}
        comments = [r["id"] for r, _ in store.iter_records("comment")]
    finally:
        store.close()
    # every comment written (including one adopted as found) carries its declared degradation
    assert all(codes.get(("comment", c)) == "timestamp_not_preserved" for c in comments if c != "t9m0")


def test_files_without_a_declared_hash_are_not_downloaded_again(tmp_path, monkeypatch):
    from adapters.jsonl import JsonlSource
    from hdmigrate.canonical_dump import DumpWriter
    src = tmp_path / "src"
    w = DumpWriter(src, source="t")
    w.add("contact", {"id": "c1", "name": "n"})
    w.add("ticket", {"id": "t1", "subject": "s", "status": "open", "requester_id": "c1"})
    w.add("comment", {"id": "m1", "ticket_id": "t1", "author_id": "c1", "public": True, "body_text": "x",
                      "attachment_ids": ["f1"]})
    sha = w.add_blob(b"bytes of a file")
    w.close()
    # like a vendor source: the record carries no hash, the bytes come from a download
    with open(src / "attachment.jsonl", "w") as f:
        f.write('{"id": "f1", "comment_id": "m1", "file_name": "a.txt", "content_type": "text/plain", "size": 15}\n')
    downloads = []

    def fetch(self, record):
        downloads.append(record["id"])
        return (src / "attachments" / sha).read_bytes()

    monkeypatch.setattr(JsonlSource, "fetch_attachment", fetch)
    run(tmp_path, src)
    (src / "attachment.jsonl").write_text(  # a changed record makes the payload normalize again
        '{"id": "f1", "comment_id": "m1", "file_name": "b.txt", "content_type": "text/plain", "size": 15}\n')
    run(tmp_path, src)
    assert downloads == ["f1"]
