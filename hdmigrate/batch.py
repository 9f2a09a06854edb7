"""`hdmigrate batch PLAN... [--parallel N] [--json]`: many migrations at once (a consultant's
clients, a CI matrix), one work directory each, isolated failures, resumable, one summary.

Each plan runs as its own `hdmigrate run PLAN --yes --json` subprocess: its own process, engine,
work directory and signal handling, so one client's crash, bad plan or missing credential can
never stop (or corrupt) another. The batch reads each child's JSON events, keeps a small state
file (`batch-state.json` in the batch's state directory) and per-plan logs, and at the end prints
a summary table (rich on a terminal, plain text otherwise), and writes `summary.json` and
`summary.csv` beside the state.

Resuming: the state directory defaults to `.hdmigrate/batch-<hash of the plan paths>` in the
current directory, so running the same command again continues the same batch: plans that
finished (exit 0 or 1) with an unchanged plan file are skipped and keep their recorded result;
the others run again (the engine resumes an interrupted run where it stopped).

Exit code: 0 when every plan exited 0, else the highest code among the plans; 4 when the batch
itself was interrupted.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import click

from .printable import json_printable, printable
from .private_files import open_private, private_dir, write_private_text

COUNT_KEYS = ("created", "updated", "unchanged", "failed", "degraded")
FINISHED_CODES = (0, 1)          # the run completed; a later batch skips the plan
STATE_FILE = "batch-state.json"
STATE_VERSION = 1
KIND_LABELS = {"custom_field": "fields", "organization": "orgs", "group": "groups", "agent": "agents",
               "contact": "contacts", "ticket": "tickets", "comment": "comments",
               "attachment": "attachments", "satisfaction_rating": "ratings"}
KIND_ORDER = tuple(KIND_LABELS)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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

    def row(self) -> dict:
        return {
            "plan": str(self.path), "name": self.name, "source": self.source, "target": self.target,
            "workdir": str(self.workdir) if self.workdir else None, "status": self.status,
            "exit_code": self.exit_code, "error": self.error, "kinds": self.kinds,
            "totals": self.totals or _totals(self.kinds),
            "failures": (self.totals or _totals(self.kinds)).get("failed", 0),
            "degradations": (self.totals or _totals(self.kinds)).get("degraded", 0),
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "started_at": self.started_at, "finished_at": self.finished_at,
            "skipped": self.skipped,
            "log": str(self.log) if self.log else None,
            "events": str(self.events) if self.events else None,
            "html_report": str(self.html_report) if self.html_report else None,
        }


def _totals(kinds: dict) -> dict:
    out = dict.fromkeys(COUNT_KEYS, 0)
    for c in kinds.values():
        for k in COUNT_KEYS:
            out[k] += int(c.get(k, 0) or 0)
    return out


def records_of(counts: dict) -> int:
    """Records a plan accounts for in the target for one kind: written now or already there."""
    return (int(counts.get("created", 0)) + int(counts.get("matched", 0)) + int(counts.get("updated", 0))
            + int(counts.get("unchanged", 0)))


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


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def default_state_dir(paths: list[Path]) -> Path:
    key = hashlib.sha256("\n".join(sorted(str(p) for p in paths)).encode()).hexdigest()[:12]
    return Path.cwd() / ".hdmigrate" / f"batch-{key}"


def prepare_jobs(paths: list[Path], workdirs_root: Path | None) -> list[PlanJob]:
    """Load each plan (to know its work directory and platforms); a plan that cannot be loaded
    becomes a failed job (exit 2) without stopping the others. Two plans never share a work
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
            job.workdir = (workdirs_root / _safe(name)).resolve() if workdirs_root else plan.workdir()
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
            self.data["updated_at"] = _now()
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
        line = json_printable(json.dumps({"event": _event, "time": _now(), **fields}, ensure_ascii=False))
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
        with self.lock:
            click.echo(printable(text), err=True)  # plan errors quote source and server texts


