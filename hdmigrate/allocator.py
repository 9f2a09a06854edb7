"""glibc's allocator settings that keep a long run's memory flat (issue 16: RSS flat from 1× to 16×).

What Python frees goes back to glibc's malloc, which keeps it for reuse. Two of its defaults make
the resident size of a long multi-threaded run creep while the live data stays the same size
(tracemalloc saw Python's own peak at 81 MB at 5,000 tickets and 85 MB at 20,000, while RSS rose
155 → 167 MB):
- an arena per thread that ever allocated (up to 8 per core): the load lanes, the feed and the
  staging readers each leave freed memory in an arena of their own that the others do not reuse;
- the mmap threshold rises to the largest block freed (up to 32 MiB): once the first large
  response body (an export page of 1,000 tickets) is freed, later ones come from the heap, where
  they fragment, instead of from mmap, which gives them back on free.
Two arenas and a fixed 128 KiB threshold (glibc's initial one): 167 → 142 MB at 20,000 tickets
with the same wall time (docs/performance.md). A user's own MALLOC_ARENA_MAX or
MALLOC_MMAP_THRESHOLD_ wins; elsewhere than glibc nothing is changed.
"""

from __future__ import annotations

import ctypes
import os

M_MMAP_THRESHOLD = -3     # <malloc.h>; setting it also turns off the threshold's rise
M_ARENA_MAX = -8
ARENAS = 2
MMAP_THRESHOLD = 128 * 1024

_done = False


def settle() -> bool:
    """Apply the settings once per process; True when they were applied."""
    global _done
    if _done:
        return True
    if "MALLOC_ARENA_MAX" in os.environ or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    libc = _glibc()
    if libc is None:
        return False
    ok = libc.mallopt(M_ARENA_MAX, ARENAS) == 1 and libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    _done = ok
    return ok


def _glibc():
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version      # glibc only (musl's mallopt does nothing, macOS has none)
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        return libc
    except (OSError, AttributeError):
        return None
