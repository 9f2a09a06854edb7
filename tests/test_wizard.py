"""The wizard driven by scripted answers: every step, interrupted at each step and resumed,
--restart-from, connection-check messages, and secrets that never reach the disk."""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hdmigrate.errors import ConfigError, FatalApiError, RecordRejected, TransientApiError
from hdmigrate.plan import load_plan
from wizard import checks
from wizard.flow import STEPS, Wizard, WizardStopped
from wizard.io import ScriptedIO

TICKETS = 8


@pytest.fixture(scope="module")
def dump(tmp_path_factory) -> Path:
    from hdmigrate.testing.sample import write_dump

    root = tmp_path_factory.mktemp("wizard-src") / "dump"
    write_dump(root, tickets=TICKETS)
    return root


def base_answers(dump: Path, tmp: Path) -> dict:
    return {"source.adapter": "jsonl", "source.path": str(dump),
            "target.adapter": "jsonl", "target.path": str(tmp / "target"),
            "sample.tickets": "2"}


def target_ids(target: Path, kind: str) -> list[str]:
    path = target / f"{kind}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def source_ids(dump: Path, kind: str) -> list[str]:
    return target_ids(dump, kind)


def assert_complete_without_duplicates(dump: Path, target: Path) -> None:
    for kind in ("organization", "agent", "contact", "ticket", "comment", "attachment"):
        got = target_ids(target, kind)
        dupes = [i for i, n in Counter(got).items() if n > 1]
        assert not dupes, f"duplicate {kind} records in the target: {dupes[:5]}"
        assert sorted(got) == sorted(source_ids(dump, kind)), f"{kind}: target differs from source"


def test_every_step_scripted(dump, tmp_path):
    io = ScriptedIO(base_answers(dump, tmp_path))
    wd = tmp_path / "wd"
    code = Wizard(wd, io).run()
    assert code == 0, io.output
    assert io.steps == list(STEPS)
    state = json.loads((wd / "wizard.json").read_text(encoding="utf-8"))
    assert state["done"] == list(STEPS)
    assert state["answers"]["source.path"] == str(dump)
    # the plan it wrote is a plan `hdmigrate run` accepts, with the wizard's workdir
    plan = load_plan(wd / "plan.toml")
    assert plan.workdir() == wd.resolve()
    assert f"hdmigrate run {wd / 'plan.toml'} --yes" in io.output
    # dry run fidelity table, estimate, sample and verification were shown
    for text in ("will arrive", "Estimate:", "Sample written", "Nothing missing."):
        assert text in io.output
    assert_complete_without_duplicates(dump, tmp_path / "target")
    # sample tickets were written by the sample run and skipped (unchanged) by the migration
    assert state["runs"]["sample"] < state["runs"]["migrate"]


@pytest.mark.parametrize("step", STEPS)
def test_interrupted_at_each_step_then_resumed(dump, tmp_path, step):
    wd = tmp_path / "wd"
    answers = base_answers(dump, tmp_path)
    first = ScriptedIO(answers, interrupt_at=step)
    with pytest.raises(KeyboardInterrupt):
        Wizard(wd, first).run()
    state = json.loads((wd / "wizard.json").read_text(encoding="utf-8"))
    before = list(STEPS[:STEPS.index(step)])
    assert state["done"] == before
    if step != "source":
        assert state["answers"]["source.path"] == str(dump)      # answers kept
    # resume: what finished steps answered is not asked again
    second = ScriptedIO(answers)
    code = Wizard(wd, second).run()
    assert code == 0, second.output
    assert second.steps == list(STEPS[STEPS.index(step):])
    for done in before:
        if done in ("source", "target", "scope"):
            assert not [k for k in second.asked if k.startswith(done + ".")], (done, second.asked)
    assert "Continuing at step" in second.output or step == "source"
    assert_complete_without_duplicates(dump, tmp_path / "target")


# Engine events of a run: 1-3 check/extract start, 4-11 extract, 12-14 normalize, 15-24 load
# (a kind's progress event comes before its last batch is written), 25-27 verify and summary.
@pytest.mark.parametrize("step,after", [("migrate", 9), ("migrate", 20), ("migrate", 22), ("sample", 21)])
def test_interrupted_inside_a_run_then_resumed(dump, tmp_path, step, after):
    wd = tmp_path / "wd"
    first = ScriptedIO(base_answers(dump, tmp_path), interrupt_at=step, interrupt_after=after)
    with pytest.raises(KeyboardInterrupt):
        Wizard(wd, first).run()
    from hdmigrate.store import Store
    store = Store(wd)
    try:
        assert store.last_run()["status"] == "interrupted"
    finally:
        store.close()
    second = ScriptedIO({"sample.tickets": "2"})
    assert Wizard(wd, second).run() == 0, second.output
    assert_complete_without_duplicates(dump, tmp_path / "target")


