import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from hdmigrate.commands.cli import cli
from hdmigrate.testing.sample import write_dump
from tests.dumps import write_plan


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample") / "src"
    write_dump(root, tickets=15, seed=9)
    return root


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_run_json_events_follow_the_contract(tmp_path, sample):
    plan = write_plan(tmp_path / "p.toml", sample, tmp_path / "out")
    result = invoke("run", str(plan), "--json")
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert all("event" in e and "time" in e for e in events)
    names = [e["event"] for e in events]
    assert names[-1] == "summary"
    assert [e["step"] for e in events if e["event"] == "step_started"] == ["check", "extract", "normalize", "load", "verify"]
    summary = events[-1]
    assert summary["exit_code"] == 0
    for counts in summary["kinds"].values():
        assert set(counts) == {"created", "matched", "updated", "unchanged", "failed", "degraded"}
    progress = [e for e in events if e["event"] == "progress"]
    assert progress and all({"step", "kind", "done", "total"} <= set(e) for e in progress)


def test_dry_run_then_status_report_and_junit(tmp_path, sample):
    plan = write_plan(tmp_path / "p.toml", sample, tmp_path / "out")
    result = invoke("run", str(plan), "--dry-run", "--yes")
    assert result.exit_code == 0
    assert not (tmp_path / "out").exists()  # nothing written to the target
    status = json.loads(invoke("status", "--plan", str(plan), "--json").stdout)
    assert status["run"]["dry_run"] == 1 and status["staged"]["ticket"] == 15
    assert invoke("run", str(plan), "--yes").exit_code == 0
    text = invoke("report", "--plan", str(plan)).stdout
    assert "Run 2 (migration): completed, exit code 0" in text
    doc = json.loads(invoke("report", "--plan", str(plan), "--format", "json").stdout)
    assert doc["summary"]["kinds"]["ticket"]["created"] == 15
    junit = ET.fromstring(invoke("report", "--plan", str(plan), "--format", "junit").stdout)
    assert junit.tag == "testsuite" and junit.get("failures") == "0"


def test_failed_records_give_exit_1_and_junit_names_them(tmp_path):
    src = tmp_path / "src"
    from hdmigrate.canonical_dump import DumpWriter
    w = DumpWriter(src, source="t")
    w.add("contact", {"id": "c1", "name": "ok"})
    w.add("ticket", {"id": "t1", "subject": "s", "status": "open", "requester_id": "c1"})
    w.add("ticket", {"id": "t2", "subject": "s", "status": "weird", "requester_id": "c1"})
    w.close()
    plan = write_plan(tmp_path / "p.toml", src, tmp_path / "out")
    junit_path = tmp_path / "failed.xml"
    result = invoke("run", str(plan), "--yes", "--junit", str(junit_path))
    assert result.exit_code == 1
    suite = ET.parse(junit_path).getroot()
    failures = suite.findall(".//failure")
    assert len(failures) == 1 and "status" in failures[0].get("message")
    assert suite.find(".//testcase").get("name") == "ticket t2"


@pytest.mark.parametrize("plan_text,message", [
    ("not toml [", "not valid TOML"),
    ('[source]\nadapter="zz"\n[target]\nadapter="jsonl"\npath="o"\n', "unknown adapter"),
])
def test_bad_plan_exit_2_one_line_no_traceback(tmp_path, plan_text, message):
    plan = tmp_path / "p.toml"
    plan.write_text(plan_text)
    result = CliRunner().invoke(cli, ["run", str(plan), "--yes"])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output + result.stderr


def test_status_without_a_migration(tmp_path):
    result = CliRunner().invoke(cli, ["status", "--workdir", str(tmp_path / "none")])
    assert result.exit_code == 2 and "no migration" in result.stderr


def test_adapters_json_lists_jsonl_with_capabilities():
    infos = json.loads(invoke("adapters", "--json").stdout)
    jsonl = next(a for a in infos if a["name"] == "jsonl")
    assert jsonl["source"] and jsonl["target"]
    assert "private_notes" in jsonl["capabilities"]["target"]


def test_help_texts_exist_for_every_command():
    import click
    names = cli.list_commands(click.Context(cli))
    assert {"run", "status", "report", "adapters", "demo", "sandbox"} <= set(names)
    for name in names:
        command = cli.get_command(click.Context(cli), name)
        assert command.help, f"{name} has no help text"
        assert invoke(name, "--help").exit_code == 0


def test_a_sandbox_seeded_from_a_missing_dump_is_refused(tmp_path):
    """Before: a mistyped --data started an empty sandbox without a word."""
    result = CliRunner().invoke(cli, ["sandbox", "zendesk", "--data", str(tmp_path / "no-such-dump")])
    assert result.exit_code == 2
    assert "does not exist" in result.output and "Traceback" not in result.output
