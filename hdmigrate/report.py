"""Events of a run and how they are shown: JSON lines on stdout (`--json`), a rich progress display
or plain lines on stderr otherwise; and the rendering of a finished run (`hdmigrate report`)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from xml.sax.saxutils import escape, quoteattr

from .errors import ConfigError
from .printable import json_printable, printable


def _time() -> str:
    # "%Y-%m-%dT%H:%M:%S.%fZ", as isoformat writes it (strftime cost a run a second per 100,000 events)
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")[:-6] + "Z"


class Reporter:
    """Receives every event of a run. Subclasses decide how to show them."""

    def event(self, name: str, **fields) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class CollectingReporter(Reporter):
    """Keeps events in memory (tests, the wizard, batch)."""

    def __init__(self):
        self.events: list[dict] = []
        self.messages: list[str] = []

    def event(self, name, **fields):
        self.events.append({"event": name, **fields})

    def message(self, text):
        self.messages.append(text)


class JsonLinesReporter(Reporter):
    """One JSON object per line on stdout, each with `event` and `time`; messages go to stderr."""

    def __init__(self, out=None, err=None):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.reader_gone = False

    def event(self, name, **fields):
        if self.reader_gone:
            return
        try:
            self.out.write(json_printable(json.dumps({"event": name, "time": _time(), **fields}, ensure_ascii=False)) + "\n")
            self.out.flush()
        except BrokenPipeError:
            # Whoever read the events is gone (a killed batch or pipeline): stop as if interrupted,
            # so the run is recorded as interrupted and resumes with the same command.
            self.reader_gone = True
            _stdout_to_devnull(self.out)
            if threading.current_thread() is threading.main_thread():
                raise KeyboardInterrupt from None
            signal.raise_signal(signal.SIGINT)

    def message(self, text):
        self.err.write(printable(text) + "\n")
        self.err.flush()


def _stdout_to_devnull(stream) -> None:
    """Point a broken stream at /dev/null, so the flush at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


class ConsoleReporter(Reporter):
    """Progress bars with counts and ETA on a terminal; plain lines (at most every few seconds)
    when stderr is not a terminal. Failures are printed as they happen, one line each."""

    def __init__(self, err=None, *, verbose_failures: int = 20):
        self.err = err or sys.stderr
        self.tty = hasattr(self.err, "isatty") and self.err.isatty()
        self.progress = None
        self.tasks: dict[tuple, int] = {}
        self.last_plain: dict[tuple, float] = {}
        self.failures_shown = 0
        self.verbose_failures = verbose_failures
        if self.tty:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
            self.console = Console(file=self.err)
            self.progress = Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                     console=self.console, transient=False)
            self.progress.start()

    def message(self, text):
        text = printable(text)  # failure reasons and subjects come from the source
        if self.progress:
            self.progress.console.print(text, markup=False, highlight=False)
        else:
            self.err.write(text + "\n")
            self.err.flush()

    def event(self, name, **f):
        if name == "step_started":
            self.message(f"▶ {f['step']}")
        elif name == "progress":
            key = (f["step"], f.get("kind"))
            label = f"{f['step']} {f.get('kind') or ''}".strip()
            if self.progress:
                if key not in self.tasks:
                    self.tasks[key] = self.progress.add_task(label, total=f.get("total"))
                self.progress.update(self.tasks[key], completed=f["done"], total=f.get("total"))
            else:
                now = time.monotonic()
                final = f.get("total") is not None and f["done"] >= f["total"]
                if final or now - self.last_plain.get(key, 0) >= 5:
                    self.last_plain[key] = now
                    total = f"/{f['total']}" if f.get("total") is not None else ""
                    self.message(f"  {label}: {f['done']}{total}")
        elif name == "record_failed":
            self.failures_shown += 1
            if self.failures_shown <= self.verbose_failures:
                self.message(f"  ✗ {f['kind']} {f['id']}: {f['reason']}")
            elif self.failures_shown == self.verbose_failures + 1:
                self.message("  … more failures: see `hdmigrate report`")
        elif name == "step_finished":
            counts = f.get("counts") or {}
            text = ", ".join(f"{k} {v}" for k, v in counts.items() if not isinstance(v, dict))
            self.message(f"✓ {f['step']}" + (f" ({text})" if text else ""))

    def close(self):
        if self.progress:
            self.progress.stop()
            self.progress = None