def test_restart_from_mapping_with_edits(dump, tmp_path):
    wd = tmp_path / "wd"
    assert Wizard(wd, ScriptedIO(base_answers(dump, tmp_path))).run() == 0
    io = ScriptedIO({"mapping.accept": False, "mapping.status.pending": "open", "sample.tickets": "0"})
    assert Wizard(wd, io, restart_from="mapping").run() == 0, io.output
    assert io.steps == list(STEPS[STEPS.index("mapping"):])
    plan = load_plan(wd / "plan.toml")
    assert plan.mapping["status"] == {"pending": "open"}
    # the jsonl target keeps records as they are; re-running created nothing twice
    assert_complete_without_duplicates(dump, tmp_path / "target")


def test_restart_from_unknown_step_is_a_usage_error(tmp_path):
    with pytest.raises(ConfigError):
        Wizard(tmp_path, ScriptedIO({}), restart_from="nope")


def test_finished_wizard_offers_a_delta_run(dump, tmp_path):
    wd = tmp_path / "wd"
    assert Wizard(wd, ScriptedIO(base_answers(dump, tmp_path))).run() == 0
    io = ScriptedIO({})
    assert Wizard(wd, io).run() == 0
    assert "is finished" in io.output and io.steps == []
    io = ScriptedIO({"wizard.again": True, "sample.tickets": "0"})
    assert Wizard(wd, io).run() == 0
    assert io.steps == list(STEPS[STEPS.index("dry-run"):])
    assert_complete_without_duplicates(dump, tmp_path / "target")


# -- connection checks and secrets ---------------------------------------------------------------
class _FakeZendesk(BaseHTTPRequestHandler):
    """/api/v2/users/me answering as the test sets `mode`."""

    mode = "admin"

    def do_GET(self):  # noqa: N802
        mode = type(self).mode
        if mode == "401":
            self._send(401, {"error": "Couldn't authenticate you"})
        elif mode == "403plan":
            self._send(403, {"error": "APIAccessDenied", "description": "API access is not available on your plan"})
        elif mode == "404":
            self._send(404, {"error": "InvalidEndpoint"})
        elif mode == "anonymous":
            self._send(200, {"user": {"id": None, "role": "end-user"}})
        elif mode == "agent":
            self._send(200, {"user": {"id": 7, "role": "agent", "email": "a@example.test"}})
        else:
            self._send(200, {"user": {"id": 1, "role": "admin", "email": "admin@example.test"}})

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


@pytest.fixture
def fake_zendesk():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeZendesk)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    _FakeZendesk.mode = "admin"


@pytest.mark.parametrize("mode,cause", [("401", checks.BAD_TOKEN), ("anonymous", checks.BAD_TOKEN),
                                        ("agent", checks.NO_ADMIN), ("403plan", checks.NO_API),
                                        ("404", checks.BAD_URL)])
def test_connection_check_causes(fake_zendesk, tmp_path, monkeypatch, mode, cause):
    from hdmigrate import registry

    monkeypatch.setenv("T_EMAIL", "admin@example.test")
    monkeypatch.setenv("T_TOKEN", "tok")
    _FakeZendesk.mode = mode
    section = {"adapter": "zendesk", "url": fake_zendesk, "email_env": "T_EMAIL", "token_env": "T_TOKEN"}
    failure = checks.check_side(registry.get("zendesk"), "source", section, tmp_path)
    assert failure is not None and failure.cause == cause, failure
    assert checks.ADVICE[cause] in failure.message("source", "zendesk")


def test_classify_without_a_server():
    from hdmigrate.http import check_url_scheme
    with pytest.raises(ConfigError) as refused:
        check_url_scheme("http://example.com")          # the cause is set where the URL is judged
    assert checks.classify(refused.value).cause == checks.BAD_URL
    assert checks.classify(ConfigError("refusing plain HTTP to example.com: use https://")).cause == checks.CONFIG
    assert checks.classify(TransientApiError("GET https://x failed after 8 attempts: ConnectError: "
                                             "[Errno -2] Name or service not known")).cause == checks.BAD_URL
    assert checks.classify(FatalApiError("x", status=401)).cause == checks.BAD_TOKEN
    assert checks.classify(FatalApiError("x", status=403)).cause == checks.NO_ADMIN
    assert checks.classify(RecordRejected("x", status=404)).cause == checks.BAD_URL


