"""Issue 14.10: the wizard's mapping step says what will happen. Rows show target values with
their labels and the adapter default's actual value, edits take only what the target accepts (a
refused answer is asked again and never saved), agents show their effect (existing agent, created
as contact with tickets left unassigned), `--restart-from mapping` shows the saved edits, answers
can be cleared with '-', and a mistyped secret can be typed again.

The target is the Freshdesk sandbox on loopback; the source a small jsonl dump."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from adapters.freshdesk.sandbox import API_KEY, make_sandbox
from hdmigrate.errors import ConfigError
from hdmigrate.plan import load_plan
from wizard import mapping
from wizard.flow import STEPS, Wizard
from wizard.io import ScriptedIO

KEY_VAR = "HDM_T14_FD_KEY"
FAST = {"run": {"rate_limit": {"source": 600000, "target": 600000}}}   # loopback: no pacing needed
ASSIGNEE = "fang.wang@support.hdmigrate-sample.example"


@pytest.fixture(scope="module")
def dump(tmp_path_factory) -> Path:
    from hdmigrate.testing.sample import write_dump

    root = tmp_path_factory.mktemp("wizard-mapping-src") / "dump"
    write_dump(root, tickets=8)
    return root


@pytest.fixture
def freshdesk(monkeypatch):
    monkeypatch.setenv(KEY_VAR, "placeholder")
    monkeypatch.delenv(KEY_VAR)          # restored (removed) after the test; the wizard sets it
    with make_sandbox() as sandbox:
        yield sandbox


def _answers(dump: Path, sandbox, **more) -> dict:
    return {"source.adapter": "jsonl", "source.path": str(dump), "target.adapter": "freshdesk",
            "target.url": sandbox.url, "target.api_key_env": KEY_VAR, **more}


def _until_dry_run(wd: Path, answers: dict, secrets=None, **kw) -> ScriptedIO:
    io = ScriptedIO(answers, secrets=secrets if secrets is not None else {"target.api_key": API_KEY},
                    interrupt_at="dry-run")
    with pytest.raises(KeyboardInterrupt):
        Wizard(wd, io, plan_overrides=FAST, **kw).run()
    return io


def _row(output: str, name: str, value: str) -> str:
    """The last line showing `value`'s row of the `name` table (after edits, the re-rendered one)."""
    lines = output.splitlines()
    found = None
    table = None
    for line in lines:
        if not line.startswith(" ") and line.endswith(":"):
            table = line[:-1]
        elif table == name and line.strip().startswith(value + " "):
            found = line
    assert found, f"no {name} row for {value!r} in:\n{output}"
    return found


