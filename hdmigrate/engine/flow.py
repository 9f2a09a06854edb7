"""The run's flow: extraction overlaps loading.

A background thread fetches the source's pages (extract.Feed); this thread, the only one that
writes the store, stages each page with its cursor, normalizes what was staged, and then loads
what is ready, in load order, pass after pass, until the feed has ended and nothing is left.

A record is ready when every record it references is written (or failed: its outcome is known).
A ticket is ready when its comments can be relied on: a target that writes a ticket with all its
comments (`bundles_comments`) waits until every stream but the ticket's own has ended, or until
the source says from their cursors that its comments were all served (`Source.parts_served`); another
target needs the ticket's first comment staged and every other stream still running to be one
that serves a ticket's records in their order (`Source.ordered_streams`), so what comes later
only follows. A ticket is loaded with its comments and ratings, in order; parts staged after
their ticket was loaded ("late") are loaded in the next pass, after it. Every write goes through
the pending/done id map, so a kill at any moment resumes without a repeated or skipped write.
With a selection ([options] sample, [scope] tags/until) nothing is loaded before the extraction
ends: the selection needs every ticket.
"""

from __future__ import annotations

from ..canonical import references
from ..intset import IntSet
from .common import TICKET_PARTS
from .context import _LoadContext
from .extract import Feed

PARTS = ("comment", "satisfaction_rating")
CHUNK = 200   # at least this many tickets (with their parts) per chunk: bounded memory
PART_GROUP = 100   # the parts of this many tickets are read and loaded at a time (a chunk's
                   # comments at once were ~20 MB of parsed records at 10 comments a ticket)


class FlowStep:
    """Mixed into Engine: the steps of a run, with extraction, normalization and load overlapped."""

    _feed = None                       # the running extraction (None when none runs)
    _staged = False                    # items staged since the loop last normalized
    _open_streams: frozenset = frozenset()
    _positions: dict = {}              # committed cursor of each open stream, as normalized

    def _steps(self, since: str | None, stop_after: str | None) -> None:
        self._step("check", self.check)
        if stop_after == "check":
            return
        self._transfer(since, stop_after)
        if stop_after in (None, "verify"):
            self._step("verify", self.verify)

    def _step_begin(self, name: str) -> None:
        self.reporter.event("step_started", step=name)
        self.store.set_step(self.run_id, name, "running")

    def _step_end(self, name: str, counts: dict) -> None:
        self.store.set_step(self.run_id, name, "done", counts)
        self.reporter.event("step_finished", step=name, counts=counts)

    def _transfer(self, since: str | None, stop_after: str | None) -> None:
        """extract, normalize and load as one loop; each step is reported finished when it is."""
        source, target = self._adapters()
        loading = stop_after not in ("extract", "normalize")
        normalizing = stop_after != "extract"
        for name in ("extract",) + (("normalize",) if normalizing else ()) + (("load",) if loading else ()):
            self._step_begin(name)
        self.store.retry_failed_raw()
        jobs = self._extract_jobs(source, since)
        self._fetching = {job[0] for job in jobs}       # streams whose end is not staged yet
        self._open_streams = set(self._fetching)         # ... nor normalized (what readiness sees)
        self._xcounts = {"pages": 0, "new_or_changed": 0}
        ncounts = {"payloads": 0, "records": 0}
        loader = _Loader(self, target) if loading else None
        self._feed = Feed(source, jobs)
        self._feed.start()
        try:
            while self._feed is not None:
                # wait for the feed only when every item it gave is normalized and loaded
                # ... nor while the load still has waiting tickets to look at again (the feed may
                # be silent for most of a minute while an export waits for its next window)
                self._pump(block=not self._staged and not (loader and loader.busy()))
                self._staged = False
                if normalizing:
                    self._normalize_new(ncounts)
                    self._open_streams = set(self._fetching)
                    self._positions = self._cursors_of(self._open_streams)
                if loader and self._feed is not None:
                    loader.run(final=False)
        finally:
            if self._feed is not None:
                self._feed.stop()
                self._feed = None
        self._step_end("extract", {k: v for k, v in self._xcounts.items() if not k.startswith("_")})
        if normalizing:
            self._normalize_new(ncounts)
            self._open_streams = set()
            self._positions = {}
            self._step_end("normalize", ncounts)
        if loader:
            self._step_end("load", loader.finish())

    def _pump(self, block: bool = False) -> None:
        """Stage what the feed has fetched (raw pages and cursors only: the staged records do not
        change while a pass loads). Blocking waits for one item first."""
        feed = self._feed
        if feed is None:
            return
        item = feed.get(block)
        while item is not None:
            self._staged = True
            if self._stage_item(item, self._xcounts, self._fetching):
                feed.stop()
                self._feed = None
                return
            item = feed.get(False)

    def _cursors_of(self, streams) -> dict[str, str | None]:
        return {s: (self.store.cursor(s) or {}).get("cursor") for s in streams}

    def _parts_served(self, stream: str, record: dict) -> bool:
        """The source's word that a ticket's comments and ratings are all staged although other
        streams still run (`Source.parts_served`, from their committed cursors)."""
        return self.source.parts_served(record, {s: c for s, c in self._positions.items() if s != stream})

    def _needs_selection(self) -> bool:
        scope = self.plan.scope
        return bool(int(self.plan.options.get("sample") or 0) or scope.get("tags") or scope.get("until"))

    def _ref_ready(self, kinds, sid: str) -> bool:
        """A reference that is written or failed (its outcome known), or staged in a dry run."""
        for k in kinds:
            if (k, sid) in self._done:
                return True
            entry = self.store.id_entry(k, sid)
            if entry and entry["state"] == "done" and entry["target_id"]:
                self._remember(k, sid, entry["target_id"])   # asked again for the next ticket
            if entry and entry["state"] in ("done", "failed"):
                return True
            if self.dry_run and ((k, sid) in self._dry_failed or self.store.has_record(k, sid)):
                return True
        return False

    def _refs_ready(self, kind: str, record: dict, parent: str | None = None) -> bool:
        for ref, sid in references(kind, record):
            if parent is not None and ref.field == "ticket_id" and str(sid) == parent:
                continue
            if not self._ref_ready(ref.kinds, str(sid)):
                return False
        return True

    def _others_ended(self, stream: str, target) -> bool | None:
        """Whether the streams still open besides a ticket's own allow loading it: True (all
        ended), None (only ordered streams remain, enough for a target that writes comments one
        by one once the first is staged) or False (wait for the end)."""
        others = [s for s in self._open_streams if s != stream]
        if not others:
            return True
        ordered = self.source.ordered_streams
        if target.bundles_comments or any(s not in ordered for s in others):
            return False
        return None


