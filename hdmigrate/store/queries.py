"""Named reads the engine, verify, the reports, rollback and the wizard make of the staging
database: the SQL for them lives here (SQL only in the store), the callers name what they want."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from ..canonical import REFERENCES, loads
from .schema import now

ROLLED_BACK = "rolled_back"

# A record of a kind that is neither written (done) nor failed: the internal check's "missing".
_UNWRITTEN = """FROM records r LEFT JOIN id_map m ON m.kind=r.kind AND m.id=r.id
                WHERE r.kind=? AND (m.state IS NULL OR m.state NOT IN ('done','failed'))"""


_WITH_STATE = ("SELECT r.rowid, r.stream, r.data, r.hash, m.target_id, m.state, m.attempts, m.error, m.hash, "
               "m.run_id, m.matched, r.id, r.parent, r.sort_key FROM records r "
               "LEFT JOIN id_map m ON m.kind = r.kind AND m.id = r.id WHERE r.kind=?")


def _load_order(row) -> tuple:
    """A _WITH_STATE row's load-order key: parent, time, then source order (rowid)."""
    return row[12] or "", row[13] or "", row[0]


def _with_state(row) -> tuple:
    entry = None
    if row[5] is not None:
        entry = {"target_id": row[4], "state": row[5], "attempts": row[6], "error": row[7], "hash": row[8],
                 "run_id": row[9], "matched": bool(row[10])}
    data = loads(row[2]) if row[2] is not None else None
    return row[0], row[1], data, row[3], entry, _load_order(row)


