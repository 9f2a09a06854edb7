"""Many migrations at once (a consultant's clients, a CI matrix), one work directory each,
isolated failures, resumable, one summary — the library under `hdmigrate batch` (the command is
hdmigrate/commands/batch.py).

Each plan runs as its own `hdmigrate run PLAN --yes --json` process (hdmigrate/batch_child.py):
its own process, engine, work directory and signal handling, so one client's crash, bad plan or
missing credential can never stop (or corrupt) another. Where those processes run is the
executor's business (hdmigrate/executors.py): the local pool (the default) runs them from threads
of the batch; the Dask executor (hdmigrate/executors_dask.py) from tasks on a Dask cluster. The
batch keeps a small state file (`batch-state.json` in the batch's state directory) and per-plan
logs, and at the end prints a summary table and writes `summary.json` and `summary.csv` beside
the state (hdmigrate/batch_summary.py).

Resuming: the state directory defaults to `.hdmigrate/batch-<hash of the plan paths>` in the
current directory, so running the same command again continues the same batch: plans that
finished (exit 0 or 1) with an unchanged plan file are skipped and keep their recorded result;
the others run again (the engine resumes an interrupted run where it stopped).

Accounts: two plans that share a source or target account (same adapter and URL) never run at
the same time, so together they never exceed that account's rate limit (each plan's own
`[run.rate_limit]` is the account's budget); the local pool holds one lock per account, the Dask
executor one cluster-wide semaphore per account.

Exit code: 0 when every plan exited 0, else the highest code among the plans; 4 when the batch
itself was interrupted.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .batch_child import last_error, run_child, run_command, terminate
from .batch_summary import (batch_exit_code, print_table, summary_doc, totals_of, write_csv)
from .printable import json_printable, printable
from .private_files import open_private, private_dir, write_private_text
from .times import now_text

FINISHED_CODES = (0, 1)          # the run completed; a later batch skips the plan
STATE_FILE = "batch-state.json"
STATE_VERSION = 1


def _sha256_file(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


@dataclass
class PlanJob:
    """One plan of the batch and what is known about its run."""

    path: Path
    name: str
    workdir: Path | None = None
    source: str = ""
    target: str = ""
    accounts: tuple[str, ...] = ()   # account keys (adapter + URL) this plan spends the budget of
    plan_sha256: str | None = None
    status: str = "pending"       # pending, running, finished, failed, interrupted, skipped
    exit_code: int | None = None
    error: str | None = None
    kinds: dict = field(default_factory=dict)
    totals: dict = field(default_factory=dict)
    duration_s: float | None = None
    started_at: str | None = None
    finished_at: str | None = None
    skipped: bool = False         # finished in an earlier invocation of this batch
    log: Path | None = None
    events: Path | None = None
    html_report: Path | None = None
    worker: str | None = None     # the Dask worker it ran on (None: the local pool)
    attempts: int | None = None   # runs it took (exit 3/4 are retried by the Dask executor)

    def row(self) -> dict:
        totals = self.totals or totals_of(self.kinds)
        return {
            "plan": str(self.path), "name": self.name, "source": self.source, "target": self.target,
            "workdir": str(self.workdir) if self.workdir else None, "status": self.status,
            "exit_code": self.exit_code, "error": self.error, "kinds": self.kinds,
            "totals": totals, "failures": totals.get("failed", 0), "degradations": totals.get("degraded", 0),
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "started_at": self.started_at, "finished_at": self.finished_at,
            "skipped": self.skipped,
            "log": str(self.log) if self.log else None,
            "events": str(self.events) if self.events else None,
            "html_report": str(self.html_report) if self.html_report else None,
            "worker": self.worker, "attempts": self.attempts,
        }


# -- naming, planning ---------------------------------------------------------------------------

def _names(paths: list[Path]) -> list[str]:
    """Short unique labels: the plan's stem, with parent directories added where stems collide."""
    depth = {p: 0 for p in paths}
    while True:
        labels = {p: "/".join(p.with_suffix("").parts[-(depth[p] + 1):]) for p in paths}
        seen: dict[str, list[Path]] = {}
        for p, lab in labels.items():
            seen.setdefault(lab, []).append(p)
        clashes = [ps for ps in seen.values() if len(ps) > 1]
        if not clashes:
            return [labels[p] for p in paths]
        grew = False
        for ps in clashes:
            for p in ps:
                if depth[p] + 1 < len(p.with_suffix("").parts):
                    depth[p] += 1
                    grew = True
        if not grew:
            return [labels[p] for p in paths]


def safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def default_state_dir(paths: list[Path]) -> Path:
    key = hashlib.sha256("\n".join(sorted(str(p) for p in paths)).encode()).hexdigest()[:12]
    return Path.cwd() / ".hdmigrate" / f"batch-{key}"


def account_key(section: dict) -> str | None:
    """The account a plan's [source] or [target] spends the rate budget of: adapter + URL (scheme
    and host lower-cased, no trailing slash, no user info). None for file adapters (no URL)."""
    url = section.get("url")
    if not isinstance(url, str) or not url.strip():
        return None
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower() + (f":{parts.port}" if parts.port else "")
    return f"{section.get('adapter', '')}|{parts.scheme.lower()}://{host}{parts.path.rstrip('/')}"


def prepare_jobs(paths: list[Path], workdirs_root: Path | None) -> list[PlanJob]:
    """Load each plan (to know its work directory, platforms and accounts); a plan that cannot be
    loaded becomes a failed job (exit 2) without stopping the others. Two plans never share a work
    directory: the later ones fail with exit 2."""
    from .errors import HdmError
    from .plan import load_plan

    jobs = []
    for path, name in zip(paths, _names(paths)):
        job = PlanJob(path=path, name=name, plan_sha256=_sha256_file(path))
        try:
            plan = load_plan(path)
            job.source = plan.source.get("adapter", "")
            job.target = plan.target.get("adapter", "")
            job.accounts = tuple(sorted({k for k in (account_key(plan.source), account_key(plan.target)) if k}))
            job.workdir = (workdirs_root / safe_name(name)).resolve() if workdirs_root else plan.workdir()
        except HdmError as e:
            job.status, job.exit_code, job.error = "failed", getattr(e, "exit_code", 2), str(e)
        except Exception as e:  # noqa: BLE001 - one broken plan never stops the batch
            job.status, job.exit_code, job.error = "failed", 2, f"{e.__class__.__name__}: {e}"
        jobs.append(job)
    owners: dict[Path, PlanJob] = {}
    for job in jobs:
        if job.workdir is None:
            continue
        if job.workdir in owners:
            job.status, job.exit_code = "failed", 2
            job.error = (f"work directory {job.workdir} is also used by {owners[job.workdir].path}; "
                         "give each plan its own [run] workdir (or use --workdirs DIR)")
        else:
            owners[job.workdir] = job
    return jobs


# -- state ----------------------------------------------------------------------------------------

class BatchState:
    """The batch's memory between invocations: per plan its last status, code and counts."""

    def __init__(self, directory: Path, mode: str):
        self.dir = directory
        self.path = directory / STATE_FILE
        self.mode = mode
        self.lock = threading.Lock()
        self.data = {"version": STATE_VERSION, "plans": {}}
        if self.path.exists():
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
                if isinstance(loaded, dict) and loaded.get("version") == STATE_VERSION:
                    self.data = loaded
            except (OSError, json.JSONDecodeError):
                pass  # an unreadable state starts the batch afresh (runs resume from their stores)

    def finished_before(self, job: PlanJob) -> dict | None:
        entry = self.data["plans"].get(str(job.path))
        if (entry and entry.get("mode") == self.mode and entry.get("status") == "finished"
                and entry.get("exit_code") in FINISHED_CODES and entry.get("plan_sha256") == job.plan_sha256
                and entry.get("workdir") == (str(job.workdir) if job.workdir else None)):
            return entry
        return None

    def save(self, job: PlanJob) -> None:
        with self.lock:
            self.data["plans"][str(job.path)] = {**job.row(), "mode": self.mode, "plan_sha256": job.plan_sha256}
            self.data["updated_at"] = now_text()
            private_dir(self.dir)
            write_private_text(self.path, json.dumps(self.data, indent=2, ensure_ascii=False))


# -- running --------------------------------------------------------------------------------------

class Emitter:
    """The batch's own events (with --json: JSON lines on stdout) and human lines on stderr."""

    def __init__(self, as_json: bool):
        self.as_json = as_json
        self.lock = threading.Lock()

    def event(self, _event: str, /, **fields) -> None:
        if not self.as_json:
            return
        line = json_printable(json.dumps({"event": _event, "time": now_text(), **fields}, ensure_ascii=False))
        with self.lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def forward(self, plan: str, event: dict) -> None:
        if not self.as_json:
            return
        line = json_printable(json.dumps({**event, "plan": plan}, ensure_ascii=False))
        with self.lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def say(self, text: str) -> None:
        with self.lock:   # plan errors quote source and server texts
            sys.stderr.write(printable(text) + "\n")
            sys.stderr.flush()


