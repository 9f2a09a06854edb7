"""`hdmigrate demo`: completes with no credentials and no network, the target holds every record,
and running it again creates no duplicate."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from click.testing import CliRunner

from hdmigrate.commands.cli import cli
from hdmigrate.commands.demo import demo
from hdmigrate.store import Store


def _quiet(_message: str) -> None:
    pass


def test_demo_with_sandboxes_completes_and_target_holds_every_record(tmp_path):
    result = demo(tmp_path / "demo", tickets=12, say=_quiet)
    assert result["exit_code"] == 0
    assert (result["source"], result["target"]) in {("zendesk", "freshdesk"), ("jsonl", "freshdesk"),
                                                    ("zendesk", "jsonl"), ("jsonl", "jsonl")}
    report = result["verify"]
    assert report is not None, "the demo's verification step did not read the target back"
    for kind, c in report["counts"].items():
        assert c.get("missing", 0) == 0, (kind, c)
        assert c.get("duplicate", 0) == 0, (kind, c)
        assert c.get("failed", 0) == 0, (kind, c)
        assert c.get("migrated", 0) == c.get("staged", 0), (kind, c)
    # the second run (fresh sandboxes) completes as cleanly
    again = demo(tmp_path / "demo", tickets=12, say=_quiet)
    assert again["exit_code"] == 0
    for kind, c in again["verify"]["counts"].items():
        assert c.get("duplicate", 0) == 0 and c.get("missing", 0) == 0, (kind, c)
    for name in ("plan.toml", "staging.db", "report.txt", "report.json", "wizard.json"):
        assert (tmp_path / "demo" / name).exists(), name


def _ids(path: Path) -> list[str]:
    return [json.loads(x)["id"] for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def test_jsonl_demo_rerun_creates_no_duplicate(tmp_path):
    wd = tmp_path / "demo"
    assert demo(wd, tickets=10, use_sandboxes=False, say=_quiet)["exit_code"] == 0
    second = demo(wd, tickets=10, use_sandboxes=False, say=_quiet)
    assert second["exit_code"] == 0
    created = sum(c["created"] for c in second["summary"]["kinds"].values())
    assert created == 0, second["summary"]["kinds"]
    for kind in ("organization", "agent", "contact", "ticket", "comment", "attachment", "satisfaction_rating"):
        got = _ids(wd / "target-dump" / f"{kind}.jsonl")
        assert not [i for i, n in Counter(got).items() if n > 1], kind
        assert sorted(got) == sorted(_ids(wd / "source-dump" / f"{kind}.jsonl")), kind
    store = Store(wd)
    try:
        assert all(v["missing"] == 0 for v in store.get_state("internal_verify").values())
    finally:
        store.close()


def test_demo_command(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--workdir", str(tmp_path / "d"), "--tickets", "8"])
    assert result.exit_code == 0, result.output
    assert "Where to look:" in result.output
    assert "Demo finished with exit code 0." in result.output
