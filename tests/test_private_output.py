"""Customer data stays private: files the tool writes are owner-only, terminal control sequences
from source data are shown escaped, and a token pasted where a variable name was asked is refused."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hdmigrate.commands.cli import cli
from hdmigrate.errors import ConfigError
from hdmigrate.plan import load_plan
from hdmigrate.printable import printable
from hdmigrate.private_files import open_private, private_dir, write_private_text
from hdmigrate.testing.sample import write_dump

HOSTILE = "\x1b]0;owned\x07\x1b[2J\x9b31m\r\u202e"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)          # the usual default: new files 0644, directories 0755
    yield
    os.umask(old)


def _plan(tmp_path: Path, dump: Path) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(f'[source]\nadapter = "jsonl"\npath = "{dump}"\n[target]\nadapter = "jsonl"\n'
                    f'path = "out/acme"\n[run]\nworkdir = "work"\n', encoding="utf-8")
    return path


def _hostile_dump(tmp_path: Path) -> Path:
    dump = tmp_path / "dump"
    write_dump(dump, tickets=3, comments_per_ticket=1, attachments=0, defects=False)
    comment = json.loads((dump / "comment.jsonl").read_text(encoding="utf-8").splitlines()[0])
    # a comment whose id and ticket reference carry escape sequences: its failure names both
    bad = {**comment, "id": "c" + HOSTILE, "ticket_id": "t" + HOSTILE, "attachment_ids": []}
    with open(dump / "comment.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(bad, ensure_ascii=False) + "\n")
    return dump


def test_dump_report_and_junit_files_are_owner_only(tmp_path, loose_umask):
    dump = tmp_path / "dump"
    write_dump(dump, tickets=3, comments_per_ticket=2, attachments=2, defects=False)
    plan = _plan(tmp_path, dump)
    result = CliRunner().invoke(cli, ["run", str(plan), "--yes", "--junit", str(tmp_path / "j.xml")])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out" / "acme"
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.parent.name == "attachments" for p in files) and (out / "manifest.json").exists()
    for p in files:
        assert _mode(p) == 0o600, f"{p} is {oct(_mode(p))}"
    for d in [out, out.parent, out / "attachments"]:
        assert _mode(d) == 0o700, f"{d} is {oct(_mode(d))}"
    assert _mode(tmp_path / "j.xml") == 0o600
    for fmt in ("text", "json", "html", "junit"):
        target = tmp_path / "reports" / f"r.{fmt}"
        result = CliRunner().invoke(cli, ["report", "--workdir", str(tmp_path / "work"), "--format", fmt,
                                          "--output", str(target)])
        assert result.exit_code == 0, result.output
        assert _mode(target) == 0o600 and _mode(target.parent) == 0o700


def test_private_helpers_tighten_old_files_and_leave_existing_dirs(tmp_path, loose_umask):
    old = tmp_path / "old.txt"
    old.write_text("from an older version")
    os.chmod(old, 0o644)
    with open_private(old, "a", encoding="utf-8") as f:
        f.write("!")
    assert _mode(old) == 0o600 and old.read_text() == "from an older version!"
    write_private_text(old, "new")
    assert _mode(old) == 0o600 and old.read_text() == "new"
    before = _mode(tmp_path)
    private_dir(tmp_path / "a" / "b")
    assert _mode(tmp_path) == before
    assert _mode(tmp_path / "a") == 0o700 and _mode(tmp_path / "a" / "b") == 0o700


def test_report_output_to_a_pipe_or_symlink_writes_through(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    write_private_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new" and _mode(real) == 0o600
    # `--output /dev/stdout` into a pipe: written through, the device link left alone
    code = "from hdmigrate.private_files import write_private_text; write_private_text('/dev/stdout', 'through')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout == "through", out.stderr
    assert os.path.islink("/dev/stdout") or not os.path.isfile("/dev/stdout"), "never replaced"


def test_printable_escapes_controls_keeps_newlines_and_tabs():
    assert printable("a\tb\nc") == "a\tb\nc"
    shown = printable("x" + HOSTILE)
    assert shown == "x\\x1b]0;owned\\x07\\x1b[2J\\x9b31m\\x0d\\u202e"
    assert not any(ord(c) < 0x20 and c not in "\n\t" or 0x7f <= ord(c) <= 0x9f for c in shown)


def _raw_controls(text: str) -> list[str]:
    return [repr(c) for c in text if (ord(c) < 0x20 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f
            or c == "\u202e"]


def test_escape_sequences_from_the_source_never_reach_the_terminal_raw(tmp_path):
    plan = _plan(tmp_path, _hostile_dump(tmp_path))
    env = dict(os.environ, HDMIGRATE_DEBUG="")
    run = subprocess.run([sys.executable, "-m", "hdmigrate", "run", str(plan), "--yes"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 1, run.stderr
    assert "\\x1b]0;owned\\x07" in run.stderr, "the failure is shown, escaped visibly"
    assert _raw_controls(run.stderr) == []
    events = subprocess.run([sys.executable, "-m", "hdmigrate", "run", str(plan), "--yes", "--json"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert _raw_controls(events.stdout) == [] and _raw_controls(events.stderr) == []
    failed = [json.loads(line) for line in events.stdout.splitlines() if '"record_failed"' in line]
    assert any(e["id"] == "c" + HOSTILE for e in failed), "the JSON events keep the exact data"
    for fmt in ("text", "json"):
        report = subprocess.run([sys.executable, "-m", "hdmigrate", "report", "--workdir",
                                 str(tmp_path / "work"), "--format", fmt], capture_output=True, text=True,
                                env=env, timeout=60)
        assert report.returncode == 0 and "owned" in report.stdout
        assert _raw_controls(report.stdout) == [], fmt
    text_file = tmp_path / "report.txt"
    CliRunner().invoke(cli, ["report", "--workdir", str(tmp_path / "work"), "--output", str(text_file)])
    assert _raw_controls(text_file.read_text(encoding="utf-8")) == []


TOKEN = "Xk29d8fj3kLmAbCdEf12Gh7Q"


def test_wizard_refuses_a_token_pasted_as_a_variable_name(tmp_path, monkeypatch):
    from adapters.zendesk.sandbox import make_sandbox
    from wizard.flow import Wizard
    from wizard.io import ScriptedIO

    box = make_sandbox().start()
    try:
        monkeypatch.setenv("HDM_PRIV_EMAIL", box.env["ZENDESK_EMAIL"])
        monkeypatch.setenv("HDM_PRIV_TOKEN", box.env["ZENDESK_TOKEN"])
        io = ScriptedIO({"source.adapter": "zendesk", "source.url": box.url,
                         "source.email_env": ["not a-name", "HDM_PRIV_EMAIL"],
                         "source.token_env": [TOKEN, "HDM_PRIV_TOKEN"],
                         "target.adapter": "jsonl", "target.path": str(tmp_path / "out"),
                         "sample.tickets": "0"}, interrupt_at="discover")
        wd = tmp_path / "wd"
        with pytest.raises(KeyboardInterrupt):
            Wizard(wd, io).run()
    finally:
        box.stop()
    assert "looks like a secret" in io.output and "is not an environment variable name" in io.output
    assert io.asked.count("source.token_env") == 2 and io.asked.count("source.email_env") == 2
    plan_text = (wd / "plan.toml").read_text(encoding="utf-8")
    assert 'token_env = "HDM_PRIV_TOKEN"' in plan_text and 'email_env = "HDM_PRIV_EMAIL"' in plan_text
    for path in wd.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), f"the token was written to {path}"
    assert _mode(wd / "plan.toml") == 0o600


def test_a_plan_naming_a_token_as_variable_is_refused_without_echoing_it(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(f'[source]\nadapter = "zendesk"\nurl = "https://acme.zendesk.com"\n'
                    f'email_env = "ZD_EMAIL"\ntoken_env = "{TOKEN}"\n[target]\nadapter = "jsonl"\npath = "o"\n',
                    encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_plan(path)
    assert "token_env" in str(e.value) and "looks like a secret" in str(e.value)
    assert TOKEN not in str(e.value)
