"""`hdmigrate ...` under cProfile, for telling where the engine's thread spends its CPU.

    python benchmarks/profiled_run.py OUT run PLAN --yes --json

Runs the CLI in this process (as `traced_run.py` does) with cProfile on its main thread, the
engine's thread: the one that stages, normalizes, resolves and records, and whose CPU bounds a
large migration (the lanes and the feed mostly wait on the network). Writes OUT.pstats and, in
OUT.txt, the 40 functions with the most time of their own and the 40 with the most in all. The
profiler slows the run down (about 1.5×): not for timing. `sandbox_migration.py --profile PREFIX`
runs hdmigrate this way (PREFIX.PAIR.TICKETS.txt)."""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cli_in_process import run_cli  # noqa: E402  (benchmarks/, this script's own directory)


def main() -> int:
    out, argv = Path(sys.argv[1]), sys.argv[2:]
    profile = cProfile.Profile()
    code = 1
    profile.enable()
    try:
        code = run_cli(argv)
    finally:
        profile.disable()
        profile.dump_stats(str(out) + ".pstats")
        text = io.StringIO()
        stats = pstats.Stats(profile, stream=text).strip_dirs()
        for key in ("tottime", "cumulative"):
            text.write(f"\n# sorted by {key}\n")
            stats.sort_stats(key).print_stats(40)
        Path(str(out) + ".txt").write_text(text.getvalue())
    return code


if __name__ == "__main__":
    sys.exit(main())
