"""The engine: check → extract → normalize → load → verify over one staging store.

Every step is restartable from the store alone. A run left unfinished (Ctrl-C, kill -9, power
loss, a fatal API error) is resumed by running the same plan again: extraction continues from the
committed cursors, normalization from the raw rows not yet normalized, and loading from the id
map, where a write is marked `pending` before it is sent and `done` after, so at most the writes
in flight are looked up again (`find_existing`) and none is repeated or skipped.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .adapter import Capability, Degradation, Source, Target, WriteResult
from .canonical import (KINDS, LOAD_ORDER, PERSON_KINDS, content_hash, in_selection, loads, parse_time,
                        references, validation_error)
from .errors import ApiError, ConfigError, FatalApiError, HdmError, RecordError, StateError, TransientApiError
from .blobfile import BlobFile, spool_downloads
from .filenames import file_name_change
from .target_values import ENUM_FIELDS, mapping_problems
from .http import PaginationLoop, UrlRefused, download_limit
from .plan import Plan, parse_since
from .report import Reporter
from .store import Store
from . import workdir_lock

STEPS = ("check", "extract", "normalize", "load", "verify")
# Kinds whose records of one ticket must be written in order: they share the ticket's lane.
ORDERED_KINDS = ("comment", "satisfaction_rating")
# Kinds loaded by one lane whatever `[run] workers` says: a few dozen records, and targets keep
# account-wide caches of them (field lists, a field-map file) that parallel creates would race on.
SERIAL_KINDS = ("custom_field",)
_UNREFERENCED = frozenset({"comment", "attachment", "satisfaction_rating"})
# matched: found in the target (a live person, group or company) and adopted, never changed by us
COUNT_KEYS = ("created", "matched", "updated", "unchanged", "failed", "degraded")
DEFAULT_MAX_ATTACHMENT_BYTES = 512 * 1024 * 1024


class Interrupted(HdmError):
    exit_code = 4


@dataclass
class Counts:
    kinds: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, kind: str, key: str, n: int = 1) -> None:
        bucket = self.kinds.setdefault(kind, dict.fromkeys(COUNT_KEYS, 0))
        bucket[key] += n



def _matched_note(kind: str, rid: str) -> Degradation:
    """A record the target already held: reported, and it explains every difference verify finds."""
    return Degradation(kind, str(rid), "", "matched_existing",
                       f"the target already had this {kind} (same e-mail or name): adopted as it is, its "
                       "values kept; never updated by delta runs nor deleted by rollback")


def _short(e: BaseException) -> str:
    text = str(e) or e.__class__.__name__
    return text.replace("\n", " ")[:500]


# Kinds that hang on a ticket: what a time window of tickets narrows.
TICKET_PARTS = frozenset({"ticket", "comment", "attachment", "satisfaction_rating"})


def _after(ticket: dict, until) -> bool:
    stamp = parse_time(ticket.get("updated_at") or ticket.get("created_at"))
    return stamp is not None and stamp > until


class Engine:
    """Runs one plan over one work directory. The CLI, the wizard and batch all drive this."""

    def __init__(self, plan: Plan, workdir: Path | None = None, reporter: Reporter | None = None,
                 store: Store | None = None):
        self.plan = plan
        self.workdir = Path(workdir) if workdir else plan.workdir()
        self.reporter = reporter or Reporter()
        self.store = store or Store(self.workdir)
        self.source: Source | None = None
        self.target: Target | None = None
        self.counts = Counts()
        self.run_id = 0
        self.dry_run = False
        self.selection: dict[str, set[str] | None] | None = None
        self._dry_failed: set[tuple[str, str]] = set()
        self._done: dict[tuple[str, str], str] = {}
        self._retry_later: list[tuple[str, str]] = []

    # -- public ---------------------------------------------------------------------------------
    def run(self, *, dry_run: bool = False, since: str | None = None,
            stop_after: str | None = None) -> dict:
        """Run (or resume) the migration; returns the summary (with `exit_code`). Holds the work
        directory's lock throughout: a second writer stops at once (WorkdirBusy, exit 2)."""
        with workdir_lock.hold(self.workdir):
            self.store.clear_incoming()   # downloads a killed run left half-written
            return self._run(dry_run=dry_run, since=since, stop_after=stop_after)

    def _run(self, *, dry_run: bool, since: str | None, stop_after: str | None) -> dict:
        self.dry_run = dry_run
        # refused before anything is written: a value a source cannot read migrated nothing
        if since is not None:
            since = parse_since(since, "--since")
        elif self.plan.scope.get("since"):
            since = parse_since(self.plan.scope["since"], "[scope] since")
        self.run_id = self._open_run(dry_run, since)
        # `hdmigrate verify --workdir DIR` reads the target back with this plan (names of env
        # variables only, never their values).
        self.store.set_state("plan", {"data": self.plan.data, "base_dir": str(self.plan.base_dir),
                                      "path": str(self.plan.path) if self.plan.path else None})
        status, exit_code, error = "completed", 0, None
        try:
            for step in STEPS:
                self._step(step, getattr(self, step), *((since,) if step == "extract" else ()))
                if stop_after == step:
                    break
            exit_code = 1 if self.store.failures(self.run_id) else 0
        except KeyboardInterrupt:
            status, exit_code, error = "interrupted", 4, "interrupted; run the same command again to resume"
        except (ConfigError, StateError) as e:
            status, exit_code, error = "stopped", e.exit_code, _short(e)
        except ApiError as e:
            status, exit_code, error = "stopped", 3, _short(e)
        finally:
            self._close_adapters()
        summary = self._summary(exit_code, error)
        self.store.finish_run(self.run_id, status, exit_code, summary)
        if error:
            self.reporter.message(f"error: {error}")
        self.reporter.event("summary", **summary)
        return summary

    # -- run bookkeeping ------------------------------------------------------------------------
    def _open_run(self, dry_run: bool, since: str | None) -> int:
        identity = self.plan.identity()
        for run in self.store.runs():
            if run["plan_identity"] != identity:
                raise StateError(
                    f"{self.workdir} holds another migration (different source or target); "
                    "use another --workdir")
        last = self.store.last_run()
        if last and not dry_run and not last["dry_run"] and last["status"] in ("running", "interrupted", "stopped"):
            self.store.reopen_run(last["id"])
            self.reporter.message(f"resuming run {last['id']} (left {last['status']})")
            # What this run wrote before it stopped still counts as created by it.
            for kind, matched, n in self.store.conn.execute(
                    "SELECT kind, matched, count(*) FROM id_map WHERE run_id=? AND state='done' GROUP BY kind, matched",
                    (last["id"],)):
                self.counts.add(kind, "matched" if matched else "created", n)
            return last["id"]
        return self.store.start_run(dry_run=dry_run, plan_identity=identity, since=since)

    def _step(self, name: str, fn, *args) -> None:
        self.reporter.event("step_started", step=name)
        self.store.set_step(self.run_id, name, "running")
        counts = fn(*args) or {}
        self.store.set_step(self.run_id, name, "done", counts)
        self.reporter.event("step_finished", step=name, counts=counts)

    def _summary(self, exit_code: int, error: str | None) -> dict:
        # Failures and degradations are counted from the store, so a resumed run reports the
        # whole run and a record retried successfully is no longer counted as failed.
        for bucket in self.counts.kinds.values():
            bucket["failed"] = bucket["degraded"] = 0
        for kind, n in self.store.conn.execute(
                "SELECT kind, count(*) FROM failures WHERE run_id=? GROUP BY kind", (self.run_id,)):
            self.counts.add(kind, "failed", n)
        for kind, n in self.store.conn.execute(
                "SELECT kind, count(DISTINCT id) FROM degradations WHERE run_id=? GROUP BY kind", (self.run_id,)):
            self.counts.add(kind, "degraded", n)
        kinds = {k: self.counts.kinds[k] for k in LOAD_ORDER if k in self.counts.kinds}
        totals = dict.fromkeys(COUNT_KEYS, 0)
        for c in kinds.values():
            for key in COUNT_KEYS:
                totals[key] += c[key]
        out = {"run_id": self.run_id, "dry_run": self.dry_run, "kinds": kinds, "totals": totals,
               "exit_code": exit_code, "workdir": str(self.workdir)}
        if error:
            out["error"] = error
        # What the source says about how it read (e.g. Freshdesk: the archived-ticket id range).
        info = {k: v for k, v in (self.source.describe() if self.source else {}).items() if k != "source"}
        if info:
            out["source_info"] = info
        return out

    def _fail(self, kind: str, id: str, step: str, reason: str, field: str | None = None) -> None:
        if self.dry_run:
            self._dry_failed.add((kind, id))
            self.store.record_failure(self.run_id, kind, id, step, reason, field)
        else:
            self.store.mark_failed(self.run_id, kind, id, step, reason, field)
        self.reporter.event("record_failed", kind=kind, id=id, reason=reason, step=step,
                            **({"field": field} if field else {}))

    def _degrade(self, items: list[Degradation]) -> None:
        if not items:
            return
        self.store.add_degradations(self.run_id, items)
        for d in items:
            self.reporter.event("record_degraded", kind=d.kind, id=d.id, code=d.code, field=d.field,
                                reason=d.detail or d.code)

    # -- adapters -------------------------------------------------------------------------------
    def _adapters(self) -> tuple[Source, Target]:
        if self.source is None:
            log = self.reporter.message
            self.source = self.plan.spec("source").source(self.plan.adapter_context("source", self.workdir, log))
            self.target = self.plan.spec("target").target(self.plan.adapter_context("target", self.workdir, log))
        return self.source, self.target

    def _close_adapters(self) -> None:
        for adapter in (self.source, self.target):
            if adapter is not None:
                try:
                    adapter.close()
                except Exception:  # noqa: BLE001 - closing must not hide the run's outcome
                    pass

    # -- steps ----------------------------------------------------------------------------------
    def check(self) -> dict:
        source, target = self._adapters()
        source.check()
        target.check()
        self._check_mapping(target)
        return {"source": self.plan.source["adapter"], "target": self.plan.target["adapter"]}

    def _check_mapping(self, target: Target) -> None:
        """A plan mapping a value to something the target does not offer (`task = "Chore"`)
        stops before anything is written, in the dry run too, instead of failing every write."""
        mapping = self.plan.mapping or {}
        if not any(mapping.get(field) for field, _ in ENUM_FIELDS):
            return
        problems = mapping_problems(mapping, target.discover() or {})
        if problems:
            raise ConfigError("the plan maps values the target does not accept:\n  " + "\n  ".join(problems))

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

    def normalize(self) -> dict:
        source, _ = self._adapters()
        self.store.retry_failed_raw()
        total = self.store.count_raw("new")
        done = normalized = 0
        repair = bool(self.plan.options.get("repair_text"))
        # Small batches: a run killed during normalize keeps all but the last 200 payloads' work.
        for batch in self.store.iter_raw_new(batch=200):
            out: list[tuple[str, dict, str, str]] = []
            raw_done, raw_failed = [], []
            for stream, raw_id, payload_text in batch:
                records, ok = self._normalize_one(source, stream, raw_id, payload_text, repair)
                out += records
                (raw_done if ok else raw_failed).append((stream, raw_id))
            self.store.put_records(out, raw_done, raw_failed)
            normalized += len(out)
            done += len(batch)
            self.reporter.event("progress", step="normalize", kind=None, done=done, total=total)
        return {"payloads": done, "records": normalized}

    def _normalize_one(self, source, stream, raw_id, payload_text, repair):
        """The canonical records of one raw payload, and whether all of them passed."""
        try:
            produced = list(source.to_canonical(stream, loads(payload_text)))
        except RecordError as e:
            self._fail(e.kind or stream, e.id or raw_id, "normalize", _short(e), e.field)
            return [], False
        except (FatalApiError, KeyboardInterrupt):
            raise
        except Exception as e:  # noqa: BLE001 - a malformed payload fails that record only
            self._fail(stream, raw_id, "normalize", f"cannot map {stream} {raw_id}: {e.__class__.__name__}: {_short(e)}")
            return [], False
        out, ok = [], True
        for kind, record in produced:
            prepared = self._prepare(kind, record, source, repair)
            if prepared is False:
                continue           # left out with a degradation (a refused attachment URL)
            if prepared is None:
                ok = False
            else:
                out.append((kind, prepared, stream, raw_id))
        return out, ok

    def _prepare(self, kind: str, record: dict, source: Source, repair: bool) -> dict | None:
        """Validate one canonical record (fetching attachment bytes first); None when it failed."""
        rid = str(record.get("id", "")) if isinstance(record, dict) else ""
        if not rid:
            self._fail(kind, "(no id)", "normalize", "record has no id", "id")
            return None
        if kind == "attachment":
            record = self._stage_blob(record, source)
            if record is None or record is False:
                return record
        if repair:
            record = self._repair_text(kind, record)
        problem = validation_error(kind, record)
        if problem:
            field, reason = problem
            self._fail(kind, rid, "normalize", f"invalid {kind}: {field or 'record'}: {reason}", field)
            return None
        return record

    def _stage_blob(self, record: dict, source: Source) -> dict | None:
        rid = str(record["id"])
        declared = record.get("sha256")
        if declared is not None and not (isinstance(declared, str) and len(declared) == 64
                                         and all(c in "0123456789abcdef" for c in declared)):
            # checked before the name is used as a path (a hostile "../x" crashed the run)
            self._fail("attachment", rid, "normalize",
                       f"invalid sha256 {str(declared)[:80]!r} (64 lowercase hex digits expected)", "sha256")
            return None
        if declared and self.store.has_blob(declared):
            return record
        if not declared:
            # Sources that give no hash (Zendesk): a file staged by an earlier, interrupted run
            # is not downloaded again when its size still matches.
            prior = self.store.record("attachment", rid)
            if (prior and prior.get("sha256") and self.store.has_blob(prior["sha256"])
                    and record.get("size") in (None, prior.get("size"))):
                return {**record, "sha256": prior["sha256"], "size": prior["size"]}
        limit = int(self.plan.options.get("max_attachment_bytes", DEFAULT_MAX_ATTACHMENT_BYTES))
        declared_size = record.get("size")
        if isinstance(declared_size, int) and declared_size > limit:
            self._fail("attachment", rid, "normalize",
                       f"attachment {record.get('file_name')!r} is {declared_size} bytes, over the limit of {limit}", "size")
            return None
        try:
            # enforced while the bytes arrive, not after; written to disk as they arrive
            with download_limit(limit), spool_downloads(self.store.incoming_dir):
                data = source.fetch_attachment(record)
        except UrlRefused as e:
            # A URL the source's data points at but the plan never named (an inline image on an
            # internal host): the file is left out, the comment and ticket are written.
            self._degrade([Degradation("attachment", rid, "url", "attachment_url_refused", _short(e))])
            return False
        except ApiError as e:
            if isinstance(e, FatalApiError):
                raise
            self._fail("attachment", rid, "normalize", f"download failed: {_short(e)}", "sha256")
            return None
        except (RecordError, OSError) as e:
            self._fail("attachment", rid, "normalize", f"attachment bytes unavailable: {_short(e)}", "sha256")
            return None
        except Exception as e:  # noqa: BLE001 - e.g. httpx.InvalidURL for a file name with NUL in its URL
            self._fail("attachment", rid, "normalize",
                       f"attachment bytes unavailable: {e.__class__.__name__}: {_short(e)}", "sha256")
            return None
        spooled = isinstance(data, BlobFile)
        size, sha = (data.size, data.sha256) if spooled else (len(data), hashlib.sha256(data).hexdigest())
        problem = None
        if size > limit:
            problem = (f"attachment {record.get('file_name')!r} is {size} bytes, over the limit of {limit}", "size")
        elif declared and declared != sha:
            problem = (f"bytes hash to {sha}, the record declares {declared}", "sha256")
        if problem:
            if spooled:
                data.discard()
            self._fail("attachment", rid, "normalize", *problem)
            return None
        if spooled:
            self.store.put_blob_file(data)
        else:
            self.store.put_blob(data)
        record = dict(record)
        record["sha256"] = sha
        record["size"] = size
        return record

    def _repair_text(self, kind: str, record: dict) -> dict:
        import ftfy
        fields = {"ticket": ("subject",), "comment": ("body_html", "body_text")}.get(kind, ())
        changed = []
        for name in fields:
            value = record.get(name)
            if isinstance(value, str):
                fixed = ftfy.fix_text(value, unescape_html=False)
                if fixed != value:
                    record = dict(record)
                    record.setdefault("extra", {})
                    record["extra"] = {**record["extra"], f"original_{name}": value}
                    record[name] = fixed
                    changed.append(name)
        if changed:
            self._degrade([Degradation(kind, str(record["id"]), name, "text_repaired",
                                       "mojibake/encoding repaired; original kept in extra") for name in changed])
        return record

    # -- load -----------------------------------------------------------------------------------
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

    def load(self) -> dict:
        """Write every selected record; in a dry run, everything up to the write."""
        _, target = self._adapters()
        self.selection = self._select()
        ctx = _LoadContext(self)
        # An empty id map may be a lost staging.db (an evicted CI cache) while the target holds
        # this tool's stamped tickets: then every record is looked up before it is written.
        self._fresh_staging = not self.dry_run and not any(self.store.id_map_counts().values())
        self._look_up_first = False
        for kind in self._kinds_to_load(target):
            if kind == "ticket" and self._fresh_staging:
                self._look_up_first = self._target_holds_our_tickets(target, ctx)
            self._load_kind(kind, target, ctx)
        if not self.dry_run:
            target.finish()
        return {k: c for k, c in self.counts.kinds.items()}

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

    def _load_kind(self, kind: str, target: Target, ctx: "_LoadContext") -> None:
        kind_total = self.store.count_kind(kind)
        batch_size = max(1, int(target.batch_sizes.get(kind, 1)))
        workers = 1 if self.dry_run else max(1, int(self.plan.run.get("workers", 1)))
        if kind in SERIAL_KINDS:
            workers = 1
        pool = _Lanes(self, kind, target, ctx, workers, batch_size)
        ordered = kind in ORDERED_KINDS
        lanes: dict[int, list] = {}
        done = 0
        try:
            for record, rhash, entry in self.store.iter_records_with_state(kind):
                done += 1
                if done % 200 == 0 or done == kind_total:
                    self.reporter.event("progress", step="load", kind=kind, done=done, total=kind_total)
                rid = record["id"]
                if not self._selected(kind, rid):
                    continue
                state = entry["state"] if entry else None
                if state == "done":
                    if entry["run_id"] == self.run_id:
                        continue  # written earlier in this run (before a resume, or with its ticket)
                    if entry["hash"] == rhash:
                        self._count_unchanged(kind, record, ctx)
                        continue
                    if entry.get("matched"):
                        # It existed in the target before the migration: its values stay the
                        # target's own; only records this tool created are updated.
                        self.counts.add(kind, "matched")   # "matched, not updated"
                        continue
                    pool.flush_all()  # an update must not overtake pending creates it may reference
                    self._update(kind, record, rhash, entry["target_id"], target, ctx)
                    continue
                # A write left pending (a crash) or failed (perhaps a timeout after the target had
                # already created it) is looked up first, so it is never created twice.
                if (state in ("pending", "failed") or (state is None and self._look_up_first)) \
                        and not self.dry_run:
                    found = self._find_existing(kind, record, target, ctx)
                    if found:
                        self._adopt_existing(kind, record, rhash, found, target, ctx)
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

    def _update(self, kind, record, rhash, target_id, target: Target, ctx) -> None:
        rid = record["id"]
        resolved = self._resolve(kind, record)
        if resolved is None:
            return
        record, degradations = resolved
        degradations += self._target_degradations(target, kind, record, ctx)
        new_files = self._new_files(kind, record, ctx)
        if not target.can_update(kind):
            self._not_updated(kind, record, target_id, target, degradations, new_files)
            return
        if self.dry_run:
            self.counts.add(kind, "updated")
            self._degrade(degradations)
            return
        try:
            result = target.update(kind, target_id, record, ctx)
        except FatalApiError:
            raise
        except Exception as e:  # noqa: BLE001 - one record's failure never stops the run
            self._fail(kind, rid, "load", f"update failed: {_short(e)}")
            return
        entries = [(kind, rid, result.target_id or target_id, rhash)]
        reported = {(d.kind, d.id) for d in result.degradations}
        for att in new_files:
            # Like a file left out of a first write: done, with the degradation that says why.
            written = result.children.get(("attachment", att["id"]))
            entries.append(("attachment", att["id"], str(written or f"{target_id}#attachment:{att['id']}"),
                            content_hash(att)))
            if written:
                self.counts.add("attachment", "created")
            elif ("attachment", att["id"]) not in reported:
                degradations.append(Degradation(
                    "attachment", att["id"], "", "update_not_applied",
                    f"added in the source to {kind} {rid}, which the target already holds; "
                    f"the {target.name} target did not add it (the file stays in staging)"))
        self.store.mark_done(self.run_id, entries)
        self.counts.add(kind, "updated")
        self._degrade(degradations + list(result.degradations))

    def _new_files(self, kind: str, record: dict, ctx) -> list[dict]:
        """Attachments of a changed comment that no earlier run wrote (added in the source since)."""
        if kind != "comment":
            return []
        out = []
        for att, _path in ctx.attachments(record):
            entry = self.store.id_entry("attachment", att["id"])
            if not (entry and entry["state"] == "done"):
                out.append(att)
        return out

    def _not_updated(self, kind, record, target_id, target: Target, degradations, new_files) -> None:
        """A changed record of a kind the target cannot update: the target keeps what an earlier
        run wrote, and the record says so (never "updated"). The id map keeps the written version's
        hash, so every later delta run reports it again. A comment that is private now may have
        been written public: that is a failure, for a person to make it private by hand."""
        rid = record["id"]
        why = f"the {target.name} target cannot update {kind} records"
        if kind == "comment" and record.get("public") is not True:
            self._fail(kind, rid, "load",
                       f"not updated: {why}, and this comment is private in the source: if its copy in the "
                       f"target (id {target_id}) was written public it is still public; make it private there by hand",
                       "public")
            return
        degradations = degradations + [Degradation(
            kind, rid, "", "update_not_applied",
            f"not updated: {why}; it keeps the version written earlier (target id {target_id})")]
        degradations += [Degradation("attachment", att["id"], "", "update_not_applied",
                                     f"added in the source to {kind} {rid}, which the target already holds; "
                                     f"not written: {why}") for att in new_files]
        self._degrade(degradations)
        if new_files and not self.dry_run:   # left out, and said so: not "neither written nor failed"
            self.store.mark_done(self.run_id, [("attachment", att["id"], f"{target_id}#attachment:{att['id']}",
                                                content_hash(att)) for att in new_files])

    def _resolve(self, kind: str, record: dict) -> tuple[dict, list[Degradation]] | None:
        """Check every reference against the id map. A broken required reference fails the
        record (named with the reason); a broken optional one is dropped with a degradation."""
        rid = record["id"]
        degradations: list[Degradation] = []
        out = record
        for ref, sid in list(references(kind, record)):
            status, why = self._ref_status(ref.kinds, str(sid))
            if status == "ok":
                continue
            label = "/".join(ref.kinds)
            reason = f"{ref.field} → {label} {sid}: {why}"
            if ref.required:
                self._fail(kind, rid, "load", f"reference failed: {reason}", ref.field)
                return None
            if out is record:
                out = dict(record)
            if ref.many:
                out[ref.field] = [x for x in out.get(ref.field) or [] if str(x) != str(sid)]
            else:
                out[ref.field] = None
            code = "reference_failed" if status == "failed" else "reference_missing"
            degradations.append(Degradation(kind, rid, ref.field, code, reason))
        return out, degradations

    def _ref_status(self, kinds: tuple[str, ...], sid: str) -> tuple[str, str]:
        for k in kinds:
            if (k, sid) in self._done:
                return "ok", ""
        failed_reason = None
        for k in kinds:
            entry = self.store.id_entry(k, sid)
            if entry and entry["state"] == "done":
                self._remember(k, sid, entry["target_id"])
            if entry and entry["state"] == "done":
                return "ok", ""
            if self.dry_run and (k, sid) in self._dry_failed:
                failed_reason = "would fail"
            elif entry and entry["state"] == "failed" and not self.dry_run:
                failed_reason = entry["error"] or "failed"
        if failed_reason:
            return "failed", failed_reason
        for k in kinds:
            if self.store.has_record(k, sid):
                if self.dry_run:
                    return "ok", ""
                if self._selected(k, sid):
                    return "failed", "not loaded (excluded by [scope] kinds?)"
                return "failed", "not loaded"
        return "missing", "does not exist in the source"

    def _target_degradations(self, target: Target, kind: str, record: dict, ctx) -> list[Degradation]:
        try:
            out = list(target.degradations(kind, record, ctx))
            if kind == "attachment":  # an unsafe name goes out renamed (Target.file_name)
                out += [d for d in [file_name_change(record, target.file_name(record))] if d]
            return out
        except Exception as e:  # noqa: BLE001 - a mapping bug becomes a report line, not a crash
            return [Degradation(kind, record["id"], "", "value_unmapped", f"degradation check failed: {_short(e)}")]

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
            degradations_all.extend(degradations + list(result.degradations))
            if result.matched:
                degradations_all.append(_matched_note(kind, rec["id"]))
            self._mark_unit_done(kind, rec, rhash, result, ctx, counted="matched" if result.matched else "created",
                                 children=children, defer=done_entries)

    def _children(self, kind: str, record: dict, target: Target, ctx: "_LoadContext",
                  degradations: list[Degradation]) -> list[tuple[str, dict, str]] | None:
        """Records written together with `record`: a comment's attachments; for bundling targets
        a ticket's comments and their attachments. Broken children fail alone."""
        children: list[tuple[str, dict, str]] = []
        if kind == "comment":
            for att, _path in ctx.attachments(record):
                degradations += self._target_degradations(target, "attachment", att, ctx)
                children.append(("attachment", att, content_hash(att)))
            return children
        if kind == "ticket" and target.bundles_comments:
            comments = []
            for comment in self.store.records_by_parent("comment", record["id"]):
                entry = self.store.id_entry("comment", comment["id"])
                if entry and entry["state"] == "done":
                    continue
                resolved = self._resolve_child("comment", comment, record["id"])
                if resolved is None:
                    continue
                comment, cdeg = resolved
                degradations += cdeg + self._target_degradations(target, "comment", comment, ctx)
                comments.append(comment)
                children.append(("comment", comment, content_hash(comment)))
                for att, _path in ctx.attachments(comment):
                    degradations += self._target_degradations(target, "attachment", att, ctx)
                    children.append(("attachment", att, content_hash(att)))
            ctx.set_bundle(record["id"], comments)
        return children

    def _resolve_child(self, kind: str, record: dict, parent_id: str):
        """Resolve a bundled child; its parent is being written in the same call."""
        deg: list[Degradation] = []
        out = record
        for ref, sid in list(references(kind, record)):
            if ref.field == "ticket_id" and str(sid) == parent_id:
                continue
            status, why = self._ref_status(ref.kinds, str(sid))
            if status == "ok":
                continue
            reason = f"{ref.field} → {'/'.join(ref.kinds)} {sid}: {why}"
            if ref.required:
                self._fail(kind, record["id"], "load", f"reference failed: {reason}", ref.field)
                return None
            if out is record:
                out = dict(record)
            out[ref.field] = [x for x in out.get(ref.field) or [] if str(x) != str(sid)] if ref.many else None
            deg.append(Degradation(kind, record["id"], ref.field,
                                   "reference_failed" if status == "failed" else "reference_missing", reason))
        return out, deg

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

    def _remember(self, kind: str, id: str, target_id: str) -> None:
        # A bounded cache of written records' target ids: references are resolved mostly from here.
        # Comments, files and ratings are referenced by nothing loaded after them (a comment's
        # files travel with it): kept out, the cache holds tickets, people and groups only.
        if kind in _UNREFERENCED:
            return
        if len(self._done) > 200_000:
            self._done.clear()
        self._done[(kind, id)] = target_id

    def _children_for_done(self, kind, record, ctx) -> list[tuple[str, dict, str]]:
        """Children of a unit found already written (resume): they were written with it."""
        out = []
        if kind == "comment":
            out = [("attachment", a, content_hash(a)) for a, _ in ctx.attachments(record)]
        elif kind == "ticket" and self.target is not None and self.target.bundles_comments:
            for c in self.store.records_by_parent("comment", record["id"]):
                entry = self.store.id_entry("comment", c["id"])
                if entry and entry["state"] == "done":
                    continue
                out.append(("comment", c, content_hash(c)))
                out += [("attachment", a, content_hash(a)) for a, _ in ctx.attachments(c)]
        return out

    # -- selection (sample, tags, until) ------------------------------------------------------------
    def _select(self) -> dict[str, set[str] | None] | None:
        """With `[options] sample = N` or `[scope] tags`, only those tickets and everything they
        reference are loaded; with `[scope] until`, only tickets last updated (else created) up
        to that time, with their comments, files and ratings, and every other record; otherwise
        everything staged. A kind mapped to None is selected whole."""
        sample = int(self.plan.options.get("sample") or 0)
        tags = set(self.plan.scope.get("tags") or [])
        until = parse_time(self.plan.scope["until"]) if self.plan.scope.get("until") else None
        if not sample and not tags and until is None:
            return None
        sel: dict[str, set[str]] = defaultdict(set)
        chosen = 0
        for ticket, _ in self.store.iter_records("ticket"):
            if tags and not tags & set(ticket.get("tags") or []):
                continue
            if until is not None and _after(ticket, until):
                continue
            sel["ticket"].add(ticket["id"])
            chosen += 1
            if sample and chosen >= sample:
                break

        def add_ref(kind, record):
            for ref, sid in references(kind, record):
                for k in ref.kinds:
                    if self.store.has_record(k, str(sid)):
                        sel[k].add(str(sid))
                        if k == "contact":
                            c = self.store.record("contact", str(sid))
                            if c and c.get("organization_id"):
                                sel["organization"].add(str(c["organization_id"]))
                        break

        for tid in list(sel["ticket"]):
            add_ref("ticket", self.store.record("ticket", tid))
            for c in self.store.records_by_parent("comment", tid):
                sel["comment"].add(c["id"])
                add_ref("comment", c)
                for a in self.store.records_by_parent("attachment", c["id"]):
                    sel["attachment"].add(a["id"])
            for r in self.store.records_by_parent("satisfaction_rating", tid):
                sel["satisfaction_rating"].add(r["id"])
                add_ref("satisfaction_rating", r)
        for aid in list(sel["agent"]):
            for gid in (self.store.record("agent", aid) or {}).get("group_ids") or []:
                sel["group"].add(str(gid))
        for cf, _ in self.store.iter_records("custom_field"):
            sel["custom_field"].add(cf["id"])
        if not sample and not tags:   # `until` alone narrows tickets only: the rest comes whole
            for kind in KINDS:
                if kind not in TICKET_PARTS:
                    sel[kind] = None
        return dict(sel)

    # -- verify (internal) ----------------------------------------------------------------------
    def verify(self) -> dict:
        """Staging against the id map: every staged record of a loaded kind is written or failed
        (with its reason). Reading the target back is `hdmigrate verify`."""
        if self.dry_run:
            return {"checked": "dry run: nothing written"}
        _, target = self._adapters()
        kinds = self._kinds_to_load(target)
        if "comment" in kinds:
            kinds.append("attachment")
        counts = self.store.id_map_counts()
        staged = self.store.count_records()
        result = {}
        missing_total = 0
        for kind in kinds:
            n_staged = staged.get(kind, 0)
            states = counts.get(kind, {})
            whole = self.selection is None or self.selection.get(kind, ()) is None
            if not whole:
                n_staged = len(self.selection.get(kind, ()))
            missing = max(0, n_staged - states.get("done", 0) - states.get("failed", 0))
            if whole:
                # Counted by joining, not by subtracting: records that failed before staging
                # (normalize) are in the id map as failed but not in `records`, and hid others.
                missing = self.store.conn.execute(
                    """SELECT count(*) FROM records r LEFT JOIN id_map m ON m.kind=r.kind AND m.id=r.id
                       WHERE r.kind=? AND (m.state IS NULL OR m.state NOT IN ('done','failed'))""",
                    (kind,)).fetchone()[0]
            missing_total += missing
            result[kind] = {"staged": n_staged, "done": states.get("done", 0),
                            "failed": states.get("failed", 0), "pending": states.get("pending", 0),
                            "missing": missing}
            if missing and whole:
                self._report_missing(kind)
        self.store.set_state("internal_verify", result)
        return {"missing": missing_total}

    def _report_missing(self, kind: str) -> None:
        rows = self.store.conn.execute(
            """SELECT r.id FROM records r LEFT JOIN id_map m ON m.kind=r.kind AND m.id=r.id
               WHERE r.kind=? AND (m.state IS NULL OR m.state NOT IN ('done','failed'))""", (kind,)).fetchall()
        for (rid,) in rows:
            self._fail(kind, rid, "verify", self._missing_reason(kind, rid))

    def _missing_reason(self, kind: str, rid: str) -> str:
        """Why a staged record was never written: a broken required reference (attachments are
        written with their comment, so an orphan one is only found here), else the internal check."""
        record = self.store.record(kind, rid) or {}
        for ref, sid in references(kind, record):
            status, why = self._ref_status(ref.kinds, str(sid))
            if ref.required and status != "ok":
                return f"not written: {ref.field} → {'/'.join(ref.kinds)} {sid}: {why}"
        return "staged but neither written nor failed (internal check)"