class Runner:
    """What happens to a plan before and after its run, for every executor; `run_one` is the
    local pool's way of running it (a child process from a thread of the batch)."""

    def __init__(self, jobs, state: BatchState, emitter: Emitter, *, dry_run: bool, since: str | None,
                 html: bool):
        self.jobs = jobs
        self.state = state
        self.emit = emitter
        self.dry_run = dry_run
        self.since = since
        self.html = html
        self.procs: dict[str, subprocess.Popen] = {}
        self.procs_lock = threading.Lock()
        self.stopping = threading.Event()
        self.account_locks: dict[str, threading.Lock] = {}

    def command(self, job: PlanJob) -> list[str]:
        return run_command(job.path, job.workdir, dry_run=self.dry_run, since=self.since)

    def run_one(self, job: PlanJob) -> PlanJob:
        if self.stopping.is_set():
            return job
        held = []
        try:
            for key in job.accounts:            # sorted: two plans never wait on each other
                lock = self.account_locks.setdefault(key, threading.Lock())
                if not lock.acquire(blocking=False):
                    self.emit.event("plan_waiting", plan=job.name, account=key,
                                    reason="another plan of this batch is using this account")
                    while not lock.acquire(timeout=0.5):
                        if self.stopping.is_set():
                            return job
                held.append(lock)
            return self._run_one(job)
        except Exception as e:  # noqa: BLE001 - one plan's trouble never stops the batch
            job.status, job.exit_code = "failed", job.exit_code if job.exit_code not in (None, 0) else 3
            job.error = f"batch could not run this plan: {e.__class__.__name__}: {e}"
            self.state.save(job)
            self.emit.event("plan_finished", **plan_event(job))
            self.emit.say(f"✗ {job.name}: {job.error}")
            return job
        finally:
            for lock in reversed(held):
                lock.release()

    def begin(self, job: PlanJob, *, announce: bool = True) -> None:
        logs = self.state.dir / "logs"
        private_dir(logs)
        job.log = logs / f"{safe_name(job.name)}.stderr.log"
        job.events = logs / f"{safe_name(job.name)}.events.jsonl"
        job.status, job.started_at, job.exit_code, job.error = "running", now_text(), None, None
        self.state.save(job)
        if announce:
            self.announce(job)

    def announce(self, job: PlanJob, **extra) -> None:
        self.emit.event("plan_started", plan=job.name, path=str(job.path), workdir=str(job.workdir), **extra)
        if not self.emit.as_json:
            where = f" on {extra['worker']}" if extra.get("worker") else ""
            self.emit.say(f"▶ {job.name} ({job.source} → {job.target}){where}")

    def _run_one(self, job: PlanJob) -> PlanJob:
        self.begin(job)
        start = time.monotonic()

        def started(proc):
            with self.procs_lock:
                self.procs[job.name] = proc
            if self.stopping.is_set():
                terminate(proc)

        with open_private(job.log, "wb") as err, open_private(job.events, "a", encoding="utf-8") as events:
            try:
                code, summary = run_child(self.command(job), err, events, on_start=started,
                                          on_event=lambda ev: self.emit.forward(job.name, ev))
            finally:
                with self.procs_lock:
                    self.procs.pop(job.name, None)
        job.duration_s = time.monotonic() - start
        job.finished_at = now_text()
        self.finish(job, code, summary)
        return job

    def finish(self, job: PlanJob, code: int, summary: dict | None, stderr_text: str | None = None) -> None:
        """Record a plan's outcome (its exit code and the run's summary event), its HTML report,
        the state; say it."""
        job.exit_code = code
        if summary is not None:
            job.kinds = summary.get("kinds") or {}
            job.totals = summary.get("totals") or totals_of(job.kinds)
            job.error = summary.get("error")
        if job.error is None and job.exit_code not in (0, 1):
            if stderr_text is None and job.log and job.log.exists():
                stderr_text = job.log.read_text(encoding="utf-8", errors="replace")
            job.error = last_error(stderr_text or "") or f"exited with code {job.exit_code}"
        job.status = ("finished" if job.exit_code in FINISHED_CODES
                      else "interrupted" if job.exit_code == 4 else "failed")
        if self.html and job.workdir and (job.workdir / "staging.db").exists():
            job.html_report = self._html_report(job)
        self.state.save(job)
        self.emit.event("plan_finished", **plan_event(job))
        if not self.emit.as_json:
            t = job.totals or totals_of(job.kinds)
            mark = "✓" if job.exit_code == 0 else "✗"
            extra = f" — {job.error}" if job.error else ""
            where = f" on {job.worker}" if job.worker else ""
            took = "" if job.duration_s is None else f" in {job.duration_s:.1f} s"
            self.emit.say(f"{mark} {job.name}: exit {job.exit_code}{took}{where} "
                          f"(created {t.get('created', 0)}, updated {t.get('updated', 0)}, unchanged {t.get('unchanged', 0)}, "
                          f"failed {t.get('failed', 0)}, degraded {t.get('degraded', 0)}){extra}")

    def _html_report(self, job: PlanJob) -> Path | None:
        """The client's report for this plan (reports/<name>.html in the batch directory)."""
        try:
            from .html_report import render_html
            from .plan import load_plan
            from .report import collect
            from .store import Store

            store = Store(job.workdir, create=False)
            try:
                # a dry-run batch reports its dry run, not an earlier migration (collect's default)
                doc = collect(store, (store.last_run() or {}).get("id") if self.dry_run else None)
            finally:
                store.close()
            if not doc.get("plan"):
                doc["plan"] = {"path": str(job.path), "data": load_plan(job.path).data}
            out = self.state.dir / "reports" / f"{safe_name(job.name)}.html"
            write_private_text(out, render_html(doc))
            return out
        except Exception as e:  # noqa: BLE001 - a report problem never changes a plan's outcome
            self.emit.say(f"  (no HTML report for {job.name}: {e.__class__.__name__}: {e})")
            return None

    def stop(self) -> None:
        self.stopping.set()
        with self.procs_lock:
            procs = list(self.procs.values())
        for proc in procs:
            terminate(proc)


