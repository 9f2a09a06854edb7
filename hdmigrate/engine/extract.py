"""Extract: every stream's pages, fetched by a background thread (the feed) and staged with
their cursors by the engine's thread, the one that writes the store."""

from __future__ import annotations

import queue
import threading
from typing import NamedTuple

from ..adapter import Capability, Source
from ..http import PaginationLoop
from ..store import raw_rows
from .common import _short


class StagedPage(NamedTuple):
    """A fetched page as staging keeps it: rows of (raw_id, JSON text, SHA-256), and its cursor."""
    rows: list[tuple[str, str, str]]
    cursor: str | None
    done: bool


class _Stopped(Exception):
    """The engine stopped the feed (the run ended or was interrupted)."""


class Feed:
    """A source's pages in a background thread, handed over through a small bounded queue (memory
    stays flat: the thread waits while the queue is full). Each page is serialized as it arrives
    (`raw_rows`): the parsed answer is let go at once, and what waits in the queue is one string
    per record, where a parsed export page of 1,000 comment events was ~130,000 Python objects,
    whose arenas the interpreter keeps at their high-water mark (a StreamedPage is parsed item by
    item right here, as `raw_rows` takes its items). The thread never touches the store:
    the engine's thread stages each page with its cursor in one transaction, so a kill at any
    moment loses at most the pages not staged yet, and a resumed run fetches them again from
    the committed cursor. Items: ("page", stream, Page), ("stream_done", stream, None),
    ("loop", stream, PaginationLoop), ("error", None, exception), ("end", None, None); a page is
    a StagedPage."""

    def __init__(self, source: Source, jobs: list[tuple[str, str | None, str | None]], depth: int = 8,
                 max_items: int = 2500):
        self.source, self.jobs = source, jobs
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        # Bounded in records too: eight export pages of 1,000 tickets with their sideloads held
        # 40 MB parsed (serialized, a fraction of it). Small pages still queue `depth` deep; a
        # page is never refused for its size.
        self.max_items = max_items
        self._queued = 0
        self._room = threading.Condition()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="hdm-extract", daemon=True)

    def items(self):
        """Every item in order (the feed's thread iterates this; so can a caller, serially)."""
        for stream, cursor, since in self.jobs:
            try:
                for page in self.source.fetch(stream, cursor=cursor, since=since):
                    yield "page", stream, StagedPage(raw_rows(page.items), page.cursor, page.done)
            except PaginationLoop as e:
                yield "loop", stream, e
            yield "stream_done", stream, None
        yield "end", None, None

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        try:
            for item in self.items():
                self._put(item)
        except _Stopped:
            return
        except BaseException as e:  # noqa: BLE001 - handed to the engine's thread, raised there
            try:
                self._put(("error", None, e))
            except _Stopped:
                return

    def _put(self, item) -> None:
        size = _items_in(item)
        with self._room:
            while self._queued and self._queued + size > self.max_items and not self._stop.is_set():
                self._room.wait(0.2)
            self._queued += size
        while not self._stop.is_set():
            try:
                self.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise _Stopped

    def get(self, block: bool):
        """The next item, or None (non-blocking and nothing there yet)."""
        try:
            item = self.queue.get(block=block, timeout=None if block else 0)
        except queue.Empty:
            return None
        with self._room:
            self._queued -= _items_in(item)
            self._room.notify_all()
        return item

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=2)   # a request in flight ends on its own; the thread is a daemon


def _items_in(item) -> int:
    kind, _stream, value = item
    return len(value.rows) if kind == "page" else 0


class ExtractStep:
    """Mixed into Engine: which streams to fetch from where, and staging the feed's items."""

    def _extract_jobs(self, source: Source, since: str | None) -> list[tuple[str, str | None, str | None]]:
        """(stream, cursor, since) of every stream still to fetch, from the committed cursors."""
        incremental = Capability.INCREMENTAL in source.capabilities
        narrowed = getattr(source, "since_streams", None)
        jobs = []
        for stream in source.streams():
            # `since` narrows tickets and what hangs off them; the people, organizations, groups
            # and fields they reference are fetched whatever their own update time.
            stream_since = since if narrowed is None or stream in narrowed else None
            state = self.store.cursor(stream)
            if state and state["done"] and state["run_id"] == self.run_id:
                continue  # finished earlier in this same (resumed) run
            cursor = None
            if state and not state["done"]:
                cursor = state["cursor"]  # an interrupted extraction continues where it stopped
            elif state and state["done"] and incremental and not stream_since:
                cursor = state["cursor"]  # a delta run continues from the stored cursor
            jobs.append((stream, cursor, stream_since if cursor is None else None))
        return jobs

    def _stage_item(self, item, counts: dict, open_streams: set[str]) -> bool:
        """Stage one feed item (this thread only); True at the feed's end."""
        kind, stream, value = item
        if kind == "page":
            counts["new_or_changed"] += self.store.stage_page(self.run_id, stream, value.rows, value.cursor,
                                                              value.done)
            counts["pages"] += 1
            seen = counts.setdefault("_items", {})
            seen[stream] = seen.get(stream, 0) + len(value.rows)
            self.reporter.event("progress", step="extract", kind=stream, done=seen[stream], total=None)
        elif kind == "stream_done":
            state = self.store.cursor(stream)
            if not state or not state["done"]:
                self.store.stage_page(self.run_id, stream, [], state["cursor"] if state else None, True)
            open_streams.discard(stream)
        elif kind == "loop":
            # A source whose pagination loops ends that stream with a failure naming it; the
            # pages before are kept and the other streams go on.
            with self.store.transaction():
                self.store.record_failure(self.run_id, "stream", stream, "extract", _short(value))
            self.reporter.event("record_failed", kind="stream", id=stream, reason=_short(value), step="extract")
        elif kind == "error":
            raise value
        return kind == "end"

    def extract(self, since: str | None) -> dict:
        """Fetch and stage every stream in this thread, loading nothing (benchmarks of one step)."""
        source, _ = self._adapters()
        counts = {"pages": 0, "new_or_changed": 0}
        jobs = self._extract_jobs(source, since)
        open_streams = {job[0] for job in jobs}
        for item in Feed(source, jobs).items():
            self._stage_item(item, counts, open_streams)
        return {"pages": counts["pages"], "new_or_changed": counts["new_or_changed"]}
