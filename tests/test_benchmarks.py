"""The benchmark scripts run from a clone on a tiny size and print their tables (no timing is
asserted: the numbers depend on the machine)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> str:
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_sandbox_migration_prints_the_table():
    out = _run("benchmarks/sandbox_migration.py", "--tickets", "20", "--comments-per-ticket", "3")
    lines = [line for line in out.splitlines() if not line.startswith("#")]
    header = [c.strip() for c in lines[0].split("|")]
    for column in ("src req/t", "src min", "tgt req/t", "tgt min", "×min", "rate %", "429 %", "wall s",
                   "cpu s", "peak MB"):
        assert column in header
    rows = {cells[0]: cells for cells in ([c.strip() for c in line.split("|")] for line in lines[2:])}
    assert set(rows) == {"zendesk→zendesk", "zendesk→freshdesk"}
    for cells in rows.values():
        row = dict(zip(header, cells))
        assert row["tickets"] == "20" and row["exit"] == "0"
        assert float(row["src req/t"]) >= float(row["src min"]) > 0
        assert float(row["tgt req/t"]) >= float(row["tgt min"]) > 0
        assert float(row["peak MB"]) > 0
    # issue 16: per pair, every budget's T_min and the run against the largest, with the overlap
    speed = [line.split("|") for line in out.splitlines() if line.startswith("#   ") and "→" in line]
    assert {cells[0].strip("# ").strip() for cells in speed} == {"zendesk→zendesk", "zendesk→freshdesk"}
    for cells in speed:
        t_min, ratio, share = float(cells[1]), float(cells[4]), cells[8].strip()
        assert t_min > 0 and ratio > 0 and (share == "-" or 0 <= float(share) <= 100)
    assert any("source.account" in line for line in out.splitlines())
    # the machine's bound: the CPU of hdmigrate and of both sandboxes, and the windowed bound
    machine = [line.split("|") for line in out.splitlines()
               if line.startswith("#   ") and line.count("/") >= 2 and "→" not in line and "budget" not in line
               and "T_win" not in line]
    assert len(machine) == 2
    for cells in machine:
        t_win, t_cpu, ratio = float(cells[0].strip("# ")), float(cells[1]), float(cells[2])
        assert t_win >= 0 and t_cpu > 0 and ratio > 0
        hdm, src, tgt = (float(v) for v in cells[3].strip().split("/"))
        assert hdm > 0 and src >= 0 and tgt >= 0


def test_sandbox_migration_verifies_the_target_and_samples_memory():
    # --verify reads the target back (a clean run verifies: exit 0, its file matched, so the
    # source's file URLs were fetched); --sample-memory prints each step's largest sample, and
    # --load-end pymalloc's totals when the load step ended
    out = _run("benchmarks/sandbox_migration.py", "--tickets", "20", "--comments-per-ticket", "3",
               "--pairs", "zendesk-zendesk", "--verify", "--sample-memory", "0.2", "--load-end")
    verify = [line for line in out.splitlines() if line.startswith("#   hdmigrate verify:")]
    assert len(verify) == 1 and "exit 0 " in verify[0] and "unexplained 0 " in verify[0], out
    assert "attachment_url_refused" not in verify[0]     # every file fetched from the source sandbox
    steps = [line.split("|") for line in out.splitlines() if line.startswith("#   ")
             and line.split("|")[0].strip("# ").strip() in ("check", "extract", "normalize", "load", "verify")]
    assert steps, out
    for cells in steps:
        rss, anon, file_ = (float(c) for c in cells[2:5])
        assert rss > 0 and anon > 0 and file_ > 0 and abs(rss - anon - file_ - float(cells[5])) < 1
    assert any(line.startswith("#   verify memory: ") for line in out.splitlines())
    at_end = {line.split(":", 1)[1].split("=")[0].strip(): line.rsplit("=", 1)[-1].strip()
              for line in out.splitlines() if line.startswith("#   at the load's end: #")}
    assert int(at_end["# arenas allocated current"]) > 0, out
    assert int(at_end["# bytes in allocated blocks"].replace(",", "")) > 0


def test_window_bound_counts_the_windows_the_requests_need():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from sandbox_migration import window_bound
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    # 85 a minute, windows from t=0, the run starting at t=30: 85 go at once, 86 wait for t=60
    assert window_bound(85, 85, 0.0, 60.0, 30.0) == 0.0
    assert window_bound(86, 85, 0.0, 60.0, 30.0) == 30.0
    assert window_bound(171, 85, 0.0, 60.0, 30.0) == 90.0
    # windows that began long before the run still count from the one it starts in
    assert window_bound(100, 85, -600.0, 60.0, 59.0) == 1.0


def test_normalize_stage_prints_records_per_second():
    out = _run("benchmarks/normalize_stage.py", "--tickets", "20", "--repeat", "2")
    header, row = out.splitlines()[1:3]
    cells = dict(zip((c.strip() for c in header.split("|")), (c.strip() for c in row.split("|"))))
    assert int(cells["records"]) > 20 and float(cells["rec/s per core"].replace(",", "")) > 0
