"""Load: rows of one kind through the worker lanes, with the look-ups that keep re-runs from duplicating
(which rows, and when, is the flow's: flow.py)."""

from __future__ import annotations

from ..adapter import Target, WriteResult
from ..canonical import LOAD_ORDER, in_selection
from ..errors import ApiError, FatalApiError
from .common import ORDERED_KINDS, SERIAL_KINDS, _matched_note
from .context import _LoadContext
from .lanes import _Lanes


class LoadStep:
    """Mixed into Engine: `load`, per kind, with the look-ups that keep re-runs from duplicating."""

    def _kinds_to_load(self, target: Target) -> list[str]:
        wanted = self.plan.scope.get("kinds")
        kinds = [k for k in LOAD_ORDER if k != "attachment"]
        if wanted:
            wanted = set(wanted)
            if "ticket" in wanted:
                wanted |= {"comment"}
            if "comment" in wanted:
                wanted |= {"attachment"}
            kinds = [k for k in kinds if k in wanted]
        return kinds

    def _target_holds_our_tickets(self, target: Target, ctx: "_LoadContext", probes: int = 3) -> bool:
        """Probe the first staged tickets (a lost run wrote them first) by the target's stamp.
        People, organizations, groups and fields are matched by e-mail or name anyway."""
        for n, (record, _hash) in enumerate(self.store.iter_records("ticket")):
            if n >= probes:
                return False
            if self._selected("ticket", record["id"]) and self._find_existing("ticket", record, target, ctx):
                self.reporter.message(
                    "the target already holds tickets stamped by this tool, but this work directory has no "
                    "record of writing them (a lost or emptied staging.db): every record is looked up "
                    "before it is written, so nothing is created twice")
                return True
        return False

    def _selected(self, kind: str, id: str) -> bool:
        return in_selection(self.selection, kind, id)

    def _load_kind(self, kind: str, rows, target: Target, ctx: "_LoadContext") -> None:
        """Load (record, hash, id-map entry) rows of one kind, in the order given, through the
        worker lanes; the feed's pages are staged between records (the flow's pump)."""
        batch_size = max(1, int(target.batch_sizes.get(kind, 1)))
        workers = 1 if self.dry_run else max(1, int(self.plan.run.get("workers", 1)))
        if kind in SERIAL_KINDS:
            workers = 1
        pool = _Lanes(self, kind, target, ctx, workers, batch_size)
        ordered = kind in ORDERED_KINDS
        lanes: dict[int, list] = {}
        try:
            for record, rhash, entry in rows:
                self._pump()
                rid = record["id"]
                if not self._selected(kind, rid):
                    continue
                state = entry["state"] if entry else None
                if state == "done":
                    self._written_before(kind, record, rhash, entry, pool, target, ctx)
                    continue
                if self._found_written(kind, record, rhash, state, target, ctx):
                    continue
                # Records of one ticket share a lane, so a ticket's comments are written in order.
                # Other kinds fill one batch at a time, handed to the lanes in turn: full batches
                # (one bulk call per batch_size records), not one partial batch per lane.
                lane = pool.lane_of(record) if ordered else -1
                units = lanes.setdefault(lane, [])
                units.append((record, rhash, state, None))
                if len(units) >= batch_size:
                    pool.submit(lane if ordered else pool.next_lane(), units)
                    lanes[lane] = []
            for lane, units in lanes.items():
                if units:
                    pool.submit(lane if ordered else pool.next_lane(), units)
            pool.flush_all()
        finally:
            pool.close()
        self._retry_transient(kind, target, ctx)

    def _written_before(self, kind, record, rhash, entry, pool: _Lanes, target: Target, ctx) -> None:
        """A record the id map has as written: unchanged, matched (kept as the target has it),
        or updated."""
        if entry["run_id"] == self.run_id:
            return  # written earlier in this run (before a resume, or with its ticket)
        if entry["hash"] == rhash:
            self._count_unchanged(kind, record, ctx)
            return
        if entry.get("matched"):
            # It existed in the target before the migration: its values stay the
            # target's own; only records this tool created are updated.
            self.counts.add(kind, "matched")   # "matched, not updated"
            return
        pool.flush_all()  # an update must not overtake pending creates it may reference
        self._update(kind, record, rhash, entry["target_id"], target, ctx)

    def _found_written(self, kind, record, rhash, state, target: Target, ctx) -> bool:
        """A write left pending (a crash) or failed (perhaps a timeout after the target had
        already created it) is looked up first, so it is never created twice: True when found
        (and adopted)."""
        if not (state in ("pending", "failed") or (state is None and self._look_up_first)) or self.dry_run:
            return False
        found = self._find_existing(kind, record, target, ctx)
        if found:
            self._adopt_existing(kind, record, rhash, found, target, ctx)
            return True
        return False

    def _retry_transient(self, kind: str, target: Target, ctx: "_LoadContext") -> None:
        """Items a target failed for a passing reason (a job item that failed, a 5xx after every
        retry) get one more try in the same run: looked up first, written only if absent."""
        retry, self._retry_later = self._retry_later, []
        for rid, rhash in retry:
            record = self.store.record(kind, rid)
            if record is None:
                continue
            found = self._find_existing(kind, record, target, ctx)
            if found:
                self._adopt_existing(kind, record, rhash, found, target, ctx)
            else:
                self._write_units(kind, [(record, rhash, "failed", None)], target, ctx)
        self._retry_later = []

    def _adopt_existing(self, kind: str, record: dict, rhash: str, target_id: str, target: Target,
                        ctx: "_LoadContext") -> None:
        """A record an earlier, interrupted write already created: mark it (and the children
        written with it) done, with the degradations a fresh write would have recorded, so
        `verify` can explain what the target could not hold."""
        children = self._children_for_done(kind, record, ctx)
        degradations = self._target_degradations(target, kind, record, ctx)
        for ckind, crec, _h in children:
            degradations += self._target_degradations(target, ckind, crec, ctx)
        self._degrade(degradations)
        # A plain id from find_existing is the tool's own (found by its stamp); a target that
        # found an unstamped record (by e-mail or name) says so with WriteResult(matched=True).
        result = target_id if isinstance(target_id, WriteResult) else WriteResult(str(target_id))
        if result.matched:
            self._degrade([_matched_note(kind, record["id"])])
        self._mark_unit_done(kind, record, rhash, result, ctx,
                             counted="matched" if result.matched else "created", children=children)

    def _count_unchanged(self, kind: str, record: dict, ctx: "_LoadContext") -> None:
        self.counts.add(kind, "unchanged")
        if kind == "comment":  # a comment's files travel with it: unchanged with it
            for _att, _path in ctx.attachments(record):
                self.counts.add("attachment", "unchanged")

    def _find_existing(self, kind, record, target, ctx) -> str | None:
        try:
            return target.find_existing(kind, record, ctx)
        except FatalApiError:
            raise
        except ApiError:
            return None
