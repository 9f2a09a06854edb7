"""How fast hdmigrate.testing.sample generates records (and, optionally, writes a jsonl dump).

    python benchmarks/sample_speed.py [--tickets 20000] [--comments 6] [--dump DIR]
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hdmigrate.testing import sample  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--comments", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dump", type=Path, help="also time write_dump into this (empty) directory")
    args = parser.parse_args()

    counts: collections.Counter = collections.Counter()
    t0, c0 = time.perf_counter(), time.process_time()
    for kind, _ in sample.generate(args.tickets, args.comments, seed=args.seed):
        counts[kind] += 1
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    records = sum(n for k, n in counts.items() if k != "blob")
    print(f"generate: {records:,} records ({args.tickets:,} tickets) in {elapsed:.2f} s "
          f"= {records / elapsed:,.0f} records/s wall, {records / cpu:,.0f} records/s of CPU time")
    print("  " + ", ".join(f"{k} {n:,}" for k, n in counts.items()))
    if args.dump:
        t0 = time.perf_counter()
        written = sample.write_dump(args.dump, args.tickets, args.comments, seed=args.seed)
        elapsed = time.perf_counter() - t0
        n = sum(written.values())
        print(f"write_dump: {n:,} records in {elapsed:.2f} s = {n / elapsed:,.0f} records/s")


if __name__ == "__main__":
    main()
