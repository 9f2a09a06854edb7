import os
import stat

import pytest

from hdmigrate.adapter import Degradation
from hdmigrate.errors import StateError
from hdmigrate.store import Store


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
    assert store.stage_page(run, "ticket", [("1", {"id": "1", "v": 1}), ("2", {"id": "2"})], "c1", False) == 2
    assert store.stage_page(run, "ticket", [("1", {"id": "1", "v": 1})], "c2", False) == 0
    assert store.stage_page(run, "ticket", [("1", {"id": "1", "v": 2})], "c3", True) == 1
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
