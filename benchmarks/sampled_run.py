"""`hdmigrate ...` with its memory sampled from inside, for telling where a rise in RSS lives.

    python benchmarks/sampled_run.py [--load-end] OUT.jsonl SECONDS run PLAN --yes --json

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
- `threads`: threading.active_count();
- `grew_in` (only on a sample whose anonymous RSS grew by GROWTH bytes or more since the one
  before): each thread's innermost hdmigrate/adapters frames at that moment (name: "file:line
  function < ..."), to tell which step a lasting rise (pymalloc keeping a burst's arenas) came
  from. The stacks show where the threads are at the sample, not the allocation itself: sample
  often (e.g. 0.5 s) for it to name the burst's code.
`--load-end`: when the load step ends, OUT.load-end.txt gets pymalloc's totals (arenas kept,
bytes in use and free inside them: `sys._debugmallocstats`) and, per attribute of the engine
(its target, source, load context, caches), the objects reachable from it and their sizes: what
the run keeps, apart from the arenas its bursts left behind.
`sandbox_migration.py --sample-memory SECONDS [--load-end]` runs hdmigrate this way and prints,
per step, the sample with the largest RSS.
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


GROWTH = 1 << 20


def _stacks() -> dict[str, str]:
    """Each thread's innermost frames in this project's code (others: the thread's top frame)."""
    names = {t.ident: t.name for t in threading.enumerate()}
    out = {}
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue
        ours, top = [], None
        while frame is not None and len(ours) < 5:
            path = frame.f_code.co_filename
            where = f"{Path(path).name}:{frame.f_lineno} {frame.f_code.co_name}"
            top = top or where
            if f"{ROOT}/hdmigrate/" in path or f"{ROOT}/adapters/" in path:
                ours.append(where)
            frame = frame.f_back
        out[names.get(ident, str(ident))] = " < ".join(ours) or top or ""
    return out


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


def _debugmallocstats() -> list[str]:
    """pymalloc's own account (sys._debugmallocstats writes it to the C stderr): its totals."""
    import os
    import tempfile
    with tempfile.TemporaryFile() as f:
        saved = os.dup(2)
        os.dup2(f.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        lines = f.read().decode("utf-8", "replace").splitlines()
    keep = ("# arenas allocated current", "# arenas highwater mark", "# bytes in allocated blocks",
            "# bytes in available blocks", "unused pools")
    return [line for line in lines if any(k in line for k in keep)]


def _held_by(roots: dict[str, object]) -> list[str]:
    """Objects reachable from each root (not through modules, classes or functions, and not
    counted twice), with their sizes: small ones (pymalloc's, up to 512 bytes) and the rest; the
    roots holding 100 kB or more."""
    import gc
    import types
    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.CodeType,
            types.MethodType)
    seen: set[int] = set()
    out = []
    for name, root in roots.items():
        n = small = big = 0
        stack = [root]
        while stack:
            o = stack.pop()
            if id(o) in seen or isinstance(o, skip):
                continue
            seen.add(id(o))
            size = sys.getsizeof(o, 0)
            n, small, big = n + 1, small + (size if size <= 512 else 0), big + (size if size > 512 else 0)
            stack.extend(gc.get_referents(o))
        if small + big >= 100_000:
            out.append(f"{name}: {n} objects, {small / 2**20:.2f} MB small, {big / 2**20:.2f} MB large")
    return out


def _report_at_load_end(path: Path) -> None:
    """At the end of the load step (what the run keeps, its bursts gone): pymalloc's totals
    and what the engine's attributes hold. A pause of a second or so: only when asked for."""
    from hdmigrate.engine.flow import FlowStep, _Loader
    step_end = FlowStep._step_end

    def _step_end(engine, name, counts):
        if name == "load":
            import gc
            gc.collect()
            roots = {f"engine.{k}": v for k, v in vars(engine).items()}
            for loader in (o for o in gc.get_objects() if isinstance(o, _Loader)):
                roots.update({f"load step.{k}": v for k, v in vars(loader).items() if k != "e"})
            path.write_text("\n".join(_debugmallocstats() + _held_by(roots)) + "\n")
        return step_end(engine, name, counts)
    FlowStep._step_end = _step_end


def main() -> int:
    load_end = sys.argv[1] == "--load-end"
    args = sys.argv[2:] if load_end else sys.argv[1:]
    out, every, argv = Path(args[0]), float(args[1]), args[2:]
    mallinfo, sqlite_used = _probes()
    if load_end:
        _report_at_load_end(out.with_suffix(".load-end.txt"))
    stop = threading.Event()

    def loop() -> None:
        anon = 0
        with open(out, "w") as f:
            while True:
                row = sample(mallinfo, sqlite_used)
                if anon and row.get("rssanon", 0) - anon >= GROWTH:
                    row["grew_in"] = _stacks()
                anon = row.get("rssanon", 0)
                f.write(json.dumps(row) + "\n")
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
