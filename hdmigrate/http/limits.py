"""The HTTP layer's fixed numbers: which statuses are retried or rejected, and the resource caps
(docs/guarantees.md "Resource caps"; every cap can be lowered per client, tests use tiny ones)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 507, 520, 521, 522, 523, 524})
REJECT_STATUSES = frozenset({400, 404, 409, 413, 422})
RETRY_EXCEPTIONS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
UNSENT_EXCEPTIONS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
EXCERPT_CHARS = 500
DEFAULT_DEADLINE = 30.0                      # seconds a request may take overall, headers and body
DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024   # an API answer, decoded (gzip bombs count decoded)
DEFAULT_MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024   # a file; the engine passes the plan's limit
ERROR_BODY_BYTES = 64 * 1024                 # an error answer is read this far, for its excerpt
CONNECT_TIMEOUT = 10.0
FIRST_CONTACT_ATTEMPTS = 2   # a host that never answered: refused or unknown is a bad URL, not a blip
REDACTED = "***"
# Shorter "secrets" are placeholders (Freshdesk's password "X"); redacting them would mangle text.
MIN_SECRET_CHARS = 4

class _DownloadCap(threading.local):
    limit: int | None = None


_download_cap = _DownloadCap()


@contextmanager
def download_limit(max_bytes: int | None) -> Iterator[None]:
    """Cap every download this thread makes inside (the engine's max_attachment_bytes), whatever
    the adapter asks for."""
    saved = _download_cap.limit
    _download_cap.limit = max_bytes
    try:
        yield
    finally:
        _download_cap.limit = saved


def current_download_limit() -> int | None:
    """The cap `download_limit` set for this thread (None outside the engine's staging)."""
    return _download_cap.limit
