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


def test_normalize_stage_prints_records_per_second():
    out = _run("benchmarks/normalize_stage.py", "--tickets", "20", "--repeat", "2")
    header, row = out.splitlines()[1:3]
    cells = dict(zip((c.strip() for c in header.split("|")), (c.strip() for c in row.split("|"))))
    assert int(cells["records"]) > 20 and float(cells["rec/s per core"].replace(",", "")) > 0
