"""Extract: every stream's pages into the store, from the committed cursors."""

from __future__ import annotations

from ..adapter import Capability, Source
from ..http import PaginationLoop
from .common import _short


class ExtractStep:
    """Mixed into Engine: `extract` and its stream pages."""

    def extract(self, since: str | None) -> dict:
        source, _ = self._adapters()
        staged = pages = 0
        incremental = Capability.INCREMENTAL in source.capabilities
        narrowed = getattr(source, "since_streams", None)
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
            done = 0
            for page in self._pages(source, stream, cursor, stream_since if cursor is None else None):
                staged += self.store.stage_page(self.run_id, stream, page.items, page.cursor, page.done)
                pages += 1
                done += len(page.items)
                self.reporter.event("progress", step="extract", kind=stream, done=done, total=None)
            state = self.store.cursor(stream)
            if not state or not state["done"]:
                self.store.stage_page(self.run_id, stream, [], state["cursor"] if state else None, True)
        return {"pages": pages, "new_or_changed": staged}

    def _pages(self, source: Source, stream: str, cursor, since):
        """A stream's pages. A source whose pagination loops ends that stream with a failure
        naming it; the pages before are kept and the other streams go on."""
        try:
            yield from source.fetch(stream, cursor=cursor, since=since)
        except PaginationLoop as e:
            with self.store.transaction():
                self.store.record_failure(self.run_id, "stream", stream, "extract", _short(e))
            self.reporter.event("record_failed", kind="stream", id=stream, reason=_short(e), step="extract")
