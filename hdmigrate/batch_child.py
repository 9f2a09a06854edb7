"""One plan of a batch as its own `hdmigrate run PLAN --yes --json` process, for every executor:
the local pool runs it from a thread of the batch, the Dask executor from a task on a worker.

A child process (not the engine in the caller's process) keeps each plan's crash, memory and
signal handling to itself, and makes a lost parent harmless: the child watches the pid given in
HDMIGRATE_BATCH_PID and interrupts itself (exit 4, resumable) when that process is gone, so a
kill -9 of a batch or of a Dask worker never leaves a run holding its work directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable, TextIO

RUN = [sys.executable, "-c", "from hdmigrate.commands.cli import main; main()", "run"]


def run_command(plan: Path | str, workdir: Path | str | None, *, dry_run: bool, since: str | None) -> list[str]:
    cmd = RUN + [str(plan), "--yes", "--json"]
    if workdir:
        cmd += ["--workdir", str(workdir)]
    if dry_run:
        cmd.append("--dry-run")
    if since:
        cmd += ["--since", since]
    return cmd


def child_env(base: dict | None = None) -> dict:
    """The caller's own environment (where the plan's `*_env` secrets come from), unbuffered, and
    the pid the child watches."""
    return dict(os.environ if base is None else base, PYTHONUNBUFFERED="1", HDMIGRATE_BATCH_PID=str(os.getpid()))


def run_child(cmd: list[str], stderr: TextIO, events: TextIO | None = None, *,
              on_event: Callable[[dict], None] | None = None,
              on_start: Callable[[subprocess.Popen], None] | None = None) -> tuple[int, dict | None]:
    """Run one `run --json` child to its end: its stderr into `stderr`, each stdout line into
    `events`, each event but the summary to `on_event`. Returns (exit code, summary event);
    a child killed by a signal counts as interrupted (4, resumable)."""
    summary = None
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                            env=child_env(), text=True, encoding="utf-8", errors="replace",
                            start_new_session=True)
    if on_start:
        on_start(proc)
    for line in proc.stdout:
        if events is not None:
            events.write(line)
        try:
            ev = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(ev, dict):
            continue
        if ev.get("event") == "summary":
            summary = ev
        elif on_event:
            on_event(ev)
    code = proc.wait()
    if code < 0:
        return 4, summary
    if summary is not None and isinstance(summary.get("exit_code"), int) and code == 0:
        code = summary["exit_code"]
    return code, summary


def terminate(proc: subprocess.Popen) -> None:
    """SIGTERM: the child's engine turns it into a clean interruption (exit 4, resumable)."""
    try:
        proc.send_signal(signal.SIGTERM)
    except (ProcessLookupError, OSError):
        pass


def last_error(text: str) -> str | None:
    """The `error: …` line a failed run printed last (else its last line)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("error:"):
            return ln[len("error:"):].strip()
    return lines[-1][:500] if lines else None
