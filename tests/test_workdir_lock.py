"""One writer per work directory (issue 13.1): the lock module itself, then real processes — a
slow `hdmigrate run` holds its work directory; a second `run`, `rollback`, `verify`, wizard or
`batch` member on it exits 2 at once naming that pid; after kill -9 of the holder a new run
takes the lock over and completes. And an unwritable work directory is a configuration error
(issue 14.9)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w

from hdmigrate.canonical_dump import iter_records
from adapters.zendesk.sandbox import make_sandbox
from hdmigrate import workdir_lock
from hdmigrate.errors import StateError
from hdmigrate.testing.sample import write_dump
from hdmigrate.store import Store
from hdmigrate.workdir_lock import WorkdirBusy

REPO = Path(__file__).resolve().parent.parent
HOLDER = """
import sys, time
from hdmigrate import workdir_lock
workdir_lock.acquire(sys.argv[1])
print("held", flush=True)
time.sleep(600)
"""
TRY = """
import sys
from hdmigrate import workdir_lock
try:
    workdir_lock.acquire(sys.argv[1])
except workdir_lock.WorkdirBusy as e:
    print("busy", e.pid)
else:
    print("acquired")
"""


def _env(extra: dict | None = None) -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), **(extra or {})}


def _python(code: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], env=_env(), capture_output=True,
                          text=True, timeout=60)


def _start_holder(workdir: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(workdir)], env=_env(), stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


# -- the lock module ------------------------------------------------------------------------------

def test_lock_file_is_owner_only_and_names_the_holder(tmp_path):
    workdir_lock.acquire(tmp_path)
    try:
        path = tmp_path / workdir_lock.LOCK_NAME
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert workdir_lock.recorded_pid(tmp_path) == os.getpid()
        assert workdir_lock.held(tmp_path)
        assert _python(TRY, tmp_path).stdout.split() == ["busy", str(os.getpid())]
    finally:
        workdir_lock.release(tmp_path)
    assert not workdir_lock.held(tmp_path)
    assert workdir_lock.recorded_pid(tmp_path) is None      # a clean release leaves no pid
    assert _python(TRY, tmp_path).stdout.split() == ["acquired"]


def test_held_by_another_process_is_refused_with_its_pid(tmp_path):
    holder = _start_holder(tmp_path)
    try:
        with pytest.raises(WorkdirBusy) as busy:
            workdir_lock.acquire(tmp_path)
        assert busy.value.exit_code == 2
        assert busy.value.pid == holder.pid
        assert str(busy.value) == (f"work directory {tmp_path} is in use by hdmigrate pid {holder.pid}; "
                                   "wait for it or stop it")
        assert not workdir_lock.held(tmp_path)
    finally:
        _kill(holder)


def test_kill_9_of_the_holder_frees_the_lock(tmp_path):
    holder = _start_holder(tmp_path)
    _kill(holder)
    assert workdir_lock.recorded_pid(tmp_path) == holder.pid    # the file outlives its holder ...
    with workdir_lock.hold(tmp_path):                           # ... and is taken over
        assert workdir_lock.recorded_pid(tmp_path) == os.getpid()


def test_a_leftover_file_with_a_free_lock_is_taken_over(tmp_path):
    path = tmp_path / workdir_lock.LOCK_NAME
    path.write_text("4194303\n", encoding="ascii")
    path.chmod(0o644)
    with workdir_lock.hold(tmp_path):
        assert workdir_lock.recorded_pid(tmp_path) == os.getpid()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_reentrant_in_one_process(tmp_path):
    with workdir_lock.hold(tmp_path):
        with workdir_lock.hold(tmp_path):      # the wizard holds it and drives the engine
            pass
        assert workdir_lock.held(tmp_path)
        assert _python(TRY, tmp_path).stdout.split()[0] == "busy"
    assert _python(TRY, tmp_path).stdout.split() == ["acquired"]


def test_missing_work_directory(tmp_path):
    with pytest.raises(StateError, match="no such directory"):
        workdir_lock.acquire(tmp_path / "nowhere")


# -- real processes -------------------------------------------------------------------------------

def _plan(path: Path, source: dict, out: Path, workdir: Path, rate: float) -> Path:
    path.write_text(tomli_w.dumps({
        "source": source, "target": {"adapter": "jsonl", "path": str(out)},
        "run": {"workdir": str(workdir), "rate_limit": {"source": rate}},
    }), encoding="utf-8")
    return path


def _hdm(*args, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hdmigrate", *map(str, args)], env=_env(env), input="",
                          capture_output=True, text=True, timeout=120)


def _wait_until_held(workdir: Path, proc: subprocess.Popen) -> None:
    # The holder writes its pid right after taking the lock; wait for it (not a timing assert).
    deadline = time.monotonic() + 60
    while workdir_lock.recorded_pid(workdir) != proc.pid:
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        assert time.monotonic() < deadline, "the run never took the lock"
        time.sleep(0.05)


def test_a_second_writer_exits_2_naming_the_first_and_kill_9_frees_it(tmp_path):
    dump = tmp_path / "dump"
    write_dump(dump, tickets=6, seed=3)
    box = make_sandbox(data=dump).start()
    try:
        wd, out = tmp_path / "work", tmp_path / "out"
        # 6 requests a minute: the first run is still extracting when the others try.
        slow = _plan(tmp_path / "slow.toml", box.plan_section, out, wd, 6)
        fast = _plan(tmp_path / "fast.toml", box.plan_section, out, wd, 60000)
        first = subprocess.Popen([sys.executable, "-m", "hdmigrate", "run", str(slow), "--yes", "--json"],
                                 env=_env(box.env), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
        try:
            _wait_until_held(wd, first)
            busy = f"work directory {wd} is in use by hdmigrate pid {first.pid}; wait for it or stop it"
            second = _hdm("run", fast, "--yes", env=box.env)
            assert second.returncode == 2, second.stderr
            assert busy in second.stderr
            rollback = _hdm("rollback", "--plan", fast, "--yes", env=box.env)
            assert rollback.returncode == 2 and busy in rollback.stderr, rollback.stderr
            verify = _hdm("verify", "--workdir", wd, env=box.env)
            assert verify.returncode == 2 and busy in verify.stderr, verify.stderr
            answers = tmp_path / "answers.json"
            answers.write_text(json.dumps({"source.adapter": "jsonl"}), encoding="utf-8")
            wizard = _hdm("wizard", "--workdir", wd, "--answers", answers, env=box.env)
            assert wizard.returncode == 2 and busy in wizard.stderr, wizard.stderr
            assert not (wd / "wizard.json").exists()          # the wizard wrote nothing there
            batch = _hdm("batch", fast, "--yes", "--no-html", "--state", tmp_path / "batch", env=box.env)
            assert batch.returncode == 2, batch.stdout + batch.stderr      # its highest member code
            assert f"hdmigrate pid {first.pid}" in batch.stdout + batch.stderr
            assert first.poll() is None       # all of them stopped while the first still ran
            # `status` and `report` only read: they work beside the writer.
            assert _hdm("status", "--workdir", wd, env=box.env).returncode == 0
        finally:
            _kill(first)
        assert workdir_lock.recorded_pid(wd) == first.pid        # kill -9 left its pid behind
        third = _hdm("run", fast, "--yes", env=box.env)
        assert third.returncode == 0, third.stderr[-2000:]
        assert workdir_lock.recorded_pid(wd) is None
        store = Store(wd, create=False)
        try:
            assert all(set(states) == {"done"} for states in store.id_map_counts().values())
            done_tickets = store.id_map_counts()["ticket"]["done"]
        finally:
            store.close()
        tickets = list(iter_records(out, "ticket"))
        assert len(tickets) == len({t["id"] for t in tickets}) == done_tickets == len(list(iter_records(dump, "ticket")))
    finally:
        box.stop()


# -- an unwritable work directory (issue 14.9) ----------------------------------------------------

def _jsonl_plan(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    write_dump(src, tickets=2, seed=1)
    plan = tmp_path / "p.toml"
    plan.write_text(tomli_w.dumps({"source": {"adapter": "jsonl", "path": str(src)},
                                   "target": {"adapter": "jsonl", "path": str(tmp_path / "out")}}), encoding="utf-8")
    return plan


def test_work_directory_under_a_file_is_a_configuration_error(tmp_path):
    plan = _jsonl_plan(tmp_path)
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    wd = tmp_path / "afile" / "work"
    result = _hdm("run", plan, "--yes", "--workdir", wd, env={})
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == f"error: cannot create work directory {wd}: not a directory"
    assert "internal error" not in result.stderr
    answers = tmp_path / "answers.json"
    answers.write_text("{}", encoding="utf-8")
    wizard = _hdm("wizard", "--workdir", wd, "--answers", answers, env={})
    assert wizard.returncode == 2, wizard.stderr
    assert wizard.stderr.strip() == f"error: cannot create work directory {wd}: not a directory"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_work_directory_in_a_read_only_directory_is_a_configuration_error(tmp_path):
    plan = _jsonl_plan(tmp_path)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        result = _hdm("run", plan, "--yes", "--workdir", ro / "work", env={})
    finally:
        ro.chmod(0o755)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == f"error: cannot create work directory {ro / 'work'}: permission denied"
