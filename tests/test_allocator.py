"""The allocator settings (hdmigrate/allocator.py) take effect: observed through glibc's own
`mallinfo2`, in a fresh interpreter each (they are per process and set before threads start)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent("""
    import ctypes, sys
    from hdmigrate import allocator
    applied = allocator.settle() if sys.argv[1] == "settle" else False
    if sys.argv[1] == "command":                # what `hdmigrate --help` leaves set
        from hdmigrate.commands.cli import main
        sys.argv = ["hdmigrate", "--help"]
        try:
            main()
        except SystemExit:
            pass
        applied = allocator._done

    class Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                   "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = Info
    first = bytearray(4 << 20)        # mmapped under any threshold; freeing it raises glibc's
    del first                         # threshold to 4 MiB unless the threshold was fixed
    second = bytearray(1 << 20)
    print(applied, libc.mallinfo2().hblkhd >= (1 << 20))   # the 1 MiB block: mmapped, or heap
""")


def _probe(mode: str, **env) -> tuple[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                         env={**clean, **env}, timeout=60, check=True).stdout.splitlines()[-1].split()
    return out[0], out[1]


def _glibc() -> bool:
    import ctypes
    try:
        ctypes.CDLL(None).mallinfo2
        return sys.platform.startswith("linux")
    except AttributeError:
        return False


pytestmark = pytest.mark.skipif(not _glibc(), reason="glibc ≥ 2.33 (mallinfo2) is needed to observe malloc")


def test_large_blocks_stay_mmapped_after_a_larger_one_was_freed():
    assert _probe("plain") == ("False", "False")      # glibc's default: the threshold rose, heap
    assert _probe("settle") == ("True", "True")       # fixed threshold: given back to the system on free


def test_the_users_own_malloc_settings_win():
    assert _probe("settle", MALLOC_ARENA_MAX="4") == ("False", "False")


def test_the_command_applies_them():
    assert _probe("command") == ("True", "True")
