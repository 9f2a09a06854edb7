"""A real Dask cluster on loopback — `dask scheduler` and two `dask worker` processes — runs a
batch of jsonl → Freshdesk-sandbox plans; one worker is killed with -9 while its runs are under
way. Every plan completes (the scheduler gives the lost worker's tasks to the other, whose runs
resume from the shared work directories), each ticket is in its target exactly once, the summary
says where each plan finally ran, and no secret (the workers' Freshdesk key) is in any task or
in the scheduler's state. The batch process itself has no secret at all.

Slow (about a minute on a small machine): `python -m pytest tests/test_batch_dask_kill.py -m slow -s`
prints the figures (plans, workers, worker killed at, wall time, duplicates found)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")

from hdmigrate.testing.sample import write_dump  # noqa: E402
from hdmigrate.testing.sandbox import find_free_port  # noqa: E402
from tests.test_batch import CLI, jsonl, sandbox_maker, section  # noqa: E402
from tests.test_batch_dask import FAST, StateWatch, batch_env  # noqa: E402

PLANS, TICKETS = 4, 250
KEY_ENV = "HDM_DASK_KILL_FD_KEY"
# short semaphore leases: the lost worker's account lease is given back within seconds
DASK_ENV = {"DASK_DISTRIBUTED__SCHEDULER__LOCKS__LEASE_TIMEOUT": "5s",
            "DASK_DISTRIBUTED__SCHEDULER__LOCKS__LEASE_VALIDATION_INTERVAL": "1s"}


def _dask(*args, env) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("dask")
    return subprocess.Popen([str(exe), *args], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _wait_workers(address: str, n: int) -> None:
    with distributed.Client(address, set_as_default=False, timeout=60) as client:
        client.wait_for_workers(n, timeout=120)


@pytest.mark.slow
def test_kill_9_of_a_worker_mid_run_loses_and_duplicates_nothing(tmp_path):
    make_fd = sandbox_maker("freshdesk")
    if not make_fd:
        pytest.skip("needs the Freshdesk sandbox")
    from adapters.freshdesk.sandbox import API_KEY

    sandboxes, plans = [], []
    for i in range(PLANS):
        name = f"client{i + 1}"
        write_dump(tmp_path / "dumps" / name, tickets=TICKETS, comments_per_ticket=3, attachments=2, seed=80 + i)
        box = make_fd(seed=90 + i).start()
        sandboxes.append(box)
        path = tmp_path / "shared" / f"{name}.toml"      # plans and work directories: the shared volume
        path.parent.mkdir(exist_ok=True)
        path.write_text(jsonl("source", tmp_path / "dumps" / name)
                        + section("target", {**box.plan_section, "api_key_env": KEY_ENV}) + FAST, encoding="utf-8")
        plans.append(path)

    port = find_free_port()
    address = f"tcp://127.0.0.1:{port}"
    base = {**batch_env(), **DASK_ENV}
    procs = [_dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard", env=base)]
    workers = {}
    try:
        for name in ("w1", "w2"):
            workers[name] = _dask("worker", address, "--name", name, "--nthreads", "2", "--no-nanny",
                                  "--host", "127.0.0.1", "--no-dashboard", env={**base, KEY_ENV: API_KEY})
            procs.append(workers[name])
        _wait_workers(address, 2)
        watcher = distributed.Client(address, set_as_default=False)
        started = time.monotonic()
        with StateWatch(watcher) as watch:
            batch = subprocess.Popen(CLI + ["batch", *map(str, plans), "--executor", "dask", "--scheduler", address,
                                            "--json", "--no-html", "--retries", "2", "--retry-delay", "1",
                                            "--workdirs", str(tmp_path / "shared" / "work"),
                                            "--state", str(tmp_path / "state")],
                                     cwd=tmp_path, env=base, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
            # kill -9 of w1 once its runs are under way: a run child of w1 whose target has tickets
            victim = psutil.Process(workers["w1"].pid)
            killed_at, mid_run = None, []
            while killed_at is None and batch.poll() is None and time.monotonic() - started < 300:
                runs = [c for c in victim.children() if "run" in c.cmdline()]
                for child in runs:
                    plan = next(p for p in plans if str(p) in child.cmdline())
                    count = sandboxes[plans.index(plan)].store.count("ticket")
                    if 10 <= count < TICKETS:
                        mid_run.append((plan.stem, count))
                if mid_run:
                    orphans = runs
                    os.kill(victim.pid, signal.SIGKILL)
                    killed_at = time.monotonic() - started
                    break
                time.sleep(0.1)
            if killed_at is None:
                batch.kill()
                o, e = batch.communicate()
                pytest.fail(f"w1 never got a run under way: {batch.returncode} {o[-2000:]} {e[-3000:]}")
            out, err = batch.communicate(timeout=600)
        wall = time.monotonic() - started
        watcher.close()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for box in sandboxes:
            box.stop()

    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    summary = events[-1]
    assert summary["event"] == "summary", err[-3000:]
    rows = {r["name"]: r for r in summary["plans"]}
    assert batch.returncode == 0 and all(r["exit_code"] == 0 for r in rows.values()), (rows, err[-3000:])
    duplicates = 0
    for plan, box in zip(plans, sandboxes):
        stamps = [tag for t in box.store.all("ticket") for tag in t["tags"] if tag.startswith("hdm-")]
        duplicates += len(stamps) - len(set(stamps))
        assert len(set(stamps)) == box.store.count("ticket") == TICKETS, plan.stem
    assert duplicates == 0
    for name, _ in mid_run:                      # finished on the worker that survived
        assert rows[name]["worker"] == "w2", rows[name]
    assert {r["worker"] for r in rows.values()} <= {"w1", "w2"}
    psutil.wait_procs(orphans, timeout=30)
    assert not any(c.is_running() for c in orphans), "a run of the killed worker kept going"
    seen = b"\n".join(watch.dumps)
    assert str(plans[0]).encode() in seen and API_KEY.encode() not in seen
    assert API_KEY not in out + err
    print(f"\ndask kill -9: {PLANS} plans x {TICKETS} tickets, 2 workers (w1, w2), w1 killed at {killed_at:.1f} s "
          f"with {mid_run} mid-run, wall time {wall:.1f} s, duplicates found: {duplicates}, "
          f"scheduler states inspected: {len(watch.dumps)}; where each plan ran: "
          f"{ {n: (r['worker'], r['attempts']) for n, r in rows.items()} }; waits: "
          f"{[(e['plan'], e.get('reason') or e.get('account')) for e in events if e['event'] == 'plan_waiting']}")
