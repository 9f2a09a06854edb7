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
    # CX continuity (issue 18): a target that cannot backdate keeps the original times in fields of
    # its own, so first reply and resolution read the same on both sides
    m_s, m_t = report["metrics"]["source"], report["metrics"]["target"]
    for metric in ("first_reply_time", "resolution_time"):
        assert m_s[metric]["n"] > 0, metric
        assert m_s[metric] == m_t[metric], (metric, m_s[metric], m_t[metric], report["metrics"].get("notes"))
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
    if "freshdesk sandbox" in result.output:
        # the dry run lists the fields that keep the original times; verify's table agrees
        assert "to keep each ticket's original times: hdm_original_created_at" in result.output
        rows = {line[:28].strip(): line[28:].split() for line in result.output.splitlines()
                if line.startswith(("first_reply_time median", "resolution_time median"))}
        assert rows and all(len(v) == 2 and v[0] == v[1] for v in rows.values()), rows
