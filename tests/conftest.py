"""Shared fixtures. `shared_dir` is the one place that locates ../shared (vendor fixtures, API specs,
seed texts, real-helpdesk recipes): in CI (CI=true) a missing ../shared fails loudly, elsewhere
the tests that need it are skipped with the same message."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _find_shared() -> Path | None:
    env = os.environ.get("HDMIGRATE_SHARED")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared"]:
        if (candidate / "design").is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    found = _find_shared()
    if found is None:
        message = (f"../shared not found beside the checkout ({REPO.parent / 'shared'}); "
                   "set HDMIGRATE_SHARED to its path")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(autouse=True)
def _fresh_limiters():
    """Rate limiters are shared per account within a process: every test starts with none."""
    from hdmigrate.http import reset_limiters
    reset_limiters()
    yield
    reset_limiters()


def pytest_collection_modifyitems(config, items):
    # Slow runs (hundreds of kills, thousands of tickets) get an hour instead of the default limit.
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(3600))
