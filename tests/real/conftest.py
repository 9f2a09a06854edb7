"""Real helpdesk servers for tests/real, set up and started through .ci/real-helpdesks.sh.

Every fixture gives a *fresh* instance (`reset`: data wiped, packages and venv kept). Outside CI
the tests are skipped with a reason when the machine cannot run the servers (not root, no
apt-get); in CI (CI=true) that is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / ".ci" / "real-helpdesks.sh"


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"real helpdesk servers unavailable in CI: {reason}")
    pytest.skip(f"real helpdesk servers unavailable: {reason}")


def read_env(path: Path) -> dict[str, str]:
    env = {}
    for line in Path(path).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key] = value
    return env


def _server(shared_dir: Path, system: str, instance: str, needs_root: bool) -> dict:
    if needs_root and (os.geteuid() != 0 or not shutil.which("apt-get")):
        _unavailable(f"{system} needs root and apt-get (Debian bookworm)")
    env = dict(os.environ, HDM_SHARED_DIR=str(shared_dir))
    proc = subprocess.run(["bash", str(SCRIPT), "reset", system, instance], env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        message = f"{SCRIPT.name} reset {system} {instance} failed:\n{proc.stderr[-3000:]}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    creds = Path(proc.stdout.strip().splitlines()[-1])
    out = read_env(creds)
    out["WORKDIR"] = str(creds.parent)
    return out


def _stop(shared_dir: Path, system: str, instance: str) -> None:
    env = dict(os.environ, HDM_SHARED_DIR=str(shared_dir))
    subprocess.run(["bash", str(SCRIPT), "stop", system, instance], env=env, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def rt_source(shared_dir):
    info = _server(shared_dir, "rt", "main", True)
    yield info
    _stop(shared_dir, "rt", "main")


@pytest.fixture  # per test: every test that writes into RT gets an instance nobody else wrote into
def rt_target(shared_dir):
    info = _server(shared_dir, "rt", "target", True)
    yield info
    _stop(shared_dir, "rt", "target")


@pytest.fixture(scope="session")
def hd_server(shared_dir):
    info = _server(shared_dir, "django_helpdesk", "main", False)
    yield info
    _stop(shared_dir, "django_helpdesk", "main")
