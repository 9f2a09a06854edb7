"""The staging database's schema (sqlite-utils migrations) and the work directory it lives in."""

from __future__ import annotations

import os
from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

from .. import times
from ..errors import ConfigError

DB_NAME = "staging.db"
migrations = Migrations("hdmigrate.store")


@migrations()
def m001_initial(db: sqlite_utils.Database):
    db["runs"].create({"id": int, "started_at": str, "finished_at": str, "status": str, "dry_run": int,
                       "plan_identity": str, "exit_code": int, "summary": str, "since": str}, pk="id")
    db["steps"].create({"run_id": int, "step": str, "status": str, "started_at": str,
                        "finished_at": str, "counts": str}, pk=("run_id", "step"))
    db["raw"].create({"stream": str, "raw_id": str, "payload": str, "hash": str, "state": str,
                      "fetched_at": str, "run_id": int}, pk=("stream", "raw_id"))
    db["raw"].create_index(["state"])
    db["records"].create({"kind": str, "id": str, "data": str, "hash": str, "parent": str,
                          "sort_key": str, "stream": str, "raw_id": str}, pk=("kind", "id"))
    db["records"].create_index(["kind", "parent", "sort_key", "id"])
    db["records"].create_index(["kind", "sort_key", "id"])
    db["id_map"].create({"kind": str, "id": str, "target_id": str, "state": str, "attempts": int,
                         "error": str, "hash": str, "run_id": int, "updated_at": str},
                        pk=("kind", "id"))
    db["id_map"].create_index(["state"])
    db["cursors"].create({"stream": str, "cursor": str, "done": int, "run_id": int,
                          "updated_at": str}, pk="stream")
    db["failures"].create({"run_id": int, "kind": str, "id": str, "step": str, "field": str,
                           "reason": str, "time": str}, pk=("run_id", "kind", "id"))
    db["degradations"].create({"kind": str, "id": str, "field": str, "code": str, "detail": str,
                               "run_id": int}, pk=("kind", "id", "field", "code"))
    db["blobs"].create({"sha256": str, "size": int, "created_at": str}, pk="sha256")
    db["state"].create({"key": str, "value": str}, pk="key")


@migrations()
def m002_source_order_breaks_ties(db: sqlite_utils.Database):
    # Records with the same created_at load in the order the source gave them (insertion rowid,
    # kept by upserts), not by id as text ("100" before "99", "7-description" after a note).
    db.execute("DROP INDEX IF EXISTS idx_records_kind_parent_sort_key_id")
    db.execute("DROP INDEX IF EXISTS idx_records_kind_sort_key_id")
    db["records"].create_index(["kind", "parent", "sort_key"], index_name="idx_records_load_order")


@migrations()
def m003_id_map_matched(db: sqlite_utils.Database):
    # Created by this tool (0) or matched/adopted in the target, where it existed before (1):
    # rollback deletes only the former, delta runs update only the former. Rows written by older
    # versions read as created (they could not tell).
    db["id_map"].add_column("matched", int, not_null_default=0)


now = times.now_text


def _create_private(path: Path) -> None:
    """Create `path` (if absent) readable by its owner only, before SQLite opens it."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def make_workdir(workdir: Path, *subdirs: Path) -> None:
    """Create a work directory (0700) and its subdirectories; a read-only file system, a missing
    permission or a file in the way is the user's to fix: a ConfigError (exit 2) naming it."""
    try:
        Path(workdir).mkdir(parents=True, exist_ok=True, mode=0o700)
        for sub in subdirs:
            Path(sub).mkdir(exist_ok=True, mode=0o700)
    except OSError as e:
        reason = "a file of that name is in the way" if isinstance(e, FileExistsError) else (e.strerror or str(e))
        raise ConfigError(f"cannot create work directory {workdir}: {reason[:1].lower() + reason[1:]}") from None
