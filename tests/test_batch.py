"""`hdmigrate batch`: a consultant's clients migrated at once, each plan its own process and work
directory, failures isolated, the batch resumable, the summary as table, JSON and CSV.

The batch mixes jsonl plans with the vendor sandboxes (Zendesk as a source, Freshdesk as a target)
when those adapters ship a sandbox; two plans fail on purpose (a broken dump: exit 1; a credential
missing from the environment: exit 2)."""

from __future__ import annotations

import csv
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hdmigrate.testing.sample import write_dump

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-c", "from hdmigrate.commands.cli import main; main()"]
FAST = '[run.rate_limit]\nsource = 60000\ntarget = 60000\n'
HOUSE = '[mapping.status]\nnew = "open"\non_hold = "pending"\n\n[mapping.priority]\nurgent = "urgent"\n\n[options]\ntag_migrated = "house"\n'


def hdm(args, cwd, env=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + [str(a) for a in args], cwd=cwd, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
                          input="", capture_output=True, text=True, timeout=timeout)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def sandbox_maker(platform: str):
    """make_sandbox of a vendor adapter, or None when this version has no such sandbox."""
    try:
        return importlib.import_module(f"adapters.{platform}.sandbox").make_sandbox
    except ImportError:
        return None


def jsonl(role: str, path: Path) -> str:
    return f'[{role}]\nadapter = "jsonl"\npath = "{path}"\n'


def section(role: str, table: dict) -> str:
    return f"[{role}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items())


def break_one_ticket(dump: Path) -> None:
    tickets = read_jsonl(dump / "ticket.jsonl")
    del tickets[0]["subject"]
    (dump / "ticket.jsonl").write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in tickets), encoding="utf-8")


@pytest.fixture(scope="module")
def clients(tmp_path_factory):
    """Client plans under one consultancy directory; yields what the tests need."""
    root = tmp_path_factory.mktemp("consultancy")
    (root / "house-mapping.toml").write_text(HOUSE, encoding="utf-8")
    (root / "out").mkdir()
    dumps = {}
    for name, seed in (("acme", 1), ("globex", 2), ("initech", 3), ("hooli", 5), ("umbrella", 6)):
        dumps[name] = write_dump(root / "dumps" / name, tickets=8, comments_per_ticket=2, attachments=1, seed=seed)
    break_one_ticket(root / "dumps" / "initech")
    plans: dict[str, Path] = {}
    expect: dict[str, int] = {}
    sandboxes = []

    def plan(name: str, text: str, code: int) -> None:
        path = root / "clients" / f"{name}.toml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        plans[name], expect[name] = path, code

    include = '[run]\ninclude = ["../house-mapping.toml"]\n'
    plan("acme", jsonl("source", root / "dumps/acme") + jsonl("target", root / "out/acme") + include, 0)
    plan("globex", jsonl("source", root / "dumps/globex") + jsonl("target", root / "out/globex")
         + '[mapping.status]\non_hold = "waiting"\n' + include, 0)
    plan("initech", jsonl("source", root / "dumps/initech") + jsonl("target", root / "out/initech"), 1)
    plan("hooli", jsonl("source", root / "dumps/hooli") + jsonl("target", root / "out/hooli"), 0)

    env: dict[str, str] = {}
    make_fd, make_zd = sandbox_maker("freshdesk"), sandbox_maker("zendesk")
    if make_fd:
        # umbrella's Freshdesk key is missing from the environment on the first batch: exit 2
        fd_umbrella = make_fd(seed=3).start()
        sandboxes.append(fd_umbrella)
        plan("umbrella", jsonl("source", root / "dumps/umbrella")
             + section("target", {**fd_umbrella.plan_section, "api_key_env": "UMBRELLA_FRESHDESK_KEY"}) + FAST, 2)
        fix_umbrella = {"UMBRELLA_FRESHDESK_KEY": next(iter(fd_umbrella.env.values()))}
        fd = make_fd(seed=4).start()
        sandboxes.append(fd)
        env.update(fd.env)
        plan("stark", jsonl("source", root / "dumps/hooli") + section("target", fd.plan_section) + FAST, 0)
    else:
        # without a Freshdesk sandbox, umbrella fails on a dump not delivered yet: exit 2
        (root / "dumps" / "umbrella").rename(root / "dumps" / "umbrella-later")
        plan("umbrella", jsonl("source", root / "dumps/umbrella") + jsonl("target", root / "out/umbrella"), 2)
        fix_umbrella = {}
    if make_zd:
        zd = make_zd(data=root / "dumps" / "acme", seed=5).start()
        sandboxes.append(zd)
        env.update(zd.env)
        plan("wayne", section("source", zd.plan_section) + jsonl("target", root / "out/wayne") + FAST, 0)
    yield {"root": root, "plans": plans, "expect": expect, "env": env, "dumps": dumps,
           "fix_umbrella": fix_umbrella, "sandboxes": [type(s).__name__ for s in sandboxes]}
    for box in sandboxes:
        box.stop()


