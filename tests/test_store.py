import os
import stat

import pytest

from hdmigrate.adapter import Degradation
from hdmigrate.errors import StateError
from hdmigrate.store import Store, raw_rows


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "wd")
    yield s
    s.close()


def test_files_are_owner_only(store):
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.workdir).st_mode) == 0o700
    sha = store.put_blob(b"secret customer file")
    assert stat.S_IMODE(os.stat(store.blob_path(sha)).st_mode) == 0o600
    for name in os.listdir(store.workdir):
        path = store.workdir / name
        if path.is_file():
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, name


def test_wal_mode(store):
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_database_is_refused(tmp_path):
    s = Store(tmp_path / "wd")
    s.conn.execute("INSERT INTO _sqlite_migrations(migration_set, name, applied_at) VALUES ('hdmigrate.store', 'm999_future', 'x')")
    s.close()
    with pytest.raises(StateError, match="newer hdmigrate"):
        Store(tmp_path / "wd")


def test_missing_workdir_is_a_clear_error(tmp_path):
    with pytest.raises(StateError, match="no migration"):
        Store(tmp_path / "nothing", create=False)


def test_stage_page_is_idempotent_and_detects_changes(store):
    run = store.start_run(dry_run=False, plan_identity="x", since=None)
    assert store.stage_page(run, "ticket", raw_rows([("1", {"id": "1", "v": 1}), ("2", {"id": "2"})]), "c1", False) == 2
    assert store.stage_page(run, "ticket", raw_rows([("1", {"id": "1", "v": 1})]), "c2", False) == 0
    assert store.stage_page(run, "ticket", raw_rows([("1", {"id": "1", "v": 2})]), "c3", True) == 1
    assert store.cursor("ticket") == {"cursor": "c3", "done": True, "run_id": run}
    assert store.count_raw("new") == 2


def test_id_map_pending_done_failed(store):
    run = store.start_run(dry_run=False, plan_identity="x", since=None)
    store.mark_pending(run, [("ticket", "t1"), ("ticket", "t2")])
    assert store.id_entry("ticket", "t1")["state"] == "pending"
    store.mark_done(run, [("ticket", "t1", "900", "h1")])
    store.mark_failed(run, "ticket", "t2", "load", "422 subject is blank", "subject")
    assert store.id_entry("ticket", "t1")["target_id"] == "900"
    assert store.id_entry("ticket", "t2")["state"] == "failed"
    assert store.failures(run)[0]["reason"] == "422 subject is blank"
    # a failed record written on retry is no longer a failure of that run
    store.mark_done(run, [("ticket", "t2", "901", "h2")])
    assert store.failures(run) == []
    # a done record never goes back to failed or pending
    store.mark_failed(run, "ticket", "t1", "load", "late error")
    store.mark_pending(run, [("ticket", "t1")])
    assert store.id_entry("ticket", "t1")["state"] == "done"


def test_records_iterate_in_load_order_with_flat_paging(store):
    records = [("comment", {"id": f"m{i}", "ticket_id": f"t{i % 3}", "created_at": f"2020-01-01T00:00:{59 - i:02d}Z"}, "comment", f"m{i}")
               for i in range(50)]
    store.put_records(records, [])
    seen = [r["id"] for r, _ in store.iter_records("comment", batch=7)]
    assert sorted(seen) == sorted(f"m{i}" for i in range(50)) and len(seen) == 50
    got = [(r["ticket_id"], r["created_at"]) for r, _ in store.iter_records("comment", batch=7)]
    assert got == sorted(got)


def test_degradations_upsert(store):
    run = store.start_run(dry_run=False, plan_identity="x", since=None)
    d = Degradation("comment", "m1", "created_at", "timestamp_not_preserved", "x")
    store.add_degradations(run, [d, d])
    assert len(store.degradations(run)) == 1


def test_blobs_are_content_addressed(store):
    a = store.put_blob(b"abc")
    b = store.put_blob(b"abc")
    assert a == b and store.blob_path(a).read_bytes() == b"abc"
    with pytest.raises(ValueError):
        store.blob_path("../../etc/passwd")


