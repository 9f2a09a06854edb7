"""`hdmigrate ...` under tracemalloc, for finding what grows with the size of a migration.

    python benchmarks/traced_run.py OUT.txt run PLAN --yes --json

Runs the CLI in this process; a thread takes a snapshot every few seconds and keeps the one
with the most traced memory (the peak the RSS figure sees, give or take the interpreter and
C libraries); at exit OUT.txt gets its 25 largest allocation sites (3 frames each) and the traced peak.
A `run` also gets the sites still live when its load step ends: what the run keeps, not its
transients (compare two sizes to see what grows with the migration).
`sandbox_migration.py --trace-memory` runs hdmigrate this way."""

from __future__ import annotations

import sys
import threading
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cli_in_process import run_cli  # noqa: E402  (benchmarks/, this script's own directory)


def main() -> int:
    out, argv = Path(sys.argv[1]), sys.argv[2:]
    tracemalloc.start(3)
    best: dict = {"size": -1, "snapshot": None}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(3.0):
            size = tracemalloc.get_traced_memory()[0]
            if size > best["size"]:
                best["size"], best["snapshot"] = size, tracemalloc.take_snapshot()

    threading.Thread(target=sample, daemon=True).start()
    at_load_end: dict = {}
    from hdmigrate.engine.flow import FlowStep
    step_end = FlowStep._step_end

    def _step_end(engine, name, counts):
        if name == "load" and "snapshot" not in at_load_end:
            at_load_end["size"] = tracemalloc.get_traced_memory()[0]
            at_load_end["snapshot"] = tracemalloc.take_snapshot()
        return step_end(engine, name, counts)
    FlowStep._step_end = _step_end
    code = 1
    try:
        code = run_cli(argv)           # hdmigrate is imported, and traced, from here on
    finally:
        stop.set()
        peak = tracemalloc.get_traced_memory()[1]
        lines = [f"traced peak {peak / 2**20:.1f} MB; largest snapshot {best['size'] / 2**20:.1f} MB"]
        lines += _sites(best.get("snapshot"))
        if at_load_end:
            lines.append(f"at the end of the load step: {at_load_end['size'] / 2**20:.1f} MB traced")
            lines += _sites(at_load_end["snapshot"])
        out.write_text("\n".join(lines) + "\n")
    return code


def _sites(snapshot, n: int = 25) -> list[str]:
    if snapshot is None:
        return []
    snap = snapshot.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    out = []
    for stat in snap.statistics("traceback")[:n]:
        where = " < ".join(f"{Path(f.filename).name}:{f.lineno}" for f in stat.traceback)
        out.append(f"{stat.size / 2**20:8.2f} MB {stat.count:9d} blocks  {where}")
    return out


if __name__ == "__main__":
    sys.exit(main())
