"""`hdmigrate batch --executor dask`: each plan one task on a Dask cluster (here a LocalCluster of
two worker processes on loopback), the same summary as the local pool plus the worker, each
ticket exactly once, the task key derived from the plan, plans sharing an account one at a time,
exit 3/4 retried and 0/1/2 final, a locked work directory waited for, no secret in any task.

The workers get the plans' secrets in their own environment; the batch process has none of them.
The multi-process run (real `dask scheduler` and `dask worker` processes, one killed with -9) is
tests/test_batch_dask_kill.py."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

distributed = pytest.importorskip("distributed")

from hdmigrate.executors import make_executor, scheduler_is_safe  # noqa: E402
from hdmigrate.testing.sample import write_dump  # noqa: E402
from tests.test_batch import CLI, REPO, break_one_ticket, jsonl, read_jsonl, sandbox_maker, section  # noqa: E402

ZD_EMAIL, ZD_TOKEN, FD_KEY = "HDM_DASK_ZD_EMAIL", "HDM_DASK_ZD_TOKEN", "HDM_DASK_FD_KEY"
WRONG_KEY = "HDM_DASK_WRONG_KEY"
FAST = '[run.rate_limit]\nsource = 60000\ntarget = 60000\n'


def batch_env() -> dict:
    """The batch's own environment: no secret of any plan (the workers have them)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("HDM_DASK_")} | {"PYTHONPATH": str(REPO)}


def scheduler_state(dask_scheduler) -> bytes:
    """Everything the scheduler holds about tasks: their specs (repr and pickled) and the events."""
    from distributed.protocol import pickle

    out = []
    for ts in dask_scheduler.tasks.values():
        out.append(f"{ts.key!r} {ts.run_spec!r}".encode())
        try:
            out.append(pickle.dumps(ts.run_spec))
        except Exception as e:  # noqa: BLE001 - then the repr has to do
            out.append(repr(e).encode())
    out.append(repr(dask_scheduler.get_events()).encode())
    return b"\n".join(out)


class StateWatch:
    """Collects the scheduler's state every few tenths of a second while a batch runs."""

    def __init__(self, client):
        self.client, self.dumps, self.done = client, [], threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self.done.wait(0.3):
            try:
                self.dumps.append(self.client.run_on_scheduler(scheduler_state))
            except Exception:  # noqa: BLE001 - the next round asks again
                pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join(timeout=30)
        self.dumps.append(self.client.run_on_scheduler(scheduler_state))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    make_zd, make_fd = sandbox_maker("zendesk"), sandbox_maker("freshdesk")
    if not (make_zd and make_fd):
        pytest.skip("needs the Zendesk and Freshdesk sandboxes")
    from adapters.freshdesk.sandbox import API_KEY
    from adapters.zendesk.sandbox import EMAIL, TOKEN

    root = tmp_path_factory.mktemp("portfolio")
    dumps = {}
    for i, name in enumerate(("p1", "p2", "p3", "p4", "broken", "zshared", "fd", "badkey")):
        dumps[name] = write_dump(root / "dumps" / name, tickets=12, comments_per_ticket=2, attachments=1, seed=60 + i)
    break_one_ticket(root / "dumps" / "broken")
    zd = make_zd(data=root / "dumps" / "zshared", seed=7).start()
    fd, fd_bad = make_fd(seed=8).start(), make_fd(seed=9).start()
    zd_section = {**zd.plan_section, "email_env": ZD_EMAIL, "token_env": ZD_TOKEN}
    plans, expect = {}, {}

    def plan(name, text, code):
        path = root / "clients" / f"{name}.toml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        plans[name], expect[name] = path, code

    for name in ("p1", "p2", "p3", "p4"):
        plan(name, jsonl("source", root / "dumps" / name) + jsonl("target", root / "out" / name), 0)
    plan("broken", jsonl("source", root / "dumps/broken") + jsonl("target", root / "out/broken"), 1)
    # two plans reading one Zendesk account: never at the same time
    plan("z1", section("source", zd_section) + jsonl("target", root / "out/z1") + FAST, 0)
    plan("z2", section("source", zd_section) + jsonl("target", root / "out/z2") + FAST, 0)
    plan("fd", jsonl("source", root / "dumps/fd") + section("target", {**fd.plan_section, "api_key_env": FD_KEY})
         + FAST, 0)
    plan("badkey", jsonl("source", root / "dumps/badkey")
         + section("target", {**fd_bad.plan_section, "api_key_env": WRONG_KEY}) + FAST, 3)

    secrets = {ZD_EMAIL: EMAIL, ZD_TOKEN: TOKEN, FD_KEY: API_KEY, WRONG_KEY: "not-the-key"}
    with pytest.MonkeyPatch.context() as mp:    # the workers' environment (spawned from ours)
        for k, v in secrets.items():
            mp.setenv(k, v)
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=3, processes=True, host="127.0.0.1",
                                           dashboard_address=None, silence_logs=40)
    client = distributed.Client(cluster, set_as_default=False)
    hostname = socket.gethostname()
    workers = {f"{hostname}:{addr.rsplit(':', 1)[-1]}" for addr in client.scheduler_info()["workers"]}
    yield SimpleNamespace(root=root, dumps=dumps, plans=plans, expect=expect, cluster=cluster, client=client,
                          address=cluster.scheduler_address, workers=workers, fd=fd, zd=zd,
                          secrets=[TOKEN, API_KEY])
    client.close()
    cluster.close()
    for box in (zd, fd, fd_bad):
        box.stop()


