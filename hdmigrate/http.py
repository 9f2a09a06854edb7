"""The one HTTP layer every adapter talks through (httpx + tenacity).

Retries and rate limiting sit above the transport, so a mocked transport (respx, MockTransport)
still exercises them. One `RateLimiter` per host is shared by every client and worker in the
process; it paces requests ahead of time (a token bucket), is corrected by the vendors'
rate-limit headers, and pauses the whole host after a 429. Every message, log line and body
excerpt leaving this module goes through `redact`.

Status mapping after retries:
    statuses in `ok` or `allow`  returned to the caller
    429, 5xx, timeouts, drops    retried; after `max_attempts` → TransientApiError
    401 / 403                    FatalApiError (bad credentials / missing rights)
    400/404/409/413/422          RecordRejected, with a short excerpt of the vendor's error body
    anything else                FatalApiError (unexpected answer)
"""

from __future__ import annotations

import base64
import email.utils
import functools
import ipaddress
import json as jsonlib
import math
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx
import tenacity

from hdmigrate.errors import ConfigError, FatalApiError, RecordError, RecordRejected, TransientApiError
from hdmigrate.netguard import (DeadlineExceeded, PageGuard, PaginationLoop, ResponseTooLarge, UrlRefused,
                                MIN_RATE, _DeadlinePassed, address_problem, guarded, guarded_transport,
                                host_matches, read_body, read_body_into, resolve)
from hdmigrate.blobfile import BlobFile, spool_directory

__all__ = [
    "HttpClient", "HttpStats", "RateLimiter", "limiter_for", "reset_limiters", "redact",
    "parse_retry_after", "current_download_limit", "rate_limit_info", "rate_limit_observations", "should_retry", "UNSENT_EXCEPTIONS", "is_loopback", "check_url_scheme",
    "PageGuard", "PaginationLoop", "UrlRefused", "ResponseTooLarge", "DeadlineExceeded", "download_limit",
]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 507, 520, 521, 522, 523, 524})
REJECT_STATUSES = frozenset({400, 404, 409, 413, 422})
RETRY_EXCEPTIONS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
UNSENT_EXCEPTIONS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
EXCERPT_CHARS = 500
# Resource caps (docs/guarantees.md): every one can be lowered per client (tests use tiny ones).
DEFAULT_DEADLINE = 30.0                      # seconds a request may take overall, headers and body
DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024   # an API answer, decoded (gzip bombs count decoded)
DEFAULT_MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024   # a file; the engine passes the plan's limit
ERROR_BODY_BYTES = 64 * 1024                 # an error answer is read this far, for its excerpt
CONNECT_TIMEOUT = 10.0
FIRST_CONTACT_ATTEMPTS = 2   # a host that never answered: refused or unknown is a bad URL, not a blip
REDACTED = "***"
# Shorter "secrets" are placeholders (Freshdesk's password "X"); redacting them would mangle text.
MIN_SECRET_CHARS = 4


# --------------------------------------------------------------------------- redaction

# Query parameters and headers whose values are credentials whatever the secret list says.
_SECRET_PARAM = re.compile(
    r"(?i)(?<![\w-])((?:token|access_token|auth_token|api_key|apikey|api_token|key|password|passwd"
    r"|secret|client_secret|sig|signature|user_token)=)[^&#\s\"'<>]+")
_SECRET_JSON = re.compile(
    r"(?i)(\"(?:token|access_token|api_key|apikey|api_token|password|passwd|secret|client_secret)"
    r"\"\s*:\s*)\"(?:[^\"\\]|\\.)*\"")
_AUTH_HEADER = re.compile(r"(?i)\b((?:proxy-)?authorization\s*[:=]\s*['\"]?)"
                          r"(?:(basic|bearer|token|digest)\s+)?[^\s'\",}]+")
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")


@functools.lru_cache(maxsize=256)
def _secret_pattern(secret: str) -> re.Pattern:
    """The secret, each character either literal or percent-encoded (any hex case), or base64."""
    parts = []
    for char in secret:
        encoded = "".join(f"%{byte:02x}" for byte in char.encode())
        options = [re.escape(char), re.escape(encoded)]
        if char == " ":
            options.append(r"\+")
        parts.append("(?:" + "|".join(options) + ")")
    b64 = re.escape(base64.b64encode(secret.encode()).decode().rstrip("="))
    return re.compile("|".join(["".join(parts), b64]), re.IGNORECASE if secret.isascii() else 0)


