"""`hdmigrate verify` as the gate CI and consultants rely on (issue 14, item 5): a clean verify
means nothing was lost that the run's report does not name.

- failed records are NOT migrated: the headline says so and verify does not pass (exit 1);
- staged records never written and not named as failed are unexplained (exit 5);
- after a rollback the target is not a migration (exit 1, "rolled back");
- a stamped duplicate in a Freshdesk target is unexplained (stamps of every target are read);
- the run's own `attachment_empty` degradation explains the left-out file everywhere (Zendesk).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent / "reliability"))
import rkit  # noqa: E402

from hdmigrate.canonical_dump import iter_records  # noqa: E402
from hdmigrate.commands.cli import cli  # noqa: E402
from hdmigrate.engine import Engine  # noqa: E402
from hdmigrate.plan import plan_from_dict  # noqa: E402
from hdmigrate.store import Store  # noqa: E402
from hdmigrate.stamps import stamp_of  # noqa: E402

FAST = {"source": 600000, "target": 600000}


def _jsonl_run(tmp_path: Path, records, blobs) -> tuple[int, str]:
    rkit.write_dump(tmp_path / "src", records, blobs)
    plan = rkit.write_plan(tmp_path, {"adapter": "jsonl", "path": "src"}, {"adapter": "jsonl", "path": "out"})
    result = CliRunner().invoke(cli, ["run", str(plan), "--yes"])
    return result.exit_code, result.output


def _text(workdir: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["verify", "--workdir", str(workdir)])
    return result.exit_code, result.output


def test_failed_tickets_are_not_migrated_and_named_in_the_headline(tmp_path):
    records, blobs = rkit.build_records(tickets=10, comments=2, seed=3)
    broken = {"t1", "t4", "t7"}
    for t in records["ticket"]:
        if t["id"] in broken:
            t["requester_id"] = "c-nobody"          # a requester the source does not have: the ticket fails
    code, output = _jsonl_run(tmp_path, records, blobs)
    assert code == 1, output
    code, doc, _ = rkit.verify_inproc(tmp_path / "state")
    assert code == 1 and doc["ok"] is False and doc["exit_code"] == 1
    assert doc["summary"]["unexplained"] == 0
    assert doc["summary"]["not_migrated_by_kind"]["ticket"] == {"record_failed": 3}
    assert doc["counts"]["ticket"]["failed"] == 3
    named = {f["id"] for f in doc["findings"] if f["problem"] == "not_migrated" and f["kind"] == "ticket"}
    assert named == broken
    assert all(f["detail"].startswith("failed: ") for f in doc["findings"] if f["problem"] == "not_migrated")
    code, text = _text(tmp_path / "state")
    headline = text.splitlines()[0]
    assert code == 1 and "3 tickets" in headline and "NOT migrated" in headline, headline
    assert "no unexplained differences" not in headline
    assert "ticket t4" in text


def test_records_never_written_and_not_named_are_unexplained(tmp_path):
    records, blobs = rkit.build_records(tickets=6, comments=2, seed=4)
    code, output = _jsonl_run(tmp_path, records, blobs)
    assert code == 0, output
    # A write that got lost without a word: no id map entry, not in the target.
    store = Store(tmp_path / "state")
    try:
        store.conn.execute("DELETE FROM id_map WHERE kind='ticket' AND id='t2'")
        store.conn.execute("DELETE FROM id_map WHERE kind='comment' AND id LIKE 't2-%'")
    finally:
        store.close()
    out = tmp_path / "out"
    for kind in ("ticket", "comment"):
        kept = [r for r in iter_records(out, kind) if r["id"] != "t2" and r.get("ticket_id") != "t2"]
        from hdmigrate.canonical import dumps
        (out / f"{kind}.jsonl").write_text("".join(dumps(r) + "\n" for r in kept), encoding="utf-8")
    code, doc, _ = rkit.verify_inproc(tmp_path / "state")
    assert code == 5 and not doc["ok"]
    missing = {(f["kind"], f["id"]) for f in doc["findings"] if f["problem"] == "missing" and not f["explained"]}
    assert ("ticket", "t2") in missing and ("comment", "t2-m0") in missing
    assert doc["counts"]["ticket"]["missing"] == 1


def test_rolled_back_target_does_not_pass(tmp_path):
    records, blobs = rkit.build_records(tickets=5, comments=2, seed=6)
    code, output = _jsonl_run(tmp_path, records, blobs)
    assert code == 0, output
    result = CliRunner().invoke(cli, ["rollback", "--workdir", str(tmp_path / "state"), "--yes"])
    assert result.exit_code == 0, result.output
    assert not list(iter_records(tmp_path / "out", "ticket"))
    code, doc, _ = rkit.verify_inproc(tmp_path / "state")
    assert code == 1 and doc["ok"] is False
    assert doc["counts"]["ticket"]["rolled_back"] == 5
    assert doc["summary"]["not_migrated_by_kind"]["ticket"] == {"rolled_back": 5}
    code, text = _text(tmp_path / "state")
    assert code == 1 and "5 tickets" in text.splitlines()[0] and "rolled back" in text.splitlines()[0]


def test_stamps_of_every_target_are_read():
    assert stamp_of({"extra": {"external_id": "hdm:ticket:t3"}}, "ticket") == ("ticket", "t3")
    # Freshdesk: contacts' unique_external_id, tickets' tag, notes' origin line
    assert stamp_of({"extra": {"unique_external_id": "hdm-c7"}}, "contact") == ("contact", "c7")
    assert stamp_of({"tags": ["billing", "hdm-t3-x"]}, "ticket") == ("ticket", "t3-x")
    body = '<p class="hdm-origin"><small>Originally 2020-09-30T22:28:04Z · public [hdm-t1-m0]</small></p><p>x</p>'
    assert stamp_of({"body_html": body}, "comment") == ("comment", "t1-m0")
    # RT (hdmigrate-source-id / urn:hdmigrate: link) and django-helpdesk, read back as extra.stamp
    assert stamp_of({"extra": {"stamp": "acme-t9~partial"}}, "ticket", "acme-") == ("ticket", "t9")
    assert stamp_of({"extra": {"stamp": "t9"}}, "ticket") == ("ticket", "t9")
    assert stamp_of({"tags": ["vip"], "extra": {}}, "ticket") is None
    # only where the target at hand writes them: a Freshdesk origin line or tag carried into a
    # Zendesk target by a later migration is content, not a stamp (it placed comments wrongly)
    from adapters.freshdesk.target import FreshdeskTarget
    from adapters.zendesk.target import ZendeskTarget
    assert stamp_of({"body_html": body, "tags": ["hdm-t3"]}, "comment", places=ZendeskTarget.stamp_places) is None
    assert stamp_of({"body_html": "<p>quoted</p>" + body}, "comment", places=FreshdeskTarget.stamp_places) is None


def test_stamped_duplicate_in_a_freshdesk_target_is_unexplained(tmp_path, monkeypatch):
    from adapters.freshdesk.sandbox import make_sandbox
    records, blobs = rkit.build_records(tickets=4, comments=2, seed=5)
    for f in records["custom_field"]:
        f.update(active=True, required=False)
    rkit.write_dump(tmp_path / "src", records, blobs)
    target = make_sandbox().start()
    try:
        for k, v in target.env.items():
            monkeypatch.setenv(k, v)
        plan = plan_from_dict({"source": {"adapter": "jsonl", "path": str(tmp_path / "src")},
                               "target": target.plan_section,
                               "run": {"workdir": str(tmp_path / "work"), "rate_limit": FAST}}, base_dir=tmp_path)
        engine = Engine(plan, tmp_path / "work")
        try:
            assert engine.run()["exit_code"] == 0
        finally:
            engine.store.close()
        code, doc, _ = rkit.verify_inproc(tmp_path / "work")
        assert code == 0, doc["summary"]
        original = next(t for t in target.store.all("ticket") if "hdm-t2" in t["tags"])
        copy = {k: v for k, v in original.items() if k != "id"}
        target.store.insert("ticket", copy)          # e.g. a second run that did not find the first
        code, doc, _ = rkit.verify_inproc(tmp_path / "work")
        assert code == 5
        dup = [f for f in doc["findings"] if f["problem"] == "duplicate"]
        # the copy's description is the first message again, with its stamp: a duplicate comment too
        assert sorted((f["kind"], f["id"], f["explained"]) for f in dup) == [
            ("comment", "t2-m0", False), ("ticket", "t2", False)]
        assert doc["counts"]["ticket"]["extra"] == 0
    finally:
        target.stop()


def test_recorded_attachment_empty_explains_on_zendesk(tmp_path, monkeypatch):
    """jsonl → Zendesk sandbox with a 0-byte file: the run records `attachment_empty`, and that
    explains the missing file, the comment's attachment list and the ticket's hashes."""
    from adapters.zendesk.sandbox import make_sandbox
    records, blobs = rkit.build_records(tickets=4, comments=2, seed=8)
    for f in records["custom_field"]:
        f.update(active=True, required=False)
    empty = records["attachment"][0]
    empty.update(size=0, sha256=hashlib.sha256(b"").hexdigest())
    blobs[empty["sha256"]] = b""
    rkit.write_dump(tmp_path / "src", records, blobs)
    target = make_sandbox().start()
    target.job_delay = 0.01
    try:
        for k, v in target.env.items():
            monkeypatch.setenv(k, v)
        plan = plan_from_dict({"source": {"adapter": "jsonl", "path": str(tmp_path / "src")},
                               "target": {**target.plan_section, "job_poll_seconds": 0.05},
                               "run": {"workdir": str(tmp_path / "work"), "rate_limit": FAST}}, base_dir=tmp_path)
        engine = Engine(plan, tmp_path / "work")
        try:
            assert engine.run()["exit_code"] == 0
        finally:
            engine.store.close()
        code, doc, _ = rkit.verify_inproc(tmp_path / "work")
        assert code == 0, doc["summary"]
        about = [f for f in doc["findings"] if f["code"] == "attachment_empty"]
        assert {(f["kind"], f["id"]) for f in about} >= {("attachment", empty["id"]), ("comment", empty["comment_id"])}
        assert all(f["explained"] for f in about)
    finally:
        target.stop()


def test_a_field_degradation_does_not_explain_a_lost_record(tmp_path):
    records, blobs = rkit.build_records(tickets=4, comments=2, seed=9)
    code, output = _jsonl_run(tmp_path, records, blobs)
    assert code == 0, output
    from hdmigrate.canonical_dump import iter_records as records_of
    from hdmigrate.adapter import Degradation
    from hdmigrate.canonical import dumps
    out = tmp_path / "out"
    kept = [r for r in records_of(out, "comment") if r["id"] != "t1-m1"]
    (out / "comment.jsonl").write_text("".join(dumps(r) + "\n" for r in kept), encoding="utf-8")
    store = Store(tmp_path / "state")
    try:  # a whole-record degradation about something else (its author) is no excuse for a loss
        store.add_degradations(1, [Degradation("comment", "t1-m1", "", "author_not_preserved", "x")])
    finally:
        store.close()
    code, doc, _ = rkit.verify_inproc(tmp_path / "state")
    assert code == 5
    lost = [f for f in doc["findings"] if f["id"] == "t1-m1" and f["problem"] == "missing"]
    assert lost and not lost[0]["explained"]
