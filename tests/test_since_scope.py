"""`since`: refused when no source could read it; when valid, it narrows tickets only, and the
people, organizations, groups and fields in-scope tickets reference always come along."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from adapters.zendesk.sandbox import make_sandbox
from hdmigrate.commands.cli import cli
from hdmigrate.engine import Engine
from hdmigrate.plan import plan_from_dict
from hdmigrate.testing.sample import write_dump

BAD = ["yesterday", "2024-13-45", "2024-05-01T10:00:00", ""]


def _jsonl_plan(tmp_path, extra: str = "") -> str:
    dump = tmp_path / "in"
    write_dump(dump, tickets=3, comments_per_ticket=1, attachments=0, defects=False)
    path = tmp_path / "p.toml"
    path.write_text(f'[source]\nadapter = "jsonl"\npath = "in"\n[target]\nadapter = "jsonl"\n'
                    f'path = "out"\n[run]\nworkdir = "work"\n{extra}', encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("value", BAD)
def test_bad_since_option_exits_2_and_writes_nothing(tmp_path, value):
    plan = _jsonl_plan(tmp_path)
    result = CliRunner().invoke(cli, ["run", plan, "--since", value, "--yes"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: --since: ") and "\n" == result.output[-1:]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_bad_since_refused_by_batch_before_any_plan_runs(tmp_path):
    plan = _jsonl_plan(tmp_path)
    result = CliRunner().invoke(cli, ["batch", plan, "--since", "2024-13-45", "--state", str(tmp_path / "b")])
    assert result.exit_code == 2 and "'2024-13-45' is not a valid time" in result.output
    assert not (tmp_path / "work").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize("value", ["yesterday", "2024-13-45"])
def test_bad_scope_since_exits_2(tmp_path, value):
    plan = _jsonl_plan(tmp_path, f'[scope]\nsince = "{value}"\n')
    result = CliRunner().invoke(cli, ["run", plan, "--yes"])
    assert result.exit_code == 2, result.output
    assert f"[scope] since: '{value}' is not a valid time" in result.output


def test_unknown_option_exits_2(tmp_path):
    plan = _jsonl_plan(tmp_path, "[options]\nsampel = 3\n")
    result = CliRunner().invoke(cli, ["run", plan, "--yes"])
    assert result.exit_code == 2, result.output
    assert "'sampel' was unexpected" in result.output


def _old_people_dump(tmp_path):
    """Tickets of 2024; every person, organization, group and field last updated in 2019."""
    dump = tmp_path / "dump"
    write_dump(dump, tickets=5, comments_per_ticket=2, attachments=0, defects=False,
               start="2024-02-01T00:00:00Z")
    for kind in ("contact", "agent", "organization", "group", "custom_field"):
        path = dump / f"{kind}.jsonl"
        if not path.exists():
            continue
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for row in rows:
            row["created_at"] = row["updated_at"] = "2019-01-01T00:00:00Z"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return dump


def test_since_brings_along_what_in_scope_tickets_reference(tmp_path, monkeypatch):
    source = make_sandbox(data=_old_people_dump(tmp_path), seed=1).start()
    # The sandbox stamps its exports' timestamps at seeding time; put people and organizations
    # back at their 2019 update time, tickets at 2024, as a real account's exports would list them.
    old, recent = 1546300800, 1717200000
    for kind, ts in (("user", old), ("organization", old), ("ticket", recent)):
        for n, row in enumerate(source.store.all(kind)):
            source.store.update(kind, row["id"], {"_ts": ts + n})
    try:
        for k, v in source.env.items():
            monkeypatch.setenv(k, v)
        plan = plan_from_dict({"source": source.plan_section,
                               "target": {"adapter": "jsonl", "path": str(tmp_path / "out")},
                               "scope": {"since": "2023-06-01"},
                               "run": {"workdir": str(tmp_path / "work")}}, base_dir=tmp_path)
        engine = Engine(plan, tmp_path / "work")
        try:
            summary = engine.run()
            failures = list(engine.store.failures(summary["run_id"]))
        finally:
            engine.store.close()
    finally:
        source.stop()
    assert failures == [] and summary["exit_code"] == 0, failures[:3]
    kinds = summary["kinds"]
    assert kinds["ticket"]["created"] == 5
    assert kinds["comment"]["created"] >= 5
    assert kinds["contact"]["created"] >= 1, "requesters updated before `since` come along"
    written = [json.loads(line) for line in (tmp_path / "out" / "ticket.jsonl").read_text().splitlines()]
    people = {json.loads(line)["id"] for kind in ("contact", "agent")
              for line in (tmp_path / "out" / f"{kind}.jsonl").read_text().splitlines()}
    assert written and all(t["requester_id"] in people for t in written)


def test_since_over_a_dump_keeps_old_requesters(tmp_path):
    dump = _old_people_dump(tmp_path)
    plan = plan_from_dict({"source": {"adapter": "jsonl", "path": str(dump)},
                           "target": {"adapter": "jsonl", "path": str(tmp_path / "out")},
                           "run": {"workdir": str(tmp_path / "work")}}, base_dir=tmp_path)
    engine = Engine(plan, tmp_path / "work")
    try:
        summary = engine.run(since="2023-06-01T00:00:00+00:00")
        failures = list(engine.store.failures(summary["run_id"]))
    finally:
        engine.store.close()
    assert failures == [] and summary["exit_code"] == 0, failures[:3]
    assert summary["kinds"]["ticket"]["created"] == 5 and summary["kinds"]["contact"]["created"] >= 1


def test_since_from_freshdesk_keeps_old_contacts(tmp_path, monkeypatch):
    from adapters.freshdesk.sandbox import make_sandbox as make_freshdesk

    source = make_freshdesk(data=_old_people_dump(tmp_path)).start()
    try:
        for k, v in source.env.items():
            monkeypatch.setenv(k, v)
        plan = plan_from_dict({"source": source.plan_section,
                               "target": {"adapter": "jsonl", "path": str(tmp_path / "out")},
                               "run": {"workdir": str(tmp_path / "work"),
                                       "rate_limit": {"source": 600000, "target": 600000}}}, base_dir=tmp_path)
        engine = Engine(plan, tmp_path / "work")
        try:
            summary = engine.run(since="2023-06-01")
            failures = list(engine.store.failures(summary["run_id"]))
        finally:
            engine.store.close()
    finally:
        source.stop()
    assert failures == [] and summary["exit_code"] == 0, failures[:3]
    assert summary["kinds"]["ticket"]["created"] == 5 and summary["kinds"]["contact"]["created"] >= 1


def test_wizard_asks_since_again_until_it_is_valid(tmp_path):
    from wizard.flow import Wizard
    from wizard.io import ScriptedIO

    dump = tmp_path / "in"
    write_dump(dump, tickets=2, comments_per_ticket=1, attachments=0, defects=False)
    io = ScriptedIO({"source.adapter": "jsonl", "source.path": str(dump), "target.adapter": "jsonl",
                     "target.path": str(tmp_path / "out"), "scope.since": ["yesterday", "2024-13-45", "2024-05-01"]},
                    interrupt_at="discover")
    wd = tmp_path / "wd"
    with pytest.raises(KeyboardInterrupt):
        Wizard(wd, io).run()
    assert io.asked.count("scope.since") == 3
    assert "'yesterday' is not a valid time" in io.output and "'2024-13-45' is not a valid time" in io.output
    state = json.loads((wd / "wizard.json").read_text(encoding="utf-8"))
    assert state["answers"]["scope.since"] == "2024-05-01"
    from hdmigrate.plan import load_plan
    assert load_plan(wd / "plan.toml").scope["since"] == "2024-05-01T00:00:00Z"


def test_scope_until_narrows_tickets_and_brings_everything_else(tmp_path):
    """`[scope] until` was accepted and ignored; now tickets last updated after it (with their
    comments, files and ratings) stay out, every other record comes, and verify agrees."""
    from hdmigrate.canonical_dump import DumpWriter
    from tests.dumps import read_dump
    w = DumpWriter(tmp_path / "in", source="until")
    w.add("contact", {"id": "c1", "name": "Old", "email": "old@example.org"})
    w.add("contact", {"id": "c2", "name": "Unreferenced", "email": "quiet@example.org"})
    for tid, updated in (("t1", "2020-01-01T00:00:00Z"), ("t2", "2024-06-01T00:00:00Z")):
        w.add("ticket", {"id": tid, "subject": tid, "status": "open", "requester_id": "c1",
                         "created_at": "2019-01-01T00:00:00Z", "updated_at": updated})
        w.add("comment", {"id": f"{tid}-m", "ticket_id": tid, "author_id": "c1", "public": True,
                          "body_text": "hi", "created_at": "2019-01-01T00:00:00Z", "attachment_ids": []})
    w.close()
    plan = tmp_path / "p.toml"
    plan.write_text('[source]\nadapter = "jsonl"\npath = "in"\n[target]\nadapter = "jsonl"\npath = "out"\n'
                    '[run]\nworkdir = "work"\n[scope]\nuntil = "2023-01-01T00:00:00Z"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", str(plan), "--yes"])
    assert result.exit_code == 0, result.output
    out = read_dump(tmp_path / "out")
    assert [t["id"] for t in out["ticket"]] == ["t1"]
    assert [c["id"] for c in out["comment"]] == ["t1-m"]
    assert sorted(c["id"] for c in out["contact"]) == ["c1", "c2"]
    verify = CliRunner().invoke(cli, ["verify", "--workdir", str(tmp_path / "work")])
    assert verify.exit_code == 0, verify.output


def test_bad_scope_until_exits_2(tmp_path):
    plan = _jsonl_plan(tmp_path, '[scope]\nuntil = "tomorrow"\n')
    result = CliRunner().invoke(cli, ["run", plan, "--yes"])
    assert result.exit_code == 2, result.output
    assert "[scope] until: 'tomorrow' is not a valid time" in result.output
