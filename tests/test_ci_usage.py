"""CI use of `hdmigrate run` as a real subprocess: never a prompt without a terminal, the JSON
event stream of the contract, JUnit XML, exit codes 0/1/2, secrets only from the environment,
delta runs (stored cursors and --since), and the example workflow in docs/ci.md."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shlex
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import click
import jsonschema
import pytest
import yaml

import schemas
from hdmigrate.canonical_dump import write_manifest
from hdmigrate.commands.cli import cli
from hdmigrate.testing.sample import write_dump

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-c", "from hdmigrate.commands.cli import main; main()"]
COUNT_KEYS = ("created", "updated", "unchanged", "failed", "degraded")
CONTRACT_EVENTS = {"step_started", "step_finished", "progress", "record_failed", "record_degraded", "summary"}


def hdm(*args, cwd: Path, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    """`hdmigrate ARGS` with stdin a pipe (not a terminal), as in CI."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(CLI + [str(a) for a in args], cwd=cwd, env=full_env, input="", capture_output=True,
                          text=True, timeout=timeout)


def events_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def jsonl_plan(tmp: Path, name: str = "plan", source: str = "src", target: str = "dst", extra: str = "") -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(f'[source]\nadapter = "jsonl"\npath = "{source}"\n\n[target]\nadapter = "jsonl"\npath = "{target}"\n'
                    + extra, encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture
def dump(tmp_path) -> dict:
    counts = write_dump(tmp_path / "src", tickets=8, comments_per_ticket=2, attachments=2, seed=3)
    return counts


def test_never_prompts_without_a_terminal(tmp_path, dump):
    plan = jsonl_plan(tmp_path)
    p = hdm("run", plan, cwd=tmp_path)          # no --yes, stdin is not a terminal
    assert p.returncode == 0, p.stderr
    assert "Write to the" not in p.stderr and "[Y/n]" not in p.stderr
    assert len(read_jsonl(tmp_path / "dst" / "ticket.jsonl")) == dump["ticket"]


def _pty_run(args: list[str], cwd: Path, answer: bytes | None) -> tuple[int, str]:
    """Run with stdin/stderr on a pseudo-terminal; answer the prompt when it shows."""
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(CLI + args, cwd=cwd, stdin=slave, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    seen = b""
    answered = False
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                break  # safety net only: nothing more came from the terminal
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            if answer is not None and not answered and b"Write to the" in seen:
                os.write(master, answer)
                answered = True
    finally:
        code = proc.wait(timeout=120)
        proc.stdout.close()
        os.close(master)
    return code, seen.decode("utf-8", "replace")


def test_asks_on_a_terminal_and_yes_skips_the_question(tmp_path, dump):
    plan = jsonl_plan(tmp_path)
    code, text = _pty_run(["run", str(plan)], tmp_path, b"n\n")
    assert "Write to the jsonl target" in text
    assert code == 0 and "nothing done" in text
    assert not (tmp_path / "dst" / "ticket.jsonl").exists(), "declining writes nothing"

    code, text = _pty_run(["run", str(plan), "--yes"], tmp_path, None)
    assert "Write to the" not in text
    assert code == 0, text
    assert len(read_jsonl(tmp_path / "dst" / "ticket.jsonl")) == dump["ticket"]


def test_json_events_follow_the_contract(tmp_path, dump):
    plan = jsonl_plan(tmp_path)
    p = hdm("run", plan, "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    events = events_of(p.stdout)                # every stdout line is one JSON object
    assert events and all(isinstance(e, dict) for e in events)
    for ev in events:
        assert set(ev) >= {"event", "time"}
        assert ev["event"] in CONTRACT_EVENTS, ev
        datetime.fromisoformat(ev["time"].replace("Z", "+00:00"))
        if ev["event"] in ("step_started", "step_finished"):
            assert isinstance(ev["step"], str)
        if ev["event"] == "step_finished":
            assert isinstance(ev["counts"], dict)
        if ev["event"] == "progress":
            assert {"step", "kind", "done", "total"} <= set(ev)
    steps = [e["step"] for e in events if e["event"] == "step_finished"]
    assert steps == ["check", "extract", "normalize", "load", "verify"]
    summary = events[-1]
    assert summary["event"] == "summary" and [e["event"] for e in events].count("summary") == 1
    assert summary["exit_code"] == p.returncode == 0
    for kind, n in dump.items():
        counts = summary["kinds"][kind]
        assert set(COUNT_KEYS) <= set(counts) and all(isinstance(counts[k], int) for k in COUNT_KEYS)
        assert counts["created"] == n and counts["failed"] == 0
    assert not any(line.lstrip().startswith("{") for line in p.stderr.splitlines()), "events only on stdout"


def _break_two_records(src: Path) -> None:
    """One ticket without its subject (invalid) and one line of broken JSON."""
    path = src / "ticket.jsonl"
    tickets = read_jsonl(path)
    del tickets[2]["subject"]
    lines = [json.dumps(t, ensure_ascii=False) for t in tickets]
    lines.insert(4, '{"id": "broken", "subject": ')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_failed_records_exit_1_with_valid_junit(tmp_path, dump):
    _break_two_records(tmp_path / "src")
    plan = jsonl_plan(tmp_path)
    junit = tmp_path / "out" / "junit.xml"
    junit.parent.mkdir()
    p = hdm("run", plan, "--yes", "--json", "--junit", junit, cwd=tmp_path)
    assert p.returncode == 1, p.stderr
    events = events_of(p.stdout)
    summary = events[-1]
    assert summary["event"] == "summary" and summary["exit_code"] == 1
    failed_events = [e for e in events if e["event"] == "record_failed"]
    assert failed_events and all({"kind", "id", "reason"} <= set(e) for e in failed_events)
    total_failed = sum(c["failed"] for c in summary["kinds"].values())
    assert total_failed >= 2

    root = ET.parse(junit).getroot()           # well-formed XML
    assert root.tag == "testsuite"
    failing = [case for case in root.iter("testcase") if case.find("failure") is not None]
    assert int(root.get("failures")) == len(failing) == total_failed
    assert int(root.get("tests")) == len(list(root.iter("testcase")))
    names = {case.get("name") for case in failing}
    assert "ticket line 5" in names, names       # the broken line, named by file position
    ticket_fail = next(c for c in failing if c.get("classname") == "hdmigrate.ticket" and "line" not in c.get("name"))
    assert "subject" in ticket_fail.find("failure").get("message")
    # the other records went through
    assert len(read_jsonl(tmp_path / "dst" / "ticket.jsonl")) == dump["ticket"] - 1


def test_configuration_errors_exit_2_and_write_nothing(tmp_path, dump):
    # a secret named by the plan but missing from the environment
    plan = tmp_path / "zd.toml"
    plan.write_text('[source]\nadapter = "zendesk"\nurl = "http://127.0.0.1:9"\nemail_env = "HDM_TEST_NO_SUCH_EMAIL"\n'
                    'token_env = "HDM_TEST_NO_SUCH_TOKEN"\n\n[target]\nadapter = "jsonl"\npath = "dst"\n',
                    encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HDM_TEST_")}
    p = subprocess.run(CLI + ["run", str(plan), "--yes", "--json"], cwd=tmp_path, capture_output=True, text=True,
                       env={**env, "PYTHONPATH": str(REPO)}, input="", timeout=120)
    assert p.returncode == 2, p.stderr
    assert "HDM_TEST_NO_SUCH_EMAIL" in p.stderr or "HDM_TEST_NO_SUCH_TOKEN" in p.stderr
    assert events_of(p.stdout)[-1]["exit_code"] == 2
    assert not (tmp_path / "dst").exists(), "nothing written"

    # secrets never inline in a plan
    inline = tmp_path / "inline.toml"
    inline.write_text('[source]\nadapter = "zendesk"\nurl = "http://127.0.0.1:9"\nemail_env = "X"\ntoken = "s3cret"\n\n'
                      '[target]\nadapter = "jsonl"\npath = "dst"\n', encoding="utf-8")
    p = hdm("run", inline, "--yes", cwd=tmp_path)
    assert p.returncode == 2 and "token_env" in p.stderr and "s3cret" not in p.stderr

    # a plan that is not TOML, a missing plan, an unknown flag
    bad = tmp_path / "bad.toml"
    bad.write_text("[source\nadapter=", encoding="utf-8")
    assert hdm("run", bad, "--yes", cwd=tmp_path).returncode == 2
    assert hdm("run", tmp_path / "missing.toml", "--yes", cwd=tmp_path).returncode == 2
    assert hdm("run", jsonl_plan(tmp_path), "--no-such-flag", cwd=tmp_path).returncode == 2
    assert not (tmp_path / "dst").exists()


def _change_source(src: Path) -> tuple[str, str]:
    """Change one ticket's subject and add one new ticket; returns (changed id, new id)."""
    path = src / "ticket.jsonl"
    tickets = read_jsonl(path)
    changed = tickets[1]
    changed["subject"] = "Changed after the cutover <b>bold</b>"
    changed["updated_at"] = "2030-01-02T03:04:05Z"
    new = dict(tickets[-1], id="90001", number="90001", subject="New after the cutover",
               created_at="2030-01-03T00:00:00Z", updated_at="2030-01-03T00:00:00Z")
    new.pop("solved_at", None)
    tickets.append(new)
    path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in tickets), encoding="utf-8")
    write_manifest(src, "sample")
    return changed["id"], new["id"]


def test_delta_run_creates_new_updates_changed_and_exits_0(tmp_path, dump):
    # ENGINE NOTE: attachments are written as children of their comment, so a delta run that
    # leaves a comment alone counts its files nowhere (not as `unchanged`); reported to the lead.
    plan = jsonl_plan(tmp_path)
    first = hdm("run", plan, "--yes", "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr

    again = events_of(hdm("run", plan, "--yes", "--json", cwd=tmp_path).stdout)[-1]
    assert again["exit_code"] == 0
    zero = dict.fromkeys(COUNT_KEYS, 0)
    for kind, n in dump.items():                 # nothing new: everything unchanged, nothing written
        c = again["kinds"].get(kind, zero)
        assert c["created"] == c["updated"] == c["failed"] == 0, (kind, c)
        if kind != "attachment":                 # files ride with their comment (see ENGINE NOTE)
            assert c["unchanged"] == n, (kind, c)

    changed_id, new_id = _change_source(tmp_path / "src")
    p = hdm("run", plan, "--yes", "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    summary = events_of(p.stdout)[-1]
    assert summary["exit_code"] == 0
    t = summary["kinds"]["ticket"]
    assert (t["created"], t["updated"], t["unchanged"], t["failed"]) == (1, 1, dump["ticket"] - 1, 0)
    for kind, n in dump.items():
        if kind not in ("ticket", "attachment"):
            c = summary["kinds"][kind]
            assert (c["created"], c["updated"], c["unchanged"]) == (0, 0, n), (kind, c)
    att = summary["kinds"].get("attachment", zero)
    assert att["created"] == att["updated"] == att["failed"] == 0
    target = {t["id"]: t for t in read_jsonl(tmp_path / "dst" / "ticket.jsonl")}
    assert len(read_jsonl(tmp_path / "dst" / "ticket.jsonl")) == len(target) == dump["ticket"] + 1, "no duplicates"
    assert target[changed_id]["subject"] == "Changed after the cutover <b>bold</b>"
    assert target[new_id]["subject"] == "New after the cutover"


def test_since_flag_wins_over_plan_scope_since(tmp_path, dump):
    # the plan only wants records updated in 2100 (none); --since on the command line wins
    scoped = '\n[scope]\nsince = "2100-01-01T00:00:00Z"\n'
    plan = jsonl_plan(tmp_path, "scoped", target="dst1", extra=scoped)
    p = hdm("run", plan, "--yes", "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert events_of(p.stdout)[-1]["kinds"].get("ticket", {}).get("created", 0) == 0

    plan2 = jsonl_plan(tmp_path, "scoped2", target="dst2", extra=scoped)
    p = hdm("run", plan2, "--yes", "--json", "--since", "1990-01-01T00:00:00Z", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert events_of(p.stdout)[-1]["kinds"]["ticket"]["created"] == dump["ticket"]

    # after the cutover, --since picks up only what changed since then
    changed_id, new_id = _change_source(tmp_path / "src")
    p = hdm("run", plan2, "--yes", "--json", "--since", "2030-01-01T00:00:00Z", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    t = events_of(p.stdout)[-1]["kinds"]["ticket"]
    assert (t["created"], t["updated"], t["failed"]) == (1, 1, 0)
    ids = [r["id"] for r in read_jsonl(tmp_path / "dst2" / "ticket.jsonl")]
    assert len(ids) == len(set(ids)) == dump["ticket"] + 1


# -- docs/ci.md ----------------------------------------------------------------------------------

DOC = REPO / "docs" / "ci.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def _workflow() -> dict:
    blocks = _blocks("yaml")
    assert len(blocks) == 1, "docs/ci.md holds one workflow"
    return yaml.safe_load(blocks[0])


def _shell_commands(script: str) -> list[list[str]]:
    """The simple commands of a `run:` script: lines joined, split at ; && || | and keywords."""
    script = script.replace("\\\n", " ")
    commands = []
    for line in script.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>")
        lexer.whitespace_split = True
        tokens = list(lexer)
        current: list[str] = []
        skip_next = False
        for tok in tokens + [";"]:
            if skip_next:
                skip_next = False
                continue
            if tok in (";", "&&", "||", "|", "&"):
                if current:
                    commands.append(current)
                current = []
            elif tok in (">", ">>", "<", "2>", "&>") or re.fullmatch(r"\d?[<>]+&?", tok):
                skip_next = True
            elif not current and tok in ("if", "then", "else", "elif", "fi", "do", "done", "!"):
                continue
            else:
                current.append(tok)
    return commands


def _check_hdmigrate_command(argv: list[str]) -> None:
    """Parse argv (after `hdmigrate`) with the real click definitions: unknown commands, flags
    or missing arguments raise."""
    assert argv, "bare hdmigrate"
    parent = click.Context(cli, info_name="hdmigrate")
    name, *rest = argv
    cmd = cli.get_command(parent, name)
    assert cmd is not None, f"no such command: hdmigrate {name}"
    try:
        cmd.make_context(name, list(rest), parent=parent)
    except click.exceptions.ClickException as e:
        raise AssertionError(f"hdmigrate {' '.join(argv)}: {e.format_message()}") from None


def test_example_workflow_is_valid_and_runs_real_commands():
    wf = _workflow()
    triggers = wf.get("on", wf.get(True))       # YAML 1.1 reads a bare `on` as true
    assert isinstance(triggers, dict)
    cron = triggers["schedule"][0]["cron"]
    fields = cron.split()
    assert len(fields) == 5 and all(re.fullmatch(r"[\d*/,-]+", f) for f in fields), cron
    assert "workflow_dispatch" in triggers
    assert wf["jobs"], "at least one job"
    hdm_commands = []
    for name, job in wf["jobs"].items():
        assert isinstance(job["runs-on"], str)
        assert job["steps"]
        for step in job["steps"]:
            assert isinstance(step, dict) and (("uses" in step) ^ ("run" in step)), step
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@v\d+", step["uses"]), step["uses"]
            else:
                for argv in _shell_commands(step["run"]):
                    if argv[0] == "hdmigrate":
                        hdm_commands.append(argv[1:])
        # secrets come only through the environment, from the repository's secrets
        for key, value in (job.get("env") or {}).items():
            assert re.fullmatch(r"\$\{\{ secrets\.\w+ \}\}", value), (key, value)
    for argv in hdm_commands:
        _check_hdmigrate_command(argv)
    runs = [a for a in hdm_commands if a[0] == "run"]
    assert any("--since" in a for a in runs), "the delta sync can take --since"
    assert any("--junit" in a for a in runs)
    assert all("--yes" in a and "--json" in a for a in runs), "CI runs never prompt and stream JSON"
    assert any(a[0] == "report" and "html" in a for a in hdm_commands)


def test_the_checker_rejects_unknown_commands_and_flags():
    with pytest.raises(AssertionError):
        _check_hdmigrate_command(["run", "p.toml", "--no-such-flag"])
    with pytest.raises(AssertionError):
        _check_hdmigrate_command(["migrate", "p.toml"])
    with pytest.raises(AssertionError):
        _check_hdmigrate_command(["run"])          # PLAN missing
    _check_hdmigrate_command(["batch", "a.toml", "b.toml", "--parallel", "2", "--json"])
    assert _shell_commands('x=1; hdmigrate run p.toml --yes > out.jsonl || code=$?') == [
        ["x=1"], ["hdmigrate", "run", "p.toml", "--yes"], ["code=$?"]]


def test_example_plan_names_only_environment_variables_the_workflow_sets():
    plan_text, template = _blocks("toml")[0], _blocks("toml")[1]
    plan = tomllib.loads(plan_text)
    jsonschema.validate(plan, schemas.load("plan"))
    jsonschema.validate(tomllib.loads(template), schemas.load("plan") | {"required": []})
    env_names = {v for side in ("source", "target") for k, v in plan[side].items() if k.endswith("_env")}
    job = next(iter(_workflow()["jobs"].values()))
    assert env_names and env_names <= set(job["env"]), env_names - set(job["env"])
    assert plan["run"]["include"] == ["house-mapping.toml"]
    # the cached work directory is the plan's (plans/ + ../.hdmigrate/acme)
    cache_paths = {s["with"]["path"] for s in job["steps"] if "cache" in s.get("uses", "")}
    assert cache_paths == {os.path.normpath(os.path.join("plans", plan["run"]["workdir"]))}
