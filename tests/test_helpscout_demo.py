"""Issue 17.4: the demo's Help Scout choice (`hdmigrate demo --target helpscout`) runs the wizard
from the Zendesk sandbox into the Help Scout sandbox and completes: exit 0, every record migrated,
nothing missing or duplicated, 0 e-mails counted by the Help Scout sandbox. The wizard asks the
settings the Help Scout schema marks (`url`, `mailbox`), so it reaches a sandbox and a chosen
mailbox instead of api.helpscout.net."""

from __future__ import annotations

import json
import os
import tomllib

import pytest
from click.testing import CliRunner

from adapters.helpscout import ADAPTER
from adapters.helpscout.sandbox import make_sandbox
from hdmigrate.commands.cli import cli
from hdmigrate.commands.demo import DEMO_TARGETS, demo
from hdmigrate.testing.sample import write_dump
from wizard.flow import Wizard, WizardStopped
from wizard.io import ScriptedIO
from wizard.sides import _offered

FAST = {"run": {"rate_limit": {"source": 100_000, "target": 100_000}}}


def _quiet(_message: str) -> None:
    pass


def test_demo_with_the_helpscout_target_completes_without_emails(tmp_path):
    result = demo(tmp_path / "demo", tickets=10, target="helpscout", say=_quiet)
    assert result["exit_code"] == 0, result
    assert (result["source"], result["target"]) == ("zendesk", "helpscout")
    assert result["emails_sent"] == 0
    report = result["verify"]
    assert report is not None, "the demo's verification did not read Help Scout back"
    for kind, c in report["counts"].items():
        assert c.get("failed", 0) == 0 and c.get("missing", 0) == 0 and c.get("duplicate", 0) == 0, (kind, c)
        assert c.get("migrated", 0) == c.get("staged", 0), (kind, c)
    assert report["counts"]["ticket"]["matched"] == 10
    # an agent without a Help Scout user writes as the app's user: declared on every comment of theirs
    assert report["summary"]["unexplained"] == 0, [f for f in report["findings"] if not f["explained"]][:5]
    assert report["summary"]["explained_by_code"].get("author_not_preserved", 0) > 0
    target = tomllib.loads((tmp_path / "demo" / "plan.toml").read_text(encoding="utf-8"))["target"]
    assert target["adapter"] == "helpscout"
    assert target["url"].startswith("http://127.0.0.1:"), target     # the sandbox, never api.helpscout.net
    assert "mailbox" not in target                                    # the sandbox's only mailbox


def test_demo_command_offers_helpscout(tmp_path):
    assert "helpscout" in DEMO_TARGETS
    result = CliRunner().invoke(cli, ["demo", "--workdir", str(tmp_path / "d"), "--tickets", "6",
                                      "--target", "helpscout"])
    assert result.exit_code == 0, result.output
    assert "helpscout sandbox at http://127.0.0.1:" in result.output
    assert "E-mails the helpscout sandbox counted (a migration must send none): 0" in result.output
    assert "Demo finished with exit code 0." in result.output
    help_text = CliRunner().invoke(cli, ["demo", "--help"]).output
    assert "helpscout" in help_text


def test_demo_refuses_an_unknown_target(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--workdir", str(tmp_path / "d"), "--target", "nowhere"])
    assert result.exit_code == 2
    assert "nowhere" in result.output and "helpscout" in result.output


def test_wizard_asks_the_schema_marked_settings_only():
    assert _offered(ADAPTER.config_schema) == ["url", "mailbox"]
    assert _offered({"properties": {"page_size": {"type": "integer", "default": 100}}}) == []


@pytest.fixture()
def two_mailboxes(tmp_path):
    dump = tmp_path / "dump"
    write_dump(dump, tickets=4)
    box = make_sandbox(rate_limit=100_000)
    box.store.insert("mailbox", {"name": "Billing", "slug": "billing", "email": "billing@sandbox.helpscout.test",
                                 "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z"})
    box.start()
    saved = {k: os.environ.get(k) for k in box.env}
    os.environ.update(box.env)
    try:
        yield dump, box
    finally:
        box.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _answers(dump, box, **more) -> dict:
    return {"source.adapter": "jsonl", "source.path": str(dump), "target.adapter": "helpscout",
            "target.app_id_env": "HELPSCOUT_APP_ID", "target.app_secret_env": "HELPSCOUT_APP_SECRET",
            "target.url": box.url, "sample.tickets": "0", **more}


def test_wizard_writes_into_the_mailbox_it_was_given(two_mailboxes, tmp_path):
    dump, box = two_mailboxes
    io = ScriptedIO(_answers(dump, box, **{"target.mailbox": "Billing"}))
    code = Wizard(tmp_path / "wd", io, plan_overrides=FAST).run()
    assert code == 0, io.output
    assert "target.mailbox" in io.asked and "target.url" in io.asked
    plan = tomllib.loads((tmp_path / "wd" / "plan.toml").read_text(encoding="utf-8"))
    assert plan["target"]["mailbox"] == "Billing" and plan["target"]["url"] == box.url
    billing = next(m["id"] for m in box.store.all("mailbox") if m["name"] == "Billing")
    held = box.conversations_held()
    assert len(held) == 4 and {c["mailboxId"] for c in held} == {billing}
    assert box.emails_sent == 0, json.dumps(box.emails)


def test_wizard_without_a_mailbox_names_the_choices(two_mailboxes, tmp_path):
    dump, box = two_mailboxes
    io = ScriptedIO(_answers(dump, box))        # no mailbox answer: Enter, the adapter's default
    with pytest.raises(WizardStopped) as stopped:
        Wizard(tmp_path / "wd", io, plan_overrides=FAST).run()
    assert stopped.value.exit_code == 2            # a configuration problem, said before anything is written
    assert "set `mailbox`" in io.output and "'Billing'" in io.output and "'Support'" in io.output
    assert box.conversations_held() == []


def test_a_wrong_app_secret_is_reported_as_refused_credentials(two_mailboxes, tmp_path):
    dump, box = two_mailboxes
    os.environ["HELPSCOUT_WRONG_SECRET"] = "not-the-secret"
    try:
        io = ScriptedIO(_answers(dump, box, **{"target.mailbox": "Billing",
                                               "target.app_secret_env": "HELPSCOUT_WRONG_SECRET"}))
        with pytest.raises(WizardStopped) as stopped:
            Wizard(tmp_path / "wd", io, plan_overrides=FAST).run()
    finally:
        os.environ.pop("HELPSCOUT_WRONG_SECRET", None)
    assert stopped.value.exit_code == 3
    assert "connection check failed: bad token" in io.output, io.output[-2000:]
    assert "not-the-secret" not in io.output