def test_same_time_children_keep_the_source_order(store):
    same = "2021-05-05T10:00:00Z"
    records = [("comment", {"id": cid, "ticket_id": "7", "created_at": same}, "s", cid)
               for cid in ("7-description", "100", "99")]
    store.put_records(records, [])
    assert [r["id"] for r in store.records_by_parent("comment", "7")] == ["7-description", "100", "99"]
    assert [r["id"] for r, _ in store.iter_records("comment", batch=1)] == ["7-description", "100", "99"]
    # an upsert (a changed record) keeps its place
    store.put_records([("comment", {"id": "7-description", "ticket_id": "7", "created_at": same, "x": 1}, "s", "7-description")], [])
    assert [r["id"] for r, _, _ in store.iter_records_with_state("comment", batch=2)] == ["7-description", "100", "99"]


def test_rows_by_rowid_come_in_load_order_and_are_parsed_as_taken(store, monkeypatch):
    records = [("comment", {"id": f"m{i}", "ticket_id": f"t{i % 2}", "created_at": f"2020-01-01T00:00:{30 - i:02d}Z"},
                "comment", f"m{i}") for i in range(20)]
    store.put_records(records, [])
    rowids = [row[0] for row in store.staged_rows("comment", 0, store.max_record_rowid())]
    expected = [row[2]["id"] for row in sorted(store.staged_rows("comment", 0, store.max_record_rowid()),
                                               key=lambda row: row[5])]
    from hdmigrate.store import queries
    parsed = []
    real = queries.loads
    monkeypatch.setattr(queries, "loads", lambda text: parsed.append(text) or real(text))
    rows = store.rows_by_rowid("comment", list(reversed(rowids)))
    first = next(rows)
    # the flow looks at waiting tickets again and keeps the few that are ready: the others are
    # never held parsed all at once
    assert len(parsed) == 1 and first[2]["id"] == expected[0]
    assert [first[2]["id"]] + [row[2]["id"] for row in rows] == expected
    assert len(parsed) == 20

# -- the named reads other modules make (SQL only in the store) ---------------------------------

def _staged(store):
    records = [("ticket", {"id": "t1", "status": "open", "assignee_id": "a1"}, "ticket", "t1"),
               ("ticket", {"id": "t2", "status": "open"}, "ticket", "t2"),
               ("ticket", {"id": "t3", "status": "solved", "assignee_id": "a1"}, "ticket", "t3"),
               ("agent", {"id": "a2", "name": "Bo"}, "agent", "a2"),
               ("agent", {"id": "a1", "name": "Ana"}, "agent", "a1"),
               ("attachment", {"id": "f1", "comment_id": "m1"}, "attachment", "f1"),
               ("attachment", {"id": "f2", "comment_id": "m1"}, "attachment", "f2")]
    store.put_records(records, [])


def test_run_summaries_count_by_origin_failures_and_degradations(store):
    first = store.start_run(dry_run=False, plan_identity="x", since=None)
    store.mark_done(first, [("ticket", "t1", "901", "h"), ("agent", "a1", "71", "h", True)])
    second = store.start_run(dry_run=False, plan_identity="x", since=None)
    store.mark_done(second, [("ticket", "t2", "902", "h")])
    store.mark_failed(second, "ticket", "t3", "load", "422")
    store.add_degradations(second, [Degradation("ticket", "t2", "a", "value_unmapped", ""),
                                    Degradation("ticket", "t2", "b", "value_unmapped", ""),
                                    Degradation("ticket", "t3", "a", "value_unmapped", "")])
    assert sorted(store.done_counts_by_origin(first)) == [("agent", 1, 1), ("ticket", 0, 1)]
    assert store.failure_counts(second) == [("ticket", 1)] and store.failure_counts(first) == []
    assert store.degraded_counts(second) == [("ticket", 2)]       # records, not degradations
    assert store.degraded_done_counts() == [("ticket", 1)]        # t3 failed: not counted


def test_unwritten_records_are_neither_done_nor_failed(store):
    _staged(store)
    run = store.start_run(dry_run=False, plan_identity="x", since=None)
    store.mark_done(run, [("ticket", "t1", "901", "h")])
    store.mark_failed(run, "ticket", "t2", "load", "422")
    store.mark_pending(run, [("ticket", "t3")])
    assert store.unwritten_count("ticket") == 1 and store.unwritten_ids("ticket") == ["t3"]
    assert store.unwritten_count("agent") == 2


def test_staged_kinds_parents_and_ticket_values(store):
    _staged(store)
    assert [a["id"] for a in store.staged_json("agent", ordered=True)] == ["a1", "a2"]
    assert store.parents_of("attachment") == {"m1"}
    assert sorted(store.ticket_value_counts("status")) == [("open", 2), ("solved", 1)]
    assert dict(store.ticket_value_counts("assignee_id")) == {"a1": 2}
    with pytest.raises(ValueError):
        store.ticket_value_counts("status') v, 1 FROM records --")


