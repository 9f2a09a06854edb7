"""One writer per work directory: an exclusive `flock` on `<workdir>/.lock`.

Two processes writing one staging database and one target at once duplicate records that no id
map knows (and rollback cannot remove), so every command that writes (`run`, `rollback`,
`verify`, the wizard, each `batch` member, which is a `run`) holds this lock while it works. A
second one exits 2 at once, naming the pid that holds it.

The lock is the kernel's, not the file's: the OS drops a `flock` on every exit, kill -9 included,
so a stale lock cannot exist. The file stays behind (with the last holder's pid in it, for the
message) and the next process simply takes it over. Within one process the lock is re-entrant
(the wizard holds it for its whole session and drives the engine, which takes it again); the
descriptor is not inherited by child processes, so a child never keeps a dead parent's lock.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import ConfigError, StateError

LOCK_NAME = ".lock"

_held: dict[str, list] = {}        # real path of the work directory -> [fd, depth, pid]
_mutex = threading.Lock()


class WorkdirBusy(ConfigError):
    """Another hdmigrate process holds the work directory (exit 2)."""

    def __init__(self, workdir: Path, pid: int | None):
        who = f"hdmigrate pid {pid}" if pid else "another hdmigrate process"
        super().__init__(f"work directory {workdir} is in use by {who}; wait for it or stop it")
        self.workdir = workdir
        self.pid = pid


def lock_path(workdir: Path | str) -> Path:
    return Path(workdir) / LOCK_NAME


def recorded_pid(workdir: Path | str) -> int | None:
    """The pid written by the holder (or the last holder: the file outlives the lock)."""
    try:
        text = lock_path(workdir).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def acquire(workdir: Path | str) -> None:
    """Take the lock of `workdir` (which must exist) or raise WorkdirBusy; re-entrant in-process.
    Every `acquire` is paired with a `release`."""
    workdir = Path(workdir)
    key = os.path.realpath(workdir)
    with _mutex:
        entry = _held.get(key)
        if entry is not None and entry[2] == os.getpid():
            entry[1] += 1
            return
        try:
            fd = os.open(lock_path(workdir), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            raise StateError(f"no migration in {workdir} (no such directory)") from None
        except OSError as e:
            raise ConfigError(f"cannot lock work directory {workdir}: {_reason(e)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise WorkdirBusy(workdir, _holder_pid(workdir)) from None
            raise ConfigError(f"cannot lock work directory {workdir}: {_reason(e)}") from None
        try:
            os.fchmod(fd, 0o600)      # a file left by an older version may be wider
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except OSError:
            pass                      # the pid is only for the message; the lock itself holds
        _held[key] = [fd, 1, os.getpid()]


def release(workdir: Path | str) -> None:
    key = os.path.realpath(Path(workdir))
    with _mutex:
        entry = _held.get(key)
        if entry is None or entry[2] != os.getpid():
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _held[key]
        fd = entry[0]
        try:
            os.ftruncate(fd, 0)       # no pid left behind by a clean exit
        except OSError:
            pass
        os.close(fd)                  # closing the only descriptor drops the flock


def held(workdir: Path | str) -> bool:
    """Whether this process holds the lock of `workdir`."""
    entry = _held.get(os.path.realpath(Path(workdir)))
    return entry is not None and entry[2] == os.getpid()


@contextmanager
def hold(workdir: Path | str):
    """`with hold(workdir):` — the lock for the block."""
    acquire(workdir)
    try:
        yield
    finally:
        release(workdir)


def _holder_pid(workdir: Path) -> int | None:
    # The holder writes its pid right after taking the lock: give it a moment if the file is
    # still empty (a few ms at most; the answer is only for the message).
    for _ in range(20):
        pid = recorded_pid(workdir)
        if pid:
            return pid
        time.sleep(0.01)
    return None


def _reason(e: OSError) -> str:
    text = e.strerror or str(e)
    return text[:1].lower() + text[1:]
