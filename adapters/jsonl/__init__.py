"""The `jsonl` adapter: the vendor-neutral dump (canonical-model.md) as a source and as a target.

It is the archive consultants hand to clients, so a dump read and written again is identical:
records are passed through unchanged (unknown fields included) and blobs are copied byte for byte.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from hdmigrate.adapter import AdapterSpec, Capability, Page, Source, Target, WriteResult
from hdmigrate.canonical import KINDS, dumps, loads
from hdmigrate.blobfile import spool_file
from hdmigrate.errors import ConfigError, RecordError
from hdmigrate.http import current_download_limit
from hdmigrate.private_files import open_private

from hdmigrate import canonical_dump as dump
from hdmigrate import times

PAGE_LINES = 1000
ERROR_KEY = "__hdmigrate_unreadable__"

CONFIG_SCHEMA = {
    "type": "object",
    "required": ["adapter", "path"],
    "properties": {
        "adapter": {"const": "jsonl"},
        "path": {"type": "string", "minLength": 1, "description": "the dump directory"},
    },
    "additionalProperties": False,
}


class JsonlSource(Source):
    name = "jsonl"
    capabilities = frozenset({
        Capability.PRESERVE_TIMESTAMPS, Capability.PRESERVE_AUTHORS, Capability.PRESERVE_CHANNEL,
        Capability.PRIVATE_NOTES, Capability.ATTACHMENTS, Capability.INLINE_IMAGES,
        Capability.CUSTOM_FIELDS, Capability.SATISFACTION_RATINGS})
    # people, organizations, groups and fields are read whole: in-scope tickets reference them
    since_streams = frozenset({"ticket", "comment", "attachment", "satisfaction_rating"})

    def __init__(self, ctx):
        super().__init__(ctx)
        self.root = Path(ctx.config["path"])
        self.manifest: dict | None = None

    def check(self) -> None:
        if not self.root.is_dir():
            raise ConfigError(f"[source] path {self.root}: no such dump directory")
        self.manifest = dump.read_manifest(self.root)

    def _manifest(self) -> dict:
        if self.manifest is None:
            self.check()  # the same message whichever call comes first
        return self.manifest

    def discover(self) -> dict:
        manifest = self._manifest()
        return {"counts": manifest.get("counts", {}), "source": manifest.get("source")}

    def describe(self) -> dict:
        return {"source": self._manifest().get("source") or "jsonl"}

    def streams(self) -> list[str]:
        return [k for k in KINDS if (self.root / f"{k}.jsonl").exists()]

    def fetch(self, stream, cursor=None, since=None):
        """Pages of at most PAGE_LINES lines; the cursor is the byte offset after the page."""
        path = self.root / f"{stream}.jsonl"
        offset = int(cursor or 0)
        with open(path, "rb") as f:
            f.seek(offset)
            line_no = _line_number(path, offset) if offset else 0
            items: list[tuple[str, dict]] = []
            while True:
                raw = f.readline()
                if not raw:
                    break
                line_no += 1
                if raw.strip():
                    item = _parse_line(stream, path.name, line_no, raw)
                    if item is not None and not _before(item[1], since):
                        items.append(item)
                if len(items) >= PAGE_LINES:
                    yield Page(items, str(f.tell()), False)
                    items = []
            yield Page(items, str(f.tell()), True)

    def to_canonical(self, stream, payload):
        if ERROR_KEY in payload:
            raise RecordError(payload[ERROR_KEY], kind=stream, id=payload.get("id"))
        yield stream, payload

    def fetch_attachment(self, record: dict) -> bytes:
        sha = record.get("sha256")
        try:
            path = dump.blob_path(self.root, sha)
        except RecordError:
            raise RecordError(f"attachment {record.get('id')}: invalid sha256 {sha!r}",
                              kind="attachment", id=record.get("id"), field="sha256") from None
        if not path.is_file():
            raise RecordError(f"attachment {record.get('id')}: bytes missing from the dump (attachments/{sha})",
                              kind="attachment", id=record.get("id"), field="sha256")
        # copied in chunks to the engine's spool (capped), never read whole: a dump is a file anyone made
        limit = current_download_limit() or path.stat().st_size
        try:
            return spool_file(path, limit)
        except OverflowError:
            raise RecordError(f"attachment {record.get('id')}: more than the {limit} bytes allowed "
                              "(stopped reading there)", kind="attachment", id=record.get("id"), field="size") from None


def _line_number(path: Path, offset: int) -> int:
    with open(path, "rb") as f:
        return f.read(offset).count(b"\n")


def _parse_line(stream: str, name: str, line_no: int, raw: bytes) -> tuple[str, dict] | None:
    where = f"{name} line {line_no}"
    if not raw.endswith(b"\n"):
        return f"line {line_no}", {ERROR_KEY: f"{where}: truncated line (no newline at end)"}
    try:
        record = loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        return f"line {line_no}", {ERROR_KEY: f"{where}: invalid UTF-8 at byte {e.start}"}
    except json.JSONDecodeError as e:
        return f"line {line_no}", {ERROR_KEY: f"{where}: malformed JSON ({e.msg} at column {e.colno})"}
    if not isinstance(record, dict):
        return f"line {line_no}", {ERROR_KEY: f"{where}: not a JSON object"}
    rid = record.get("id")
    if not isinstance(rid, str) or not rid:
        return f"line {line_no}", {ERROR_KEY: f"{where}: {stream} record without a string id", "id": None}
    return rid, record


def _before(record: dict, since: str | None) -> bool:
    """True when a record was last changed before `since` (delta runs over a dump)."""
    if not since:
        return False
    changed = times.parse(record.get("updated_at") or record.get("created_at"))
    cutoff = times.parse(since)
    # a time that does not parse keeps the record (a delta run never drops what it cannot place)
    return changed is not None and cutoff is not None and changed < cutoff


class JsonlTarget(Target):
    name = "jsonl"
    capabilities = frozenset({
        Capability.PRESERVE_TIMESTAMPS, Capability.PRESERVE_AUTHORS, Capability.PRESERVE_CHANNEL,
        Capability.PRIVATE_NOTES, Capability.ATTACHMENTS, Capability.INLINE_IMAGES,
        Capability.CUSTOM_FIELDS, Capability.CREATE_CUSTOM_FIELDS, Capability.SATISFACTION_RATINGS,
        Capability.EXTERNAL_ID_LOOKUP, Capability.BULK_WRITE, Capability.SUPPRESS_NOTIFICATIONS,
        Capability.DELETE, Capability.UPDATE})
    batch_sizes = {k: 500 for k in KINDS}
    updatable_kinds = frozenset(KINDS)

    def __init__(self, ctx):
        super().__init__(ctx)
        self.root = Path(ctx.config["path"])
        self._writer: dump.DumpWriter | None = None
        self._ids: dict[str, set[str]] = {}
        self._updated: set[str] = set()
        self._source_name = _existing_source(self.root) or "jsonl"
        self._lock = threading.Lock()  # one writer per file, whatever the number of workers

    def file_name(self, attachment: dict) -> str:
        # A lossless archive keeps the original name in the record; it is never a path here
        # (bytes live under attachments/<sha256>), so nothing is renamed.
        return attachment.get("file_name")

    def check(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"[target] path {self.root}: exists and is not a directory")
        existing = self.root
        while not existing.exists():  # the dump directory and its parents are created as needed
            existing = existing.parent
        if not existing.is_dir() or not os.access(existing, os.W_OK):
            raise ConfigError(f"[target] path {self.root}: {existing} is not a writable directory")

    @property
    def writer(self) -> dump.DumpWriter:
        if self._writer is None:
            self._writer = dump.DumpWriter(self.root, source=self._source_name)
        return self._writer

    def _known(self, kind: str) -> set[str]:
        if kind not in self._ids:
            # a torn last line goes before the ids are read; a kind never written gets no file
            dump.cut_torn_tail(self.root / f"{kind}.jsonl")
            self._ids[kind] = {r["id"] for r in dump.iter_records(self.root, kind) if isinstance(r.get("id"), str)}
        return self._ids[kind]

    def find_existing(self, kind, record, ctx):
        with self._lock:
            if record["id"] not in self._known(kind):
                return None
            if kind == "comment":
                # Lines are buffered per file: a kill -9 can leave the comment's line on disk
                # and not its attachments'. Then it is "not found", and writing it again adds
                # the missing files (the comment line itself is never written twice).
                atts = self._known("attachment")
                if any(att["id"] not in atts for att, _path in ctx.attachments(record)):
                    return None
            return record["id"]

    def write(self, kind, record, ctx):
        return self.write_batch(kind, [record], ctx)[0]

    def write_batch(self, kind, records, ctx):
        with self._lock:
            return self._write_batch(kind, records, ctx)

    def _learn_source(self, ctx) -> None:
        self._source_name = (getattr(ctx, "source_info", None) or {}).get("source", self._source_name)

    def _write_batch(self, kind, records, ctx):
        self._learn_source(ctx)
        known = self._known(kind)
        results = []
        for record in records:
            children = {}
            if kind == "comment":
                atts = self._known("attachment")
                for att, path in ctx.attachments(record):
                    self.writer.copy_blob(path, att["sha256"])
                    if att["id"] not in atts:
                        self.writer.add("attachment", att)
                        atts.add(att["id"])
                    children[("attachment", att["id"])] = att["id"]
            if record["id"] not in known:
                self.writer.add(kind, record)
                known.add(record["id"])
            results.append(WriteResult(record["id"], children))
        # On disk (fsync) before the engine marks the batch done: a crash or power loss after
        # this point cannot lose a record the id map calls written.
        self.writer.flush()
        return results

    def update(self, kind, target_id, record, ctx):
        # Append the new version; finish() compacts the file so each id stays on one line.
        with self._lock:
            children = {}
            if kind == "comment":   # files added to the comment since the last run come along
                atts = self._known("attachment")
                for att, path in ctx.attachments(record):
                    if att["id"] not in atts:
                        self.writer.copy_blob(path, att["sha256"])
                        self.writer.add("attachment", att)
                        atts.add(att["id"])
                    children[("attachment", att["id"])] = att["id"]
            self.writer.add(kind, record)
            self.writer.flush()
            self._updated.add(kind)
        return WriteResult(target_id, children)

    def delete(self, kind, target_id):
        path = self.root / f"{kind}.jsonl"
        if path.exists():
            _rewrite(path, lambda r: r.get("id") != target_id)
        self._ids.pop(kind, None)

    def count(self, kind):
        return dump.count_lines(self.root, kind)

    def finish(self, ctx=None):
        # A resumed run whose records were all written before a kill writes nothing, so only the
        # run's context names the source for the manifest the killed run never wrote.
        self._learn_source(ctx)
        if self._writer is not None:
            self._writer.flush()
        for kind in KINDS:  # whatever a crash left half-written goes, even where nothing new came
            dump.cut_torn_tail(self.root / f"{kind}.jsonl")
        for kind in self._updated:
            _compact(self.root / f"{kind}.jsonl")
        self._updated.clear()
        if self.root.exists():
            self._writer_close()

    def _writer_close(self):
        if self._writer is not None:
            self._writer.source = self._source_name
            self._writer.close()
            self._writer = None
        else:
            dump.write_manifest(self.root, self._source_name)
        self._ids.clear()

    def close(self):
        if self._writer is not None:
            self._writer.flush()


def _existing_source(root: Path) -> str | None:
    try:
        return dump.read_manifest(root).get("source")
    except ConfigError:
        return None


def _compact(path: Path) -> None:
    """Keep the last version of each id, in first-seen order."""
    latest: dict[str, str] = {}
    for record in dump.iter_records(path.parent, path.stem):
        latest[record["id"]] = dumps(record)
    tmp = path.with_suffix(".jsonl.tmp")
    with open_private(tmp, "w", encoding="utf-8", newline="\n") as f:
        for line in latest.values():
            f.write(line + "\n")
    os.replace(tmp, path)


def _rewrite(path: Path, keep) -> None:
    tmp = path.with_suffix(".jsonl.tmp")
    with open_private(tmp, "w", encoding="utf-8", newline="\n") as f:
        for record in dump.iter_records(path.parent, path.stem):
            if keep(record):
                f.write(dumps(record) + "\n")
    os.replace(tmp, path)


ADAPTER = AdapterSpec(
    name="jsonl",
    description="hdmigrate's vendor-neutral dump: manifest.json, <kind>.jsonl, attachments/<sha256>",
    source=JsonlSource,
    target=JsonlTarget,
    config_schema=CONFIG_SCHEMA,
)
