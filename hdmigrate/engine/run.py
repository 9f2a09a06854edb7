"""The Engine: runs one plan's steps over one work directory (the steps are mixins, one module each)."""

from __future__ import annotations

from pathlib import Path

from ..adapter import Degradation, Source, Target
from ..canonical import LOAD_ORDER
from ..errors import ApiError, ConfigError, StateError
from ..target_values import ENUM_FIELDS, mapping_problems
from ..plan import Plan, parse_since
from ..report import Reporter
from ..store import Store
from .. import cx, workdir_lock
from .common import COUNT_KEYS, Counts, WrittenIds, _short
from .checks import VerifyStep
from .delta import DeltaStep
from .extract import ExtractStep
from .flow import FlowStep
from .load import LoadStep
from .normalize import NormalizeStep
from .resolve import ResolveStep
from .selection import SelectStep
from .write import WriteStep


class Engine(FlowStep, ExtractStep, NormalizeStep, SelectStep, LoadStep, WriteStep, ResolveStep, DeltaStep,
             VerifyStep):
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
        self._done = WrittenIds()
        self._retry_later: list[tuple[str, str]] = []

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
            self._steps(since, stop_after)   # check, then extract/normalize/load overlapped, verify
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
            for kind, matched, n in self.store.done_counts_by_origin(last["id"]):
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
        for kind, n in self.store.failure_counts(self.run_id):
            self.counts.add(kind, "failed", n)
        for kind, n in self.store.degraded_counts(self.run_id):
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
        # Ticket fields the target keeps the original times in (created once; the dry run lists them).
        kept = cx.kept_fields(self.plan.spec("target").target, self.plan.mapping) if "ticket" in kinds else {}
        if kept:
            out["original_time_fields"] = kept
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


def run_plan(plan: Plan, *, workdir=None, reporter=None, dry_run=False, since=None) -> dict:
    engine = Engine(plan, workdir, reporter)
    try:
        return engine.run(dry_run=dry_run, since=since)
    finally:
        engine.store.close()