def test_id_map_reads_and_rollback_marks(store):
    run = store.start_run(dry_run=False, plan_identity="x", since=None)
    store.mark_done(run, [("ticket", "t1", "901", "h"), ("contact", "c2", "72", "h", True),
                          ("contact", "c1", "71", "h", True)])
    store.mark_failed(run, "ticket", "t2", "load", "422 subject is blank")
    assert store.matched_rows(run) == [("contact", "c1", "71"), ("contact", "c2", "72")]
    assert store.id_map_errors() == {("ticket", "t2"): "422 subject is blank"}
    store.mark_rolled_back("ticket", "t1")
    assert store.id_entry("ticket", "t1")["state"] == "rolled_back"
    assert ("ticket", "t1", "901", "rolled_back") in store.id_map_rows()
    store.set_state(f"rollback:{run}", {"deleted": 1})
    store.set_state("rollbacks_seen", 1)            # not a rollback record: not returned
    assert store.rollback_states() == {f"rollback:{run}": '{"deleted": 1}'}


def test_staging_reader_reads_without_creating_or_writing(tmp_path, store):
    import sqlite3

    from hdmigrate.store import StagingReader

    with pytest.raises(sqlite3.Error):
        StagingReader(tmp_path / "absent.db")
    assert not (tmp_path / "absent.db").exists()
    _staged(store)
    store.set_state("plan", {"data": {}})
    reader = StagingReader(store.path)
    try:
        assert sorted(r["id"] for r in reader.records("ticket")) == ["t1", "t2", "t3"]
        assert [r["id"] for r in reader.records("attachment", by_thread=True)] == ["f1", "f2"]
        assert reader.state_row("plan") == ('{"data": {}}',)
        with pytest.raises(sqlite3.OperationalError):
            reader.conn.execute("DELETE FROM records")   # read-only
    finally:
        reader.close()


def test_read_connections_of_ended_threads_are_closed(store):
    # The load's lanes are new threads for every batch of kinds; each one that read staging held
    # an open connection (and its page cache) to the end of the run: RSS grew with the run.
    import threading
    store.put_records([("ticket", {"id": "1", "subject": "s"}, "tickets", "1")], [], [])

    def read():
        assert store.read_conn().execute("SELECT count(*) FROM records").fetchone()[0] == 1
    for _ in range(30):
        t = threading.Thread(target=read)
        t.start()
        t.join()
    assert store.reader_count() == 1          # the last thread's, until another one opens
    gate, has_read = threading.Event(), threading.Event()
    held = threading.Thread(target=lambda: (read(), has_read.set(), gate.wait(5)))
    held.start()
    try:
        assert has_read.wait(5)
        t = threading.Thread(target=read)
        t.start()
        t.join()
        assert store.reader_count() == 2       # a live thread keeps its connection
    finally:
        gate.set()
        held.join()


def test_fields_picked_by_sqlite_survive_json_only_python_reads(store):
    # The standard library writes NaN beside an integer past 64 bits (orjson cannot encode the
    # integer); SQLite 3.40's JSON reader refuses the text. What readiness and verify pick out of
    # the staged JSON then comes from records parsed in Python, not an error.
    odd = {"id": "c2", "ticket_id": "t1", "author_id": "u9", "public": False, "created_at": "2021-01-01T00:00:00Z",
           "extra": {"n": 10**20, "score": float("nan")}}
    plain = {"id": "c1", "ticket_id": "t1", "author_id": "u1", "public": True, "created_at": "2020-01-01T00:00:00Z"}
    store.put_records([("comment", plain, "s", "1"), ("comment", odd, "s", "2"),
                       ("attachment", {"id": "a1", "comment_id": "c2", "sha256": "ab" * 32}, "s", "3")], [])
    assert store.references_by_parent("comment", "t1") == [{"ticket_id": "t1", "author_id": "u1"},
                                                           {"ticket_id": "t1", "author_id": "u9"}]
    assert [(cid, bool(public)) for cid, public in store.comment_flags("t1")] == [("c1", True), ("c2", False)]
    assert [tuple(r) for r in store.file_hashes("t1")] == [("c2", "a1", "ab" * 32)]