class Runner:
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

    def command(self, job: PlanJob) -> list[str]:
        cmd = [sys.executable, "-c", "from hdmigrate.commands.cli import main; main()", "run", str(job.path),
               "--yes", "--json", "--workdir", str(job.workdir)]
        if self.dry_run:
            cmd.append("--dry-run")
        if self.since:
            cmd += ["--since", self.since]
        return cmd

    def run_one(self, job: PlanJob) -> PlanJob:
        if self.stopping.is_set():
            return job
        try:
            return self._run_one(job)
        except Exception as e:  # noqa: BLE001 - one plan's trouble never stops the batch
            job.status, job.exit_code = "failed", job.exit_code if job.exit_code not in (None, 0) else 3
            job.error = f"batch could not run this plan: {e.__class__.__name__}: {e}"
            self.state.save(job)
            self.emit.event("plan_finished", **_plan_event(job))
            self.emit.say(f"✗ {job.name}: {job.error}")
            return job

    def _run_one(self, job: PlanJob) -> PlanJob:
        logs = self.state.dir / "logs"
        private_dir(logs)
        job.log = logs / f"{_safe(job.name)}.stderr.log"
        job.events = logs / f"{_safe(job.name)}.events.jsonl"
        job.status, job.started_at, job.exit_code, job.error = "running", _now(), None, None
        self.state.save(job)
        self.emit.event("plan_started", plan=job.name, path=str(job.path), workdir=str(job.workdir))
        if not self.emit.as_json:
            self.emit.say(f"▶ {job.name} ({job.source} → {job.target})")
        start = time.monotonic()
        summary = None
        # the child interrupts itself if this process dies without stopping it (kill -9)
        env = dict(os.environ, PYTHONUNBUFFERED="1", HDMIGRATE_BATCH_PID=str(os.getpid()))
        with open_private(job.log, "wb") as err, open_private(job.events, "a", encoding="utf-8") as events:
            proc = subprocess.Popen(self.command(job), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=err, env=env, text=True, encoding="utf-8", errors="replace",
                                    start_new_session=True)
            with self.procs_lock:
                self.procs[job.name] = proc
            if self.stopping.is_set():
                _terminate(proc)
            try:
                for line in proc.stdout:
                    events.write(line)
                    try:
                        ev = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if not isinstance(ev, dict):
                        continue
                    if ev.get("event") == "summary":
                        summary = ev
                        continue
                    self.emit.forward(job.name, ev)
                code = proc.wait()
            finally:
                with self.procs_lock:
                    self.procs.pop(job.name, None)
        job.duration_s = time.monotonic() - start
        job.finished_at = _now()
        job.exit_code = code if code >= 0 else 4   # killed by a signal: interrupted, resumable
        if summary is not None:
            job.kinds = summary.get("kinds") or {}
            job.totals = summary.get("totals") or _totals(job.kinds)
            job.error = summary.get("error")
            if isinstance(summary.get("exit_code"), int) and code >= 0:
                job.exit_code = summary["exit_code"] if code == 0 else code
        if job.error is None and job.exit_code not in (0, 1):
            job.error = _last_error(job.log) or f"exited with code {job.exit_code}"
        job.status = ("finished" if job.exit_code in FINISHED_CODES
                      else "interrupted" if job.exit_code == 4 else "failed")
        if self.html and job.workdir and (job.workdir / "staging.db").exists():
            job.html_report = self._html_report(job)
        self.state.save(job)
        self.emit.event("plan_finished", **_plan_event(job))
        if not self.emit.as_json:
            t = job.totals or _totals(job.kinds)
            mark = "✓" if job.exit_code == 0 else "✗"
            extra = f" — {job.error}" if job.error else ""
            self.emit.say(f"{mark} {job.name}: exit {job.exit_code} in {job.duration_s:.1f} s "
                          f"(created {t.get('created', 0)}, updated {t.get('updated', 0)}, unchanged {t.get('unchanged', 0)}, "
                          f"failed {t.get('failed', 0)}, degraded {t.get('degraded', 0)}){extra}")
        return job

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
            out = self.state.dir / "reports" / f"{_safe(job.name)}.html"
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
            _terminate(proc)


def _terminate(proc: subprocess.Popen) -> None:
    """SIGTERM: the child's engine turns it into a clean interruption (exit 4, resumable)."""
    try:
        proc.send_signal(signal.SIGTERM)
    except (ProcessLookupError, OSError):
        pass


