"""`hdmigrate verify` over jsonl → jsonl: a clean migration verifies (exit 0); every kind of
tampering with the target is found (exit 5) and named per record; degradations explain; JSON,
JUnit and the side archive."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent / "reliability"))
import rkit  # noqa: E402

from hdmigrate.canonical_dump import iter_records  # noqa: E402
from hdmigrate.adapter import Degradation  # noqa: E402
from hdmigrate.canonical import dumps  # noqa: E402
from hdmigrate.commands.cli import cli  # noqa: E402
from hdmigrate.store import Store  # noqa: E402


@pytest.fixture
def migrated(tmp_path):
    records, blobs = rkit.build_dump(tmp_path / "src", tickets=12, comments=3, seed=5)
    plan = rkit.write_plan(tmp_path, {"adapter": "jsonl", "path": "src"}, {"adapter": "jsonl", "path": "out"})
    result = CliRunner().invoke(cli, ["run", str(plan), "--yes"])
    assert result.exit_code == 0, result.output
    return tmp_path, records, blobs


def _verify(workdir: Path, *extra):
    result = CliRunner().invoke(cli, ["verify", "--workdir", str(workdir), "--json", *extra])
    doc = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result.exit_code, doc, result


def _rewrite(root: Path, kind: str, change):
    path = root / f"{kind}.jsonl"
    lines = []
    for record in iter_records(root, kind):
        out = change(record)
        if out is None:
            continue
        for r in (out if isinstance(out, list) else [out]):
            lines.append(dumps(r) + "\n")
    path.write_text("".join(lines), encoding="utf-8")


def test_clean_migration_verifies(migrated):
    tmp, records, _ = migrated
    code, doc, _ = _verify(tmp / "state")
    assert code == 0 and doc["ok"]
    assert doc["counts"]["ticket"]["matched"] == len(records["ticket"]) == doc["counts"]["ticket"]["target"]
    assert doc["counts"]["attachment"]["matched"] == len(records["attachment"])
    assert doc["tickets"]["checked"] == len(records["ticket"]) and doc["tickets"]["with_differences"] == 0
    assert doc["metrics"]["source"] == doc["metrics"]["target"]
    assert doc["metrics"]["source"]["status_mix"] == {
        s: sum(1 for t in records["ticket"] if t["status"] == s) for s in {t["status"] for t in records["ticket"]}}
    # the report command shows verify's findings too
    store = Store(tmp / "state")
    try:
        assert store.get_state("verify_report")["ok"] is True
    finally:
        store.close()
    # --plan finds the same work directory
    result = CliRunner().invoke(cli, ["verify", "--plan", str(tmp / "plan.toml")])
    assert result.exit_code == 0, result.output
    assert "no unexplained differences" in result.output


@pytest.mark.parametrize("case", ["missing", "duplicate", "private_leak", "time", "author", "tags", "custom_field",
                                  "channel", "body", "blob", "rating"])
def test_tampering_is_found(migrated, case):
    tmp, records, _ = migrated
    out = tmp / "out"
    victim = {"missing": ("comment", records["comment"][4]["id"])}.get(case)
    private = next(c for c in records["comment"] if not c["public"])
    if case == "missing":
        _rewrite(out, "comment", lambda r: None if r["id"] == victim[1] else r)
        want = ("comment", victim[1], "missing")
    elif case == "duplicate":
        _rewrite(out, "ticket", lambda r: [r, r] if r["id"] == "t3" else r)
        want = ("ticket", "t3", "duplicate")
    elif case == "private_leak":
        _rewrite(out, "comment", lambda r: dict(r, public=True) if r["id"] == private["id"] else r)
        want = ("comment", private["id"], "differs")
    elif case == "time":
        _rewrite(out, "ticket", lambda r: dict(r, created_at="2001-01-01T00:00:00Z") if r["id"] == "t2" else r)
        want = ("ticket", "t2", "differs")
    elif case == "author":
        _rewrite(out, "comment", lambda r: dict(r, author_id="a0" if r["author_id"] != "a0" else "a1")
                 if r["id"] == "t1-m1" else r)
        want = ("comment", "t1-m1", "differs")
    elif case == "tags":
        _rewrite(out, "ticket", lambda r: dict(r, tags=["other"]) if r["id"] == "t4" else r)
        want = ("ticket", "t4", "differs")
    elif case == "custom_field":
        _rewrite(out, "ticket", lambda r: dict(r, custom_fields={**r["custom_fields"], "seats": 9999})
                 if r["id"] == "t5" else r)
        want = ("ticket", "t5", "differs")
    elif case == "channel":
        _rewrite(out, "ticket", lambda r: dict(r, channel="letter") if r["id"] == "t6" else r)
        want = ("ticket", "t6", "differs")
    elif case == "body":
        _rewrite(out, "comment", lambda r: dict(r, body_html="<p>something else</p>") if r["id"] == "t7-m0" else r)
        want = ("comment", "t7-m0", "differs")
    elif case == "blob":
        att = records["attachment"][0]
        (out / "attachments" / att["sha256"]).write_bytes(b"not the original bytes")
        want = ("attachment", att["id"], "differs")
    else:
        rating = records["satisfaction_rating"][0]
        _rewrite(out, "satisfaction_rating", lambda r: dict(r, score=2 if r["score"] != 2 else 5)
                 if r["id"] == rating["id"] else r)
        want = ("satisfaction_rating", rating["id"], "differs")
    code, doc, result = _verify(tmp / "state", "--junit", str(tmp / "verify.xml"))
    assert code == 5, result.output
    unexplained = [f for f in doc["findings"] if not f["explained"]]
    assert any((f["kind"], f["id"], f["problem"]) == want for f in unexplained), unexplained[:5]
    junit = ET.parse(tmp / "verify.xml").getroot()
    failing = [tc.get("name") for tc in junit.iter("testcase") if tc.find("failure") is not None]
    assert f"{want[0]} {want[1]}" in failing
    text = CliRunner().invoke(cli, ["verify", "--workdir", str(tmp / "state")])
    assert text.exit_code == 5 and f"{want[0]} {want[1]}" in text.output


def test_private_leak_is_never_explained_by_a_capability(migrated):
    tmp, records, _ = migrated
    private = next(c for c in records["comment"] if not c["public"])
    _rewrite(tmp / "out", "comment", lambda r: dict(r, public=True) if r["id"] == private["id"] else r)
    store = Store(tmp / "state")
    try:  # an unrelated degradation on the record does not excuse it
        store.add_degradations(1, [Degradation("comment", private["id"], "", "author_not_preserved", "x")])
    finally:
        store.close()
    code, doc, _ = _verify(tmp / "state")
    assert code == 5
    leak = [f for f in doc["findings"] if f["id"] == private["id"] and f["field"] == "public"]
    assert leak and not leak[0]["explained"]


def test_recorded_degradation_explains_and_lands_in_side_archive(migrated):
    tmp, records, _ = migrated
    _rewrite(tmp / "out", "ticket", lambda r: dict(r, channel="web") if r["id"] == "t8" else r)
    store = Store(tmp / "state")
    try:
        store.add_degradations(1, [Degradation("ticket", "t8", "channel", "channel_not_preserved", "test")])
    finally:
        store.close()
    code, doc, _ = _verify(tmp / "state")
    assert code == 0, doc["summary"]
    found = [f for f in doc["findings"] if f["id"] == "t8" and f["field"] == "channel"]
    assert found and found[0]["explained"] and found[0]["code"] == "channel_not_preserved"
    archive = Path(doc["side_archive"]["path"])
    archived = {r["id"]: r for r in iter_records(archive, "ticket")}
    original = next(t for t in records["ticket"] if t["id"] == "t8")
    assert archived["t8"]["channel"] == original["channel"]
    assert archived["t8"]["extra"]["side_archive"] == {"reasons": ["channel_not_preserved"], "target_id": "t8"}
    assert json.loads((archive / "manifest.json").read_text())["format"] == "hdmigrate-dump"


def test_side_archive_sees_findings_beyond_those_the_report_stores(migrated, monkeypatch):
    """The report keeps the first MAX_STORED_FINDINGS findings; the archive reads all of them
    (a large migration has tens of thousands of explained ones ahead of a rewritten comment)."""
    from hdmigrate.verify import verifier
    tmp, records, _ = migrated
    victim = records["comment"][4]["id"]
    _rewrite(tmp / "out", "comment", lambda r: dict(r, body_html=r["body_html"] + "\n  ") if r["id"] == victim else r)
    monkeypatch.setattr(verifier, "MAX_STORED_FINDINGS", 0)
    code, doc, _ = _verify(tmp / "state")
    assert code == 0, doc["summary"]
    assert doc["findings"] == [] and doc["summary"]["explained_by_code"] == {"html_rewritten": 1}
    archived = {r["id"]: r for r in iter_records(Path(doc["side_archive"]["path"]), "comment")}
    assert archived[victim]["extra"]["side_archive"]["reasons"] == ["html_rewritten"]
    assert archived[victim]["body_html"] == records["comment"][4]["body_html"]


def test_unrecorded_write_is_found(migrated):
    """A record in the target that the id map does not hold as written (a lost `done`)."""
    tmp, _, _ = migrated
    store = Store(tmp / "state")
    try:
        store.conn.execute("UPDATE id_map SET state='pending' WHERE kind='ticket' AND id='t9'")
    finally:
        store.close()
    code, doc, _ = _verify(tmp / "state")
    assert code == 5
    assert any(f["problem"] == "unrecorded" and f["id"] == "t9" for f in doc["findings"])


def test_config_errors_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["verify", "--workdir", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "run `hdmigrate run PLAN` first" in result.output
    result = CliRunner().invoke(cli, ["verify"])
    assert result.exit_code == 2


def test_a_long_body_is_compared_whole_after_waiting_on_disk(migrated):
    # Read-back comments wait in the verify spool, whole, with only what pairing reads in memory:
    # a change far into a body is still found, and the spool leaves no file in the work directory.
    tmp, records, _ = migrated
    victim = records["comment"][2]["id"]
    _rewrite(tmp / "out", "comment", lambda r: dict(r, body_html=r["body_html"] + " " * 3000 + "<p>added later</p>")
             if r["id"] == victim else r)
    before = set((tmp / "state").iterdir())
    code, doc, _ = _verify(tmp / "state", "--no-side-archive")
    assert code == 5
    found = [f for f in doc["findings"] if f["id"] == victim and f["field"] == "body_html" and not f["explained"]]
    assert found and "added later" in str(found[0]["target"])
    assert {p.name for p in set((tmp / "state").iterdir()) - before} <= {"staging.db-shm", "staging.db-wal"}


def test_a_kept_finding_holds_the_bodies_cut_as_the_report_shows_them(migrated):
    # One finding per rewritten comment, each holding both bodies whole, was a large part of a
    # verify's memory on targets that rewrite HTML: kept cut, as the report shows them anyway.
    from hdmigrate.verify import Verifier, stored_plan
    tmp, records, _ = migrated
    victim = records["comment"][1]["id"]
    body = "<p>" + "Grüße aus Köln, 日本語 " * 200 + "</p>"
    store = Store(tmp / "state")
    try:
        record = store.record("comment", victim)
        store.conn.execute("UPDATE records SET data=? WHERE kind='comment' AND id=?",
                           (dumps(dict(record, body_html=body)), victim))
    finally:
        store.close()
    _rewrite(tmp / "out", "comment", lambda r: dict(r, body_html=body + "\n  ") if r["id"] == victim else r)
    store = Store(tmp / "state")
    try:
        verifier = Verifier(store, stored_plan(store))
        report = verifier.run()
    finally:
        store.close()
    (kept,) = [f for f in verifier.findings if f.id == victim and f.code == "html_rewritten"]
    assert kept.explained and kept.source.endswith(f"… ({len(body)} characters)") and len(kept.source) < 350
    assert kept.target.endswith(f"… ({len(body) + 3} characters)")
    (shown,) = [f for f in report["findings"] if f["id"] == victim and f["code"] == "html_rewritten"]
    assert shown["source"] == body[:300] + f"… ({len(body)} characters)"      # cut once, not twice
    assert report["exit_code"] == 0, report["summary"]
