"""The Store class: every read and write of the staging database (see the package doc)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import sqlite_utils

from ..canonical import canonical_text, dumps, loads
from ..times import parse as parse_time
from ..errors import ConfigError, StateError
from .queries import ReportQueries
from .schema import DB_NAME, _create_private, make_workdir, migrations, now


def raw_rows(items: Iterable[tuple[str, dict]]) -> list[tuple[str, str, str]]:
    """A page's (raw_id, payload) items as staging keeps them: (raw_id, JSON text, its SHA-256).
    The extraction's thread does this as it fetches, so the pages waiting for the engine's
    thread are a few strings each, not trees of parsed objects."""
    rows = []
    for raw_id, payload in items:
        text = dumps(payload)
        rows.append((str(raw_id), text, hashlib.sha256(text.encode()).hexdigest()))
    return rows


class Store(ReportQueries):
    """The staging database of one migration work directory."""

    def __init__(self, workdir: Path | str, *, create: bool = True):
        self.workdir = Path(workdir)
        self.path = self.workdir / DB_NAME
        self.blobs_dir = self.workdir / "blobs"
        if not create and not self.path.exists():
            raise StateError(f"no migration in {self.workdir} (no {DB_NAME}); run `hdmigrate run PLAN` first")
        make_workdir(self.workdir, self.blobs_dir)
        self._blob_dirs: set[str] = set()
        old_umask = os.umask(0o077)  # WAL and SHM files are created owner-only too
        try:
            try:
                _create_private(self.path)
            except OSError as e:
                raise ConfigError(f"cannot write in work directory {self.workdir}: "
                                  f"{(e.strerror or str(e)).lower()}") from None
            conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None,
                                   check_same_thread=False)
            self.db = sqlite_utils.Database(conn)
            self.conn = conn
            self._owner = threading.get_ident()
            self._local = threading.local()
            # (thread, its read-only connection): closed once the thread has ended (the load's
            # lanes are new threads for each batch of kinds: kept, every one held its cache)
            self._readers: list[tuple[threading.Thread, sqlite3.Connection]] = []
            self._readers_lock = threading.Lock()
            self.db.enable_wal()
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._migrate()
        finally:
            os.umask(old_umask)

    # -- schema ---------------------------------------------------------------------------------
    def _migrate(self) -> None:
        known = {m.name for m in migrations._migrations}  # noqa: SLF001 - the names we ship
        applied = {m.name for m in migrations.applied(self.db)}
        newer = applied - known
        if newer:
            raise StateError(f"{self.path} was written by a newer hdmigrate (migrations {sorted(newer)}); upgrade hdmigrate")
        migrations.apply(self.db)

    def close(self) -> None:
        with self._readers_lock:
            for _thread, reader in self._readers:
                reader.close()
            self._readers = []
        self.conn.close()

    def read_conn(self) -> sqlite3.Connection:
        """The connection for reads in this thread: the store's own in the thread that opened it,
        a read-only one per worker thread elsewhere (workers never share the writer's connection)."""
        if threading.get_ident() == self._owner:
            return self.conn
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
            conn.execute("PRAGMA query_only=1")
            self._local.conn = conn
            with self._readers_lock:
                alive = []
                for thread, reader in self._readers:
                    if thread.is_alive():
                        alive.append((thread, reader))
                    else:
                        reader.close()
                self._readers = alive + [(threading.current_thread(), conn)]
        return conn

    def reader_count(self) -> int:
        """Open read-only connections (one per live worker thread that read)."""
        with self._readers_lock:
            return len(self._readers)

    def transaction(self):
        return _Tx(self.conn)

    # -- key/value state ------------------------------------------------------------------------
    def get_state(self, key: str, default=None):
        row = self.conn.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_state(self, key: str, value) -> None:
        self.conn.execute("INSERT INTO state(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                          (key, json.dumps(value)))

    # -- runs and steps -------------------------------------------------------------------------
    def last_run(self, *, dry_run: bool | None = None) -> dict | None:
        where, args = "", []
        if dry_run is not None:
            where, args = "WHERE dry_run = ?", [int(dry_run)]
        row = self.conn.execute(f"SELECT * FROM runs {where} ORDER BY id DESC LIMIT 1", args).fetchone()
        return self._row("runs", row)

    def run(self, run_id: int) -> dict | None:
        return self._row("runs", self.conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone())

    def runs(self) -> list[dict]:
        return [self._row("runs", r) for r in self.conn.execute("SELECT * FROM runs ORDER BY id")]

    def start_run(self, *, dry_run: bool, plan_identity: str, since: str | None) -> int:
        cur = self.conn.execute(
            "INSERT INTO runs(started_at, status, dry_run, plan_identity, since) VALUES (?, 'running', ?, ?, ?)",
            (now(), int(dry_run), plan_identity, since))
        return cur.lastrowid

    def reopen_run(self, run_id: int) -> None:
        self.conn.execute("UPDATE runs SET status='running', finished_at=NULL WHERE id=?", (run_id,))

    def finish_run(self, run_id: int, status: str, exit_code: int, summary: dict) -> None:
        self.conn.execute("UPDATE runs SET status=?, exit_code=?, finished_at=?, summary=? WHERE id=?",
                          (status, exit_code, now(), json.dumps(summary), run_id))

    def set_step(self, run_id: int, step: str, status: str, counts: dict | None = None) -> None:
        stamp = now()
        self.conn.execute(
            """INSERT INTO steps(run_id, step, status, started_at, finished_at, counts) VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT(run_id, step) DO UPDATE SET status=excluded.status,
               finished_at=excluded.finished_at, counts=COALESCE(excluded.counts, steps.counts)""",
            (run_id, step, status, stamp, stamp if status != "running" else None,
             json.dumps(counts) if counts is not None else None))

    def steps(self, run_id: int) -> list[dict]:
        return [self._row("steps", r) for r in self.conn.execute(
            "SELECT * FROM steps WHERE run_id=? ORDER BY rowid", (run_id,))]

    def _row(self, table: str, row) -> dict | None:
        if row is None:
            return None
        cols = [c.name for c in self.db[table].columns]
        out = dict(zip(cols, row))
        for key in ("summary", "counts"):
            if out.get(key):
                out[key] = json.loads(out[key])
        return out

    # -- extraction -----------------------------------------------------------------------------
    def cursor(self, stream: str) -> dict | None:
        row = self.conn.execute("SELECT cursor, done, run_id FROM cursors WHERE stream=?", (stream,)).fetchone()
        return {"cursor": row[0], "done": bool(row[1]), "run_id": row[2]} if row else None

    def stage_page(self, run_id: int, stream: str, rows: Iterable[tuple[str, str, str]],
                   cursor: str | None, done: bool) -> int:
        """Stage one page of raw payloads, as `raw_rows` serialized them, and its cursor in one
        transaction; returns how many payloads are new or changed."""
        stamp = now()
        rows = [(stream, raw_id, text, digest, stamp, run_id) for raw_id, text, digest in rows]
        with self.transaction():
            before = self.conn.total_changes
            self.conn.executemany(
                """INSERT INTO raw(stream, raw_id, payload, hash, state, fetched_at, run_id) VALUES (?, ?, ?, ?, 'new', ?, ?)
                   ON CONFLICT(stream, raw_id) DO UPDATE SET payload=excluded.payload, hash=excluded.hash,
                   state='new', fetched_at=excluded.fetched_at, run_id=excluded.run_id
                   WHERE raw.hash != excluded.hash""", rows)
            changed = self.conn.total_changes - before
            self.conn.execute(
                """INSERT INTO cursors(stream, cursor, done, run_id, updated_at) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT(stream) DO UPDATE SET cursor=excluded.cursor, done=excluded.done,
                   run_id=excluded.run_id, updated_at=excluded.updated_at""",
                (stream, cursor, int(done), run_id, stamp))
        return changed

    def reset_stream(self, stream: str) -> None:
        self.conn.execute("DELETE FROM cursors WHERE stream=?", (stream,))

    def count_raw(self, state: str | None = None) -> int:
        if state:
            return self.conn.execute("SELECT count(*) FROM raw WHERE state=?", (state,)).fetchone()[0]
        return self.conn.execute("SELECT count(*) FROM raw").fetchone()[0]

    def retry_failed_raw(self) -> None:
        """Payloads that failed normalization are tried again by every run until they pass."""
        self.conn.execute("UPDATE raw SET state='new' WHERE state='failed'")

    def iter_raw_new(self, batch: int = 1000) -> Iterator[list[tuple[str, str, str]]]:
        """Batches of (stream, raw_id, payload) still to normalize, in staging order."""
        last = 0
        while True:
            rows = self.conn.execute(
                "SELECT rowid, stream, raw_id, payload FROM raw WHERE state='new' AND rowid > ? ORDER BY rowid LIMIT ?",
                (last, batch)).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [(r[1], r[2], r[3]) for r in rows]

    # -- canonical records ----------------------------------------------------------------------
    def put_records(self, records: list[tuple[str, dict, str, str]], raw_done: list[tuple[str, str]],
                    raw_failed: list[tuple[str, str]] = ()) -> None:
        """Upsert canonical records (kind, record, stream, raw_id) and mark their raw rows
        normalized (or failed: those are normalized again by the next run), in one transaction."""
        rows = []
        for kind, record, stream, raw_id in records:
            text = canonical_text(record)  # stored as hashed: one encoding per record
            rows.append((kind, record["id"], text, hashlib.sha256(text.encode()).hexdigest(),
                         _parent(kind, record), _sort_key(record), stream, raw_id))
        with self.transaction():
            self.conn.executemany(
                """INSERT INTO records(kind, id, data, hash, parent, sort_key, stream, raw_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(kind, id) DO UPDATE SET data=excluded.data, hash=excluded.hash,
                   parent=excluded.parent, sort_key=excluded.sort_key, stream=excluded.stream, raw_id=excluded.raw_id
                   WHERE records.hash != excluded.hash""", rows)
            self.conn.executemany("UPDATE raw SET state='done' WHERE stream=? AND raw_id=?", raw_done)
            self.conn.executemany("UPDATE raw SET state='failed' WHERE stream=? AND raw_id=?", raw_failed)

    def record(self, kind: str, id: str) -> dict | None:
        row = self.read_conn().execute("SELECT data FROM records WHERE kind=? AND id=?", (kind, id)).fetchone()
        return loads(row[0]) if row else None

    def has_record(self, kind: str, id: str) -> bool:
        return self.read_conn().execute("SELECT 1 FROM records WHERE kind=? AND id=?", (kind, id)).fetchone() is not None

    def iter_records(self, kind: str, batch: int = 500) -> Iterator[tuple[dict, str]]:
        """(record, content hash) of one kind in load order (children by parent, then time).
        Keyset pagination: no cursor stays open while the caller writes, memory stays flat."""
        cols = "parent, sort_key, rowid"
        last = None
        while True:
            if last is None:
                rows = self.conn.execute(
                    f"SELECT {cols}, data, hash FROM records WHERE kind=? ORDER BY {cols} LIMIT ?",
                    (kind, batch)).fetchall()
            else:
                rows = self.conn.execute(
                    f"SELECT {cols}, data, hash FROM records WHERE kind=? AND ({cols}) > (?, ?, ?) ORDER BY {cols} LIMIT ?",
                    (kind, *last, batch)).fetchall()
            if not rows:
                return
            last = rows[-1][:3]
            for row in rows:
                yield loads(row[3]), row[4]

    def iter_records_with_state(self, kind: str, batch: int = 500) -> Iterator[tuple[dict, str, dict | None]]:
        """Like iter_records, with each record's id map entry (or None) from the same query."""
        cols = "r.parent, r.sort_key, r.rowid"
        select = (f"SELECT {cols}, r.data, r.hash, m.target_id, m.state, m.attempts, m.error, m.hash, m.run_id, m.matched "
                  "FROM records r LEFT JOIN id_map m ON m.kind = r.kind AND m.id = r.id WHERE r.kind=?")
        last = None
        while True:
            if last is None:
                rows = self.conn.execute(f"{select} ORDER BY {cols} LIMIT ?", (kind, batch)).fetchall()
            else:
                rows = self.conn.execute(f"{select} AND ({cols}) > (?, ?, ?) ORDER BY {cols} LIMIT ?",
                                         (kind, *last, batch)).fetchall()
            if not rows:
                return
            last = rows[-1][:3]
            for row in rows:
                entry = None
                if row[6] is not None:
                    entry = {"target_id": row[5], "state": row[6], "attempts": row[7], "error": row[8],
                             "hash": row[9], "run_id": row[10], "matched": bool(row[11])}
                yield loads(row[3]), row[4], entry

    def count_kind(self, kind: str) -> int:
        return self.conn.execute("SELECT count(*) FROM records WHERE kind=?", (kind,)).fetchone()[0]

    def records_by_parent(self, kind: str, parent: str) -> list[dict]:
        return [loads(r[0]) for r in self.read_conn().execute(
            "SELECT data FROM records WHERE kind=? AND parent=? ORDER BY sort_key, rowid", (kind, parent))]

    def count_records(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT kind, count(*) FROM records GROUP BY kind").fetchall())

    # -- id map ---------------------------------------------------------------------------------
    def id_entry(self, kind: str, id: str) -> dict | None:
        row = self.read_conn().execute(
            "SELECT target_id, state, attempts, error, hash, run_id, matched FROM id_map WHERE kind=? AND id=?",
            (kind, id)).fetchone()
        if row is None:
            return None
        return {"target_id": row[0], "state": row[1], "attempts": row[2], "error": row[3], "hash": row[4],
                "run_id": row[5], "matched": bool(row[6])}

    def id_states(self, kind: str) -> dict[str, tuple[str, str | None, str | None]]:
        """id -> (state, target_id, hash) for one kind (used to plan a load)."""
        return {r[0]: (r[1], r[2], r[3]) for r in self.conn.execute(
            "SELECT id, state, target_id, hash FROM id_map WHERE kind=?", (kind,))}

    def mark_pending(self, run_id: int, entries: list[tuple[str, str]]) -> None:
        stamp = now()
        with self.transaction():
            self.conn.executemany(
                """INSERT INTO id_map(kind, id, state, attempts, run_id, updated_at) VALUES (?, ?, 'pending', 1, ?, ?)
                   ON CONFLICT(kind, id) DO UPDATE SET state=CASE WHEN id_map.state='done' THEN 'done' ELSE 'pending' END,
                   attempts=id_map.attempts+1, run_id=excluded.run_id, updated_at=excluded.updated_at""",
                [(k, i, run_id, stamp) for k, i in entries])

    def mark_done(self, run_id: int, entries: list[tuple]) -> None:
        """entries: (kind, id, target_id, content hash[, matched]); matched defaults to False
        (created by this tool). A row already done keeps its run and its created/matched origin
        (an update does not change who made the record)."""
        stamp = now()
        rows = [(e[0], e[1], e[2], e[3], run_id, stamp, int(bool(e[4])) if len(e) > 4 else 0) for e in entries]
        with self.transaction():
            self.conn.executemany(
                """INSERT INTO id_map(kind, id, target_id, state, attempts, error, hash, run_id, updated_at, matched)
                   VALUES (?, ?, ?, 'done', 1, NULL, ?, ?, ?, ?)
                   ON CONFLICT(kind, id) DO UPDATE SET target_id=excluded.target_id, state='done', error=NULL,
                   hash=excluded.hash, run_id=CASE WHEN id_map.state='done' THEN id_map.run_id ELSE excluded.run_id END,
                   matched=CASE WHEN id_map.state='done' THEN id_map.matched ELSE excluded.matched END,
                   updated_at=excluded.updated_at""", rows)
            # A record that failed earlier in this run and has now been written is no longer a failure.
            self.conn.executemany("DELETE FROM failures WHERE run_id=? AND kind=? AND id=?",
                                  [(run_id, r[0], r[1]) for r in rows])

    def mark_failed(self, run_id: int, kind: str, id: str, step: str, reason: str, field: str | None = None) -> None:
        stamp = now()
        with self.transaction():
            self.conn.execute(
                """INSERT INTO id_map(kind, id, state, attempts, error, run_id, updated_at) VALUES (?, ?, 'failed', 1, ?, ?, ?)
                   ON CONFLICT(kind, id) DO UPDATE SET state='failed', error=excluded.error, updated_at=excluded.updated_at
                   WHERE id_map.state != 'done'""",
                (kind, id, reason, run_id, stamp))
            self.record_failure(run_id, kind, id, step, reason, field)

    def record_failure(self, run_id: int, kind: str, id: str, step: str, reason: str, field: str | None = None) -> None:
        self.conn.execute(
            """INSERT INTO failures(run_id, kind, id, step, field, reason, time) VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(run_id, kind, id) DO UPDATE SET step=excluded.step, field=excluded.field,
               reason=excluded.reason, time=excluded.time""",
            (run_id, kind, id, step, field, reason, now()))

    def clear_failure(self, run_id: int, kind: str, id: str) -> None:
        self.conn.execute("DELETE FROM failures WHERE run_id=? AND kind=? AND id=?", (run_id, kind, id))

    def done_entries(self, run_id: int | None = None, *, matched: bool | None = None) -> Iterator[tuple[str, str, str]]:
        """(kind, id, target_id) of what was written (by one run, when given); matched=False only
        what the tool created, matched=True only what it found in the target and adopted."""
        sql = "SELECT kind, id, target_id FROM id_map WHERE state='done'"
        args: list = []
        if run_id is not None:
            sql += " AND run_id=?"
            args.append(run_id)
        if matched is not None:
            sql += " AND matched=?"
            args.append(int(matched))
        yield from self.conn.execute(sql, args).fetchall()

    def id_map_counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for kind, state, n in self.conn.execute("SELECT kind, state, count(*) FROM id_map GROUP BY kind, state"):
            out.setdefault(kind, {})[state] = n
        return out

    # -- failures and degradations --------------------------------------------------------------
    def failures(self, run_id: int | None = None) -> list[dict]:
        sql = "SELECT run_id, kind, id, step, field, reason, time FROM failures"
        args: tuple = ()
        if run_id is not None:
            sql += " WHERE run_id=?"
            args = (run_id,)
        cols = ("run_id", "kind", "id", "step", "field", "reason", "time")
        return [dict(zip(cols, r)) for r in self.conn.execute(sql + " ORDER BY kind, id", args)]

    def add_degradations(self, run_id: int, items: Iterable) -> None:
        self.conn.executemany(
            """INSERT INTO degradations(kind, id, field, code, detail, run_id) VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT(kind, id, field, code) DO UPDATE SET detail=excluded.detail, run_id=excluded.run_id""",
            [(d.kind, d.id, d.field, d.code, d.detail, run_id) for d in items])

    def degradations(self, run_id: int | None = None) -> list[dict]:
        sql = "SELECT kind, id, field, code, detail, run_id FROM degradations"
        args: tuple = ()
        if run_id is not None:
            sql += " WHERE run_id=?"
            args = (run_id,)
        cols = ("kind", "id", "field", "code", "detail", "run_id")
        return [dict(zip(cols, r)) for r in self.conn.execute(sql + " ORDER BY kind, id, code", args)]

    # -- blobs ----------------------------------------------------------------------------------
    def blob_path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"invalid sha256 {sha256!r}")
        return self.blobs_dir / sha256[:2] / sha256

    def has_blob(self, sha256: str) -> bool:
        return self.blob_path(sha256).exists()

    @property
    def incoming_dir(self) -> Path:
        """Where attachment downloads are spooled before they become blobs (blobfile.py)."""
        return self.blobs_dir / "incoming"

    def clear_incoming(self) -> None:
        """Remove spooled downloads left by a killed run (call with the work directory locked)."""
        if self.incoming_dir.is_dir():
            for leftover in self.incoming_dir.glob("incoming.*.tmp"):
                leftover.unlink(missing_ok=True)

    def put_blob_file(self, blob) -> str:
        """A finished BlobFile becomes the blob of its SHA-256 (moved into place, whole or absent)."""
        sha = blob.sha256
        path = self.blob_path(sha)
        if path.exists():
            blob.discard()
        else:
            path.parent.mkdir(exist_ok=True, mode=0o700)
            self._blob_dirs.add(path.parent.name)
            os.replace(blob.path, path)
        self.conn.execute("INSERT OR IGNORE INTO blobs(sha256, size, created_at) VALUES (?, ?, ?)",
                          (sha, blob.size, now()))
        return sha

    def put_blob(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        path = self.blob_path(sha)
        if not path.exists():
            if path.parent.name not in self._blob_dirs:   # one mkdir per fan-out directory, not per file
                path.parent.mkdir(exist_ok=True, mode=0o700)
                self._blob_dirs.add(path.parent.name)
            tmp = path.with_name(f"{sha}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)  # a blob is whole or absent
        self.conn.execute("INSERT OR IGNORE INTO blobs(sha256, size, created_at) VALUES (?, ?, ?)",
                          (sha, len(data), now()))
        return sha


class _Tx:
    """BEGIN IMMEDIATE … COMMIT, rolled back on error (the connection runs in autocommit mode)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.depth_owner = False

    def __enter__(self):
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN IMMEDIATE")
            self.depth_owner = True
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        if not self.depth_owner:
            return False
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
        return False


def _parent(kind: str, record: dict) -> str:
    if kind in ("comment", "satisfaction_rating"):
        return str(record.get("ticket_id") or "")
    if kind == "attachment":
        return str(record.get("comment_id") or "")
    return ""


def _sort_key(record: dict) -> str:
    # RFC 3339 strings in UTC sort as text; others fall back to the string itself.
    created = record.get("created_at") or ""
    return _utc_sortable(created)


def _utc_sortable(value: str) -> str:
    if not value:
        return ""
    if len(value) == 20 and value[-1] == "Z" and value[10] == "T":
        return value[:-1] + ".000000"  # the common case, without parsing
    dt = parse_time(value)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f") if dt else value