class _Loader:
    """The load's passes over one run: per kind, a cursor over the staged rows (rowid order) and
    the rowids still waiting; only ints are kept, the records are read back when they load."""

    def __init__(self, engine, target):
        self.e, self.target = engine, target
        self.ctx = _LoadContext(engine)
        self.kinds = engine._kinds_to_load(target)
        self.units = any(k in self.kinds for k in ("ticket",) + PARTS)
        # Records staged before this run (or before a resume) load in the final pass, after the
        # extraction: a delta run's changed versions replace them in place (same rowid) while it
        # extracts. The passes meanwhile load what this run staged new (rowid above `base`).
        self.base = engine.store.max_record_rowid()
        self.cursor: dict[str, int] = {}
        self.waiting: dict[str, list[int]] = {}     # rowids waiting for a reference
        # Rowids of tickets waiting: as many as the source has tickets when its ticket list comes
        # before the comments (Zendesk), so a bit each (IntSet), not a set's ~80 bytes; looked at
        # again in rowid order without sorting them as Python ints.
        self.at_end = IntSet()                      # tickets waiting for other streams to end
        self.sweep_from = 0                         # ... the next look starts at this rowid
        self.first = IntSet()                       # tickets waiting for their first comment
        self.arrived: list[int] = []                # ... of which one has arrived this pass
        self.unhandled = IntSet()                   # every ticket rowid seen and not loaded yet
        self.unswept = 0                            # at_end tickets not looked at since the streams moved
        self.found = 0                              # tickets found ready in this pass
        self.handled: dict[str, int] = {}
        self.writes_seen = -1
        self.streams_seen: set[str] | None = None
        self.positions_seen: dict = {}
        # An empty id map may be a lost staging.db (an evicted CI cache) while the target holds
        # this tool's stamped tickets: then every record is looked up before it is written.
        engine._fresh_staging = not engine.dry_run and not any(engine.store.id_map_counts().values())
        engine._look_up_first = False
        self.probed = False
        workers = 1 if engine.dry_run else max(1, int(engine.plan.run.get("workers", 1)))
        # enough rows per call that every lane gets full batches (a call waits for its last write)
        self.chunk = {k: max(CHUNK, 2 * workers * max(1, int(target.batch_sizes.get(k, 1))))
                      for k in self.kinds}

    def run(self, final: bool) -> None:
        """One pass. Between passes a pass stops after the chunk during which the feed brought
        pages, so they are normalized before the load goes on (its cursors say where)."""
        e = self.e
        if e._needs_selection():
            if not final:
                return
            e.selection = e._select()
        self.ctx.refresh()   # staged since the last pass: custom fields, files
        upto = e.store.max_record_rowid()
        for kind in self.kinds:
            if kind not in TICKET_PARTS and not self._simple(kind, upto, final):
                return
        if self.units:
            self._late_parts(upto)
            if not self._tickets(upto, final):
                return
        if final:
            for kind in PARTS:
                if kind in self.kinds:
                    self._load(kind, e.store.orphan_rows(kind))

    def busy(self) -> bool:
        """Waiting tickets remain to be looked at under the streams' latest positions."""
        return self.unswept > 0

    def _stop_early(self, final: bool) -> bool:
        return not final and self.e._staged

    def finish(self) -> dict:
        self.run(final=True)
        for kind, n in self.handled.items():
            self.e.reporter.event("progress", step="load", kind=kind, done=n, total=n)
        if not self.e.dry_run:
            self.target.finish(self.ctx)
        return {k: c for k, c in self.e.counts.kinds.items()}

    # -- kinds that are not ticket parts ----------------------------------------------------------
    def _simple(self, kind: str, upto: int, final: bool) -> bool:
        """The kind's rows waiting for a reference and those staged since the last pass; False
        when the pass stopped early (the cursor is where it stopped)."""
        store = self.e.store
        waiting, self.waiting[kind] = self.waiting.get(kind, []), []
        for batch in _by_rowid(store, kind, waiting, self.chunk[kind]):
            self._load(kind, self._refs_checked(kind, batch, final))
        for batch in self._new_rows(kind, upto, final, self.chunk[kind]):
            self._load(kind, self._refs_checked(kind, batch, final))
            if self._stop_early(final):
                self.cursor[kind] = batch[-1][0]
                return False
        self.cursor[kind] = upto
        return True

    def _refs_checked(self, kind: str, batch: list, final: bool) -> list:
        """The ready rows of a batch in load order; the others wait for their references."""
        ready = []
        for row in batch:
            if final or self.e._refs_ready(kind, row[2]):
                ready.append(row)
            else:
                self.waiting[kind].append(row[0])
        return sorted(ready, key=lambda row: row[5])

    def _load(self, kind: str, rows: list) -> None:
        if not rows:
            return
        self.e._load_kind(kind, [(row[2], row[3], row[4]) for row in rows], self.target, self.ctx)
        self._count(kind, len(rows))

    def _count(self, kind: str, n: int) -> None:
        """n more of the kind handled (loaded, or found written); progress every 200."""
        if not n:
            return
        before = self.handled.get(kind, 0)
        self.handled[kind] = before + n
        if (before // 200) != (self.handled[kind] // 200):
            self.e.reporter.event("progress", step="load", kind=kind, done=self.handled[kind], total=None)

    # -- tickets with their comments and ratings --------------------------------------------------
    def _tickets(self, upto: int, final: bool) -> bool:
        """Tickets looked at again, then those staged since the last pass, loaded a chunk at a
        time with their parts; False when the pass stopped early."""
        store = self.e.store
        size = self.chunk.get("ticket", CHUNK)
        ready: list = []
        sweeping, self.found = self.unswept > 0, 0
        for batch in _by_rowid(store, "ticket", self._due(final), size):
            ready = self._ready_tickets(batch, ready, size, final)
        if sweeping and not self.found:
            # The oldest waiting tickets (rowid order: the export's update order) are not served:
            # the newer ones are not either. Looked at again when the streams move on.
            self.unswept = 0
        for batch in self._new_rows("ticket", upto, final, size):
            ready = self._ready_tickets(batch, ready, size, final)
            if self._stop_early(final):
                self._ticket_chunk(ready)
                self.cursor["ticket"] = batch[-1][0]
                return False
        self.cursor["ticket"] = upto
        self._ticket_chunk(ready)
        return True

    def _ready_tickets(self, batch: list, ready: list, size: int, final: bool) -> list:
        """Add a batch's ready tickets to `ready`, loading every full chunk; the rest is returned."""
        for row in batch:
            self.unhandled.add(row[0])
            if self._ticket_ready(row, final):
                ready.append(row)
                self.found += 1
        while len(ready) >= size:
            self._ticket_chunk(ready[:size])
            ready = ready[size:]
        return ready

    def _due(self, final: bool) -> list[int]:
        """Waiting tickets to look at again: all of them at the end; else those whose first
        comment arrived, those waiting for other streams when one ended, and those waiting for
        a reference when something was written since."""
        e = self.e
        out, self.arrived = self.arrived, []
        if final or e._open_streams != self.streams_seen:
            out += list(self.at_end)
            self.at_end, self.unswept = IntSet(), 0
        elif self.at_end and (e._positions != self.positions_seen or self.unswept):
            # The streams moved on: the oldest waiting tickets are the ones the source may now
            # call served. A bounded look per pass, in rowid order, going on pass after pass (the
            # loop does not wait for the feed meanwhile) until every waiting ticket was looked at
            # once or a look found none served; those still waiting are put back behind the look.
            if e._positions != self.positions_seen:
                self.sweep_from, self.unswept = 0, len(self.at_end)
            want = min(2 * self.chunk.get("ticket", CHUNK), self.unswept)
            head = self.at_end.pop_from(self.sweep_from, want)
            if head:
                self.sweep_from = head[-1] + 1
            self.unswept = self.unswept - len(head) if len(head) == want else 0
            out += head
        self.positions_seen = dict(e._positions)
        if final:
            out += list(self.first)
            self.first = IntSet()
        self.streams_seen = set(e._open_streams)
        writes = sum(self.handled.get(k, 0) for k in self.kinds if k not in TICKET_PARTS)
        if final or writes != self.writes_seen:
            out += self.waiting.pop("ticket", [])
            self.writes_seen = writes
        return out

    def _ticket_ready(self, row, final: bool) -> bool:
        """Ready, or put where it waits (for other streams' end, its first comment, a reference)."""
        if final:
            return True
        e = self.e
        rowid, stream, record = row[0], row[1], row[2]
        ended = e._others_ended(stream, self.target)
        served = ended is False and e._parts_served(stream, record)
        if ended is False and not served:
            self.at_end.add(rowid)
            return False
        comments = e.store.references_by_parent("comment", record["id"])   # ids alone: no bodies
        if served and not comments:
            self.at_end.add(rowid)        # served, yet none staged: the streams' end decides
            return False
        if ended is None and not comments:
            self.first.add(rowid)
            return False
        parts = [("comment", c) for c in comments] + [
            ("satisfaction_rating", r) for r in e.store.references_by_parent("satisfaction_rating", record["id"])]
        if e._refs_ready("ticket", record) and all(e._refs_ready(kind, part, record["id"]) for kind, part in parts):
            return True
        self.waiting.setdefault("ticket", []).append(rowid)
        return False

    def _ticket_chunk(self, rows: list) -> None:
        """Load a chunk of ready tickets, then their comments and ratings in order."""
        e = self.e
        if not rows:
            return
        rows = sorted(rows, key=lambda row: row[5])
        if "ticket" in self.kinds:
            if e._fresh_staging and not self.probed:
                self.probed = True
                e._look_up_first = e._target_holds_our_tickets(self.target, self.ctx)
            self._load("ticket", rows)
        for kind in PARTS:
            if kind in self.kinds:
                for start in range(0, len(rows), PART_GROUP):
                    # parts written with their ticket (a bundling target) come unparsed and are
                    # only counted: loading them would skip them as written in this run
                    parts = [p for row in rows[start:start + PART_GROUP]
                             for p in e.store.children_rows(kind, row[2]["id"], e.run_id)]
                    self._load(kind, [p for p in parts if p[2] is not None])
                    self._count(kind, sum(1 for p in parts if p[2] is None))
        for row in rows:
            self.unhandled.discard(row[0])

    def _new_rows(self, kind: str, upto: int, final: bool, size: int):
        """Batches of the kind's rows staged since the last pass; in the final pass those staged
        before this run first."""
        store = self.e.store
        if final:
            yield from _batches(store.staged_rows(kind, 0, self.base), size)
        yield from _batches(store.staged_rows(kind, self.cursor.get(kind, self.base), upto), size)

    def _late_parts(self, upto: int) -> None:
        """Comments and ratings staged since the last pass: loaded now when their ticket was
        loaded in an earlier pass; a ticket waiting for its first comment is looked at again."""
        store = self.e.store
        done_upto = self.cursor.get("ticket", self.base)
        for kind in PARTS:
            key = f"late:{kind}"
            late = []
            for rowid, ticket_row in store.parts_after(kind, self.cursor.get(key, self.base), upto):
                if ticket_row is None:
                    continue
                if kind == "comment" and ticket_row in self.first:
                    self.first.discard(ticket_row)
                    self.arrived.append(ticket_row)
                elif self.base < ticket_row <= done_upto and ticket_row not in self.unhandled and kind in self.kinds:
                    late.append(rowid)
            self.cursor[key] = upto
            for rows in _by_rowid(store, kind, late, CHUNK):
                self._load(kind, list(rows))


def _by_rowid(store, kind: str, rowids: list[int], size: int):
    """The rows of these rowids, `size` at a time (memory stays flat however many wait), each
    an iterator that parses a row's record as it is taken."""
    for start in range(0, len(rowids), size):
        yield store.rows_by_rowid(kind, rowids[start:start + size])


def _batches(rows, size: int):
    """Lists of up to `size` rows."""
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