def _last_error(log: Path | None) -> str | None:
    if not log or not log.exists():
        return None
    lines = [ln.strip() for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("error:"):
            return ln[len("error:"):].strip()
    return lines[-1][:500] if lines else None


def _plan_event(job: PlanJob) -> dict:
    row = job.row()
    out = {k: row[k] for k in ("name", "status", "exit_code", "error", "kinds", "totals", "duration_s",
                               "workdir", "skipped", "html_report")}
    return {"plan": job.name, "path": str(job.path), **out}


# -- summary --------------------------------------------------------------------------------------

def batch_exit_code(jobs: list[PlanJob], interrupted: bool) -> int:
    codes = [j.exit_code for j in jobs if j.exit_code is not None]
    code = max(codes) if codes else 0
    if interrupted or any(j.exit_code is None for j in jobs):
        code = max(code, 4)
    return code


def summary_doc(jobs: list[PlanJob], code: int, state_dir: Path, interrupted: bool) -> dict:
    kinds: dict[str, dict] = {}
    for j in jobs:
        for kind, c in (j.kinds or {}).items():
            bucket = kinds.setdefault(kind, dict.fromkeys(COUNT_KEYS, 0))
            for k in COUNT_KEYS:
                bucket[k] += int(c.get(k, 0) or 0)
    kinds = {k: kinds[k] for k in sorted(kinds, key=lambda k: KIND_ORDER.index(k) if k in KIND_ORDER else 99)}
    return {"plans": [j.row() for j in jobs], "kinds": kinds, "totals": _totals(kinds),
            "exit_code": code, "interrupted": interrupted, "state_dir": str(state_dir),
            "count": {"plans": len(jobs), "ok": sum(j.exit_code == 0 for j in jobs),
                      "failed": sum(j.exit_code not in (0, None) for j in jobs),
                      "not_run": sum(j.exit_code is None for j in jobs)}}


def _kinds_in(jobs: list[PlanJob]) -> list[str]:
    present = {k for j in jobs for k in (j.kinds or {})}
    return [k for k in KIND_ORDER if k in present] + sorted(present - set(KIND_ORDER))


def table_rows(jobs: list[PlanJob]) -> tuple[list[str], list[list[str]]]:
    kinds = _kinds_in(jobs)
    header = (["plan", "platforms", "status", "exit"] + [KIND_LABELS.get(k, k) for k in kinds]
              + ["failed", "degraded", "duration"])
    rows = []
    for j in jobs:
        t = j.totals or _totals(j.kinds)
        status = j.status + (" (earlier)" if j.skipped else "")
        rows.append([j.name, f"{j.source or '?'} → {j.target or '?'}", status,
                     "" if j.exit_code is None else str(j.exit_code)]
                    + [str(records_of(j.kinds[k])) if k in (j.kinds or {}) else "" for k in kinds]
                    + [str(t.get("failed", 0)), str(t.get("degraded", 0)),
                       "" if j.duration_s is None else f"{j.duration_s:.1f} s"])
    return header, rows


def render_plain_table(jobs: list[PlanJob]) -> str:
    header, rows = table_rows(jobs)
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i]) for i in range(len(header))]
    left = {0, 1, 2}

    def fmt(cells):
        return "  ".join(c.ljust(widths[i]) if i in left else c.rjust(widths[i]) for i, c in enumerate(cells)).rstrip()

    lines = [fmt(header), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows]
    errors = [f"  {j.name}: {j.error}" for j in jobs if j.error]
    if errors:
        lines += ["", "errors:"] + errors
    return "\n".join(lines)


def print_table(jobs: list[PlanJob], code: int, state_dir: Path) -> None:
    footer = (f"records = created + updated + unchanged per kind; batch exit code {code}; "
              f"state, logs and reports in {state_dir}")
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        header, rows = table_rows(jobs)
        table = Table(title="hdmigrate batch", caption=footer)
        for i, h in enumerate(header):
            table.add_column(h, justify="left" if i < 3 else "right", no_wrap=i < 2)
        for j, r in zip(jobs, rows):
            style = None if j.exit_code == 0 else ("yellow" if j.exit_code == 1 else "red")
            table.add_row(*r, style=style)
        console = Console()
        console.print(table)
        for j in jobs:
            if j.error:
                console.print(f"  {j.name}: {j.error}", markup=False, highlight=False)
    else:
        click.echo(render_plain_table(jobs))
        click.echo(footer)


def write_csv(jobs: list[PlanJob], path: Path) -> None:
    kinds = _kinds_in(jobs)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["plan", "name", "source", "target", "status", "exit_code"]
               + [f"{k}_{c}" for k in kinds for c in ("records",) + COUNT_KEYS]
               + ["failed", "degraded", "duration_s", "workdir", "error"])
    for j in jobs:
        t = j.totals or _totals(j.kinds)
        cells = [str(j.path), j.name, j.source, j.target, j.status, "" if j.exit_code is None else j.exit_code]
        for k in kinds:
            c = (j.kinds or {}).get(k)
            cells += ([records_of(c)] + [int(c.get(x, 0)) for x in COUNT_KEYS]) if c else [""] * (1 + len(COUNT_KEYS))
        cells += [t.get("failed", 0), t.get("degraded", 0),
                  "" if j.duration_s is None else round(j.duration_s, 3), str(j.workdir or ""), j.error or ""]
        w.writerow(cells)
    write_private_text(path, buf.getvalue())


# -- the command ----------------------------------------------------------------------------------

@click.command()
@click.argument("plans", metavar="PLAN...", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--parallel", "-p", type=click.IntRange(1, 64), default=1, show_default=True,
              help="How many plans run at the same time (each in its own process).")
@click.option("--json", "as_json", is_flag=True,
              help="Stream JSON events on stdout (each plan's, tagged with `plan`), last a `summary`.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Also write the summary table as CSV here.")