class _LoadContext:
    """What a target sees while writing: references resolved through the id map."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.store = engine.store
        self.options = engine.plan.options
        self.mapping = engine.plan.mapping
        self.run_id = engine.run_id
        self.dry_run = engine.dry_run
        self.source_info = engine.source.describe() if engine.source is not None else {}
        self._bundle: dict[str, list[dict]] = {}
        self._comments: dict[str, list[dict]] = {}
        self._with_attachments: set[str] | None = None  # comment ids that have staged files
        self._fields: dict | None = None

    def target_id(self, kinds, source_id):
        if source_id is None:
            return None
        if isinstance(kinds, str):
            kinds = (kinds,)
        done = self.engine._done  # written records' target ids (no SQL for the common case)
        for kind in kinds:
            found = done.get((kind, str(source_id)))
            if found is not None:
                return found
        for kind in kinds:
            entry = self.store.id_entry(kind, str(source_id))
            if entry and entry["state"] == "done":
                return entry["target_id"]
        if self.dry_run:
            for kind in kinds:
                if self.store.has_record(kind, str(source_id)):
                    return f"(new {kind} {source_id})"
        return None

    def person(self, source_id):
        if source_id is None:
            return None
        done = self.engine._done
        for kind in PERSON_KINDS:
            found = done.get((kind, str(source_id)))
            if found is not None:
                return kind, found
        for kind in PERSON_KINDS:
            entry = self.store.id_entry(kind, str(source_id))
            if entry and entry["state"] == "done":
                return kind, entry["target_id"]
        if self.dry_run:
            for kind in PERSON_KINDS:
                if self.store.has_record(kind, str(source_id)):
                    return kind, f"(new {kind} {source_id})"
        return None

    def record(self, kind, source_id):
        return self.store.record(kind, str(source_id))

    def custom_field(self, entity: str, key: str) -> tuple[dict, str | None] | None:
        """The staged custom_field record of (entity, key) and its target id (None if unwritten)."""
        if self._fields is None:
            fields = {}
            for (data,) in self.store.read_conn().execute("SELECT data FROM records WHERE kind='custom_field'"):
                field = json.loads(data)
                fields[(field.get("entity"), str(field.get("key")))] = field
            self._fields = fields
        field = self._fields.get((entity, str(key)))
        if field is None:
            return None
        return field, self.target_id("custom_field", field["id"])

    def comments(self, ticket_id):
        if ticket_id in self._bundle:
            return self._bundle[ticket_id]
        # Targets that write comments one by one ask for the ticket's comments on every one of
        # them (is this the description?): the last few tickets' lists are kept, read-only.
        cached = self._comments.get(ticket_id)
        if cached is None:
            cached = self.store.records_by_parent("comment", ticket_id)
            if len(self._comments) >= 64:
                self._comments.clear()
            self._comments[ticket_id] = cached
        return [dict(c) for c in cached]

    def set_bundle(self, ticket_id, comments):
        self._bundle[ticket_id] = comments

    def forget_bundle(self, ticket_id=None):
        if ticket_id is None:
            self._bundle.clear()
        else:
            self._bundle.pop(ticket_id, None)

    def attachments(self, comment):
        if self._with_attachments is None:
            self._with_attachments = {r[0] for r in self.store.read_conn().execute(
                "SELECT DISTINCT parent FROM records WHERE kind='attachment'")}
        if comment["id"] not in self._with_attachments:
            return []
        staged = {a["id"]: a for a in self.store.records_by_parent("attachment", comment["id"])}
        order = [str(x) for x in comment.get("attachment_ids") or []]
        ordered = [staged.pop(a) for a in order if a in staged] + sorted(staged.values(), key=lambda a: a["id"])
        out = []
        for att in ordered:
            path = self.store.blob_path(att["sha256"])
            if path.exists():
                out.append((att, path))
        return out


class _Lanes:
    """A bounded pool of worker lanes for one kind. Each lane is one thread, so the batches of a
    lane (one ticket's comments always share a lane) are written in order; different lanes write
    in parallel, sharing the target's per-host rate limiter. Batches are prepared and their results
    recorded in the engine's thread, which alone uses the staging connection."""

    def __init__(self, engine: Engine, kind: str, target: Target, ctx: "_LoadContext", workers: int,
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
        future = self.executors[lane].submit(Engine._call_target, self.kind, ready, self.target, self.ctx)
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


def run_plan(plan: Plan, *, workdir=None, reporter=None, dry_run=False, since=None) -> dict:
    engine = Engine(plan, workdir, reporter)
    try:
        return engine.run(dry_run=dry_run, since=since)
    finally:
        engine.store.close()

