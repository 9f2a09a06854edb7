"""The Dask executor: each plan of a batch is one task on a Dask distributed cluster
(`hdmigrate batch PLANS… --executor dask --scheduler tls://HOST:8786`; docs/batch.md).

Why Dask distributed (docs/design.md): it is an existing, maintained engine that already does
what a portfolio needs — a scheduler that reschedules the tasks of a lost worker, task keys that
make a resubmission the same task, cluster-wide semaphores, TLS between all parties, and ready
deployments (one machine, ssh, Kubernetes through dask-kubernetes or the Helm chart).

A task (`run_plan_task`, on a worker) runs the same `hdmigrate run PLAN --yes --json` child the
local pool runs, with the worker's own environment: the plan's `*_env` secrets come from there,
never from the task's arguments, which hold the plan's path, work directory, name and options
only. Around that run the task
- takes one cluster-wide `distributed.Semaphore` (one lease) per account of the plan (adapter +
  URL), in sorted order: two plans that share an account never run at once;
- waits (not fails) while the work directory is locked by another copy of the run — a worker
  thought lost but still finishing, or the run of a killed worker stopping itself — and then
  runs, which resumes where that copy stopped;
- runs again on exit 3 (fatal API error) or 4 (interrupted), at most `retries` times, after
  `retry_delay` seconds; 0, 1, 2 and 5 are final;
- stops its run (exit 4, resumable) when the batch is interrupted (a cluster-wide Event).
A worker lost mid-run (kill -9) is the scheduler's business: it gives the task to another worker,
whose run resumes from the shared work directory (the lost worker's child stops itself, as it
watches its parent, and the lock keeps the two apart meanwhile).
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import threading
import time

import distributed

from .batch_child import last_error, run_child, run_command, terminate
from .times import now_text

TOPIC = "hdmigrate-batch"
RETRIED_CODES = (3, 4)
BUSY_WAIT_S = 6 * 3600.0       # how long a task waits for another copy of its run to let go
STOP_WAIT_S = 120.0            # how long an interrupted batch waits for its running plans to stop
MAX_EVENTS = 20_000            # events of a run returned to the batch (progress lines left out)
STDERR_TAIL = 256 * 1024


def _digest(text: str, n: int = 16) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def task_key(job, dry_run: bool, since: str | None) -> str:
    """Derived from the plan (path, content, work directory) and the run's options: the same
    plan submitted again is the same task, which the scheduler never runs twice at once."""
    from .batch import safe_name

    ident = "\n".join([str(job.path), job.plan_sha256 or "", str(job.workdir), "dry-run" if dry_run else "run",
                       since or ""])
    return f"hdmigrate-run-{safe_name(job.name)}-{_digest(ident)}"


def semaphore_name(account: str) -> str:
    return f"hdmigrate-account-{_digest(account)}"


def next_step(code: int, error: str | None, busy: bool, attempt: int, retries: int, stopping: bool) -> str:
    """After a run: "wait" (its work directory is held by another copy: wait, then run; not an
    attempt), "retry" (exit 3 or 4 with retries left), or "done"."""
    if stopping:
        return "done"
    if code == 2 and (busy or "is in use by" in (error or "")):
        return "wait"
    if code in RETRIED_CODES and attempt <= retries:
        return "retry"
    return "done"


def _stopping(stop) -> bool:
    """Whether the batch was interrupted; a scheduler briefly out of reach is no stop."""
    try:
        return bool(stop.is_set())
    except Exception:  # noqa: BLE001 - asked again at the next occasion
        return False


def _pause(stop, seconds: float) -> bool:
    """Sleep up to `seconds`; True as soon as the batch is interrupted. Polls `is_set` (a
    cancelled `Event.wait` is logged as an error on the scheduler)."""
    end = time.monotonic() + seconds
    while True:
        if _stopping(stop):
            return True
        left = end - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(1.0, left))


def workdir_busy(workdir: str) -> bool:
    from . import workdir_lock
    from .errors import HdmError

    try:
        workdir_lock.acquire(workdir)
    except workdir_lock.WorkdirBusy:
        return True
    except HdmError:
        return False             # not created yet: nobody holds it
    workdir_lock.release(workdir)
    return False


# -- on the worker --------------------------------------------------------------------------------

def run_plan_task(spec: dict) -> dict:
    """One plan, on a Dask worker (see the module's docstring). Returns what the batch needs for
    its summary: exit code, the run's summary event, worker, attempts, times, stderr and events."""
    worker = distributed.get_worker()
    me = str(worker.name) if worker.name is not None else worker.address
    if me.isdigit() or me == worker.address:
        me = f"{socket.gethostname()}:{worker.address.rsplit(':', 1)[-1]}"

    def publish(event: str, **fields) -> None:
        # (log_event sets "worker" to the worker's address: the name travels as "ran_on")
        worker.log_event(TOPIC, {"batch": spec["batch"], "key": spec["key"], "event": event, "ran_on": me, **fields})

    stop = distributed.Event(spec["stop_event"])
    out = {"worker": me, "host": socket.gethostname(), "pid": os.getpid(), "attempts": 0,
           "started_at": now_text(), "events": [], "stderr": "", "summary": None}
    held = []
    try:
        for account in spec["accounts"]:      # sorted by the batch: no two tasks wait on each other
            sem = distributed.Semaphore(max_leases=1, name=semaphore_name(account))
            if not sem.acquire(timeout=0):
                publish("plan_waiting", account=account,
                        reason="account in use (by another plan, or by a lost worker until its lease times out)")
                while not sem.acquire(timeout=5):
                    if _stopping(stop):
                        return _final(out, 4, "the batch was interrupted before this plan ran")
            held.append(sem)
        if _stopping(stop):
            return _final(out, 4, "the batch was interrupted before this plan ran")
        return _run_with_retries(spec, stop, publish, out)
    finally:
        for sem in reversed(held):
            try:
                sem.release()
            except Exception:  # noqa: BLE001 - a lease the scheduler already dropped
                pass


def _final(out: dict, code: int, error: str | None) -> dict:
    out.update(exit_code=code, error=error, finished_at=now_text())
    return out


def _run_with_retries(spec: dict, stop, publish, out: dict) -> dict:
    start = time.monotonic()
    out["started_at"] = now_text()        # after the account semaphores: when the plan really began
    busy_until = None
    while True:
        publish("plan_started", attempt=out["attempts"] + 1)
        code, summary, stderr, events = _run_once(spec, stop)
        error = (summary or {}).get("error") or (last_error(stderr) if code not in (0, 1) else None)
        busy = code == 2 and workdir_busy(spec["workdir"])
        step = next_step(code, error, busy, out["attempts"] + 1, spec["retries"], _stopping(stop))
        if step == "wait":
            busy_until = busy_until or time.monotonic() + spec.get("busy_wait", BUSY_WAIT_S)
            publish("plan_waiting", reason=error)
            while workdir_busy(spec["workdir"]) and time.monotonic() < busy_until:
                if _pause(stop, 1):
                    break
            if _stopping(stop):
                out.update(duration_s=time.monotonic() - start, stderr=stderr[-STDERR_TAIL:])
                return _final(out, 4, "the batch was interrupted while this plan waited for its work directory")
            if time.monotonic() >= busy_until:
                out.update(duration_s=time.monotonic() - start, stderr=stderr[-STDERR_TAIL:])
                return _final(out, 2, f"{error} (still, after waiting {spec.get('busy_wait', BUSY_WAIT_S):.0f} s)")
            continue
        out["attempts"] += 1
        out["events"] = (out["events"] + events)[-MAX_EVENTS:]
        out.update(summary=summary, stderr=stderr[-STDERR_TAIL:], duration_s=time.monotonic() - start)
        if step == "retry":
            publish("plan_retrying", exit_code=code, error=error, attempt=out["attempts"] + 1)
            if not _pause(stop, spec["retry_delay"]):
                continue
        return _final(out, code, summary.get("error") if summary else error)


def _run_once(spec: dict, stop) -> tuple[int, dict | None, str, list]:
    events: list[dict] = []
    procs: list = []
    done = threading.Event()

    def watch_stop():           # the batch was interrupted: stop the run cleanly (exit 4)
        while not done.wait(2):
            if _stopping(stop):
                if procs:
                    terminate(procs[0])
                return

    def keep(ev: dict) -> None:
        if ev.get("event") != "progress" and len(events) < MAX_EVENTS:
            events.append(ev)

    cmd = run_command(spec["plan"], spec["workdir"], dry_run=spec["dry_run"], since=spec["since"])
    watcher = threading.Thread(target=watch_stop, daemon=True, name="hdm-stop-watch")
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err:
        watcher.start()
        try:
            code, summary = run_child(cmd, err, on_event=keep, on_start=procs.append)
        finally:
            done.set()
        err.seek(0)
        stderr = err.read()
    return code, summary, stderr, events


# -- in the batch ---------------------------------------------------------------------------------

class DaskExecutor:
    name = "dask"
    parallel = None              # the cluster's threads decide

    def __init__(self, address: str, *, retries: int = 2, retry_delay: float = 30.0,
                 busy_wait: float = BUSY_WAIT_S, connect_timeout: float = 30.0):
        self.address = address
        self.retries = retries
        self.retry_delay = retry_delay
        self.busy_wait = busy_wait
        self.connect_timeout = connect_timeout

    def spec(self, job, runner, batch: str) -> dict:
        """A task's arguments: paths and options, never a secret (the worker has its own)."""
        return {"plan": str(job.path), "workdir": str(job.workdir), "name": job.name,
                "key": task_key(job, runner.dry_run, runner.since), "batch": batch,
                "dry_run": runner.dry_run, "since": runner.since, "accounts": list(job.accounts),
                "retries": self.retries, "retry_delay": self.retry_delay, "busy_wait": self.busy_wait,
                "stop_event": f"hdmigrate-stop-{batch}"}

    def run(self, jobs: list, runner) -> bool:
        if not jobs:
            return False
        try:
            client = distributed.Client(self.address, timeout=self.connect_timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            for job in jobs:
                job.error = f"cannot reach the Dask scheduler at {self.address}: {e.__class__.__name__}: {e}"
                runner.finish(job, 3, None)
            return False
        batch = _digest(str(runner.state.dir), 12)
        by_key = {}
        try:
            stop = distributed.Event(f"hdmigrate-stop-{batch}", client=client)
            stop.clear()                       # left set by an interrupted run of this batch
            client.subscribe_topic(TOPIC, lambda event: self._on_event(event, batch, by_key, runner))
            futures = {}
            for job in jobs:
                runner.begin(job, announce=False)
                spec = self.spec(job, runner, batch)
                by_key[spec["key"]] = job
                futures[client.submit(run_plan_task, spec, key=spec["key"], pure=False)] = job
            return self._collect_all(futures, runner, stop)
        except Exception as e:  # noqa: BLE001 - the cluster failed the batch: every open plan says why
            for job in jobs:
                if job.exit_code is None:
                    job.error = f"the Dask cluster failed this batch: {e.__class__.__name__}: {e}"
                    runner.finish(job, 3, None)
            return False
        finally:
            try:
                client.unsubscribe_topic(TOPIC)
            except Exception:  # noqa: BLE001 - closing anyway
                pass
            client.close()

    def _collect_all(self, futures: dict, runner, stop) -> bool:
        pending = set(futures)
        loop = next(iter(futures)).client.loop
        try:
            for fut in distributed.as_completed(list(futures), loop=loop):
                pending.discard(fut)
                self._collect(fut, futures[fut], runner)
            return False
        except KeyboardInterrupt:
            runner.emit.say("interrupted: stopping the running plans (they resume when the batch runs again)")
            stop.set()
            try:
                for fut in distributed.as_completed(list(pending), loop=loop, timeout=STOP_WAIT_S):
                    pending.discard(fut)
                    self._collect(fut, futures[fut], runner)
            except (KeyboardInterrupt, TimeoutError, distributed.TimeoutError):
                pass
            for fut in pending:
                fut.cancel()
            return True

    def _on_event(self, event, batch: str, by_key: dict, runner) -> None:
        _, msg = event
        if not isinstance(msg, dict) or msg.get("batch") != batch or msg.get("key") not in by_key:
            return
        job = by_key[msg["key"]]
        fields = {k: v for k, v in msg.items() if k not in ("batch", "key", "event", "worker", "ran_on")}
        fields["worker"] = msg.get("ran_on")
        if msg.get("event") == "plan_started":
            job.worker = fields["worker"]
            runner.announce(job, **fields)
        else:
            runner.emit.event(msg.get("event", "plan_event"), plan=job.name, **fields)
            if not runner.emit.as_json:
                runner.emit.say(f"… {job.name}: {msg.get('event')} on {fields['worker']}: "
                                f"{msg.get('reason') or msg.get('error') or msg.get('account') or ''}")

    def _collect(self, fut, job, runner) -> None:
        """A finished task into the batch: the job's outcome, its logs, its events; or the
        cluster's reason it has none."""
        from .private_files import open_private

        summary, stderr = None, ""
        try:
            result = fut.result()
        except distributed.KilledWorker:
            code, job.error = 4, ("the workers running this plan were lost too often (Dask's "
                                  "distributed.scheduler.allowed-failures); run the batch again to resume it")
        except (distributed.client.FutureCancelledError, distributed.CancelledError):
            code, job.error = 4, "cancelled on the cluster; run the batch again to resume it"
        except Exception as e:  # noqa: BLE001 - one plan's trouble never stops the batch
            code, job.error = 3, f"the task failed on the cluster: {e.__class__.__name__}: {e}"
        else:
            code, summary, stderr = result["exit_code"], result.get("summary"), result.get("stderr", "")
            job.worker, job.attempts = result.get("worker"), result.get("attempts")
            job.started_at, job.finished_at = result.get("started_at"), result.get("finished_at")
            job.duration_s = result.get("duration_s")
            if summary is None and result.get("error"):
                job.error = result["error"]
            with open_private(job.events, "a", encoding="utf-8") as f:
                for ev in result.get("events", []):
                    f.write(_json_line(ev))
                    runner.emit.forward(job.name, ev)
        with open_private(job.log, "w", encoding="utf-8") as f:
            f.write(stderr)
        job.finished_at = job.finished_at or now_text()
        runner.finish(job, code, summary, stderr)


def _json_line(ev: dict) -> str:
    import json

    return json.dumps(ev, ensure_ascii=False) + "\n"
