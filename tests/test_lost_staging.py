"""A lost or emptied staging.db (the nightly CI workflow keeps the work directory in a cache that
can be evicted) must not create everything again: the target's stamps are adopted (issue 13.1)."""

from __future__ import annotations

import shutil

import pytest

from adapters.freshdesk.sandbox import make_sandbox as freshdesk_sandbox
from adapters.zendesk.sandbox import make_sandbox as zendesk_sandbox
from hdmigrate.engine import Engine
from hdmigrate.plan import plan_from_dict
from hdmigrate.testing.sample import write_dump


def _run(plan, workdir) -> dict:
    engine = Engine(plan, workdir)
    try:
        return engine.run()
    finally:
        engine.store.close()


def _plan(tmp_path, target_section, workdir):
    return plan_from_dict({
        "source": {"adapter": "jsonl", "path": str(tmp_path / "dump")},
        "target": target_section,
        "run": {"workdir": str(workdir), "rate_limit": {"source": 60000, "target": 60000}},
    }, base_dir=tmp_path)


@pytest.mark.parametrize("platform", ["zendesk", "freshdesk"])
def test_rerun_after_staging_loss_adopts_instead_of_duplicating(tmp_path, monkeypatch, platform):
    counts = write_dump(tmp_path / "dump", tickets=8, comments_per_ticket=2, attachments=3, seed=3, defects=False)
    sandbox = (zendesk_sandbox if platform == "zendesk" else freshdesk_sandbox)(seed=1).start()
    try:
        if platform == "zendesk":
            sandbox.job_delay = 0.01
            section = {**sandbox.plan_section, "archive_immediately": True, "job_poll_seconds": 0.05}
        else:
            section = sandbox.plan_section
        for key, value in sandbox.env.items():
            monkeypatch.setenv(key, value)
        workdir = tmp_path / "work"
        first = _run(_plan(tmp_path, section, workdir), workdir)
        assert first["exit_code"] == 0, first
        tickets_before = _ticket_count(sandbox, platform)
        comments_before = _comment_count(sandbox, platform)
        assert tickets_before == counts["ticket"]

        shutil.rmtree(workdir)           # the cache was evicted: a fresh staging, same target
        second = _run(_plan(tmp_path, section, workdir), workdir)
        assert second["exit_code"] == 0, second
        assert _ticket_count(sandbox, platform) == tickets_before, "tickets were created a second time"
        assert _comment_count(sandbox, platform) == comments_before, "comments were written a second time"
        assert second["kinds"]["ticket"].get("created", 0) == counts["ticket"]   # adopted: found by stamp
    finally:
        sandbox.stop()


def _ticket_count(sandbox, platform) -> int:
    if platform == "zendesk":
        return sum(1 for _ in sandbox.tickets_with_comments())
    return len(list(sandbox.store.all("ticket")))


def _comment_count(sandbox, platform) -> int:
    if platform == "zendesk":
        return sum(len(c) for _, c in sandbox.tickets_with_comments())
    return sandbox.store.count("conversation")