def _tickets_assigned(dump: Path, email: str) -> int:
    agents = {json.loads(line)["id"]: json.loads(line).get("email")
              for line in (dump / "agent.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()}
    tickets = [json.loads(line) for line in (dump / "ticket.jsonl").read_text(encoding="utf-8").splitlines()
               if line.strip()]
    return Counter(agents.get(t.get("assignee_id")) for t in tickets)[email]


def test_rows_show_labels_default_values_and_effects(dump, tmp_path, freshdesk):
    io = _until_dry_run(tmp_path / "wd", _answers(dump, freshdesk))
    out = io.output
    assert _row(out, "status", "solved").endswith("→ 4 (Resolved) (adapter default)")
    assert _row(out, "status", "closed").endswith("→ 5 (Closed)")
    assert _row(out, "status", "new").endswith("→ 2 (Open) (adapter default)")
    assert _row(out, "priority", "normal").endswith("→ 2 (Medium) (adapter default)")
    assert _row(out, "channel", "email").endswith("→ 1 (Email)")
    assert "does not say which value" not in out          # every default is named with its value
    n = _tickets_assigned(dump, ASSIGNEE)
    assert n >= 1
    line = next(x for x in out.splitlines() if ASSIGNEE in x)
    assert line.endswith(f"→ created as contact; {n} ticket{'s' if n != 1 else ''} left unassigned"), line
    assert "new agent" not in out
    assert "agent(s) not created as agents in the target" in out


def test_free_text_is_refused_and_asked_again(dump, tmp_path, freshdesk):
    wd = tmp_path / "wd"
    answers = _answers(dump, freshdesk, **{
        "mapping.accept": False, "mapping.status.solved": ["?", "Closed"], "mapping.type.task": ["Chore", "Task"],
        f"mapping.users.{ASSIGNEE}": ["boss@elsewhere.example", "ADMIN@sandbox.invalid"]})
    io = _until_dry_run(wd, answers)
    assert "'?' is not a status the target accepts; give one of 2 (Open), 3 (Pending), 4 (Resolved), " \
           "5 (Closed)" in io.output
    assert "'Chore' is not a type the target accepts" in io.output
    assert "'boss@elsewhere.example' is not an agent of the target; give one of admin@sandbox.invalid" in io.output
    assert io.asked.count("mapping.status.solved") == 2 and io.asked.count("mapping.type.task") == 2
    plan = load_plan(wd / "plan.toml")
    assert plan.mapping["status"]["solved"] == "5"          # the label was taken as its value
    assert plan.mapping["type"]["task"] == "Task"
    assert plan.mapping["users"][ASSIGNEE] == "admin@sandbox.invalid"
    # the edited agent row now says it keeps its assignments
    assert f"{ASSIGNEE} → admin@sandbox.invalid: existing agent, assignments kept" in io.output
    assert _row(io.output, "status", "solved").endswith("→ 5 (Closed)")


def test_a_refused_answer_is_never_saved_as_the_next_default(dump, tmp_path, freshdesk):
    wd = tmp_path / "wd"
    io = ScriptedIO(_answers(dump, freshdesk, **{"mapping.accept": False, "mapping.status.solved": "?"}),
                    secrets={"target.api_key": API_KEY})
    with pytest.raises(ConfigError, match="mapping.status.solved: no acceptable answer"):
        Wizard(wd, io, plan_overrides=FAST).run()
    assert io.asked.count("mapping.status.solved") > 1      # asked again, not stopped at once
    state = json.loads((wd / "wizard.json").read_text(encoding="utf-8"))
    assert state["answers"].get("mapping.status.solved") in (None, "4", "-")
    assert "?" not in json.dumps(state["answers"])
    assert "mapping" not in state["done"]


def test_restart_from_mapping_shows_the_saved_edits_and_rows_can_be_cleared(dump, tmp_path, freshdesk):
    wd = tmp_path / "wd"
    _until_dry_run(wd, _answers(dump, freshdesk, **{
        "mapping.accept": False, "mapping.status.solved": "5", "mapping.status.closed": "-",
        f"mapping.users.{ASSIGNEE}": "admin@sandbox.invalid"}))
    first = load_plan(wd / "plan.toml").mapping
    assert first["status"]["solved"] == "5" and "closed" not in first["status"]

    # going back: the saved edits are shown, not the fresh proposals
    io = _until_dry_run(wd, {"mapping.accept": True}, restart_from="mapping")
    assert io.steps == ["mapping", "dry-run"]
    assert _row(io.output, "status", "solved").endswith("→ 5 (Closed)")
    assert _row(io.output, "status", "closed").endswith("→ 5 (Closed) (adapter default)")
    assert f"{ASSIGNEE} → admin@sandbox.invalid: existing agent, assignments kept" in io.output
    assert load_plan(wd / "plan.toml").mapping == first

    # editing again: an unanswered row keeps its saved edit; '-' drops a row to the default
    io = _until_dry_run(wd, {"mapping.accept": False, f"mapping.users.{ASSIGNEE}": "-",
                             "mapping.status.closed": "Closed"}, restart_from="mapping")
    again = load_plan(wd / "plan.toml").mapping
    assert again["status"]["solved"] == "5" and again["status"]["closed"] == "5"
    assert ASSIGNEE not in (again.get("users") or {})
    assert "created as contact" in next(x for x in io.output.splitlines()[::-1] if ASSIGNEE in x)


def test_mistyped_secret_is_typed_again(dump, tmp_path, freshdesk):
    wd = tmp_path / "wd"
    wrong = "mistyped-freshdesk-key-0815"
    io = _until_dry_run(wd, _answers(dump, freshdesk, **{"target.retry": True}),
                        secrets={"target.api_key": [wrong, API_KEY]})
    assert "connection check failed: bad token" in io.output
    assert io.asked.count("target.api_key") == 2
    assert "The target (freshdesk) answered: connection, credentials and rights are fine." in io.output
    assert {"target", "discover", "mapping"} <= set(json.loads((wd / "wizard.json").read_text())["done"])
    for path in wd.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert wrong.encode() not in data and API_KEY.encode() not in data, path


def test_scope_answers_asked_again_and_cleared(dump, tmp_path):
    wd = tmp_path / "wd"
    base = {"source.adapter": "jsonl", "source.path": str(dump), "target.adapter": "jsonl",
            "target.path": str(tmp_path / "target")}
    io = ScriptedIO({**base, "scope.kinds": ["tickets", "all"], "scope.since": "2001-01-01", "scope.tags": "vip"},
                    interrupt_at="discover")
    with pytest.raises(KeyboardInterrupt):
        Wizard(wd, io).run()
    assert "unknown kinds: tickets" in io.output and io.asked.count("scope.kinds") == 2
    plan = load_plan(wd / "plan.toml")
    assert plan.data["scope"]["tags"] == ["vip"] and plan.data["options"]["tag_migrated"] == "hdmigrate"
    # back to scope: '-' clears the saved answers; a bad sample size is asked again
    io = ScriptedIO({"scope.since": "-", "scope.tags": "-", "options.tag_migrated": "-",
                     "sample.tickets": ["five", "0"]})
    assert Wizard(wd, io, restart_from="scope").run() == 0, io.output
    state = json.loads((wd / "wizard.json").read_text(encoding="utf-8"))
    assert state["answers"]["scope.tags"] == "" and state["answers"]["options.tag_migrated"] == ""
    assert state["answers"]["scope.since"] == "" and state["answers"]["sample.tickets"] == "0"
    assert "'five' is not a number of tickets" in io.output
    plan = load_plan(wd / "plan.toml")
    assert "scope" not in plan.data and "tag_migrated" not in plan.data.get("options", {})
    assert state["done"] == list(STEPS)


def test_a_target_that_describes_nothing_takes_canonical_values_only():
    p = mapping.Proposals(options={"type": mapping.options_for("type", {})})
    assert mapping.choose_enum(p, "type", "Problem") == ("problem", None)
    value, problem = mapping.choose_enum(p, "type", "Chore")
    assert value is None and "question, incident, problem, task" in problem
    assert mapping.choose_enum(p, "type", "-") == (None, None)
    # a target that states its defaults but lists no values for a field offers nothing to map to
    z = mapping.Proposals(options={"channel": mapping.options_for("channel", {"defaults": {"channel": {}}})})
    assert "offers no channel values" in mapping.choose_enum(z, "channel", "web")[1]


def test_agents_the_target_does_not_list_can_be_mapped_to_an_email_only():
    rows = mapping.agent_table([{"id": "a1", "email": "ann@src.example"}], None, {"a1": 3})
    p = mapping.Proposals(agents=rows, target_agents=None)
    assert mapping.choose_user(p, "ann@target.example") == ("ann@target.example", None)
    assert "is not an e-mail address" in mapping.choose_user(p, "ann")[1]
    mapping.set_agent(rows[0], "ann@target.example")
    assert "lists no agents to check it against" in mapping.agent_effect(rows[0])
    # listed but empty: nothing to map to
    empty = mapping.Proposals(agents=rows, target_agents=[])
    assert "has no agents to map to" in mapping.choose_user(empty, "ann@target.example")[1]