def dask_batch(world, names, *extra, state="state", env=None, popen=False):
    cmd = CLI + ["batch", *(str(world.plans.get(n, n)) for n in names), "--executor", "dask", "--scheduler",
                 world.address, "--json", "--retries", "1", "--retry-delay", "0", "--state",
                 str(world.root / state), *extra]
    if popen:
        return subprocess.Popen(cmd, cwd=world.root, env=env or batch_env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p = subprocess.run(cmd, cwd=world.root, env=env or batch_env(), input="", capture_output=True, text=True,
                       timeout=400)
    return p, [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def overlap(a: dict, b: dict) -> bool:
    return a["started_at"] < b["finished_at"] and b["started_at"] < a["finished_at"]


@pytest.fixture(scope="module")
def portfolio(world):
    with StateWatch(world.client) as watch:
        p, events = dask_batch(world, list(world.plans), "--csv", str(world.root / "summary.csv"))
    return p, events, watch.dumps


def test_every_plan_runs_once_on_a_worker_with_the_local_summary(world, portfolio):
    p, events, _ = portfolio
    summary = events[-1]
    assert summary["event"] == "summary" and summary["executor"] == "dask", p.stderr[-3000:]
    rows = {r["name"]: r for r in summary["plans"]}
    assert set(rows) == set(world.plans)
    for name, code in world.expect.items():
        assert rows[name]["exit_code"] == code, (name, rows[name])
        assert rows[name]["worker"] in world.workers, rows[name]
    assert p.returncode == summary["exit_code"] == 3
    # exit 3 is retried (once, --retries 1); exit 1 is final
    assert rows["badkey"]["attempts"] == 2 and "401" in rows["badkey"]["error"]
    assert rows["broken"]["attempts"] == 1 and rows["broken"]["totals"]["failed"] >= 1
    assert all(rows[n]["attempts"] == 1 for n in ("p1", "p2", "p3", "p4", "z1", "z2", "fd"))
    # each ticket exactly once, in every target
    for name in ("p1", "p2", "p3", "p4"):
        ids = [t["id"] for t in read_jsonl(world.root / "out" / name / "ticket.jsonl")]
        assert len(ids) == len(set(ids)) == world.dumps[name]["ticket"]
    for name in ("z1", "z2"):
        ids = [t["id"] for t in read_jsonl(world.root / "out" / name / "ticket.jsonl")]
        assert len(ids) == len(set(ids)) == world.dumps["zshared"]["ticket"]
    stamps = [tag for t in world.fd.store.all("ticket") for tag in t["tags"] if tag.startswith("hdm-")]
    assert len(stamps) == len(set(stamps)) == world.fd.store.count("ticket") == world.dumps["fd"]["ticket"]
    # the run's own events come back tagged with the plan, framed by the batch's
    assert {e["plan"] for e in events if e["event"] == "step_finished"} >= {"p1", "z1", "fd"}
    started = [e for e in events if e["event"] == "plan_started"]
    assert {e["plan"] for e in started} == set(world.plans) and all(e["worker"] in world.workers for e in started)


def test_plans_sharing_an_account_never_run_at_once(portfolio):
    rows = {r["name"]: r for r in portfolio[1][-1]["plans"]}
    assert not overlap(rows["z1"], rows["z2"]), (rows["z1"], rows["z2"])


def test_no_secret_in_any_task_or_in_the_scheduler(world, portfolio):
    dumps = portfolio[2]
    assert len(dumps) >= 2
    seen = b"\n".join(dumps)
    assert str(world.plans["fd"]).encode() in seen       # the watch saw the tasks (paths travel)
    for secret in world.secrets:
        assert secret.encode() not in seen


def test_summary_json_csv_and_table_carry_the_worker(world, portfolio):
    summary = portfolio[1][-1]
    on_disk = json.loads((world.root / "state" / "summary.json").read_text(encoding="utf-8"))
    assert on_disk["plans"] == summary["plans"]
    with open(world.root / "summary.csv", newline="", encoding="utf-8") as f:
        rows = {r["name"]: r for r in csv.DictReader(f)}
    for plan in summary["plans"]:
        assert rows[plan["name"]]["worker"] == plan["worker"]
        assert int(rows[plan["name"]]["exit_code"]) == plan["exit_code"]
    # the same batch again: finished plans are skipped, the table names the workers
    p = subprocess.run(CLI + ["batch", *(str(world.plans[n]) for n in ("p1", "p2")), "--executor", "dask",
                              "--scheduler", world.address, "--state", str(world.root / "state")],
                       cwd=world.root, env=batch_env(), input="", capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "= p1: finished earlier" in p.stderr
    assert p.stdout.splitlines()[0].split()[-1] == "worker"


def test_resubmitting_a_plan_never_starts_it_twice(world, tmp_path):
    """Two clients submit the same plan while it runs: the scheduler runs one task, both get its
    result (the key comes from the plan)."""
    from hdmigrate.batch import prepare_jobs
    from hdmigrate.executors_dask import TOPIC, DaskExecutor, run_plan_task

    write_dump(tmp_path / "dump", tickets=300, comments_per_ticket=2, attachments=2, seed=71)
    plan = tmp_path / "twice.toml"
    plan.write_text(jsonl("source", tmp_path / "dump") + jsonl("target", tmp_path / "out"), encoding="utf-8")
    job = prepare_jobs([plan], None)[0]
    executor = DaskExecutor(world.address, retries=0, retry_delay=0)
    spec = executor.spec(job, SimpleNamespace(dry_run=False, since=None), batch="twice")
    assert spec["key"] == executor.spec(prepare_jobs([plan], None)[0], SimpleNamespace(dry_run=False, since=None),
                                        batch="other")["key"]
    a = distributed.Client(world.address, set_as_default=False)
    b = distributed.Client(world.address, set_as_default=False)
    try:
        first = a.submit(run_plan_task, spec, key=spec["key"], pure=False)
        for _ in range(600):                           # the second comes while the first runs
            if any(m.get("key") == spec["key"] for _, m in a.get_events(TOPIC)):
                break
            threading.Event().wait(0.1)
        second = b.submit(run_plan_task, spec, key=spec["key"], pure=False)
        r1, r2 = first.result(timeout=300), second.result(timeout=300)
        starts = [m for _, m in a.get_events(TOPIC) if m.get("key") == spec["key"] and m["event"] == "plan_started"]
    finally:
        a.close()
        b.close()
    assert r1["exit_code"] == 0 and r1 == r2
    assert len(starts) == 1
    ids = [t["id"] for t in read_jsonl(tmp_path / "out" / "ticket.jsonl")]
    assert len(ids) == len(set(ids)) == 300


def test_a_locked_work_directory_is_waited_for_not_failed(world, tmp_path):
    from hdmigrate import workdir_lock

    write_dump(tmp_path / "dump", tickets=5, comments_per_ticket=1, attachments=0, seed=72)
    plan = tmp_path / "locked.toml"
    plan.write_text(jsonl("source", tmp_path / "dump") + jsonl("target", tmp_path / "out")
                    + '[run]\nworkdir = "work"\n', encoding="utf-8")
    (tmp_path / "work").mkdir(mode=0o700)
    workdir_lock.acquire(tmp_path / "work")             # another copy of the run holds it
    try:
        proc = dask_batch(world, [plan], "--no-html", state=str(tmp_path / "state"), popen=True)
        seen = []
        for line in proc.stdout:
            seen.append(json.loads(line))
            if seen[-1]["event"] == "plan_waiting":
                break
    finally:
        workdir_lock.release(tmp_path / "work")
    out, err = proc.communicate(timeout=300)
    seen += [json.loads(line) for line in out.splitlines() if line.strip()]
    assert any(e["event"] == "plan_waiting" and "in use by" in e["reason"] for e in seen), err
    row = seen[-1]["plans"][0]
    assert proc.returncode == 0 and row["exit_code"] == 0 and row["attempts"] == 1, (row, err[-2000:])
    assert len(read_jsonl(tmp_path / "out" / "ticket.jsonl")) == 5


def test_local_pool_also_runs_plans_sharing_an_account_one_at_a_time(world, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    from adapters.zendesk.sandbox import EMAIL, TOKEN
    env.update({ZD_EMAIL: EMAIL, ZD_TOKEN: TOKEN})
    plans = []
    for name in ("l1", "l2"):
        text = world.plans["z1"].read_text(encoding="utf-8").replace(str(world.root / "out/z1"), str(tmp_path / name))
        plans.append(tmp_path / f"{name}.toml")
        plans[-1].write_text(text, encoding="utf-8")
    p = subprocess.run(CLI + ["batch", *map(str, plans), "--parallel", "2", "--json", "--no-html"], cwd=tmp_path,
                       env=env, input="", capture_output=True, text=True, timeout=300)
    events = [json.loads(line) for line in p.stdout.splitlines()]
    rows = {r["name"]: r for r in events[-1]["plans"]}
    assert p.returncode == 0, p.stderr
    assert not overlap(rows["l1"], rows["l2"])
    assert [e["plan"] for e in events if e["event"] == "plan_waiting"] in (["l1"], ["l2"])


def test_a_scheduler_neither_local_nor_tls_is_refused(tmp_path):
    assert scheduler_is_safe("tcp://127.0.0.1:8786") and scheduler_is_safe("tcp://[::1]:8786")
    assert scheduler_is_safe("localhost:8786") and scheduler_is_safe("tls://dask.example.org:8786")
    assert scheduler_is_safe("inproc://10.0.0.1/1/2")
    assert not scheduler_is_safe("tcp://10.0.0.5:8786") and not scheduler_is_safe("dask.example.org:8786")
    assert not scheduler_is_safe("ws://192.168.1.2:8786")
    assert make_executor("dask", scheduler="tcp://10.0.0.5:8786", allow_insecure_scheduler=True).name == "dask"
    write_dump(tmp_path / "d", tickets=1, comments_per_ticket=0, attachments=0, seed=1)
    plan = tmp_path / "p.toml"
    plan.write_text(jsonl("source", tmp_path / "d") + jsonl("target", tmp_path / "o"), encoding="utf-8")
    p = subprocess.run(CLI + ["batch", str(plan), "--executor", "dask", "--scheduler", "tcp://10.0.0.5:8786"],
                       cwd=tmp_path, env=batch_env(), input="", capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "refusing the Dask scheduler tcp://10.0.0.5:8786" in p.stderr
    assert "Traceback" not in p.stderr and not (tmp_path / "o").exists()
    p = subprocess.run(CLI + ["batch", str(plan), "--executor", "dask"], cwd=tmp_path, env=batch_env(),
                       input="", capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "needs --scheduler" in p.stderr


def test_retry_policy():
    from hdmigrate.executors_dask import next_step

    assert next_step(3, "HTTP 401", False, 1, 2, False) == "retry"
    assert next_step(4, "interrupted", False, 2, 2, False) == "retry"
    assert next_step(4, "interrupted", False, 3, 2, False) == "done"       # retries used up
    for code in (0, 1, 2, 5):
        assert next_step(code, None, False, 1, 2, False) == "done"
    busy = "work directory /w is in use by hdmigrate pid 42; wait for it or stop it"
    assert next_step(2, busy, False, 1, 0, False) == "wait"
    assert next_step(2, "plan error", True, 1, 0, False) == "wait"
    assert next_step(3, "HTTP 401", False, 1, 2, True) == "done"           # the batch is stopping


def test_an_interrupted_dask_batch_stops_its_runs_and_resumes(world, tmp_path):
    import signal

    write_dump(tmp_path / "dump", tickets=20, comments_per_ticket=3, attachments=1, seed=73)
    box = sandbox_maker("freshdesk")(seed=10).start()
    try:
        plan = tmp_path / "slow.toml"
        target = section("target", {**box.plan_section, "api_key_env": FD_KEY})
        # a slow account (5 requests a second): the run is surely under way when the batch stops
        plan.write_text(jsonl("source", tmp_path / "dump") + target
                        + '[run.rate_limit]\nsource = 60000\ntarget = 300\n', encoding="utf-8")
        proc = dask_batch(world, [plan], "--no-html", state=str(tmp_path / "state"), popen=True)
        events = []
        for line in proc.stdout:                 # SIGTERM once the run is under way on a worker
            events.append(json.loads(line))
            if events[-1]["event"] == "plan_started":
                proc.send_signal(signal.SIGTERM)
                break
        out, err = proc.communicate(timeout=300)
        events += [json.loads(line) for line in out.splitlines() if line.strip()]
        row = events[-1]["plans"][0]
        assert proc.returncode == 4 and events[-1]["interrupted"], err[-2000:]
        assert row["exit_code"] == 4 and row["status"] == "interrupted", row   # stopped cleanly, resumable
        assert box.store.count("ticket") < 20
        plan.write_text(jsonl("source", tmp_path / "dump") + target + FAST, encoding="utf-8")
        p, again = dask_batch(world, [plan], "--no-html", state=str(tmp_path / "state"))
        assert p.returncode == 0, p.stderr[-2000:]
        stamps = [tag for t in box.store.all("ticket") for tag in t["tags"] if tag.startswith("hdm-")]
        assert len(stamps) == len(set(stamps)) == box.store.count("ticket") == 20
    finally:
        box.stop()


def test_the_command_lines_of_docs_batch_md_are_real():
    import re

    from tests.test_ci_usage import _check_hdmigrate_command, _shell_commands

    text = (REPO / "docs" / "batch.md").read_text(encoding="utf-8")
    commands = [c for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S) for c in _shell_commands(block)]
    batches = [c[1:] for c in commands if c[0] == "hdmigrate"]
    assert len(batches) >= 4
    for argv in batches:
        _check_hdmigrate_command(argv)
        assert argv[0] == "batch" and "--executor" in argv


def test_a_plan_whose_workers_keep_dying_is_interrupted_not_lost(tmp_path):
    """After Dask's allowed-failures lost workers the task errs with KilledWorker: the plan is
    reported interrupted (exit 4, resumable by the next batch), the others go on."""
    from hdmigrate.batch import BatchState, Emitter, PlanJob, Runner
    from hdmigrate.executors_dask import DaskExecutor

    class Lost:
        def result(self):
            raise distributed.KilledWorker("hdmigrate-run-x", SimpleNamespace(address="tcp://10.0.0.9:4000"), 3)

    job = PlanJob(path=tmp_path / "x.toml", name="x", workdir=tmp_path / "w")
    runner = Runner([job], BatchState(tmp_path / "state", "run"), Emitter(False), dry_run=False, since=None,
                    html=False)
    runner.begin(job, announce=False)
    DaskExecutor("tcp://127.0.0.1:1")._collect(Lost(), job, runner)
    assert (job.exit_code, job.status) == (4, "interrupted") and "lost too often" in job.error
    saved = json.loads((tmp_path / "state" / "batch-state.json").read_text(encoding="utf-8"))
    assert saved["plans"][str(job.path)]["exit_code"] == 4
