"""The one HTTP layer every adapter talks through (httpx + tenacity).

Retries and rate limiting sit above the transport, so a mocked transport (respx, MockTransport)
still exercises them. One `RateLimiter` per host is shared by every client and worker in the
process; it paces requests ahead of time (a token bucket), is corrected by the vendors'
rate-limit headers, and pauses the whole host after a 429. Every message, log line and body
excerpt leaving this package goes through `redact`.

Status mapping after retries:
    statuses in `ok` or `allow`  returned to the caller
    429, 5xx, timeouts, drops    retried; after `max_attempts` → TransientApiError
    401 / 403                    FatalApiError (bad credentials / missing rights)
    400/404/409/413/422          RecordRejected, with a short excerpt of the vendor's error body
    anything else                FatalApiError (unexpected answer)

Modules: client (HttpClient, one exchange), retrying, classify (status → error), pagination,
downloads, ratelimit, redaction, urls, limits (the caps), stats. Every public name is importable
from `hdmigrate.http`.
"""

from hdmigrate.http.classify import VendorCause, status_cause, transport_cause
from hdmigrate.http.client import HttpClient
from hdmigrate.http.pagination import ApiPage, by_cursor_field, by_link_header, by_next_url, by_number
from hdmigrate.http.limits import (DEFAULT_DEADLINE, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_DOWNLOAD_BYTES,
                                       REJECT_STATUSES, RETRY_EXCEPTIONS, RETRY_STATUSES, UNSENT_EXCEPTIONS,
                                       current_download_limit, download_limit)
from hdmigrate.http.ratelimit import (RateLimiter, RatePolicy, limiter_for, policy_for, parse_retry_after, rate_limit_info,
                                          rate_limit_observations, reset_limiters, retry_after_of)
from hdmigrate.http.redaction import excerpt_of, redact
from hdmigrate.http.retrying import should_retry
from hdmigrate.http.stats import HttpStats
from hdmigrate.http.urls import check_url_scheme, is_loopback
from hdmigrate.netguard import DeadlineExceeded, PageGuard, PaginationLoop, ResponseTooLarge, SilentServer, UrlRefused

__all__ = [
    "HttpClient", "HttpStats", "RateLimiter", "RatePolicy", "policy_for", "limiter_for", "reset_limiters", "redact", "excerpt_of",
    "parse_retry_after", "retry_after_of", "current_download_limit", "rate_limit_info",
    "rate_limit_observations", "should_retry", "UNSENT_EXCEPTIONS", "RETRY_EXCEPTIONS", "RETRY_STATUSES",
    "REJECT_STATUSES", "is_loopback", "check_url_scheme", "PageGuard", "PaginationLoop", "UrlRefused",
    "ResponseTooLarge", "DeadlineExceeded", "SilentServer", "download_limit", "DEFAULT_DEADLINE", "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_DOWNLOAD_BYTES", "VendorCause", "status_cause", "transport_cause",
    "ApiPage", "by_link_header", "by_next_url", "by_cursor_field", "by_number",
]