def _decodes_to_secret(run: str, secrets: list[str]) -> bool:
    """True when a base64 run (a Basic auth value, say) decodes to text holding a secret."""
    core = run.rstrip("=")
    for alphabet in (None, b"-_"):
        try:
            decoded = base64.b64decode(core + "=" * (-len(core) % 4), altchars=alphabet)
        except ValueError:
            continue
        text = decoded.decode("utf-8", "replace")
        if any(s in text for s in secrets):
            return True
    return False


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret, its URL-encoded and base64 forms (e.g. inside a Basic auth
    header), Authorization header values and credential query parameters replaced by ***."""
    if not text:
        return text
    known = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)
    if known:
        text = _B64_RUN.sub(lambda m: REDACTED if _decodes_to_secret(m.group(0), known) else m.group(0),
                            text)
        for secret in known:
            text = text.replace(secret, REDACTED)
            text = _secret_pattern(secret).sub(REDACTED, text)
    text = _SECRET_PARAM.sub(lambda m: m.group(1) + REDACTED, text)
    text = _SECRET_JSON.sub(lambda m: m.group(1) + '"' + REDACTED + '"', text)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + (m.group(2) + " " if m.group(2) else "") + REDACTED,
                            text)
    return text


# --------------------------------------------------------------------------- URL rules

def is_loopback(host: str) -> bool:
    host = (host or "").strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url_scheme(url: httpx.URL | str) -> None:
    """Plain HTTP carries credentials in the clear: allowed to loopback (sandboxes) only."""
    url = httpx.URL(str(url))
    if url.scheme == "https":
        return
    if url.scheme == "http":
        if is_loopback(url.host):
            return
        raise ConfigError(f"refusing plain HTTP to {url.host}: use https:// "
                          "(plain http is allowed to loopback addresses only)")
    raise ConfigError(f"unsupported URL scheme {url.scheme!r} in {redact(str(url), ())}")


# --------------------------------------------------------------------------- rate limiting

class RateLimiter:
    """Thread-safe token bucket (requests per minute), corrected by vendor headers.

    Reservations, not polling: `acquire` books the next free slot under the lock, then sleeps
    once outside it, so a no-op test sleep never spins. `per_minute=None` paces nothing but
    still honours `observe` and `pause`."""

    def __init__(self, per_minute: float | None = None, *, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._burst = burst
        self.per_minute: float | None = None
        self._interval = 0.0          # seconds between requests at the configured rate
        self._tolerance = 0.0         # how far ahead of schedule a burst may run
        self._tat = clock()           # theoretical arrival time of the next request (GCRA)
        self._hold_until = 0.0        # nobody sends before this (429, remaining == 0)
        self._slow_interval = 0.0     # extra pacing while the vendor says few requests remain
        self._slow_until = 0.0
        self.set_rate(per_minute)

    def set_rate(self, per_minute: float | None) -> None:
        with self._lock:
            if per_minute is not None and per_minute <= 0:
                raise ConfigError(f"rate limit must be positive, got {per_minute}")
            self.per_minute = per_minute
            if per_minute is None:
                self._interval = self._tolerance = 0.0
                return
            self._interval = 60.0 / per_minute
            # Default burst: one second's worth of requests, at least one.
            burst = self._burst if self._burst is not None else max(1.0, per_minute / 60.0)
            self._tolerance = max(0.0, burst - 1.0) * self._interval

    def acquire(self, sleep: Callable[[float], None] | None = None) -> None:
        """Block until a request may go (`sleep`: the caller's own, e.g. a client's injected one)."""
        sleep = sleep or self._sleep
        with self._lock:
            now = self._clock()
            send_at = self._reserve(now)
            hold_seen = self._hold_until
        if send_at > now:
            sleep(send_at - now)
        # A pause that arrived while we slept (another worker got a 429) applies to us too.
        while True:
            with self._lock:
                now = self._clock()
                if self._hold_until <= hold_seen or self._hold_until <= now:
                    return
                wait, hold_seen = self._hold_until - now, self._hold_until
            sleep(wait)

    def _reserve(self, now: float) -> float:
        earliest = max(now, self._hold_until)
        interval = self._interval
        if now < self._slow_until:
            interval = max(interval, self._slow_interval)
        if interval <= 0:
            return earliest
        tolerance = self._tolerance if interval == self._interval else 0.0
        tat = max(self._tat, earliest)
        send_at = max(earliest, tat - tolerance)
        self._tat = tat + interval
        return send_at

    def observe(self, limit: int | None, remaining: int | None, reset_seconds: float | None) -> None:
        """Correct the bucket from a response's rate-limit headers."""
        with self._lock:
            now = self._clock()
            if limit and limit > 0 and (self.per_minute is None or limit < self.per_minute) \
                    and reset_seconds is None:
                # Per-minute vendors (Zendesk X-Rate-Limit, Freshdesk X-Ratelimit-Total) know better.
                self._lower_rate(float(limit))
            if remaining is None:
                return
            if remaining <= 0:
                hold = reset_seconds if reset_seconds is not None else self._default_reset(limit)
                self._hold_until = max(self._hold_until, now + hold)
            elif limit and remaining < max(2, limit * 0.1):
                # Few left: spread them over what is left of the window instead of bursting.
                window = reset_seconds if reset_seconds is not None else 60.0
                self._slow_interval = window / remaining
                self._slow_until = now + window
            else:
                self._slow_until = 0.0

    def _lower_rate(self, per_minute: float) -> None:
        self.per_minute = per_minute
        self._interval = 60.0 / per_minute
        burst = self._burst if self._burst is not None else max(1.0, per_minute / 60.0)
        self._tolerance = max(0.0, burst - 1.0) * self._interval

    @staticmethod
    def _default_reset(limit: int | None) -> float:
        # No reset header (Zendesk X-Rate-Limit, Freshdesk): per-minute windows, so one slot.
        return 60.0 / limit if limit and limit > 0 else 1.0

    def pause(self, seconds: float) -> None:
        """After a 429 Retry-After: every worker on the host waits."""
        if seconds <= 0:
            return
        with self._lock:
            self._hold_until = max(self._hold_until, self._clock() + seconds)

    def held_for(self) -> float:
        """Seconds until a pause or an exhausted window ends (0 when none)."""
        with self._lock:
            return max(0.0, self._hold_until - self._clock())


