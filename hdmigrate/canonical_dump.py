"""The `jsonl` dump format (canonical-model.md): manifest.json, <kind>.jsonl, attachments/<sha256>.

Readers and writers shared by the jsonl adapter, the sample generator and the sandboxes' seeding.
Writes are append-only lines; a torn last line (a crash mid-write) is cut off when a writer
reopens the file, so an interrupted and resumed dump never holds a torn or duplicate line.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from hdmigrate.canonical import KINDS, dumps, loads
from hdmigrate.errors import ConfigError, RecordError
from hdmigrate.private_files import open_private, private_dir, write_private_bytes, write_private_text

FORMAT = "hdmigrate-dump"
VERSION = 1
_SHA = re.compile(r"^[0-9a-f]{64}$")


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_manifest(root: Path) -> dict:
    path = Path(root) / "manifest.json"
    if not path.is_file():
        raise ConfigError(f"{root}: not an hdmigrate dump (no manifest.json)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: unreadable manifest ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ConfigError(f"{path}: format is not {FORMAT!r}")
    if manifest.get("version") != VERSION:
        raise ConfigError(f"{path}: dump version {manifest.get('version')!r} is not supported (expected {VERSION})")
    return manifest


def iter_lines(root: Path, kind: str) -> Iterator[tuple[int, dict | RecordError]]:
    """(line number, record) for each line of <kind>.jsonl; a malformed line yields a RecordError
    naming the file and line instead of stopping the read."""
    path = Path(root) / f"{kind}.jsonl"
    if not path.exists():
        return
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            if not raw.endswith(b"\n"):
                yield number, RecordError(f"{path.name} line {number}: truncated line (no newline at end)",
                                          kind=kind, id=f"line {number}")
                continue
            try:
                record = loads(raw.decode("utf-8"))
            except UnicodeDecodeError as e:
                yield number, RecordError(f"{path.name} line {number}: invalid UTF-8 at byte {e.start}",
                                          kind=kind, id=f"line {number}")
                continue
            except json.JSONDecodeError as e:
                yield number, RecordError(f"{path.name} line {number}: malformed JSON ({e.msg}, column {e.colno})",
                                          kind=kind, id=f"line {number}")
                continue
            if not isinstance(record, dict):
                yield number, RecordError(f"{path.name} line {number}: not a JSON object",
                                          kind=kind, id=f"line {number}")
                continue
            yield number, record


def iter_records(root: Path, kind: str) -> Iterator[dict]:
    """The valid-JSON records of one kind (malformed lines skipped; use iter_lines to see them)."""
    for _, record in iter_lines(root, kind):
        if isinstance(record, dict):
            yield record


def blob_path(root: Path, sha256: str) -> Path:
    """Where the bytes of an attachment live; the name is the hash, never a user-supplied name."""
    if not _SHA.match(sha256 or ""):
        raise RecordError(f"invalid sha256 {sha256!r}", field="sha256")
    return Path(root) / "attachments" / sha256


def cut_torn_tail(path: Path) -> None:
    """Drop a last line without its newline (left by a crash mid-write)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 1))
        if f.read(1) == b"\n":
            return
        # Walk back to the last newline.
        pos = size
        chunk = 65536
        while pos > 0:
            start = max(0, pos - chunk)
            f.seek(start)
            data = f.read(pos - start)
            idx = data.rfind(b"\n")
            if idx >= 0:
                f.truncate(start + idx + 1)
                return
            pos = start
        f.truncate(0)


class DumpWriter:
    """Appends canonical records and blobs to a dump directory; `close()` writes the manifest."""

    def __init__(self, root: Path, source: str = "hdmigrate"):
        self.root = Path(root)
        self.source = source
        # customer data: the dump's directories are owner-only (parents too: like mkdir -p)
        created = not self.root.exists()
        private_dir(self.root / "attachments")
        if created or (self.root / "manifest.json").exists():
            os.chmod(self.root, 0o700)
        self._files: dict[str, object] = {}
        self._dirty: set[str] = set()

    def _file(self, kind: str):
        if kind not in KINDS:
            raise RecordError(f"unknown kind {kind!r}", kind=kind)
        f = self._files.get(kind)
        if f is None:
            path = self.root / f"{kind}.jsonl"
            cut_torn_tail(path)
            f = self._files[kind] = open_private(path, "a", encoding="utf-8", newline="\n")
        return f

    def add(self, kind: str, record: dict) -> None:
        """Buffered: call flush() before telling anyone the record is written."""
        self._file(kind).write(dumps(record) + "\n")
        self._dirty.add(kind)

    def add_blob(self, data: bytes, sha256: str | None = None) -> str:
        sha = hashlib.sha256(data).hexdigest()
        if sha256 is not None and sha256 != sha:
            raise RecordError(f"blob bytes hash to {sha}, not {sha256}", field="sha256")
        path = blob_path(self.root, sha)
        if not path.exists():
            write_private_bytes(path, data)  # atomic: a blob is whole or absent
        return sha

    def copy_blob(self, source: Path, sha256: str) -> None:
        path = blob_path(self.root, sha256)
        if not path.exists():
            tmp = path.with_name(path.name + ".tmp")
            with open(source, "rb") as src, open_private(tmp, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            os.replace(tmp, path)

    def flush(self) -> None:
        """Write buffered lines through to the disk (only the files written since last time)."""
        for kind in self._dirty:
            f = self._files[kind]
            f.flush()
            os.fsync(f.fileno())
        self._dirty.clear()

    def close(self, counts: dict[str, int] | None = None) -> None:
        self.flush()
        for f in self._files.values():
            f.close()
        self._files.clear()
        write_manifest(self.root, self.source, counts)


def count_lines(root: Path, kind: str) -> int:
    path = Path(root) / f"{kind}.jsonl"
    if not path.exists():
        return 0
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def write_manifest(root: Path, source: str, counts: dict[str, int] | None = None) -> None:
    root = Path(root)
    if counts is None:
        counts = {k: n for k in KINDS if (n := count_lines(root, k))}
    manifest = {"format": FORMAT, "version": VERSION, "exported_at": utc_now(), "source": source,
                "counts": counts}
    write_private_text(root / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
