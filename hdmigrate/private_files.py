"""Files and directories holding customer data: owner-only (0600 files, 0700 directories).

Every file the tool writes with customer data (dumps, reports, JUnit files, logs) goes through
these, whatever the umask: a report names tickets, people and failure reasons.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: str | Path) -> Path:
    """Create `path` and its missing parents owner-only; directories that already exist (the
    user's own, /tmp) are left as they are."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass
        os.chmod(d, DIR_MODE)  # mkdir's mode is filtered by the umask
    return path


def open_private(path: str | Path, mode: str = "w", **kwargs):
    """open() for writing (w, a, wb, ab, r+b...) that creates the file 0600 and tightens an
    existing one left world-readable by an older version."""
    path = Path(path)
    private_dir(path.parent)
    flags = os.O_CREAT | (os.O_RDWR if "+" in mode else os.O_WRONLY)
    if "a" in mode:
        flags |= os.O_APPEND
    elif "w" in mode:
        flags |= os.O_TRUNC
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):  # never chmod a terminal or pipe (--output /dev/stdout)
            os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def write_private_bytes(path: str | Path, data: bytes) -> Path:
    """Write whole or not at all (temporary file, then rename), owner-only. A symlink, device or
    pipe (`--output /dev/stdout`) is written through, never replaced."""
    path = Path(path)
    if path.is_symlink() or (path.exists() and not path.is_file()):
        with open_private(path, "wb") as f:
            f.write(data)
        return path
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        with open_private(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_private_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    return write_private_bytes(path, text.encode(encoding))
