"""Normalize downloads a batch's files `Source.download_workers` at a time (issue 16: one file
after the other, a run with many files waited on each round trip), and handles each outcome at
its record's turn as before: bytes staged under their hash, an error failing that file alone
with its reason, a refused URL leaving the file out with its degradation."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "reliability"))
import rkit  # noqa: E402

from adapters.jsonl import JsonlSource  # noqa: E402
from hdmigrate.engine import Engine  # noqa: E402
from hdmigrate.errors import RecordError  # noqa: E402
from hdmigrate.http import UrlRefused  # noqa: E402
from hdmigrate.plan import plan_from_dict  # noqa: E402
from hdmigrate.report import CollectingReporter  # noqa: E402


def _run(tmp_path, monkeypatch, workers: int, fetch):
    records, _ = rkit.build_dump(tmp_path / "src", tickets=12, comments=3, seed=5)
    monkeypatch.setattr(JsonlSource, "download_workers", workers)
    monkeypatch.setattr(JsonlSource, "fetch_attachment", fetch)
    plan = plan_from_dict({"source": {"adapter": "jsonl", "path": str(tmp_path / "src")},
                           "target": {"adapter": "jsonl", "path": str(tmp_path / "out")}}, tmp_path)
    engine = Engine(plan, tmp_path / "wd", CollectingReporter())
    try:
        summary = engine.run()
        failures = {r[1]: r[2] for r in engine.store.conn.execute(
            "SELECT kind, id, reason FROM failures WHERE kind = 'attachment'")}
        degraded = {r[0] for r in engine.store.conn.execute(
            "SELECT id FROM degradations WHERE code = 'attachment_url_refused'")}
        staged = {r["id"]: r for r, _ in engine.store.iter_records("attachment")}
        blobs = {sha for sha in (r.get("sha256") for r in staged.values()) if engine.store.has_blob(sha)}
    finally:
        engine.store.close()
    return records, summary, failures, degraded, staged, blobs


def test_files_download_at_once_and_each_outcome_lands_on_its_own_record(tmp_path, monkeypatch):
    original = JsonlSource.fetch_attachment
    calls, threads = [], set()
    lock = threading.Lock()
    # the first two downloads wait for each other: one after the other, the barrier breaks
    meet = threading.Barrier(2, timeout=30)
    victims = {}

    def fetch(self, record):
        with lock:
            calls.append(record["id"])
            first_two = len(calls) <= 2
            threads.add(threading.current_thread().name)
        if first_two:
            meet.wait()
        if record["id"] == victims.get("error"):
            raise RecordError("the file host answered 500", kind="attachment", id=record["id"])
        if record["id"] == victims.get("refused"):
            raise UrlRefused("refusing to fetch http://10.0.0.1/x: a private address")
        return original(self, record)

    dump = rkit.build_records(tickets=12, comments=3, seed=5)[0]["attachment"]
    assert len(dump) >= 4, "the dump needs a few files"
    victims.update(error=dump[2]["id"], refused=dump[3]["id"])
    records, summary, failures, degraded, staged, blobs = _run(tmp_path, monkeypatch, 4, fetch)
    assert not meet.broken, "the first two downloads never ran at the same time"
    assert any(name.startswith("hdm-download") for name in threads)
    assert set(failures) == {victims["error"]} and "answered 500" in failures[victims["error"]]
    assert degraded == {victims["refused"]}
    want = {a["id"]: a["sha256"] for a in records["attachment"] if a["id"] not in victims.values()}
    assert {i: staged[i]["sha256"] for i in want} == want and set(want.values()) <= blobs
    assert sorted(calls) == sorted(a["id"] for a in records["attachment"])     # each file once
    assert summary["exit_code"] != 0      # a failed file is named, never a clean run


def test_a_source_that_says_one_at_a_time_downloads_in_the_engine_thread(tmp_path, monkeypatch):
    original = JsonlSource.fetch_attachment
    threads = set()

    def fetch(self, record):
        threads.add(threading.current_thread().name)
        return original(self, record)

    records, summary, failures, _, staged, _ = _run(tmp_path, monkeypatch, 1, fetch)
    assert summary["exit_code"] == 0 and not failures and len(staged) == len(records["attachment"])
    assert threads and not any(name.startswith("hdm-download") for name in threads)
