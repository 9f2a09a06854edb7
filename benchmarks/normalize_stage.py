"""The local cost of normalize + stage alone: records per second per core.

    python benchmarks/normalize_stage.py [--tickets 5000] [--comments-per-ticket 10] [--scale 1,4,16]
                                         [--repeat 5] [--profile FILE]

A generated dump (hdmigrate.testing.sample) is extracted into a fresh staging store by the jsonl source
(not timed), then the engine's normalize step runs alone: raw payload → `to_canonical` → schema
validation (compiled from schemas/*.schema.json) → canonical text, content hash → records table,
raw rows marked done, attachment blobs hashed and staged. No network, no target. Printed:
records, wall seconds, CPU seconds of this process, records per second of wall time and per CPU
second ("per core": the step runs in one thread), and the peak RSS of this process.
Each measurement runs `--repeat` times, each in a fresh process; the row shows the median run
(by CPU seconds) and the range of records per second per core over all runs: on a shared
virtual machine one run can be 30 % off either way.
`--profile FILE` writes a cProfile of the step (open with `python -m pstats FILE`).
"""

from __future__ import annotations

import argparse
import cProfile
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COLUMNS = ("tickets", "records", "wall s", "cpu s", "rec/s wall", "rec/s per core", "range per core", "peak MB")


def measure(tickets: int, comments: float, profile: Path | None, work: Path) -> dict:
    from hdmigrate.engine import Engine
    from hdmigrate.plan import plan_from_dict
    from hdmigrate.report import Reporter
    from hdmigrate.testing.sample import write_dump

    dump = work / "dump"
    write_dump(dump, tickets=tickets, comments_per_ticket=comments,
               attachments=max(1, tickets // 10), seed=7)
    plan = plan_from_dict({"source": {"adapter": "jsonl", "path": str(dump)},
                           "target": {"adapter": "jsonl", "path": str(work / "out")},
                           "run": {"workdir": str(work / "hdm")}}, base_dir=work)
    engine = Engine(plan, work / "hdm", Reporter())
    try:
        engine.run_id = engine._open_run(False, None)
        engine.check()
        engine.extract(None)
        payloads = engine.store.count_raw("new")
        prof = cProfile.Profile() if profile else None
        t0, c0 = time.perf_counter(), time.process_time()
        if prof:
            prof.enable()
        counts = engine.normalize()
        if prof:
            prof.disable()
            prof.dump_stats(str(profile))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        failed = len(engine.store.failures(engine.run_id))
    finally:
        engine._close_adapters()
        engine.store.close()
    records = counts["records"]
    return {"tickets": tickets, "records": records, "payloads": payloads, "failed": failed,
            "wall": wall, "cpu": cpu, "peak MB": f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"}


def _measure_in_child(job: tuple) -> dict:
    tickets, comments, profile = job
    work = Path(tempfile.mkdtemp(prefix="hdm-norm-bench-"))
    try:
        return measure(tickets, comments, profile, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure_repeated(tickets: int, comments: float, profile: Path | None, repeat: int) -> dict:
    """`repeat` runs, each in a fresh process (a fresh heap and a fresh SQLite file)."""
    import multiprocessing as mp
    import statistics

    ctx = mp.get_context("spawn")
    runs = []
    for i in range(repeat):
        with ctx.Pool(1) as pool:
            runs.append(pool.apply(_measure_in_child, ((tickets, comments, profile if i == 0 else None),)))
    runs.sort(key=lambda r: r["cpu"])
    row = dict(runs[(len(runs) - 1) // 2])
    rates = [r["records"] / r["cpu"] for r in runs]
    row.update({"wall s": f"{row['wall']:.2f}", "cpu s": f"{row['cpu']:.2f}",
                "rec/s wall": f"{row['records'] / row['wall']:,.0f}",
                "rec/s per core": f"{row['records'] / row['cpu']:,.0f}",
                "range per core": f"{min(rates):,.0f}–{max(rates):,.0f}" if repeat > 1 else "-",
                "median": statistics.median(rates)})
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tickets", type=int, default=5000)
    ap.add_argument("--comments-per-ticket", type=float, default=10.0)
    ap.add_argument("--scale", default="1", help="comma-separated multiples of --tickets")
    ap.add_argument("--repeat", type=int, default=5, help="runs per size, each in a fresh process")
    ap.add_argument("--profile", type=Path, help="write a cProfile of the (first) normalize step here")
    args = ap.parse_args(argv)
    import os

    from hdmigrate.canonical import validator_name
    print(f"# validator: {validator_name()}; {args.comments_per_ticket:g} comments per ticket; "
          f"{os.cpu_count()} CPUs", flush=True)
    print(" | ".join(COLUMNS), flush=True)
    for i, factor in enumerate(int(x) for x in args.scale.split(",")):
        row = measure_repeated(args.tickets * factor, args.comments_per_ticket,
                               args.profile if i == 0 else None, max(1, args.repeat))
        print(" | ".join(str(row[c]) for c in COLUMNS), flush=True)
        if row["failed"]:
            print(f"# {row['failed']} records failed normalization", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
