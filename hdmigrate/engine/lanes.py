"""Worker lanes: parallel writes of one kind, in order per ticket."""

from __future__ import annotations

from ..adapter import Target
from ..errors import FatalApiError
from .context import _LoadContext


class _Lanes:
    """A bounded pool of worker lanes for one kind. Each lane is one thread, so the batches of a
    lane (one ticket's comments always share a lane) are written in order; different lanes write
    in parallel, sharing the target's per-host rate limiter. Batches are prepared and their results
    recorded in the engine's thread, which alone uses the staging connection."""

    def __init__(self, engine, kind: str, target: Target, ctx: "_LoadContext", workers: int,
                 batch_size: int = 1):
        self.engine, self.kind, self.target, self.ctx = engine, kind, target, ctx
        self.workers = workers
        self.inflight: list[tuple[object, list]] = []
        self._turn = 0
        # Batches queued or in flight at once. Single-record writes (Freshdesk notes) queue deeper:
        # one ticket's comments all go to one lane, and only a queue spanning several tickets
        # keeps every lane busy. Bounded either way (memory stays flat); every queued write is
        # already marked pending, so a crash leaves at most these few to look up on resume.
        self.max_inflight = 2 * workers if batch_size > 1 else 16 * workers
        self.executors = []
        if workers > 1:
            from concurrent.futures import ThreadPoolExecutor
            self.executors = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"hdm-load-{i}")
                              for i in range(workers)]

    def lane_of(self, record: dict) -> int:
        if self.workers == 1:
            return 0
        key = record.get("ticket_id") if self.kind in ("comment", "satisfaction_rating") else record["id"]
        return hash(str(key)) % self.workers

    def next_lane(self) -> int:
        self._turn = (self._turn + 1) % self.workers
        return self._turn

    def submit(self, lane: int, units: list) -> None:
        if self.workers == 1:
            self.engine._write_units(self.kind, units, self.target, self.ctx)
            return
        ready = self.engine._prepare_units(self.kind, units, self.target, self.ctx)
        if not ready:
            return
        future = self.executors[lane].submit(self.engine._call_target, self.kind, ready, self.target, self.ctx)
        self.inflight.append((future, ready))
        if len(self.inflight) > self.max_inflight // 2:
            self._finish_done()
        while len(self.inflight) > self.max_inflight:  # bounded: memory stays flat
            self._finish_oldest()

    def _finish_done(self) -> None:
        """Record every batch already answered, whatever its lane (never blocks)."""
        for item in [i for i in self.inflight if i[0].done()]:
            self.inflight.remove(item)
            self._finish(*item)

    def _finish_oldest(self) -> None:
        self._finish(*self.inflight.pop(0))

    def _finish(self, future, ready) -> None:
        try:
            results = future.result()
        except FatalApiError:
            raise
        except Exception as e:  # noqa: BLE001 - a batch call that raised fails its records
            results = [e] * len(ready)
        self.engine._finish_units(self.kind, ready, results, self.target, self.ctx)

    def flush_all(self) -> None:
        while self.inflight:
            self._finish_oldest()

    def close(self) -> None:
        if not self.executors:
            return
        try:
            # Record what finished before a stop, so it is not written again on resume.
            for future, ready in list(self.inflight):
                if future.done() and not future.exception():
                    self.engine._finish_units(self.kind, ready, future.result(), self.target, self.ctx)
        except Exception:  # noqa: BLE001 - best effort while stopping; pending rows are looked up later
            pass
        self.inflight.clear()
        for executor in self.executors:
            executor.shutdown(wait=False, cancel_futures=True)
