"""Write: one batch prepared (pending), sent to the target, and its outcome recorded (done or failed)."""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING

from ..adapter import Degradation, Target, WriteResult
from ..errors import FatalApiError, TransientApiError
from .common import _matched_note, _short

if TYPE_CHECKING:
    from .context import _LoadContext


def answer_lost(result) -> bool:
    """A write whose answer never arrived (connection dropped or timed out after the request
    went out; the HTTP layer does not resend those): it may have been carried out."""
    return isinstance(result, TransientApiError) and result.status is None


# A test seam for the contract suite's crash check: "ticket:2" makes the process kill itself
# (SIGKILL, no clean-up) right after the target answered its 2nd ticket write and before the id
# map records it — the worst moment of a crash. Unset in every real run.
KILL_ENV = "HDMIGRATE_TEST_KILL_AFTER_WRITES"


def _kill_point(counts: dict, kind: str) -> None:
    wanted = os.environ.get(KILL_ENV)
    if not wanted:
        return
    at_kind, _, n = wanted.partition(":")
    if at_kind == kind:
        counts[kind] = counts.get(kind, 0) + 1
        if counts[kind] >= int(n or 1):
            os.kill(os.getpid(), signal.SIGKILL)


class WriteStep:
    """Mixed into Engine: the write of a batch of units, in this thread or a lane's."""

    def _write_units(self, kind: str, units, target: Target, ctx: "_LoadContext") -> None:
        """Prepare, write and record one batch in this thread (the one-worker path)."""
        ready = self._prepare_units(kind, units, target, ctx)
        if ready:
            self._finish_units(kind, ready, self._call_target(kind, ready, target, ctx), target, ctx)

    def _prepare_units(self, kind: str, units, target: Target, ctx: "_LoadContext") -> list:
        """Resolve references, record degradations, mark pending (main thread). In a dry run the
        outcome is counted here and nothing is returned to write."""
        ready: list[tuple[dict, str, list[Degradation], list]] = []
        for record, rhash, _state, _ in units:
            resolved = self._resolve(kind, record)
            if resolved is None:
                continue
            rec, degradations = resolved
            degradations += self._target_degradations(target, kind, rec, ctx)
            children = self._children(kind, rec, target, ctx, degradations)
            if children is None:
                continue
            # Children are recorded by id once written (the target reads them through ctx): only
            # their ids wait with the batch, not their bodies (a batch may wait seconds on a job).
            children = [(ckind, {"id": crec["id"]}, chash) for ckind, crec, chash in children]
            ready.append((rec, rhash, degradations, children))
        if not ready:
            return []
        if self.dry_run:
            for rec, _, degradations, children in ready:
                self.counts.add(kind, "created")
                for ckind, crec, _h in children:
                    self.counts.add(ckind, "created")
                self._degrade(degradations)
            return []
        entries = [(kind, r[0]["id"]) for r in ready]
        for _, _, _, children in ready:
            entries += [(ckind, crec["id"]) for ckind, crec, _h in children]
        self.store.mark_pending(self.run_id, entries)
        return ready

    @staticmethod
    def _call_target(kind: str, ready: list, target: Target, ctx: "_LoadContext") -> list:
        """The network part (any thread): one write, or one batch call with per-item results."""
        try:
            if len(ready) == 1 and max(1, int(target.batch_sizes.get(kind, 1))) == 1:
                try:
                    return [target.write(kind, ready[0][0], ctx)]
                except FatalApiError:
                    raise
                except Exception as e:  # noqa: BLE001 - classified per record afterwards
                    return [e]
            return target.write_batch(kind, [r[0] for r in ready], ctx)
        finally:
            for rec, *_ in ready:
                ctx.forget_bundle(rec["id"])

    def _finish_units(self, kind: str, ready: list, results: list, target: Target, ctx) -> None:
        """Record a batch's outcome (main thread): done rows in one transaction."""
        done_entries: list = []
        degradations_all: list[Degradation] = []
        try:
            self._record_results(kind, ready, results, target, ctx, done_entries, degradations_all)
        finally:
            # Written even when a fatal error stops the run, so finished writes are never repeated;
            # done rows and their degradations in one transaction (one commit per batch).
            with self.store.transaction():
                if done_entries:
                    self.store.mark_done(self.run_id, done_entries)
                self._degrade(degradations_all)

    def _record_results(self, kind, ready, results, target, ctx, done_entries, degradations_all) -> None:
        for (rec, rhash, degradations, children), result in zip(ready, results):
            if isinstance(result, FatalApiError):
                raise result
            if answer_lost(result):
                result = self._recover_lost_create(kind, rec, target, ctx) or result
            if isinstance(result, TransientApiError):
                self._retry_later.append((rec["id"], rhash))
            if isinstance(result, BaseException):
                reason = _short(result)
                if isinstance(result, NotImplementedError):
                    reason = f"the {target.name} target cannot write {kind} records"
                self._fail(kind, rec["id"], "load", reason)
                for ckind, crec, _h in children:
                    self._fail(ckind, crec["id"], "load", f"not written: its {kind} {rec['id']} failed ({reason})")
                continue
            _kill_point(self.__dict__.setdefault("_kill_counts", {}), kind)
            degradations_all.extend(degradations + list(result.degradations))
            if result.matched:
                degradations_all.append(_matched_note(kind, rec["id"]))
            self._mark_unit_done(kind, rec, rhash, result, ctx, counted="matched" if result.matched else "created",
                                 children=children, defer=done_entries)

    def _recover_lost_create(self, kind: str, record: dict, target: Target, ctx) -> WriteResult | None:
        """After a lost answer the target may hold the record: looked up by its stamp before
        anything writes it again (the one place every target's lost creates are recovered).
        Found, it is the write's result (its children were sent with it); else None, and the
        record fails for now and gets its one more try at the end of its kind (looked up again)."""
        found = self._find_existing(kind, record, target, ctx)
        if not found:
            return None
        return found if isinstance(found, WriteResult) else WriteResult(str(found))

    def _mark_unit_done(self, kind, record, rhash, result: WriteResult, ctx, *, counted: str,
                        children: list | None = None, defer: list | None = None) -> None:
        """Mark a written record and its children done (now, or appended to `defer` so a whole
        batch is marked in one transaction)."""
        if children is None:
            children = self._children_for_done(kind, record, ctx)
        entries = [(kind, record["id"], str(result.target_id), rhash, bool(result.matched))]
        for ckind, crec, chash in children:
            tid = result.children.get((ckind, crec["id"])) or f"{result.target_id}#{ckind}:{crec['id']}"
            entries.append((ckind, crec["id"], str(tid), chash, False))   # children are written with it
            self.counts.add(ckind, "created")
        for ekind, eid, tid, _h, _m in entries:
            self._remember(ekind, eid, tid)
        self.counts.add(kind, counted)
        if defer is not None:
            defer.extend(entries)
        else:
            self.store.mark_done(self.run_id, entries)
