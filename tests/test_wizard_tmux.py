"""The wizard in a real terminal (tmux send-keys / capture-pane): what a person sees.

A Zendesk sandbox on loopback is the source, so the token prompt is real: the token is typed
hidden and must never appear on screen; Ctrl-C at a question keeps the answers, and running the
wizard again offers to continue (asking for the typed token again, since it lived only in the
stopped process). Skipped when tmux is missing, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

TOKEN_VAR = "HDM_TMUX_ZENDESK_TOKEN"


def _need_tmux() -> str:
    path = shutil.which("tmux")
    if path is None:
        message = "tmux is not installed (apt-get install tmux; .ci/system-packages.sh installs it in CI)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


class Pane:
    def __init__(self, tmux: str, env: dict, cwd: Path):
        self.tmux = tmux
        self.socket = f"hdm-wizard-{uuid.uuid4().hex[:8]}"
        self.env = env
        subprocess.run([tmux, "-L", self.socket, "-f", "/dev/null", "new-session", "-d", "-s", "w",
                        "-x", "200", "-y", "50", "-c", str(cwd), "bash --norc --noprofile"],
                       env=env, check=True)
        self.run("export PS1='$ '")

    def keys(self, *keys: str) -> None:
        subprocess.run([self.tmux, "-L", self.socket, "send-keys", "-t", "w", *keys], check=True)

    def type(self, text: str) -> None:
        self.keys("-l", text)
        self.keys("Enter")

    def run(self, command: str) -> None:
        self.type(command)

    def screen(self) -> str:
        return subprocess.run([self.tmux, "-L", self.socket, "capture-pane", "-p", "-J", "-t", "w",
                               "-S", "-3000"], capture_output=True, text=True, check=True).stdout

    def wait_for(self, text: str, timeout: float = 60.0, after: int = 0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen[after:]:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"waited {timeout}s for {text!r}; the screen shows:\n{self.screen()[-3000:]}")

    def close(self) -> None:
        subprocess.run([self.tmux, "-L", self.socket, "kill-server"], check=False)


def test_wizard_in_a_real_terminal(tmp_path):
    tmux = _need_tmux()
    from hdmigrate import registry
    from hdmigrate.testing.sample import write_dump

    dump = tmp_path / "dump"
    write_dump(dump, tickets=5)
    box = registry.load_object(registry.get("zendesk").sandbox)(data=dump, port=0, rate_limit=None,
                                                                faults=None, seed=None)
    box.start()
    email_var = next(k for k in box.env if "EMAIL" in k)
    token = next(v for k, v in box.env.items() if "TOKEN" in k)
    env = {k: v for k, v in os.environ.items() if k != TOKEN_VAR and "TOKEN" not in k}
    env.update({email_var: box.env[email_var], "TERM": "xterm", "HDMIGRATE_DEBUG": "1"})
    wd = tmp_path / "wd"
    command = f"{sys.executable} -m hdmigrate wizard --workdir {wd}; echo EXIT=$?"
    pane = Pane(tmux, env, tmp_path)
    try:
        pane.run(command)
        pane.wait_for("Source platform")
        pane.type("zendesk")
        pane.wait_for("Source url")
        pane.type(box.url)
        pane.wait_for("holding the source email")
        pane.type("")                          # the default names the variable that is set
        pane.wait_for("holding the source token")
        pane.type(TOKEN_VAR)
        pane.wait_for("Source token (typed hidden")
        pane.type(token)
        screen = pane.wait_for("Target platform")
        assert "connection, credentials and rights are fine" in screen
        pane.type("")                          # jsonl
        pane.wait_for("Target directory")
        pane.type("")
        pane.wait_for("Kinds to migrate")
        pane.keys("C-c")                       # a person gives up in the middle of a step
        screen = pane.wait_for("\nEXIT=4")
        assert "your answers are kept" in screen
        mark = len(screen)

        pane.run(command)                      # … and comes back later
        pane.wait_for("Continue where it stopped?", after=mark)
        pane.type("")
        screen = pane.wait_for("Source token (typed hidden", after=mark)
        assert "is not in this session's environment" in screen[mark:]
        pane.type(token)
        pane.wait_for("Kinds to migrate", after=mark)
        pane.type("")
        pane.wait_for("updated since", after=mark)
        pane.type("")
        pane.wait_for("with one of these tags", after=mark)
        pane.type("")
        pane.wait_for("Tag stamped", after=mark)
        pane.type("")
        screen = pane.wait_for("Accept these proposals?", timeout=90, after=mark)
        assert "agents matched by email" in screen[mark:]
        pane.type("")
        screen = pane.wait_for("Migrate a sample of N tickets", timeout=90, after=mark)
        assert "will arrive" in screen[mark:] and "Estimate:" in screen[mark:]
        pane.type("0")
        pane.wait_for("Migrate everything now?", after=mark)
        pane.type("")
        screen = pane.wait_for("\nEXIT=", timeout=120, after=mark)
        tail = screen[mark:]
        assert "EXIT=0" in tail, tail[-3000:]
        assert "9/9 verification" in tail and f"hdmigrate run {wd / 'plan.toml'} --yes" in tail
        assert token not in screen, "the hidden token was echoed"
    finally:
        pane.close()
        box.stop()
    for path in wd.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), f"the token was written to {path}"
    tickets = (tmp_path / "wd" / "target-dump" / "ticket.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(tickets) == 5
