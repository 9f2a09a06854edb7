"""Attachment bytes spooled to disk as they arrive: hashed while written, never held whole.

The engine stages attachments inside `spool_downloads(directory)`; there `HttpClient.download`
(and sources that copy files, like the jsonl archive) write into a `BlobFile` and return it
instead of bytes, so a file's size costs disk, not memory, whatever the source declares.
The store then moves the finished file into the blob store under its SHA-256.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHUNK = 1 << 20
_counter = itertools.count()


class BlobFile:
    """A private temporary file (0600) with a running SHA-256; `write` past `limit` raises
    OverflowError (the caller stops reading there)."""

    def __init__(self, directory: Path, limit: int):
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = directory / f"incoming.{os.getpid()}.{threading.get_ident()}.{next(_counter)}.tmp"
        self.limit = limit
        self.size = 0
        self._hash = hashlib.sha256()
        self._file = os.fdopen(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600), "wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.discard()
            raise OverflowError(self.size)
        self._hash.update(chunk)
        self._file.write(chunk)

    def finish(self) -> "BlobFile":
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return self

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)


class _Spool(threading.local):
    directory: Path | None = None


_spool = _Spool()


@contextmanager
def spool_downloads(directory: Path) -> Iterator[None]:
    """Downloads this thread makes inside are written to files in `directory`."""
    saved = _spool.directory
    _spool.directory = Path(directory)
    try:
        yield
    finally:
        _spool.directory = saved


def spool_directory() -> Path | None:
    return _spool.directory


def spool_file(path: Path, limit: int) -> "BlobFile | bytes":
    """A local file as the source's attachment: copied in chunks into a BlobFile where the engine
    spools, else read (callers outside the engine, e.g. tests and verify)."""
    directory = spool_directory()
    if directory is None:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise OverflowError(len(data))
        return data
    blob = BlobFile(directory, limit)
    try:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                blob.write(chunk)
    except BaseException:
        blob.discard()
        raise
    return blob.finish()