@click.option("--state", "state_dir", type=click.Path(file_okay=False),
              help="Batch state, logs and reports (default: .hdmigrate/batch-<hash of the plan paths>). "
                   "Running the same batch again skips plans that finished and resumes the rest.")
@click.option("--workdirs", "workdirs_root", type=click.Path(file_okay=False),
              help="Put each plan's work directory under DIR/<plan name> (default: as `run` finds it).")
@click.option("--restart", is_flag=True, help="Forget the batch state: run every plan again (a delta run for finished ones).")
@click.option("--dry-run", is_flag=True, help="Dry-run every plan (nothing written).")
@click.option("--since", help="Passed to every run: only records updated since this RFC 3339 time.")
@click.option("--yes", "-y", is_flag=True, help="Accepted for symmetry with `run`; batch never prompts.")
@click.option("--no-html", is_flag=True, help="Do not write an HTML report per plan.")
def batch(plans, parallel, as_json, csv_path, state_dir, workdirs_root, restart, dry_run, since, yes, no_html):
    """Run many migrations (one work directory each); one plan's failure never stops the others.

    Prints a summary per plan (records per kind, failures, degradations, duration) and writes it
    as JSON and CSV in the state directory. Exit code: 0 when every plan exited 0, else the highest
    code among the plans.

    Example: hdmigrate batch clients/*.toml --parallel 4 --csv summary.csv
    """
    if since is not None:   # refused once, before any plan runs (each run would refuse it too)
        from .errors import ConfigError
        from .plan import parse_since
        try:
            since = parse_since(since, "--since")
        except ConfigError as e:
            raise click.UsageError(str(e)) from None
    paths = [Path(p).expanduser().resolve() for p in plans]
    dupes = {p for p in paths if paths.count(p) > 1}
    if dupes:
        raise click.UsageError(f"plan given more than once: {', '.join(sorted(map(str, dupes)))}")
    state_path = Path(state_dir).expanduser().resolve() if state_dir else default_state_dir(paths)
    private_dir(state_path)
    state = BatchState(state_path, "dry-run" if dry_run else "run")
    if restart:
        state.data["plans"] = {}
    emitter = Emitter(as_json)
    jobs = prepare_jobs(paths, Path(workdirs_root).expanduser().resolve() if workdirs_root else None)
    emitter.event("batch_started", plans=[j.name for j in jobs], parallel=parallel, state_dir=str(state_path))

    to_run = []
    for job in jobs:
        if job.exit_code is not None:          # could not be loaded: reported, never run
            state.save(job)
            emitter.event("plan_finished", **_plan_event(job))
            if not as_json:
                emitter.say(f"✗ {job.name}: exit {job.exit_code} — {job.error}")
            continue
        before = state.finished_before(job)
        if before:
            job.status, job.exit_code, job.skipped = "finished", before["exit_code"], True
            job.kinds, job.totals = before.get("kinds") or {}, before.get("totals") or {}
            job.duration_s, job.error = before.get("duration_s"), before.get("error")
            job.started_at, job.finished_at = before.get("started_at"), before.get("finished_at")
            job.log = Path(before["log"]) if before.get("log") else None
            job.events = Path(before["events"]) if before.get("events") else None
            job.html_report = Path(before["html_report"]) if before.get("html_report") else None
            emitter.event("plan_skipped", plan=job.name, path=str(job.path), exit_code=job.exit_code,
                          reason="finished in an earlier run of this batch")
            if not as_json:
                emitter.say(f"= {job.name}: finished earlier (exit {job.exit_code}), skipped")
            continue
        to_run.append(job)

    runner = Runner(jobs, state, emitter, dry_run=dry_run, since=since, html=not no_html)
    interrupted = False
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_term)
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="hdm-batch")
    try:
        futures = [pool.submit(runner.run_one, job) for job in to_run]
        try:
            for fut in as_completed(futures):
                fut.result()
        except KeyboardInterrupt:
            interrupted = True
            emitter.say("interrupted: stopping the running plans (they resume when the batch runs again)")
            runner.stop()
            for fut in futures:
                fut.cancel()
            while True:   # let the running children finish their clean exit (code 4)
                try:
                    pool.shutdown(wait=True, cancel_futures=True)
                    break
                except KeyboardInterrupt:
                    runner.stop()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous)

    code = batch_exit_code(jobs, interrupted)
    doc = summary_doc(jobs, code, state_path, interrupted)
    write_private_text(state_path / "summary.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    write_csv(jobs, state_path / "summary.csv")
    if csv_path:
        write_csv(jobs, Path(csv_path))
    if as_json:
        emitter.event("summary", **doc)
    else:
        print_table(jobs, code, state_path)
    sys.exit(code)
