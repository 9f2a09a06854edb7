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

Every error the HTTP layer raises also carries a `cause` (one `Cause`), set once where the answer
or the transport error is classified (hdmigrate/http/classify.py), so callers (the wizard's
checks, exit codes) act on it instead of on words in messages.
"""

from __future__ import annotations

from enum import Enum


class Cause(str, Enum):
    """Why a request failed, in terms a person can act on."""

    AUTH = "auth"                        # 401, credentials refused
    PERMISSION = "permission"            # 403, the user lacks the right
    PLAN_FEATURE = "plan_feature"        # 402, or the vendor says the plan lacks the feature
    NOT_FOUND = "not_found"              # 404
    RATE_LIMIT = "rate_limit"            # 429 after every retry, or a wait past max_wait
    BAD_URL = "bad_url"                  # no API at this address (never answered, redirects, 405)
    UNREACHABLE = "unreachable"          # a host that answered before stopped answering
    TIMEOUT = "timeout"                  # the request deadline or the socket timeouts
    SERVER = "server"                    # 5xx after every retry
    INVALID_REQUEST = "invalid_request"  # 400/409/413/422: the vendor refused this record
    TOO_LARGE = "too_large"              # an answer or file over a resource cap
    REFUSED_URL = "refused_url"          # a URL the network rules do not allow
    PAGINATION_LOOP = "pagination_loop"  # the source repeated a cursor, link or page
    BAD_ANSWER = "bad_answer"            # an answer that is not what the API sends (not JSON, …)

    def __str__(self) -> str:
        return self.value


class HdmError(Exception):
    """Base of every error hdmigrate raises on purpose; `str()` is a one-line message for users."""

    exit_code = 1
    default_cause: Cause | None = None

    def __init__(self, *args, cause: Cause | None = None):
        super().__init__(*args)
        self.cause = cause or self.default_cause


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
                 retry_after: float | None = None, cause: Cause | None = None):
        super().__init__(message, cause=cause)
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
                 field: str | None = None, cause: Cause | None = None):
        super().__init__(message, cause=cause)
        self.kind = kind
        self.id = id
        self.field = field