class ReportQueries:
    """Mixed into Store: uses its `conn` (the writer's), `read_conn()` (this thread's) and
    `records_by_parent`."""

    conn: sqlite3.Connection

    # -- run summaries --------------------------------------------------------------------------
    def done_counts_by_origin(self, run_id: int) -> list[tuple[str, int, int]]:
        """(kind, matched, n) of the records a run wrote: created (0) or matched (1)."""
        return self.conn.execute(
            "SELECT kind, matched, count(*) FROM id_map WHERE run_id=? AND state='done' GROUP BY kind, matched",
            (run_id,)).fetchall()

    def failure_counts(self, run_id: int) -> list[tuple[str, int]]:
        return self.conn.execute(
            "SELECT kind, count(*) FROM failures WHERE run_id=? GROUP BY kind", (run_id,)).fetchall()

    def degraded_counts(self, run_id: int) -> list[tuple[str, int]]:
        """(kind, records with at least one degradation) of one run."""
        return self.conn.execute(
            "SELECT kind, count(DISTINCT id) FROM degradations WHERE run_id=? GROUP BY kind", (run_id,)).fetchall()

    def degraded_done_counts(self) -> list[tuple[str, int]]:
        """(kind, written records with a degradation), over every run."""
        return self.conn.execute(
            "SELECT d.kind, count(DISTINCT d.id) FROM degradations d JOIN id_map m ON m.kind = d.kind "
            "AND m.id = d.id WHERE m.state = 'done' GROUP BY d.kind").fetchall()

    # -- staged records neither written nor failed ----------------------------------------------
    def unwritten_count(self, kind: str) -> int:
        return self.conn.execute("SELECT count(*) " + _UNWRITTEN, (kind,)).fetchone()[0]

    def unwritten_ids(self, kind: str) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT r.id " + _UNWRITTEN, (kind,)).fetchall()]

    # -- staged records, whole kinds ------------------------------------------------------------
    def staged_json(self, kind: str, *, ordered: bool = False) -> Iterator[dict]:
        """Every staged record of a kind, parsed (by id when `ordered`), on this thread's connection."""
        sql = "SELECT data FROM records WHERE kind=?" + (" ORDER BY id" if ordered else "")
        for (data,) in self.read_conn().execute(sql, (kind,)):
            yield json.loads(data)

    def parents_of(self, kind: str) -> set[str]:
        """The parent ids (ticket or comment) that have at least one staged record of `kind`."""
        return {r[0] for r in self.read_conn().execute(
            "SELECT DISTINCT parent FROM records WHERE kind=?", (kind,))}

    def ticket_value_counts(self, name: str) -> list[tuple[object, int]]:
        """(value, tickets) of one top-level ticket field, absent values left out."""
        if not name.isidentifier():
            raise ValueError(f"not a field name: {name!r}")
        return self.conn.execute(
            f"SELECT json_extract(data, '$.{name}') v, count(*) FROM records WHERE kind='ticket' "
            "AND v IS NOT NULL GROUP BY v").fetchall()

    # -- the load's view of staging: rows by insertion order (what is new since the last pass) --
    def max_record_rowid(self) -> int:
        """The newest staged record's rowid: records upserted later keep theirs, new ones are above."""
        return self.conn.execute("SELECT coalesce(max(rowid), 0) FROM records").fetchone()[0]

    def staged_rows(self, kind: str, after: int, upto: int, batch: int = 500) -> Iterator[tuple]:
        """(rowid, stream, record, hash, id-map entry or None, load-order key) of a kind's records
        with after < rowid <= upto, in rowid order; keyset pages, no cursor left open."""
        while True:
            rows = self.conn.execute(f"{_WITH_STATE} AND r.rowid > ? AND r.rowid <= ? ORDER BY r.rowid LIMIT ?",
                                     (kind, after, upto, batch)).fetchall()
            if not rows:
                return
            after = rows[-1][0]
            yield from (_with_state(row) for row in rows)

    def written_count(self, kind: str) -> int:
        """Staged records of a kind the id map has as written (with a target id)."""
        return self.conn.execute(
            "SELECT count(*) FROM records r JOIN id_map m ON m.kind = r.kind AND m.id = r.id "
            "WHERE r.kind=? AND m.state='done' AND m.target_id IS NOT NULL", (kind,)).fetchone()[0]

    def comment_flags(self, ticket: str) -> list[tuple[str, object]]:
        """(id, public) of a ticket's staged comments, in load order, bodies left unread."""
        return self._picked("SELECT id, json_extract(data, '$.public') FROM records WHERE kind='comment' "
                            "AND parent=? ORDER BY sort_key, rowid", (ticket,),
                            lambda: [(c["id"], c.get("public")) for c in self.records_by_parent("comment", ticket)])

    def file_hashes(self, ticket: str) -> list[tuple[str, str, object]]:
        """(comment id, attachment id, sha256) of the staged files on a ticket's comments."""
        return self._picked(
            "SELECT a.parent, a.id, json_extract(a.data, '$.sha256') FROM records a "
            "JOIN records c ON c.kind='comment' AND c.id=a.parent "
            "WHERE a.kind='attachment' AND c.parent=? ORDER BY a.sort_key, a.rowid", (ticket,),
            lambda: [(c["id"], a["id"], a.get("sha256")) for c in self.records_by_parent("comment", ticket)
                     for a in self.records_by_parent("attachment", c["id"])])

    def _picked(self, sql: str, params: tuple, parsed) -> list:
        """Fields SQLite picks out of the staged JSON; `parsed()` gives the same from records
        parsed here when SQLite's JSON reader refuses one (a NaN the standard library wrote
        beside an integer past 64 bits: valid for Python, not for SQLite 3.40)."""
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as e:
            if "JSON" not in str(e):
                raise
            return parsed()

    def rows_by_rowid(self, kind: str, rowids: list[int]) -> Iterator[tuple]:
        """Like staged_rows for the given rowids, in load order (parent, time, then source order).
        Each record is parsed as it is taken: a caller that keeps few of them (the flow looks at
        waiting tickets again and keeps the ready ones) holds few parsed, the rest as text."""
        out = []
        for start in range(0, len(rowids), 500):
            part = rowids[start:start + 500]
            marks = ",".join("?" * len(part))
            out += self.conn.execute(f"{_WITH_STATE} AND r.rowid IN ({marks})", (kind, *part)).fetchall()
        out.sort(key=_load_order)
        return (_with_state(row) for row in out)

    def children_rows(self, kind: str, parent: str, written_in_run: int | None = None) -> list[tuple]:
        """staged_rows of one parent's records (a ticket's comments) in load order. With
        `written_in_run`, those the id map has as written in that run come without their record
        (None, not parsed): a target that writes comments with their ticket has written them."""
        if written_in_run is None:
            return [_with_state(row) for row in self.conn.execute(
                f"{_WITH_STATE} AND r.parent=? ORDER BY r.sort_key, r.rowid", (kind, parent)).fetchall()]
        query = _WITH_STATE.replace(
            "r.data,", "CASE WHEN m.state = 'done' AND m.run_id = ? THEN NULL ELSE r.data END,", 1)
        return [_with_state(row) for row in self.conn.execute(
            f"{query} AND r.parent=? ORDER BY r.sort_key, r.rowid", (written_in_run, kind, parent)).fetchall()]

    def references_by_parent(self, kind: str, parent: str) -> list[dict]:
        """One parent's records (a ticket's comments) with their reference fields alone, in load
        order: what deciding whether the ticket is ready reads. SQLite picks the fields out of
        the JSON; the bodies are parsed once, when the records load."""
        refs = REFERENCES[kind]
        fields = ", ".join(["1"] + [f"json_extract(data, '$.{ref.field}')" for ref in refs])
        rows = self._picked(
            f"SELECT {fields} FROM records WHERE kind=? AND parent=? ORDER BY sort_key, rowid", (kind, parent),
            lambda: [[1] + [r.get(ref.field) for ref in refs] for r in self.records_by_parent(kind, parent)])
        return [{ref.field: loads(value) if ref.many and isinstance(value, str) else value
                 for ref, value in zip(refs, row[1:]) if value is not None} for row in rows]

    def parts_after(self, kind: str, after: int, upto: int, batch: int = 2000) -> Iterator[tuple[int, int | None]]:
        """(rowid, its ticket's rowid or None) of a ticket part's records with after < rowid <= upto;
        keyset pages (a pass after a long export may see hundreds of thousands)."""
        while True:
            rows = self.conn.execute(
                "SELECT r.rowid, t.rowid FROM records r LEFT JOIN records t ON t.kind='ticket' AND t.id=r.parent "
                "WHERE r.kind=? AND r.rowid > ? AND r.rowid <= ? ORDER BY r.rowid LIMIT ?",
                (kind, after, upto, batch)).fetchall()
            if not rows:
                return
            after = rows[-1][0]
            yield from rows

    def record_rowid(self, kind: str, id: str) -> int | None:
        row = self.conn.execute("SELECT rowid FROM records WHERE kind=? AND id=?", (kind, id)).fetchone()
        return row[0] if row else None

    def orphan_rows(self, kind: str) -> list[tuple]:
        """staged_rows of a ticket part whose ticket is not staged (it fails naming the reference)."""
        return [_with_state(row) for row in self.conn.execute(
            f"{_WITH_STATE} AND NOT EXISTS (SELECT 1 FROM records t WHERE t.kind='ticket' AND t.id=r.parent) "
            "ORDER BY r.parent, r.sort_key, r.rowid", (kind,)).fetchall()]

    # -- id map ---------------------------------------------------------------------------------
    def id_map_rows(self) -> list[tuple[str, str, str | None, str]]:
        """(kind, id, target_id, state) of every id-map row."""
        return self.conn.execute("SELECT kind, id, target_id, state FROM id_map").fetchall()

    def id_map_errors(self) -> dict[tuple[str, str], str | None]:
        """(kind, id) -> the error of every failed id-map row."""
        return {(k, i): e for k, i, e in self.conn.execute(
            "SELECT kind, id, error FROM id_map WHERE state='failed'")}

    def matched_rows(self, run_id: int) -> list[tuple[str, str, str]]:
        """(kind, id, target_id) a run found in the target and adopted, by kind and id."""
        return self.conn.execute(
            "SELECT kind, id, target_id FROM id_map WHERE run_id=? AND state='done' AND matched=1 "
            "ORDER BY kind, id", (run_id,)).fetchall()

    def mark_rolled_back(self, kind: str, id: str) -> None:
        """A record rollback removed (or tagged) in the target: never counted as written again."""
        self.conn.execute("UPDATE id_map SET state=?, updated_at=? WHERE kind=? AND id=?",
                          (ROLLED_BACK, now(), kind, id))

    # -- key/value state ------------------------------------------------------------------------
    def rollback_states(self) -> dict[str, str]:
        """`rollback:<run>` -> the stored JSON text of what each rollback did."""
        return {key: value for key, value in self.conn.execute(
            "SELECT key, value FROM state WHERE key LIKE 'rollback:%'")}


class StagingReader:
    """A staging database opened read-only (never created, migrated or written): for reports of
    a work directory that may be another version's or still being written. sqlite3.Error on a
    file that is not a staging database."""

    def __init__(self, db_path: Path):
        self.conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)

    def records(self, kind: str, *, by_thread: bool = False) -> Iterator[dict]:
        """A kind's staged records; `by_thread`: grouped by parent, in source order."""
        order = "ORDER BY parent, sort_key, id" if by_thread else ""
        return (json.loads(r[0]) for r in self.conn.execute(
            f"SELECT data FROM records WHERE kind=? {order}", (kind,)))

    def state_row(self, key: str) -> tuple[str] | None:
        return self.conn.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()

    def close(self) -> None:
        self.conn.close()
