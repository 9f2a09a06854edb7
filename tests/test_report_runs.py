"""`hdmigrate report` (issue 14.9): by default the migration's outcome — the newest run that was
not a dry run, even when a failed dry run came after it — with every run listed and the
migration runs (first and delta runs) added up per kind; `--run N` shows any run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import tomli_w

from hdmigrate.canonical_dump import iter_records
from hdmigrate.testing.sample import write_dump

REPO = Path(__file__).resolve().parent.parent


def hdm(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hdmigrate", *map(str, args)], input="",
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                          timeout=120)


def _rewrite(dump: Path, kind: str, rows: list[dict]) -> None:
    (dump / f"{kind}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                        encoding="utf-8")


def _migrate_then_delta_then_failed_dry_run(tmp_path: Path) -> tuple[Path, Path, int]:
    src, wd = tmp_path / "src", tmp_path / "work"
    write_dump(src, tickets=4, seed=5)
    plan = tmp_path / "p.toml"
    plan.write_text(tomli_w.dumps({"source": {"adapter": "jsonl", "path": str(src)},
                                   "target": {"adapter": "jsonl", "path": str(tmp_path / "out")},
                                   "run": {"workdir": str(wd)}}), encoding="utf-8")
    assert hdm("run", plan, "--yes").returncode == 0                  # run 1: the migration
    tickets = list(iter_records(src, "ticket"))
    _rewrite(src, "ticket", tickets + [dict(tickets[0], id="t-new", subject="added later")])
    assert hdm("run", plan, "--yes").returncode == 0                  # run 2: a delta run
    with open(src / "ticket.jsonl", "a", encoding="utf-8") as f:
        f.write('{"id": "broken", "subject": \n')                     # unreadable line
    dry = hdm("run", plan, "--yes", "--dry-run")                      # run 3: a dry run that fails
    assert dry.returncode == 1, dry.stderr
    return plan, wd, len(tickets)


def test_default_is_the_migration_not_a_later_failed_dry_run(tmp_path):
    plan, wd, n_tickets = _migrate_then_delta_then_failed_dry_run(tmp_path)
    out = hdm("report", "--plan", plan, "--format", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["run"]["id"] == 2 and doc["run"]["dry_run"] == 0
    assert doc["summary"]["kinds"]["ticket"]["created"] == 1
    assert doc["failures"] == []                                       # the dry run's failure is not the migration's
    assert [(r["id"], r["dry_run"]) for r in doc["runs"]] == [(1, False), (2, False), (3, True)]
    assert doc["runs"][2]["exit_code"] == 1
    cum = doc["cumulative"]
    assert cum["runs"] == [1, 2]
    assert cum["kinds"]["ticket"]["created"] == n_tickets + 1          # first run + delta run
    first = json.loads(hdm("report", "--plan", plan, "--format", "json", "--run", "1").stdout)
    for kind, counts in first["summary"]["kinds"].items():
        delta = doc["summary"]["kinds"].get(kind, {})
        assert cum["kinds"][kind]["created"] == counts["created"] + delta.get("created", 0), kind
    assert cum["totals"]["failed"] == 0

    text = hdm("report", "--plan", plan)
    assert text.returncode == 0
    assert text.stdout.startswith("Run 2 (migration): completed, exit code 0")
    assert "Other runs (show one with --run N): 1 migration completed exit 0; 3 dry run completed exit 1" in text.stdout
    assert "All migration runs together (runs 1, 2):" in text.stdout
    row = next(line for line in text.stdout.splitlines()[text.stdout.splitlines().index(
        "All migration runs together (runs 1, 2):"):] if line.startswith("ticket "))
    assert row.split()[1] == str(n_tickets + 1)


def test_run_option_shows_the_dry_run_and_refuses_an_unknown_run(tmp_path):
    plan, wd, n_tickets = _migrate_then_delta_then_failed_dry_run(tmp_path)
    dry = json.loads(hdm("report", "--workdir", wd, "--format", "json", "--run", "3").stdout)
    assert dry["run"]["id"] == 3 and dry["run"]["dry_run"] == 1 and dry["run"]["exit_code"] == 1
    assert [f["kind"] for f in dry["failures"]] == ["ticket"]
    text = hdm("report", "--workdir", wd, "--run", "3")
    assert text.stdout.startswith("Run 3 (dry run): completed, exit code 1")
    assert "Failures (1):" in text.stdout
    missing = hdm("report", "--workdir", wd, "--run", "9")
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"error: {wd}: there is no run 9 (runs: 1, 2, 3)"
    html = hdm("report", "--workdir", wd, "--format", "html")
    assert html.returncode == 0
    assert 'id="runs-section"' in html.stdout and 'id="run-id" data-value="2"' in html.stdout
    assert f'data-cumulative-kind="ticket" data-cumulative="created">{n_tickets + 1}<' in html.stdout


def test_only_dry_runs_show_the_newest_dry_run(tmp_path):
    src = tmp_path / "src"
    write_dump(src, tickets=2, seed=1)
    plan = tmp_path / "p.toml"
    plan.write_text(tomli_w.dumps({"source": {"adapter": "jsonl", "path": str(src)},
                                   "target": {"adapter": "jsonl", "path": str(tmp_path / "out")}}), encoding="utf-8")
    assert hdm("run", plan, "--dry-run").returncode == 0
    doc = json.loads(hdm("report", "--plan", plan, "--format", "json").stdout)
    assert doc["run"]["id"] == 1 and doc["run"]["dry_run"] == 1
    assert doc["cumulative"] is None
    assert "All migration runs together" not in hdm("report", "--plan", plan).stdout
