"""`hdmigrate rollback` removes exactly what one run created: the target is as before that run,
and a later run writes those records again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomli_w
from click.testing import CliRunner

from hdmigrate.commands.cli import cli
from hdmigrate.engine import Engine
from hdmigrate.plan import load_plan
from hdmigrate.report import Reporter
from hdmigrate.rollback import rollback_run
from hdmigrate.store import Store

KINDS = ("custom_field", "organization", "group", "agent", "contact", "ticket", "comment", "attachment",
         "satisfaction_rating")


@pytest.fixture(scope="module")
def dump(tmp_path_factory) -> Path:
    from hdmigrate.testing.sample import write_dump

    root = tmp_path_factory.mktemp("rollback-src") / "dump"
    write_dump(root, tickets=10)
    return root


def write_plan(tmp: Path, dump: Path, **options) -> Path:
    data = {"source": {"adapter": "jsonl", "path": str(dump)},
            "target": {"adapter": "jsonl", "path": str(tmp / "target")},
            "options": {"tag_migrated": "hdmigrate", **options}, "run": {"workdir": "work"}}
    path = tmp / "plan.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def snapshot(target: Path) -> dict:
    out = {}
    for kind in KINDS:
        path = target / f"{kind}.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        out[kind] = sorted(json.dumps(json.loads(x), sort_keys=True) for x in lines if x.strip())
    return out


def run(plan_path: Path, **options) -> dict:
    plan = load_plan(plan_path)
    if options:
        plan.data["options"].update(options)
    engine = Engine(plan, plan.workdir(), Reporter())
    try:
        return engine.run()
    finally:
        engine.store.close()


def test_rollback_leaves_the_target_as_before_the_run(dump, tmp_path):
    plan_path = write_plan(tmp_path, dump)
    first = run(plan_path, sample=2)          # what the target held before the run we undo
    before = snapshot(tmp_path / "target")
    assert before["ticket"] and len(before["ticket"]) == 2
    second = run(plan_path)
    assert len(snapshot(tmp_path / "target")["ticket"]) == 10
    plan = load_plan(plan_path)
    result = rollback_run(plan, plan.workdir(), second["run_id"])
    assert result["failed"] == 0 and result["deleted"] > 0
    assert snapshot(tmp_path / "target") == before
    store = Store(plan.workdir())
    try:
        states = store.id_map_counts()
        assert all("done" not in s or k in before for k, s in states.items())
        assert sum(s.get("rolled_back", 0) for s in states.values()) == result["deleted"] + result["with_parent"]
        assert store.get_state(f"rollback:{second['run_id']}")["deleted"] == result["deleted"]
    finally:
        store.close()
    # a later run writes them again, once
    third = run(plan_path)
    assert third["exit_code"] == 0
    after = snapshot(tmp_path / "target")
    assert len(after["ticket"]) == 10 and len(set(after["comment"])) == len(after["comment"])
    assert first["run_id"] < second["run_id"] < third["run_id"]


def test_rollback_command(dump, tmp_path):
    plan_path = write_plan(tmp_path, dump)
    runner = CliRunner()
    assert run(plan_path)["exit_code"] == 0
    workdir = load_plan(plan_path).workdir()
    # the plan is found from the work directory alone
    result = runner.invoke(cli, ["rollback", "--workdir", str(workdir), "--yes"])
    assert result.exit_code == 0, result.output
    assert "records removed" in result.output
    assert snapshot(tmp_path / "target")["ticket"] == []
    # nothing left to roll back: usage error, nothing done
    result = runner.invoke(cli, ["rollback", "--workdir", str(workdir), "--yes"])
    assert result.exit_code == 2
    result = runner.invoke(cli, ["rollback", "--workdir", str(workdir), "--run", "99", "--yes"])
    assert result.exit_code == 2


def test_rollback_of_a_dry_run_is_refused(dump, tmp_path):
    from hdmigrate.errors import ConfigError

    plan_path = write_plan(tmp_path, dump)
    plan = load_plan(plan_path)
    engine = Engine(plan, plan.workdir(), Reporter())
    try:
        summary = engine.run(dry_run=True)
    finally:
        engine.store.close()
    with pytest.raises(ConfigError):
        rollback_run(plan, plan.workdir(), summary["run_id"])
