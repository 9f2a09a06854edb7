"""A hand-written plan mapping to a value the target does not offer is refused before anything is
written (issue 14.10: `task → Chore` passed the dry run and failed at write time; `solved → ?`
was ignored). Freshdesk sandbox on loopback; the wizard refuses the same values (test_wizard_mapping)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from adapters.freshdesk.sandbox import make_sandbox
from hdmigrate.testing.sample import write_dump


@pytest.fixture(scope="module")
def freshdesk():
    sandbox = make_sandbox(seed=1).start()
    yield sandbox
    sandbox.stop()


def _run(tmp_path, freshdesk, mapping: str, *extra):
    write_dump(tmp_path / "in", tickets=2, comments_per_ticket=1, attachments=0, defects=False)
    plan = tmp_path / "p.toml"
    plan.write_text(f'[source]\nadapter = "jsonl"\npath = "in"\n[target]\nadapter = "freshdesk"\n'
                    f'url = "{freshdesk.url}"\napi_key_env = "FRESHDESK_API_KEY"\n[run]\nworkdir = "work"\n'
                    f'{mapping}', encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "hdmigrate", "run", str(plan), "--yes", *extra],
                          env={**os.environ, **freshdesk.env}, capture_output=True, text=True, timeout=300)


def test_unknown_target_values_stop_the_dry_run_naming_each_row(tmp_path, freshdesk):
    before = len(list(freshdesk.store.all("ticket")))
    proc = _run(tmp_path, freshdesk, '[mapping.status]\nsolved = "?"\n[mapping.priority]\nhigh = "Sky high"\n',
                "--dry-run")
    assert proc.returncode == 2, proc.stderr
    assert "[mapping.status] solved = '?': not a status the target accepts" in proc.stderr
    assert "[mapping.priority] high = 'Sky high'" in proc.stderr and "Traceback" not in proc.stderr
    assert len(list(freshdesk.store.all("ticket"))) == before


def test_values_given_by_code_or_label_pass(tmp_path, freshdesk):
    proc = _run(tmp_path, freshdesk, '[mapping.status]\nsolved = "Resolved"\nclosed = "5"\n', "--dry-run")
    assert proc.returncode == 0, proc.stderr