@pytest.fixture(scope="module")
def first_batch(clients):
    root = clients["root"]
    env = {k: v for k, v in os.environ.items() if k != "UMBRELLA_FRESHDESK_KEY"}
    p = subprocess.run(CLI + ["batch", *map(str, clients["plans"].values()), "--parallel", "2", "--json",
                              "--csv", str(root / "batch.csv"), "--state", str(root / "state")],
                       cwd=root, env={**env, "PYTHONPATH": str(REPO), **clients["env"]},
                       input="", capture_output=True, text=True, timeout=600)
    events = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    return p, events


def test_include_errors_are_plan_errors(tmp_path):
    from hdmigrate.errors import ConfigError
    from hdmigrate.plan import load_plan
    (tmp_path / "a.toml").write_text('[run]\ninclude = ["b.toml"]\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('[run]\ninclude = ["a.toml"]\n', encoding="utf-8")
    plan = tmp_path / "p.toml"
    plan.write_text(jsonl("source", tmp_path) + jsonl("target", tmp_path / "o") + '[run]\ninclude = ["a.toml"]\n')
    with pytest.raises(ConfigError, match="cycle"):
        load_plan(plan)
    plan.write_text(jsonl("source", tmp_path) + jsonl("target", tmp_path / "o") + '[run]\ninclude = ["missing.toml"]\n')
    with pytest.raises(ConfigError, match="missing.toml"):
        load_plan(plan)
    # nested includes resolve against the including file; the plan overrides them all
    (tmp_path / "house").mkdir()
    (tmp_path / "house" / "base.toml").write_text('[mapping.status]\nnew = "open"\nsolved = "closed"\n')
    (tmp_path / "house" / "zd-fd.toml").write_text('[run]\ninclude = ["base.toml"]\n[mapping.status]\nsolved = "resolved"\n')
    plan.write_text(jsonl("source", tmp_path) + jsonl("target", tmp_path / "o")
                    + '[mapping.status]\nnew = "new"\n[run]\ninclude = ["house/zd-fd.toml"]\n')
    loaded = load_plan(plan)
    assert loaded.mapping["status"] == {"new": "new", "solved": "resolved"}
    assert loaded.run["include"] == ["house/zd-fd.toml"]


def test_batch_of_mixed_plans_isolates_failures(clients, first_batch):
    p, events = first_batch
    plans, expect = clients["plans"], clients["expect"]
    assert len(plans) >= 5
    summary = events[-1]
    assert summary["event"] == "summary", p.stderr
    rows = {r["name"]: r for r in summary["plans"]}
    assert set(rows) == set(plans)
    for name, code in expect.items():
        assert rows[name]["exit_code"] == code, (name, rows[name], p.stderr[-3000:])
    # batch exits with the highest code among its plans
    assert p.returncode == summary["exit_code"] == max(expect.values()) == 2
    # the ones that work completed, each into its own target and work directory
    for name in ("acme", "globex", "hooli"):
        assert rows[name]["kinds"]["ticket"]["created"] == clients["dumps"][name]["ticket"]
        assert len(read_jsonl(clients["root"] / "out" / name / "ticket.jsonl")) == clients["dumps"][name]["ticket"]
    assert rows["initech"]["totals"]["failed"] >= 1 and rows["initech"]["status"] == "finished"
    assert "UMBRELLA_FRESHDESK_KEY" in rows["umbrella"]["error"] or "no such dump" in rows["umbrella"]["error"]
    if "wayne" in rows:                          # a Zendesk sandbox as the source
        assert rows["wayne"]["kinds"]["ticket"]["created"] == clients["dumps"]["acme"]["ticket"]
    if "stark" in rows:                          # a Freshdesk sandbox as the target
        assert rows["stark"]["kinds"]["ticket"]["created"] == clients["dumps"]["hooli"]["ticket"]
    workdirs = [r["workdir"] for r in rows.values()]
    assert len(set(workdirs)) == len(workdirs)
    # events of every plan are tagged with it; the batch's own events frame them
    kinds = {e["event"] for e in events}
    assert {"batch_started", "plan_started", "plan_finished", "step_finished", "summary"} <= kinds
    assert all("time" in e and "event" in e for e in events)
    assert {e["plan"] for e in events if e["event"] == "step_finished"} >= {"acme", "globex", "hooli"}


def test_includes_are_merged_and_overridden(clients, first_batch):
    from hdmigrate.plan import load_plan
    acme = load_plan(clients["plans"]["acme"])
    globex = load_plan(clients["plans"]["globex"])
    assert acme.mapping["status"] == {"new": "open", "on_hold": "pending"}
    assert globex.mapping["status"] == {"new": "open", "on_hold": "waiting"}   # overridden by the client
    assert acme.options["tag_migrated"] == globex.options["tag_migrated"] == "house"


def test_summary_json_and_csv_agree(clients, first_batch):
    root = clients["root"]
    p, events = first_batch
    summary = events[-1]
    on_disk = json.loads((root / "state" / "summary.json").read_text(encoding="utf-8"))
    assert on_disk["plans"] == summary["plans"] and on_disk["exit_code"] == summary["exit_code"]
    with open(root / "batch.csv", newline="", encoding="utf-8") as f:
        rows = {r["name"]: r for r in csv.DictReader(f)}
    assert (root / "state" / "summary.csv").read_text() == (root / "batch.csv").read_text()
    for plan in summary["plans"]:
        row = rows[plan["name"]]
        assert int(row["exit_code"]) == plan["exit_code"]
        assert int(row["failed"]) == plan["totals"]["failed"]
        assert int(row["degraded"]) == plan["totals"]["degraded"]
        for kind, c in plan["kinds"].items():
            assert int(row[f"{kind}_created"]) == c["created"]
            assert int(row[f"{kind}_records"]) == c["created"] + c["updated"] + c["unchanged"]
    # aggregated kinds are the sums over the plans
    assert summary["kinds"]["ticket"]["created"] == sum(
        pl["kinds"].get("ticket", {}).get("created", 0) for pl in summary["plans"])
    # one HTML report per plan that ran
    for plan in summary["plans"]:
        if plan["exit_code"] in (0, 1):
            assert Path(plan["html_report"]).read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_batch_resumes_running_only_what_did_not_finish(clients, first_batch):
    root = clients["root"]
    if not clients["fix_umbrella"]:
        (root / "dumps" / "umbrella-later").rename(root / "dumps" / "umbrella")   # the dump arrives
    p = hdm(["batch", *clients["plans"].values(), "--parallel", "2", "--state", root / "state"], root,
            env={**clients["env"], **clients["fix_umbrella"]})
    table = p.stdout
    print("\n" + table)                          # the plain summary table (stdout is not a terminal)
    (root / "summary-table.txt").write_text(table, encoding="utf-8")
    summary = json.loads((root / "state" / "summary.json").read_text(encoding="utf-8"))
    rows = {r["name"]: r for r in summary["plans"]}
    assert rows["umbrella"]["exit_code"] == 0 and not rows["umbrella"]["skipped"], rows["umbrella"]
    for name in clients["plans"]:
        if name != "umbrella":
            assert rows[name]["skipped"], f"{name} finished in the first batch and is not run again"
            assert f"= {name}: finished earlier" in p.stderr
    # initech still carries its failed record from the first batch: the batch exits 1
    assert p.returncode == summary["exit_code"] == 1
    header = table.splitlines()[0].split()
    assert header[:4] == ["plan", "platforms", "status", "exit"] and "tickets" in header
    assert "failed" in header and "degraded" in header and "duration" in header
    for name in clients["plans"]:
        assert any(line.startswith(name) for line in table.splitlines())


def test_interrupted_batch_resumes_where_it_stopped(tmp_path):
    names = ["a1", "b2", "c3", "d4", "e5"]
    plans = []
    (tmp_path / "out").mkdir()
    for i, name in enumerate(names):
        write_dump(tmp_path / "dumps" / name, tickets=6, comments_per_ticket=2, attachments=1, seed=20 + i)
        path = tmp_path / f"{name}.toml"
        path.write_text(jsonl("source", tmp_path / "dumps" / name) + jsonl("target", tmp_path / "out" / name),
                        encoding="utf-8")
        plans.append(path)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(CLI + ["batch", *map(str, plans), "--json", "--parallel", "1"], cwd=tmp_path,
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    events = []
    for line in proc.stdout:                     # stop the batch once its first plan has finished
        events.append(json.loads(line))
        if events[-1]["event"] == "plan_finished":
            proc.send_signal(signal.SIGTERM)
            break
    rest, err = proc.communicate(timeout=300)
    events += [json.loads(line) for line in rest.splitlines() if line.strip()]
    assert proc.returncode == 4, err
    summary = events[-1]
    assert summary["event"] == "summary" and summary["interrupted"] and summary["exit_code"] == 4
    done_first = {r["name"] for r in summary["plans"] if r["status"] == "finished"}
    assert names[0] in done_first and len(done_first) < len(names)

    p = hdm(["batch", *plans, "--json", "--parallel", "2"], tmp_path)   # the same command again
    assert p.returncode == 0, p.stderr
    ev = [json.loads(line) for line in p.stdout.splitlines()]
    assert {e["plan"] for e in ev if e["event"] == "plan_skipped"} == done_first
    assert {e["plan"] for e in ev if e["event"] == "plan_started"} == set(names) - done_first
    final = ev[-1]
    assert final["exit_code"] == 0 and all(r["exit_code"] == 0 for r in final["plans"])
    for name in names:                           # every client complete, nothing duplicated
        ids = [t["id"] for t in read_jsonl(tmp_path / "out" / name / "ticket.jsonl")]
        assert len(ids) == len(set(ids)) == 6


def test_plans_sharing_a_work_directory_are_refused(tmp_path):
    write_dump(tmp_path / "d", tickets=2, comments_per_ticket=1, attachments=0, seed=1)
    shared = '[run]\nworkdir = "same-work"\n'
    a = tmp_path / "a.toml"
    b = tmp_path / "b.toml"
    a.write_text(jsonl("source", tmp_path / "d") + jsonl("target", tmp_path / "oa") + shared, encoding="utf-8")
    b.write_text(jsonl("source", tmp_path / "d") + jsonl("target", tmp_path / "ob") + shared, encoding="utf-8")
    p = hdm(["batch", a, b, "--json", "--no-html"], tmp_path)
    rows = {r["name"]: r for r in json.loads(p.stdout.splitlines()[-1])["plans"]}
    assert rows["a"]["exit_code"] == 0
    assert rows["b"]["exit_code"] == 2 and "also used by" in rows["b"]["error"]
    assert p.returncode == 2
    assert not (tmp_path / "ob").exists()


def test_runs_of_a_killed_batch_stop_themselves_and_resume(tmp_path):
    """kill -9 of the batch gives it no chance to stop its children: each run notices it is
    orphaned, interrupts itself (exit 4, resumable), and the same batch command finishes the job."""
    import psutil

    write_dump(tmp_path / "dump", tickets=1500, comments_per_ticket=4, attachments=10, seed=41)
    plan = tmp_path / "big.toml"
    plan.write_text(jsonl("source", tmp_path / "dump") + jsonl("target", tmp_path / "out"), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(CLI + ["batch", str(plan), "--json"], cwd=tmp_path, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:
        if json.loads(line)["event"] == "plan_started":
            break
    batch = psutil.Process(proc.pid)
    for _ in range(100):                         # plan_started comes just before the child starts
        children = batch.children()
        if children:
            break
        time.sleep(0.1)
    assert len(children) == 1
    child = children[0]
    for line in proc.stdout:                     # the run is writing: kill its batch now
        ev = json.loads(line)
        if ev["event"] == "step_started" and ev.get("step") == "load":
            break
    proc.kill()
    proc.wait(timeout=30)
    psutil.wait_procs([child], timeout=60)
    assert not child.is_running(), "the orphaned run kept going after its batch was killed"
    p = hdm(["status", "--plan", plan, "--json"], tmp_path)
    assert json.loads(p.stdout)["run"]["status"] == "interrupted", p.stdout + p.stderr

    p = hdm(["batch", plan, "--json"], tmp_path)                  # the same command again
    assert p.returncode == 0, p.stderr
    ids = [t["id"] for t in read_jsonl(tmp_path / "out" / "ticket.jsonl")]
    assert len(ids) == len(set(ids)) == 1500


def test_a_run_whose_batch_is_gone_interrupts_itself(tmp_path):
    """The watch that catches a quiet run (no event to fail on) after a kill -9 of its batch:
    started as if by a batch process that is not its parent any more, the run stops at once."""
    write_dump(tmp_path / "dump", tickets=400, comments_per_ticket=4, attachments=4, seed=43)
    plan = tmp_path / "p.toml"
    plan.write_text(jsonl("source", tmp_path / "dump") + jsonl("target", tmp_path / "out"), encoding="utf-8")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()                                  # a pid that is nobody's parent now
    p = hdm(["run", plan, "--yes"], tmp_path, env={"HDMIGRATE_BATCH_PID": str(gone.pid)})
    assert p.returncode == 4, p.stderr
    assert "interrupted" in p.stderr
    p = hdm(["run", plan, "--yes"], tmp_path)    # resumed without the batch: completes
    assert p.returncode == 0, p.stderr
    ids = [t["id"] for t in read_jsonl(tmp_path / "out" / "ticket.jsonl")]
    assert len(ids) == len(set(ids)) == 400
