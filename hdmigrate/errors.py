"""The error tree. Classes are sorted by what the engine does next, not by where they come from.

HdmError
├─ ConfigError         bad plan, missing env var, unknown adapter      → exit 2
├─ CapabilityError     the plan needs what an adapter cannot do         → exit 2
├─ StateError          store newer than the code; plan changed mid-run  → exit 2
├─ ApiError(status, method, url, request_id, excerpt)
│  ├─ TransientApiError  429, 5xx, timeouts, dropped connections        retried by the HTTP layer
│  ├─ FatalApiError      401, 403 on the account, unexpected            → exit 3, resumable
│  └─ RecordRejected     400/409/422 on one write                       record failed, run goes on
└─ RecordError          invalid record, missing reference               record failed, run goes on
"""

from __future__ import annotations


class HdmError(Exception):
    """Base of every error hdmigrate raises on purpose; `str()` is a one-line message for users."""

    exit_code = 1


class ConfigError(HdmError):
    exit_code = 2


class CapabilityError(HdmError):
    exit_code = 2


class StateError(HdmError):
    exit_code = 2


class ApiError(HdmError):
    exit_code = 3

    def __init__(self, message: str, *, status: int | None = None, method: str | None = None,
                 url: str | None = None, request_id: str | None = None, excerpt: str | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.method = method
        self.url = url
        self.request_id = request_id
        self.excerpt = excerpt
        self.retry_after = retry_after


class TransientApiError(ApiError):
    """Worth retrying: 429, 5xx, timeouts, dropped connections."""


class FatalApiError(ApiError):
    """Stops the run (bad credentials, missing rights, unexpected answers); the run is resumable."""


class RecordRejected(ApiError):
    """The API refused one record (400/409/422); that record fails, the run goes on."""

    exit_code = 1


class RecordError(HdmError):
    """A record that cannot be staged or written: invalid, or a reference that failed."""

    def __init__(self, message: str, *, kind: str | None = None, id: str | None = None,
                 field: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.id = id
        self.field = field