_LIMITERS: dict[tuple[str, Callable[[], float]], RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(host: str, per_minute: float | None, *, clock: Callable[[], float] = time.monotonic,
                sleep: Callable[[float], None] = time.sleep) -> RateLimiter:
    """The process-wide limiter of a host ("name" or "name:port"). Keyed by host and clock, so a
    test's fake clock never shares a bucket with real time. When clients ask for different rates
    the lowest wins."""
    key = (host.lower(), clock)
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None:
            limiter = _LIMITERS[key] = RateLimiter(per_minute, clock=clock, sleep=sleep)
            return limiter
    if per_minute is not None and (limiter.per_minute is None or per_minute < limiter.per_minute):
        limiter.set_rate(per_minute)
    return limiter


def reset_limiters() -> None:
    """Forget every shared limiter and every host seen answering (tests)."""
    with _LIMITERS_LOCK:
        _LIMITERS.clear()
        _ANSWERED.clear()


# Hosts ("name:port") that have answered at least once in this process. Until one has, a refused
# connection or an unknown name means a wrong URL (fail in seconds, with the hint); after, it is a
# transient drop worth the whole retry schedule.
_ANSWERED: set[str] = set()


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


# --------------------------------------------------------------------------- header parsing

def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds or an HTTP date (`now` is the
    wall clock, time.time() by default)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _int_header(headers: httpx.Headers, *names: str) -> int | None:
    for name in names:
        value = headers.get(name)
        if value is None:
            continue
        try:
            # ratelimit-* may carry a policy suffix ("100;w=60"): keep the leading number.
            return int(float(value.split(";")[0].split(",")[0].strip()))
        except ValueError:
            continue
    return None


# (limit, remaining, reset) header names per family; the per-minute account families first.
_RATE_HEADER_FAMILIES = (
    ("x-rate-limit", "x-rate-limit-remaining", None),                    # Zendesk account
    ("x-ratelimit-total", "x-ratelimit-remaining", None),                # Freshdesk
    ("x-ratelimit-limit-minute", "x-ratelimit-remaining-minute", None),  # Help Scout
    ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"),       # Zendesk lists, IETF draft
    ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"),  # Front and others
)


def rate_limit_observations(headers: httpx.Headers) -> list[tuple[int | None, int | None, float | None]]:
    """Every (limit, remaining, reset seconds) a response's headers announce, any vendor."""
    found = []
    for limit_name, remaining_name, reset_name in _RATE_HEADER_FAMILIES:
        limit = _int_header(headers, limit_name)
        remaining = _int_header(headers, remaining_name)
        if limit is None and remaining is None:
            continue
        if limit_name == "x-ratelimit-limit" and "x-ratelimit-total" in headers:
            continue   # Freshdesk's family already read
        reset = _int_header(headers, reset_name) if reset_name else None
        reset_seconds = float(reset) if reset is not None else None
        if reset_seconds is not None and reset_seconds > 10 * 365 * 86400:
            reset_seconds = max(0.0, reset_seconds - time.time())   # an epoch time, not a delta
        found.append((limit, remaining, reset_seconds))
    return found


def rate_limit_info(headers: httpx.Headers) -> tuple[int | None, int | None, float | None]:
    """The first (limit, remaining, reset seconds) a response announces, or Nones."""
    found = rate_limit_observations(headers)
    return found[0] if found else (None, None, None)


def retry_after_of(response: httpx.Response, *, now: float | None = None) -> float | None:
    headers = response.headers
    value = headers.get("retry-after") or headers.get("x-ratelimit-retry-after")
    return parse_retry_after(value, now=now)


def _request_id(headers: httpx.Headers) -> str | None:
    for name in ("x-request-id", "x-zendesk-request-id", "x-amzn-requestid", "request-id", "x-trace-id"):
        if headers.get(name):
            return headers[name]
    return None


def excerpt_of(response: httpx.Response, secrets: Iterable[str] = (), limit: int = EXCERPT_CHARS) -> str:
    """A short, redacted excerpt of an error body; vendor error JSON kept as compact JSON."""
    try:
        raw = response.content
    except httpx.ResponseNotRead:
        return ""
    # Cut huge bodies first (a 5 MB HTML error page); the final cut comes after redaction.
    text = raw[: limit * 8].decode(response.encoding or "utf-8", "replace")
    try:
        text = jsonlib.dumps(jsonlib.loads(text), ensure_ascii=False, separators=(",", ":"))
    except ValueError:
        text = " ".join(text.split())
    text = redact(text, secrets)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- stats

@dataclass
class HttpStats:
    """Counters for benchmarks and tests. `total` counts attempts sent (retries included)."""

    total: int = 0
    by_status: Counter = field(default_factory=Counter)
    retries: int = 0
    rate_limited: int = 0           # 429s received
    transport_errors: int = 0       # timeouts, refused or dropped connections
    waited: float = 0.0             # seconds slept by retry waits
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count_response(self, status: int) -> None:
        with self._lock:
            self.total += 1
            self.by_status[status] += 1
            if status == 429:
                self.rate_limited += 1

    def count_error(self) -> None:
        with self._lock:
            self.total += 1
            self.transport_errors += 1

    def count_dropped_answer(self, status: int) -> None:
        """An answer whose connection broke after its status line: a transport error, not a status."""
        with self._lock:
            self.by_status[status] -= 1
            if not self.by_status[status]:
                del self.by_status[status]
            if status == 429:
                self.rate_limited -= 1
            self.transport_errors += 1

    def count_retry(self, wait: float) -> None:
        with self._lock:
            self.retries += 1
            self.waited += wait

    def as_dict(self) -> dict:
        with self._lock:
            return {"total": self.total, "by_status": dict(self.by_status), "retries": self.retries,
                    "rate_limited": self.rate_limited, "transport_errors": self.transport_errors,
                    "waited": round(self.waited, 3)}

    def __getitem__(self, key: str) -> Any:   # stats["429s"] etc. for quick benchmark scripts
        aliases = {"429s": "rate_limited", "429": "rate_limited"}
        return self.as_dict()[aliases.get(key, key)]


# --------------------------------------------------------------------------- retry predicates

def should_retry(allow: Collection[int], retry_state: tenacity.RetryCallState, *,
                 idempotent: bool = True) -> bool:
    """Pure retry predicate: transport failures and retryable statuses not in `allow`. When the
    request is not idempotent, only failures before it was sent (connect) are retried."""
    outcome = retry_state.outcome
    if outcome.failed:
        error = outcome.exception()
        if not idempotent:
            return isinstance(error, UNSENT_EXCEPTIONS)
        return isinstance(error, RETRY_EXCEPTIONS)
    result = outcome.result()
    if not isinstance(result, httpx.Response):
        return False
    return result.status_code in RETRY_STATUSES and result.status_code not in allow


class _TooLongToWait(Exception):
    pass


# --------------------------------------------------------------------------- the client

class HttpClient:
    """One vendor API: base URL, auth, retries, rate limiting, pagination, downloads."""

    def __init__(self, base_url: str, *, auth: Any = None, headers: dict | None = None,
                 rate_limit: float | None = None, timeout: float = 30.0, max_attempts: int = 8,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, secrets: Iterable[str] = (),
                 log: Callable[[str], None] | None = None, max_wait: float = 300.0,
                 wall_clock: Callable[[], float] = time.time, backoff_initial: float = 0.5,
                 backoff_max: float = 60.0, limiter: RateLimiter | None = None,
                 rng: random.Random | None = None, attachment_hosts: Iterable[str] = (),
                 deadline: float = DEFAULT_DEADLINE, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
                 resolver: Callable[[str, int], list[str]] = resolve):
        """`attachment_hosts`: the vendor's documented file hosts (`*.zdusercontent.com`), the
        only hosts besides the API's own that `download` starts from. `deadline`: seconds one
        request may take overall (downloads earn more per byte received)."""
        self.base_url = httpx.URL(base_url.rstrip("/") + "/")
        check_url_scheme(self.base_url)
        if max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, got {max_attempts}")
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._log = log
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._rng = rng or random.Random()
        self.rate_limit = rate_limit
        self._auth, auth_secrets = self._build_auth(auth)
        self.secrets = self._collect_secrets(secrets, auth_secrets, headers or {})
        self.stats = HttpStats()
        self.host = self.base_url.netloc.decode("ascii")
        self.limiter = limiter or limiter_for(self.host, rate_limit, clock=clock, sleep=sleep)
        self.attachment_hosts = tuple(attachment_hosts)
        self.deadline = deadline
        self.max_body_bytes = max_body_bytes
        self.max_download_bytes = max_download_bytes
        self._resolver = resolver
        # Loopback may be reached from a loopback source only (sandboxes, tests).
        self._on_loopback = is_loopback(self.base_url.host)
        # Only encodings read_body decodes in bounded steps (br/zstd would expand unchecked).
        headers = {"Accept-Encoding": "gzip, deflate", **(headers or {})}
        # follow_redirects stays off: API answers are taken as they come; download() follows by hand.
        self._client = httpx.Client(base_url=self.base_url, headers=headers,
                                    timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)),
                                    transport=transport or guarded_transport(), follow_redirects=False)

    # ---- construction helpers
    @staticmethod
    def _build_auth(auth: Any) -> tuple[httpx.Auth | None, list[str]]:
        if auth is None:
            return None, []
        if isinstance(auth, tuple) and len(auth) == 2:
            user, password = (str(part) for part in auth)
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            # `key:X` (Freshdesk) or `token:` style: the user part is the credential.
            credential = password if len(password) >= MIN_SECRET_CHARS else user
            return httpx.BasicAuth(user, password), [credential, token]
        if isinstance(auth, httpx.Auth):
            return auth, []
        raise ConfigError(f"unsupported auth {type(auth).__name__}: give (user, password) or an httpx.Auth")

    @staticmethod
    def _collect_secrets(secrets: Iterable[str], auth_secrets: list[str], headers: dict) -> tuple[str, ...]:
        found = [s for s in secrets if s] + [s for s in auth_secrets if s]
        for name, value in headers.items():
            if name.lower() in ("authorization", "proxy-authorization") or \
                    any(word in name.lower() for word in ("token", "key", "secret", "password")):
                value = str(value)
                found.append(value)
                scheme, _, credential = value.partition(" ")
                if credential and scheme.lower() in ("basic", "bearer", "token"):
                    found.append(credential)
        return tuple(dict.fromkeys(found))

    # ---- small helpers
    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def log(self, message: str) -> None:
        if self._log is not None:
            self._log(self.redact(message))

    def _url(self, url_or_path: str) -> httpx.URL:
        url = httpx.URL(url_or_path)
        if url.is_relative_url:
            url = self.base_url.join(url_or_path.lstrip("/"))
        check_url_scheme(url)
        return url

    def _same_host(self, url: httpx.URL) -> bool:
        return url.netloc == self.base_url.netloc and url.scheme == self.base_url.scheme

    # ---- network reach (module netguard; docs/guarantees.md "network reach")
    def _reach_problem(self, url: httpx.URL) -> str | None:
        """Why a host other than the API's own may not be contacted (IP literals; names are
        checked once resolved, by `_vet`)."""
        if self._same_netloc(url):
            return None
        return address_problem(url.host, allow_loopback=self._on_loopback)

    def _vet_for(self, url: httpx.URL) -> Callable[[str, int], str] | None:
        """The connect-time check for `url`'s host: None for the API's own host (the plan names
        it, wherever it lives)."""
        if self._same_netloc(url):
            return None

        def vet(host: str, port: int) -> str:
            try:
                addresses = self._resolver(host, port)
            except OSError as e:
                raise httpcore.ConnectError(f"cannot resolve {host}: {e}") from None
            for address in addresses:
                problem = address_problem(address, allow_loopback=self._on_loopback)
                if problem:
                    raise UrlRefused(f"refusing to connect to {host}: it resolves to {address}, {problem}")
            if not addresses:
                raise httpcore.ConnectError(f"cannot resolve {host}: no address")
            return addresses[0]
        return vet

    def _same_netloc(self, url: httpx.URL) -> bool:
        return url.netloc == self.base_url.netloc

    def _download_problem(self, url: httpx.URL, previous: httpx.URL | None) -> str | None:
        """Why `download` refuses a URL (a start, or a redirect hop from `previous`), or None."""
        if url.scheme not in ("http", "https"):
            return f"unsupported URL scheme {url.scheme!r}"
        if previous is not None and previous.scheme == "https" and url.scheme == "http":
            return "a redirect from https to plain http"
        reach = self._reach_problem(url)
        if reach:
            return f"{url.host} is {reach}"
        if url.scheme == "http" and not is_loopback(url.host):
            return "plain http (allowed to loopback addresses only)"
        if previous is None and not self._same_netloc(url) and not (
                url.scheme == "https" and host_matches(url.host, self.attachment_hosts)):
            return ("not the source's own host nor one of its vendor's attachment hosts "
                    f"({', '.join(self.attachment_hosts) or 'none declared'})")
        return None

    def _limiter_for_url(self, url: httpx.URL) -> RateLimiter:
        if self._same_host(url):
            return self.limiter
        # Other hosts (CDNs, presigned storage) are not paced, but their 429s still pause them.
        return limiter_for(url.netloc.decode("ascii"), None, clock=self._clock, sleep=self._sleep)

    # ---- the retry machinery
    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        """Wait strategy: Retry-After when the server gives one (and pause the host's limiter for
        every worker), else exponential backoff with jitter (half fixed, half random)."""
        outcome = retry_state.outcome
        attempt = retry_state.attempt_number
        wait: float | None = None
        if not outcome.failed:
            response = outcome.result()
            if response.status_code in (429, 503):
                wait = retry_after_of(response, now=self._wall_clock())
        if wait is None:
            ceiling = min(self.backoff_max, self.backoff_initial * 2 ** (attempt - 1))
            wait = ceiling / 2 + self._rng.uniform(0, ceiling / 2)
            if not outcome.failed and outcome.result().status_code == 429:
                wait = max(wait, 1.0)
        if wait > self.max_wait:
            raise _TooLongToWait(wait)
        # tenacity asks for a wait before its stop check
        last = attempt >= self.max_attempts or self._unreachable(retry_state)
        if not last:
            self.stats.count_retry(wait)
            self.log(f"{self._describe(retry_state)}; retrying in {wait:.1f}s "
                     f"(attempt {attempt + 1} of {self.max_attempts})")
        if not outcome.failed:
            response = outcome.result()
            if response.status_code == 429 or "retry-after" in response.headers:
                # The server throttles the whole host: pause its limiter, and let the next
                # acquire() do the waiting, so this worker and every other waits exactly once.
                url = response.request.url
                self._limiter_for_url(url).pause(wait)
                if self._same_host(url):    # an injected per-endpoint limiter: the host waits too
                    limiter_for(self.host, None, clock=self._clock, sleep=self._sleep).pause(wait)
                return 0.0
        return wait

    def _retry_sleep(self, seconds: float) -> None:
        if seconds > 0:       # tenacity sleeps even for 0 (a pause handed to the limiter)
            self._sleep(seconds)

    def _describe(self, retry_state: tenacity.RetryCallState) -> str:
        method, url = retry_state.args[0], retry_state.args[1]
        outcome = retry_state.outcome
        what = (f"{type(outcome.exception()).__name__}: {outcome.exception()}" if outcome.failed
                else f"HTTP {outcome.result().status_code}")
        return f"{method} {url} → {what}"

    def _retrying(self, allow: Collection[int], idempotent: bool = True) -> tenacity.Retrying:
        return tenacity.Retrying(
            retry=functools.partial(should_retry, frozenset(allow), idempotent=idempotent),
            stop=tenacity.stop_after_attempt(self.max_attempts) | self._unreachable,
            wait=self._wait,
            sleep=self._retry_sleep,
            retry_error_callback=lambda state: state.outcome,
            reraise=False,
        )

    @staticmethod
    def _unreachable(retry_state: tenacity.RetryCallState) -> bool:
        """Stop early: a host that never answered in this process refuses the connection or has
        no address. That is a wrong URL (check fails in seconds), not a transient drop."""
        outcome = retry_state.outcome
        if outcome is None or not outcome.failed or retry_state.attempt_number < FIRST_CONTACT_ATTEMPTS:
            return False
        url = retry_state.args[1]
        return (isinstance(outcome.exception(), (httpx.ConnectError, httpx.ConnectTimeout))
                and url.netloc.decode("ascii") not in _ANSWERED)

    def _run(self, attempt: Callable[[str, httpx.URL], Any], method: str, url: httpx.URL,
             allow: Collection[int], idempotent: bool = True) -> Any:
        """Run `attempt(method, url)` with retries; returns its result or raises an ApiError."""
        try:
            result = self._retrying(allow, idempotent)(attempt, method, url)
        except RETRY_EXCEPTIONS as e:       # not retried (idempotent=False): still transient
            raise TransientApiError(
                self.redact(f"{method} {url}: {type(e).__name__}: {e} (not retried: the request "
                            "may have reached the server)"),
                method=method, url=self.redact(str(url))) from None
        except _TooLongToWait as e:
            raise TransientApiError(
                self.redact(f"{method} {url}: the server asks to wait {e.args[0]:.0f}s, "
                            f"more than max_wait ({self.max_wait:.0f}s)"),
                status=429, method=method, url=self.redact(str(url)), retry_after=e.args[0]) from None
        if isinstance(result, tenacity.Future):    # retries exhausted (retry_error_callback)
            raise self._exhausted(method, url, result)
        return result

    def _exhausted(self, method: str, url: httpx.URL, outcome: tenacity.Future) -> TransientApiError:
        safe_url = self.redact(str(url))
        attempts = getattr(outcome, "attempt_number", self.max_attempts)
        if outcome.failed:
            error = outcome.exception()
            if not isinstance(error, RETRY_EXCEPTIONS):
                raise error
            if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout)) and \
                    url.netloc.decode("ascii") not in _ANSWERED:
                return TransientApiError(
                    self.redact(f"{method} {url}: cannot reach {url.host} ({type(error).__name__}: "
                                f"{error}) after {attempts} attempts; nothing has answered at this "
                                "address: check the url in the plan"),
                    method=method, url=safe_url)
            return TransientApiError(
                self.redact(f"{method} {url} failed after {attempts} attempts: "
                            f"{type(error).__name__}: {error}"),
                method=method, url=safe_url)
        response = outcome.result()
        excerpt = excerpt_of(response, self.secrets)
        return TransientApiError(
            self.redact(f"{method} {url} still answered HTTP {response.status_code} after "
                        f"{attempts} attempts: {excerpt}"),
            status=response.status_code, method=method, url=safe_url,
            request_id=_request_id(response.headers), excerpt=excerpt,
            retry_after=retry_after_of(response, now=self._wall_clock()))

    def _exchange(self, request: httpx.Request, read: Callable[[httpx.Response], Any],
                  deadline: float | None = None) -> Any:
        """One attempt: wait for the limiter, send under the deadline and the address check,
        count, feed the limiter from the headers, and `read(response)` before the deadline ends."""
        limiter = self._limiter_for_url(request.url)
        limiter.acquire(self._sleep)
        auth = self._auth
        if not self._same_host(request.url):
            # Credentials go to the API host only (presigned storage URLs reject them).
            auth = None
            request.headers.pop("authorization", None)
        problem = self._reach_problem(request.url)
        if problem:
            raise UrlRefused(self.redact(f"refusing to fetch {request.url}: {request.url.host} is {problem}"))
        if deadline is None:
            # An upload earns time for its size at MIN_RATE; answers earn it as they arrive.
            sending = request.headers.get("content-length", "")
            extra = int(sending) / MIN_RATE if sending.isdigit() else 0.0
            deadline = time.monotonic() + self.deadline + extra
        with guarded(deadline, self._vet_for(request.url)):
            try:
                response = self._client.send(request, auth=auth, stream=True)
            except httpx.HTTPError:
                self.stats.count_error()
                raise
            except _DeadlinePassed:
                self.stats.count_error()
                raise self._deadline_error(request) from None
            try:
                self.stats.count_response(response.status_code)
                _ANSWERED.add(request.url.netloc.decode("ascii"))
                for limit, remaining, reset in rate_limit_observations(response.headers):
                    limiter.observe(limit, remaining, reset)
                return read(response)
            except httpx.HTTPError:
                self.stats.count_dropped_answer(response.status_code)
                raise
            except _DeadlinePassed:
                raise self._deadline_error(request) from None
            finally:
                response.close()

    def _deadline_error(self, request: httpx.Request) -> DeadlineExceeded:
        return DeadlineExceeded(
            self.redact(f"{request.method} {request.url}: no complete answer within the request "
                        f"deadline ({self.deadline:g}s overall); the server is too slow or "
                        "trickling its answer"),
            method=request.method, url=self.redact(str(request.url)))

    def _read_api_body(self, response: httpx.Response, ok: Collection[int],
                       allow: Collection[int]) -> httpx.Response:
        """The whole body of an answer the caller takes, capped; an error body only in part."""
        status = response.status_code
        if status in ok or status in allow:
            try:
                read_body(response, self.max_body_bytes)
            except OverflowError:
                raise ResponseTooLarge(
                    self.redact(f"{response.request.method} {response.request.url}: the answer is "
                                f"larger than {self.max_body_bytes} bytes (decoded); refusing it "
                                "(an endless or decompression-bomb body)"),
                    status=status, method=response.request.method,
                    url=self.redact(str(response.request.url))) from None
        else:
            read_body(response, ERROR_BODY_BYTES, truncate=True)
        return response

    # ---- status mapping
    def _check(self, method: str, url: httpx.URL, response: httpx.Response,
               ok: Collection[int], allow: Collection[int]) -> httpx.Response:
        status = response.status_code
        if status in ok or status in allow:
            return response
        safe_url = self.redact(str(url))
        excerpt = excerpt_of(response, self.secrets)
        details = dict(status=status, method=method, url=safe_url,
                       request_id=_request_id(response.headers), excerpt=excerpt)
        if status == 401:
            raise FatalApiError(f"{method} {safe_url}: HTTP 401, bad credentials (check the "
                                f"user and token the plan names): {excerpt}", **details)
        if status == 403:
            raise FatalApiError(f"{method} {safe_url}: HTTP 403, missing rights (the account "
                                f"lacks the permission or plan feature for this call): {excerpt}",
                                **details)
        if status in REJECT_STATUSES:
            raise RecordRejected(f"{method} {safe_url} rejected (HTTP {status}): {excerpt}", **details)
        if status in RETRY_STATUSES:
            raise TransientApiError(f"{method} {safe_url}: HTTP {status}: {excerpt}", **details)
        raise FatalApiError(f"{method} {safe_url}: unexpected HTTP {status}: {excerpt}", **details)

    def _translate(self, method: str, url: httpx.URL, error: httpx.HTTPError) -> FatalApiError:
        return FatalApiError(self.redact(f"{method} {url}: {type(error).__name__}: {error}"),
                             method=method, url=self.redact(str(url)))

    # ---- public API
    def request(self, method: str, url_or_path: str, *, params: Any = None, json: Any = None,
                content: Any = None, files: Any = None, data: Any = None, headers: dict | None = None,
                ok: Collection[int] = (200, 201, 202, 204), allow: Collection[int] = (),
                idempotent: bool = True) -> httpx.Response:
        """Send with retries; statuses in `ok` or `allow` come back, others raise (module doc).
        `idempotent=False`: a write that may have reached the server (timeout or connection
        dropped after sending) is not sent again; TransientApiError lets the caller look it up."""
        method = method.upper()
        url = self._url(url_or_path)
        files = _rewindable_files(files)

        def attempt(method: str, url: httpx.URL) -> httpx.Response:
            request = self._client.build_request(method, url, params=params, json=json, content=content,
                                                 files=files, data=data, headers=headers)
            return self._exchange(request, lambda r: self._read_api_body(r, ok, allow))

        try:
            response = self._run(attempt, method, url, allow, idempotent)
        except httpx.HTTPError as e:
            raise self._translate(method, url, e) from None
        return self._check(method, url, response, ok, allow)

    def get(self, url_or_path: str, *, params: Any = None, **kw: Any) -> httpx.Response:
        return self.request("GET", url_or_path, params=params, **kw)

    def get_json(self, url_or_path: str, *, params: Any = None, **kw: Any) -> Any:
        response = self.request("GET", url_or_path, params=params, **kw)
        return self._json(response)

    def _json(self, response: httpx.Response) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise FatalApiError(
                self.redact(f"{response.request.method} {response.request.url}: expected JSON, got "
                            f"{response.headers.get('content-type', 'no content type')}: "
                            f"{excerpt_of(response, self.secrets, 200)}"),
                status=response.status_code, method=response.request.method,
                url=self.redact(str(response.request.url))) from None

    def paginate_link_header(self, path: str, params: Any = None, *,
                             stream: str | None = None) -> Iterator[httpx.Response]:
        """RFC 5988 `Link: <…>; rel="next"` pagination (Freshdesk); yields each page's response.
        A next link seen before raises PaginationLoop naming `stream`."""
        guard = PageGuard(stream or path)
        url: str | None = path
        if not params:
            guard.see(str(self._url(path)), "next link")
        first = True
        while url:
            response = self.request("GET", url, params=params if first else None)
            first = False
            yield response
            url = response.links.get("next", {}).get("url")
            if url:
                guard.see(str(self._url(url)), "next link")

    def paginate_next_url(self, path: str, params: Any = None, *,
                          next_url: Callable[[Any], str | None], stream: str | None = None) -> Iterator[Any]:
        """Pagination where the JSON body names the next URL (Zendesk links.next / next_page /
        after_url, RT next_page); yields each page's JSON body. A next URL seen before raises
        PaginationLoop naming `stream`."""
        guard = PageGuard(stream or path)
        url: str | None = path
        if not params:
            guard.see(str(self._url(path)), "next link")
        first = True
        while url:
            body = self.get_json(url, params=params if first else None)
            first = False
            yield body
            url = next_url(body) if body is not None else None
            if url:
                guard.see(str(self._url(url)), "next link")

    def paginate_offset(self, path: str, params: Any = None, *, page_param: str = "page",
                        size_param: str | None = "per_page", size: int = 100,
                        items: Callable[[Any], list], start: int = 1,
                        stream: str | None = None) -> Iterator[Any]:
        """Page-number pagination; stops after a page with fewer than `size` items. A page with
        the same items as an earlier one (the server ignores the page number) raises
        PaginationLoop."""
        guard = PageGuard(stream or path)
        page = start
        while True:
            query = dict(params or {})
            query[page_param] = page
            if size_param:
                query[size_param] = size
            body = self.get_json(path, params=query)
            yield body
            found = (items(body) or []) if body is not None else []
            if len(found) < size:
                return
            guard.see_items(item.get("id") if isinstance(item, dict) else item for item in found)
            page += 1

    def download(self, url: str, *, max_bytes: int | None = None, max_redirects: int = 10) -> "bytes | BlobFile":
        """GET a file, streamed, the size cap enforced while reading, following redirects by
        hand so every hop passes the URL rules (`_download_problem`): it starts on the API's own
        host or a declared attachment host, never goes from https to http, never reaches a
        private, link-local or (from a non-loopback source) loopback address. Credentials go to
        the API host only (presigned storage URLs reject them). A refused URL raises UrlRefused.
        Inside `blobfile.spool_downloads` (the engine's attachment staging) the bytes go to a
        BlobFile on disk, which is returned instead of bytes."""
        caps = [c for c in (max_bytes, _download_cap.limit, self.max_download_bytes) if c is not None]
        cap = min(caps)
        try:
            target = httpx.URL(url)
            if target.is_relative_url:
                target = self.base_url.join(url.lstrip("/"))
        except httpx.InvalidURL as e:
            raise UrlRefused(self.redact(f"refusing to fetch {url!r}: {e}")) from None
        problem = self._download_problem(target, None)
        if problem:
            raise UrlRefused(self.redact(f"refusing to fetch {target}: {problem}"))

        def attempt(method: str, start: httpx.URL) -> "bytes | BlobFile | httpx.Response":
            current = start
            began = time.monotonic()
            for _ in range(max_redirects + 1):
                hop = self._exchange(self._client.build_request("GET", current),
                                     lambda r: self._read_download(r, current, cap),
                                     deadline=began + self.deadline)
                if isinstance(hop, httpx.URL):
                    refused = self._download_problem(hop, current)
                    if refused:
                        raise UrlRefused(self.redact(f"refusing the redirect from {current} to {hop}: {refused}"))
                    current = hop
                    continue
                return hop
            raise FatalApiError(self.redact(f"GET {start}: more than {max_redirects} redirects"),
                                method="GET", url=self.redact(str(start)))

        try:
            result = self._run(attempt, "GET", target, ())
        except httpx.HTTPError as e:
            raise self._translate("GET", target, e) from None
        if isinstance(result, httpx.Response):
            self._check("GET", target, result, (200,), ())
            raise self._translate("GET", target, httpx.HTTPError(f"HTTP {result.status_code}"))
        return result

    def _read_download(self, response: httpx.Response, url: httpx.URL,
                       cap: int) -> "bytes | BlobFile | httpx.Response | httpx.URL":
        """A redirect's next URL, a non-200 answer (read in part), or the file's bytes."""
        if response.is_redirect and "location" in response.headers:
            try:
                return url.join(response.headers["location"])
            except httpx.InvalidURL as e:
                raise UrlRefused(self.redact(f"{url}: invalid redirect location: {e}")) from None
        if response.status_code != 200:
            read_body(response, ERROR_BODY_BYTES, truncate=True)
            return response
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > cap:
            raise RecordError(self.redact(f"{url}: {declared} bytes, more than the {cap} bytes allowed"),
                              kind="attachment", field="size")
        try:
            spool = spool_directory()
            if spool is None:
                return read_body(response, cap)
            blob = BlobFile(spool, cap)   # where the engine stages: to disk, never whole in memory
            try:
                read_body_into(response, blob)
            except BaseException:
                blob.discard()
                raise
            return blob.finish()
        except OverflowError:
            raise RecordError(self.redact(f"{url}: more than the {cap} bytes allowed (stopped reading "
                                          "there)"), kind="attachment", field="size") from None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "HttpClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _rewindable_files(files: Any) -> Any:
    """Read file objects once, so a retried multipart upload sends the same bytes again."""
    if not files:
        return files
    items = files.items() if isinstance(files, dict) else files
    out = []
    for name, value in items:
        if isinstance(value, tuple):
            parts = list(value)
            if len(parts) >= 2 and hasattr(parts[1], "read"):
                parts[1] = parts[1].read()
            value = tuple(parts)
        elif hasattr(value, "read"):
            value = value.read()
        out.append((name, value))
    return out
