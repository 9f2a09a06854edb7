"""A loopback emulation of Help Scout's Mailbox API 2.0 (`hdmigrate sandbox helpscout`), seeded
from any canonical dump: server.py (routes, auth, limits), writes.py (conversation and thread
writes with their documented checks), limits.py (the documented limits), hal.py (pages, errors,
rendering), seed.py (from a dump)."""

from __future__ import annotations

from .server import APP_ID, APP_SECRET, OWNER_EMAIL, HelpScoutSandbox


def make_sandbox(data=None, port: int = 0, rate_limit: float | None = None, faults=None,
                 seed: int | None = None) -> HelpScoutSandbox:
    """The `hdmigrate sandbox helpscout` entry point (AdapterSpec.sandbox)."""
    return HelpScoutSandbox(data=data, port=port, rate_limit=rate_limit, faults=faults, seed=seed)


__all__ = ["HelpScoutSandbox", "make_sandbox", "APP_ID", "APP_SECRET", "OWNER_EMAIL"]
