"""`hdmigrate ...` with its memory sampled from inside, for telling where a rise in RSS lives.

    python benchmarks/sampled_run.py OUT.jsonl SECONDS run PLAN --yes --json

Runs the CLI in this process exactly as the `hdmigrate` command does (allocator settings
included). A thread writes one JSON line to OUT.jsonl every SECONDS, cheap enough not to change
the run (unlike tracemalloc):
- `t`: time.monotonic() (the same clock as the benchmark's event times on Linux);
- `rss_anon`, `rss_file`, `rss_shmem`: /proc/self/status, kB → bytes (file: code and libraries,
  shmem: SQLite's WAL index);
- `malloc_used`, `malloc_free`, `malloc_mmap`: glibc's mallinfo2 summed over its arenas: bytes in
  use from the heaps, bytes freed but kept by the heaps, bytes in blocks served by mmap;
- `py_blocks`: sys.getallocatedblocks() (Python objects' memory blocks alive, any size);
- `sqlite`: sqlite3_memory_used() of the library the interpreter loaded (page caches, statements);
- `threads`: threading.active_count().
`sandbox_migration.py --sample-memory SECONDS` runs hdmigrate this way and prints, per step, the
sample with the largest RSS.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cli_in_process import run_cli  # noqa: E402  (benchmarks/, this script's own directory)


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                 "fordblks", "keepcost")]


def _probes():
    """(mallinfo2 or None, sqlite3_memory_used or None): whatever this platform has."""
    mallinfo = sqlite_used = None
    try:
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = _Mallinfo2
        mallinfo = libc.mallinfo2
    except (OSError, AttributeError):
        pass
    import _sqlite3
    for name in (_sqlite3.__file__, ctypes.util.find_library("sqlite3")):
        try:
            lib = ctypes.CDLL(name)
            lib.sqlite3_memory_used.restype = ctypes.c_int64
            sqlite_used = lib.sqlite3_memory_used
            break
        except (OSError, AttributeError, TypeError):
            continue
    return mallinfo, sqlite_used


def sample(mallinfo, sqlite_used) -> dict:
    row: dict = {"t": time.monotonic()}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                row[key.lower().replace("vm", "")] = int(value.split()[0]) * 1024
    if mallinfo is not None:
        m = mallinfo()
        row.update(malloc_used=m.uordblks, malloc_free=m.fordblks, malloc_mmap=m.hblkhd)
    if sqlite_used is not None:
        row["sqlite"] = sqlite_used()
    row["py_blocks"] = sys.getallocatedblocks()
    row["threads"] = threading.active_count()
    return row


def main() -> int:
    out, every, argv = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
    mallinfo, sqlite_used = _probes()
    stop = threading.Event()

    def loop() -> None:
        with open(out, "w") as f:
            while True:
                f.write(json.dumps(sample(mallinfo, sqlite_used)) + "\n")
                f.flush()
                if stop.wait(every):
                    f.write(json.dumps(sample(mallinfo, sqlite_used)) + "\n")
                    return

    from hdmigrate import allocator
    allocator.settle()              # as hdmigrate.commands.cli.main does, before any thread
    sampler = threading.Thread(target=loop, daemon=True)
    sampler.start()
    try:
        return run_cli(argv)
    finally:
        stop.set()
        sampler.join(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