# -- rendering a finished run --------------------------------------------------------------------

def collect(store, run_id: int | None = None) -> dict:
    """The outcome of one run as one JSON-able document: run `run_id`, by default the newest
    migration run (a later dry run, failed or not, does not hide what the migration did; with
    only dry runs, the newest of them). `runs` lists every run of the work directory and
    `cumulative` adds up the migration runs (the first one and every delta run)."""
    if run_id is not None:
        run = store.run(run_id)
        if run is None:
            ids = ", ".join(str(r["id"]) for r in store.runs()) or "none yet"
            raise ConfigError(f"{store.workdir}: there is no run {run_id} (runs: {ids})")
    else:
        run = store.last_run(dry_run=False) or store.last_run()
    if run is None:
        return {"run": None, "summary": {}, "failures": [], "degradations": [], "runs": [], "cumulative": None}
    failures = store.failures(run["id"])
    degradations = [d for d in store.degradations() if d["run_id"] == run["id"]]
    return {
        "run": {k: run[k] for k in ("id", "started_at", "finished_at", "status", "dry_run", "exit_code", "since")},
        "steps": [{k: s[k] for k in ("step", "status", "started_at", "finished_at", "counts")}
                  for s in store.steps(run["id"])],
        "summary": run.get("summary") or {},
        "failures": failures,
        "degradations": degradations,
        "verify": store.get_state("verify_report"),
        "runs": [_run_line(r) for r in store.runs()],
        "cumulative": cumulative(store),
    }


def _run_line(run: dict) -> dict:
    line = {k: run[k] for k in ("id", "dry_run", "status", "exit_code", "started_at", "finished_at", "since")}
    line["dry_run"] = bool(line["dry_run"])
    line["totals"] = (run.get("summary") or {}).get("totals")
    return line


def cumulative(store) -> dict | None:
    """Where the target stands after every migration run together: what the runs created,
    matched and updated (summed: each record is created once, re-runs never duplicate), what is
    still failed now and how many written records carry a recorded loss (each record once), and
    what a rollback removed since. None before the first migration run."""
    runs = [r for r in store.runs() if not r["dry_run"]]
    if not runs:
        return None
    kinds: dict[str, dict[str, int]] = {}

    def add(kind: str, key: str, n: int) -> None:
        bucket = kinds.setdefault(kind, dict.fromkeys(CUMULATIVE_KEYS, 0))
        bucket[key] = bucket.get(key, 0) + n

    for run in runs:
        for kind, counts in ((run.get("summary") or {}).get("kinds") or {}).items():
            for key in ("created", "matched", "updated"):
                add(kind, key, int(counts.get(key) or 0))
    states = {"failed": "failed", "rolled_back": "rolled_back"}
    for kind, by_state in store.id_map_counts().items():
        for state, key in states.items():
            if by_state.get(state):
                add(kind, key, by_state[state])
    for kind, n in store.degraded_done_counts():
        add(kind, "degraded", n)
    totals = {key: sum(c.get(key, 0) for c in kinds.values()) for key in CUMULATIVE_KEYS}
    return {"runs": [r["id"] for r in runs], "kinds": kinds, "totals": totals}


CUMULATIVE_KEYS = ("created", "matched", "updated", "failed", "degraded", "rolled_back")


