"""jsonl → jsonl migration of a generated dump: wall time, records per second, CPU seconds and peak
RSS of the hdmigrate process (the generator excluded).

    python benchmarks/jsonl_to_jsonl.py --tickets 10000 --comments-per-ticket 10

Prints one table row per run; `--sizes 1,4,16` runs several multiples of --tickets.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hdmigrate.testing.sample import write_dump


def run_once(work: Path, tickets: int, per_ticket: float, keep: bool) -> dict:
    src = work / "src"
    t0 = time.perf_counter()
    counts = write_dump(src, tickets=tickets, comments_per_ticket=per_ticket)
    generated = time.perf_counter() - t0
    plan = work / "plan.toml"
    plan.write_text(f'[source]\nadapter = "jsonl"\npath = "{src}"\n[target]\nadapter = "jsonl"\npath = "{work / "out"}"\n')
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "hdmigrate", "run", str(plan), "--yes", "--json"],
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    records = sum(counts.values())
    row = {
        "tickets": counts.get("ticket", 0), "comments": counts.get("comment", 0), "records": records,
        "exit_code": proc.returncode, "wall_s": round(wall, 1),
        "records_per_s": round(records / wall),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
        "peak_rss_mb": round(after.ru_maxrss / 1024),  # Linux: KiB; max over finished children
        "created": summary["totals"]["created"], "failed": summary["totals"]["failed"],
        "generate_s": round(generated, 1),
    }
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tickets", type=int, default=10000)
    ap.add_argument("--comments-per-ticket", type=float, default=10.0)
    ap.add_argument("--sizes", default="1", help="comma-separated multiples of --tickets")
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    args = ap.parse_args()
    cols = ("tickets", "comments", "records", "wall_s", "records_per_s", "cpu_s", "peak_rss_mb", "created", "failed", "exit_code")
    print(" | ".join(cols))
    for factor in (int(x) for x in args.sizes.split(",")):
        work = Path(tempfile.mkdtemp(prefix="hdm-bench-"))
        row = run_once(work, args.tickets * factor, args.comments_per_ticket, args.keep)
        print(" | ".join(str(row[c]) for c in cols), flush=True)


if __name__ == "__main__":
    main()