SECRET = "s3cr3t-Ω-token-4711"


def test_typed_secret_never_written_and_asked_again_after_restart(dump, tmp_path, fake_zendesk, monkeypatch):
    var = "HDM_TEST_WIZARD_TOKEN"
    monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HDM_TEST_WIZARD_EMAIL", "admin@example.test")
    wd = tmp_path / "wd"
    _FakeZendesk.mode = "401"
    answers = {"source.adapter": ["zendesk", "jsonl"], "source.url": fake_zendesk,
               "source.email_env": "HDM_TEST_WIZARD_EMAIL", "source.token_env": var,
               "source.retry": True, "source.path": str(dump),
               "target.adapter": "jsonl", "target.path": str(tmp_path / "target"), "sample.tickets": "0"}
    io = ScriptedIO(answers, secrets={"source.token": SECRET}, interrupt_at="scope")
    with pytest.raises(KeyboardInterrupt):
        Wizard(wd, io).run()
    assert "connection check failed: bad token" in io.output
    assert os.environ.get(var) == SECRET          # this session's environment only
    # Now the zendesk side passes: a restarted session (the typed secret is gone) asks for it again.
    _FakeZendesk.mode = "admin"
    monkeypatch.delenv(var)
    io2 = ScriptedIO({"source.adapter": "zendesk", "source.url": fake_zendesk, "source.token_env": var,
                      "source.email_env": "HDM_TEST_WIZARD_EMAIL", "sample.tickets": "0"},
                     secrets={"source.token": SECRET}, interrupt_at="discover")
    with pytest.raises(KeyboardInterrupt):
        Wizard(wd, io2, restart_from="source").run()
    assert "source.token" in io2.asked
    monkeypatch.delenv(var)
    io3 = ScriptedIO({}, secrets={"source.token": SECRET}, interrupt_at="discover")
    with pytest.raises(KeyboardInterrupt):
        Wizard(wd, io3).run()     # resumes at discover: writing the plan needs the token again
    assert "source.token" in io3.asked
    plan_text = (wd / "plan.toml").read_text(encoding="utf-8")
    assert f'token_env = "{var}"' in plan_text
    needle = SECRET.encode()
    for path in wd.rglob("*"):
        if path.is_file():
            assert needle not in path.read_bytes(), f"the secret was written to {path}"
    assert SECRET not in io.output + io2.output + io3.output


def test_connection_check_declined_stops_with_a_clear_code(tmp_path, fake_zendesk, monkeypatch):
    monkeypatch.setenv("HDM_T_E", "a@example.test")
    monkeypatch.setenv("HDM_T_T", "x")
    _FakeZendesk.mode = "agent"
    io = ScriptedIO({"source.adapter": "zendesk", "source.url": fake_zendesk, "source.email_env": "HDM_T_E",
                     "source.token_env": "HDM_T_T", "source.retry": False})
    with pytest.raises(WizardStopped) as e:
        Wizard(tmp_path / "wd", io).run()
    assert e.value.exit_code == 3
    assert "missing admin rights" in io.output


def test_mapping_proposals_match_agents_by_normalised_email():
    from wizard.mapping import agent_table, field_table

    rows = agent_table([{"id": "1", "email": "Jörg.Weiß@Example.test"}, {"id": "2", "email": "ｆｕｌｌ@example.test"},
                        {"id": "3", "email": "new@example.test"}],
                       ["jörg.weiß@example.test", "full@example.test"])
    assert [r["how"] for r in rows] == ["normalised", "normalised", "none"]
    assert rows[1]["target"] == "full@example.test"
    fields = field_table([{"entity": "ticket", "key": "order_number", "title": "Order number", "type": "text"},
                          {"entity": "ticket", "key": "7", "title": "Refund amount", "type": "decimal"},
                          {"entity": "contact", "key": "tier", "type": "dropdown"}],
                         {"ticket": ["cf_order_number", "cf_refund_amount"], "contact": []}, can_create=False)
    assert [(f["target"], f["action"]) for f in fields] == [
        ("cf_order_number", "map"), ("cf_refund_amount", "map"), (None, "keep in extra (degraded)")]