def _runs_text(doc: dict) -> list[str]:
    """Which run is shown among the others, and the migration runs added up."""
    runs, run = doc.get("runs") or [], doc["run"]
    lines = []
    # Degradations are kept once per record, under the newest run that met them (a later dry run
    # included): say so instead of listing fewer than this run's count without a word.
    counted = int(((doc.get("summary") or {}).get("totals") or {}).get("degraded") or 0)
    listed = len({(d["kind"], d["id"]) for d in doc.get("degradations") or []})
    if listed < counted:
        later = [str(r["id"]) for r in runs if r["id"] > run["id"]]
        lines.append(f"({counted - listed} of the {counted} degraded records of this run were met again by a later run"
                     + (f" ({', '.join(later)}) and are listed under it" if later else "") + ")")
    others = [r for r in runs if r["id"] != run["id"]]
    if others:
        lines.append("Other runs (show one with --run N): " + "; ".join(
            f"{r['id']} {'dry run' if r['dry_run'] else 'migration'} {r['status']}"
            + (f" exit {r['exit_code']}" if r["exit_code"] is not None else "") for r in others))
    cum = doc.get("cumulative")
    if cum and len(cum["runs"]) > 1:
        keys = [k for k in CUMULATIVE_KEYS if k in ("created", "updated", "failed", "degraded") or cum["totals"].get(k)]
        label = {"failed": "still failed", "rolled_back": "rolled back"}
        lines.append(f"\nAll migration runs together (runs {', '.join(map(str, cum['runs']))}):")
        lines.append(f"{'kind':<22}" + "".join(f"{label.get(k, k):>13}" for k in keys))
        for kind, c in cum["kinds"].items():
            lines.append(f"{kind:<22}" + "".join(f"{c.get(k, 0):>13}" for k in keys))
    return lines


def render_text(doc: dict) -> str:
    run = doc.get("run")
    if not run:
        return "No run yet in this work directory."
    lines = [f"Run {run['id']} ({'dry run' if run['dry_run'] else 'migration'}): {run['status']}, "
             f"exit code {run['exit_code']}, {run['started_at']} → {run['finished_at'] or '…'}"]
    kinds = (doc.get("summary") or {}).get("kinds") or {}
    if kinds:
        cols = ("created", "matched", "updated", "unchanged", "failed", "degraded")
        lines.append(f"{'kind':<22}" + "".join(f"{c:>11}" for c in cols))
        for kind, c in kinds.items():
            lines.append(f"{kind:<22}" + "".join(f"{c.get(k, 0):>11}" for k in cols))
    lines += _runs_text(doc)
    for info in ((doc.get("summary") or {}).get("source_info") or {}).values():
        if isinstance(info, dict) and info.get("summary"):
            lines.append(f"source: {info['summary']}")
    if doc["failures"]:
        lines.append(f"\nFailures ({len(doc['failures'])}):")
        for f in doc["failures"]:
            field = f" [{f['field']}]" if f.get("field") else ""
            lines.append(f"  {f['kind']} {f['id']}{field} ({f['step']}): {f['reason']}")
    if doc["degradations"]:
        lines.append(f"\nDegradations ({len(doc['degradations'])}):")
        by_code: dict[str, int] = {}
        for d in doc["degradations"]:
            by_code[d["code"]] = by_code.get(d["code"], 0) + 1
        for code, n in sorted(by_code.items()):
            lines.append(f"  {code}: {n} records")
        for d in doc["degradations"][:50]:
            lines.append(f"  {d['kind']} {d['id']} {d['field']}: {d['code']} {d['detail'] or ''}".rstrip())
        if len(doc["degradations"]) > 50:
            lines.append(f"  … {len(doc['degradations']) - 50} more (see --format json)")
    return printable("\n".join(lines))


def render_junit(doc: dict) -> str:
    """JUnit XML: one test case per failed record (so CI shows them), plus one passing case per kind."""
    failures = doc.get("failures") or []
    kinds = ((doc.get("summary") or {}).get("kinds") or {})
    cases = []
    for f in failures:
        name = f"{f['kind']} {f['id']}"
        cases.append(f'  <testcase classname={quoteattr("hdmigrate." + f["kind"])} name={quoteattr(name)}>\n'
                     f'    <failure message={quoteattr(f["reason"])}>{escape(f["step"] + ": " + f["reason"])}</failure>\n'
                     f'  </testcase>')
    for kind, c in kinds.items():
        cases.append(f'  <testcase classname="hdmigrate.kinds" name={quoteattr(kind)}>'
                     f'<system-out>{escape(json.dumps(c))}</system-out></testcase>')
    total = len(cases)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<testsuite name="hdmigrate" tests="{total}" failures="{len(failures)}" errors="0">\n'
            + "\n".join(cases) + "\n</testsuite>\n")