def plan_event(job: PlanJob) -> dict:
    row = job.row()
    out = {k: row[k] for k in ("name", "status", "exit_code", "error", "kinds", "totals", "duration_s",
                               "workdir", "skipped", "html_report")}
    if job.worker or job.attempts:
        out.update(worker=job.worker, attempts=job.attempts)
    return {"plan": job.name, "path": str(job.path), **out}


# -- the batch ------------------------------------------------------------------------------------

def _to_run(job: PlanJob, state: BatchState, emitter: Emitter, as_json: bool) -> bool:
    """Whether a plan runs in this batch: one that could not be loaded is reported and never run;
    one an earlier run of this batch finished is skipped with its earlier outcome."""
    if job.exit_code is not None:
        state.save(job)
        emitter.event("plan_finished", **plan_event(job))
        if not as_json:
            emitter.say(f"✗ {job.name}: exit {job.exit_code} — {job.error}")
        return False
    before = state.finished_before(job)
    if not before:
        return True
    job.status, job.exit_code, job.skipped = "finished", before["exit_code"], True
    job.kinds, job.totals = before.get("kinds") or {}, before.get("totals") or {}
    job.duration_s, job.error = before.get("duration_s"), before.get("error")
    job.started_at, job.finished_at = before.get("started_at"), before.get("finished_at")
    job.worker, job.attempts = before.get("worker"), before.get("attempts")
    for name in ("log", "events", "html_report"):
        setattr(job, name, Path(before[name]) if before.get(name) else None)
    emitter.event("plan_skipped", plan=job.name, path=str(job.path), exit_code=job.exit_code,
                  reason="finished in an earlier run of this batch")
    if not as_json:
        emitter.say(f"= {job.name}: finished earlier (exit {job.exit_code}), skipped")
    return False


def run_batch(paths: list[Path], executor, *, state_dir: Path | None = None, workdirs_root: Path | None = None,
              as_json: bool = False, csv_path: Path | None = None, restart: bool = False, dry_run: bool = False,
              since: str | None = None, html: bool = True) -> int:
    """Run the plans at `paths` with `executor` (hdmigrate.executors); returns the batch's exit
    code after writing the summary (JSON and CSV in the state directory) and printing it."""
    state_path = state_dir or default_state_dir(paths)
    private_dir(state_path)
    state = BatchState(state_path, "dry-run" if dry_run else "run")
    if restart:
        state.data["plans"] = {}
    emitter = Emitter(as_json)
    jobs = prepare_jobs(paths, workdirs_root)
    emitter.event("batch_started", plans=[j.name for j in jobs], executor=executor.name,
                  parallel=executor.parallel, state_dir=str(state_path))

    to_run = [job for job in jobs if _to_run(job, state, emitter, as_json)]

    runner = Runner(jobs, state, emitter, dry_run=dry_run, since=since, html=html)
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread:
        signal.signal(signal.SIGTERM, on_term)
    try:
        interrupted = executor.run(to_run, runner)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)

    code = batch_exit_code(jobs, interrupted)
    doc = summary_doc(jobs, code, state_path, interrupted, executor.name)
    write_private_text(state_path / "summary.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    write_csv(jobs, state_path / "summary.csv")
    if csv_path:
        write_csv(jobs, csv_path)
    if as_json:
        emitter.event("summary", **doc)
    else:
        print_table(jobs, code, state_path)
    return code
