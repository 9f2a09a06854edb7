"""The jsonl dump: a dump read and written again is identical; bad lines are named; a resumed
target never holds a torn or duplicate line."""

import json
import subprocess
import sys

import pytest

from hdmigrate import canonical_dump as dump
from hdmigrate.engine import Engine
from hdmigrate.plan import load_plan
from hdmigrate.report import CollectingReporter
from hdmigrate.testing.sample import write_dump
from tests.dumps import assert_same_dump, read_dump, write_plan


def migrate(plan_path, workdir=None):
    plan = load_plan(plan_path)
    engine = Engine(plan, workdir or plan.workdir(), CollectingReporter())
    try:
        return engine.run()
    finally:
        engine.store.close()


def test_round_trip_is_identical(tmp_path):
    src = tmp_path / "src"
    write_dump(src, tickets=40, seed=11)
    summary = migrate(write_plan(tmp_path / "p.toml", src, tmp_path / "out"))
    assert summary["exit_code"] == 0, summary
    assert_same_dump(src, tmp_path / "out")
    # and once more, dump → dump → dump
    summary = migrate(write_plan(tmp_path / "q.toml", tmp_path / "out", tmp_path / "out2"))
    assert summary["exit_code"] == 0
    assert_same_dump(src, tmp_path / "out2")


def test_bodies_are_byte_identical_including_defects(tmp_path):
    src = tmp_path / "src"
    write_dump(src, tickets=30, seed=5)
    migrate(write_plan(tmp_path / "p.toml", src, tmp_path / "out"))
    # Key order carries no meaning in the dump format; every string value must be the same
    # code points, hence the same UTF-8 bytes.
    def bodies(root):
        return {r["id"]: (r.get("body_html"), r.get("body_text")) for r in read_dump(root)["comment"]}
    src_bodies, out_bodies = bodies(src), bodies(tmp_path / "out")
    assert src_bodies == out_bodies
    for cid, (html, text) in src_bodies.items():
        assert (html or "").encode("utf-8") == (out_bodies[cid][0] or "").encode("utf-8")
    text = (tmp_path / "out" / "comment.jsonl").read_text(encoding="utf-8")
    assert "Ã" in text or "Ă" in text  # mojibake carried, not repaired
    assert "&lt;" in text  # escaped HTML carried as is


def test_unknown_fields_survive(tmp_path):
    src = tmp_path / "src"
    w = dump.DumpWriter(src, source="x")
    w.add("group", {"id": "g1", "name": "Support", "vendor": {"nested": [1, "ü"]}, "z": None})
    w.close()
    migrate(write_plan(tmp_path / "p.toml", src, tmp_path / "out"))
    assert read_dump(tmp_path / "out")["group"] == [{"id": "g1", "name": "Support", "vendor": {"nested": [1, "ü"]}, "z": None}]


def test_malformed_lines_are_named_and_the_rest_arrives(tmp_path):
    src = tmp_path / "src"
    w = dump.DumpWriter(src, source="x")
    w.add("group", {"id": "g1", "name": "A"})
    w.close()
    with open(src / "group.jsonl", "ab") as f:
        f.write(b'{"id": "g2", "name": \n')          # malformed JSON
        f.write(b'{"id": "g3", "name": "\xff"}\n')   # invalid UTF-8
        f.write(b'[1, 2]\n')                          # not an object
        f.write(b'{"id": "g4", "name": "B"}\n')
        f.write(b'{"id": "g5", "name": "torn"')       # truncated last line
    plan = write_plan(tmp_path / "p.toml", src, tmp_path / "out")
    summary = migrate(plan)
    assert summary["exit_code"] == 1
    from hdmigrate.store import Store
    store = Store(load_plan(plan).workdir())
    reasons = sorted(f["reason"] for f in store.failures())
    store.close()
    assert any("line 2: malformed JSON" in r for r in reasons)
    assert any("line 3: invalid UTF-8" in r for r in reasons)
    assert any("line 4: not a JSON object" in r for r in reasons)
    assert any("line 6: truncated line" in r for r in reasons)
    assert [r["id"] for r in read_dump(tmp_path / "out")["group"]] == ["g1", "g4"]


def test_missing_blob_fails_the_attachment_not_the_comment(tmp_path):
    src = tmp_path / "src"
    write_dump(src, tickets=30, seed=2)
    victim = next(p for p in (src / "attachments").iterdir())
    victim.unlink()
    summary = migrate(write_plan(tmp_path / "p.toml", src, tmp_path / "out"))
    assert summary["exit_code"] == 1
    assert summary["kinds"]["attachment"]["failed"] >= 1
    assert summary["kinds"]["comment"]["failed"] == 0


def test_target_cuts_a_torn_line_and_never_duplicates(tmp_path):
    src = tmp_path / "src"
    write_dump(src, tickets=10, seed=4)
    out = tmp_path / "out"
    plan = write_plan(tmp_path / "p.toml", src, out)
    migrate(plan)
    # simulate a crash mid-write: a torn line at the end of a file, then a resume
    with open(out / "comment.jsonl", "ab") as f:
        f.write(b'{"id": "half')
    summary = migrate(plan)
    assert summary["exit_code"] == 0
    assert_same_dump(src, out)


def test_a_resume_with_nothing_left_to_write_names_the_source_in_the_manifest(tmp_path):
    # A kill after the last record's write and before the manifest: the resumed run writes no
    # record, yet its manifest names the source like an uninterrupted run's.
    src = tmp_path / "src"
    write_dump(src, tickets=5, seed=7)  # no attachments: the resume adds no attachment.jsonl
    out = tmp_path / "out"
    plan = write_plan(tmp_path / "p.toml", src, out)
    migrate(plan)
    (out / "manifest.json").unlink()
    summary = migrate(plan)
    assert summary["exit_code"] == 0
    assert all(k["created"] == k["updated"] == 0 for k in summary["kinds"].values()), summary["kinds"]
    assert dump.read_manifest(out)["source"] == dump.read_manifest(src)["source"]
    assert_same_dump(src, out)


def test_bad_dump_directory_is_a_config_error(tmp_path):
    plan = write_plan(tmp_path / "p.toml", tmp_path / "nope", tmp_path / "out")
    result = subprocess.run([sys.executable, "-m", "hdmigrate", "run", str(plan), "--yes"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "no such dump directory" in result.stderr and "Traceback" not in result.stderr
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{not json")
    plan = write_plan(tmp_path / "p2.toml", tmp_path / "bad", tmp_path / "out")
    result = subprocess.run([sys.executable, "-m", "hdmigrate", "run", str(plan), "--yes"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "unreadable manifest" in result.stderr


def test_delta_over_a_dump_compares_times_as_instants():
    """`since` through hdmigrate.times: offsets compare as instants; a time that does not parse keeps
    the record (a delta run never drops what it cannot place)."""
    from adapters.jsonl import _before
    since = "2024-01-01T09:00:00Z"
    assert _before({"updated_at": "2024-01-01T10:00:00+02:00"}, since)        # 08:00Z
    assert not _before({"updated_at": "2024-01-01T10:00:00+00:30"}, since)    # 09:30Z
    assert not _before({"created_at": "2024-01-01T09:00:00Z"}, since)
    assert not _before({"updated_at": "not a time"}, since)
    assert not _before({}, since) and not _before({"updated_at": "2020-01-01T00:00:00Z"}, None)
