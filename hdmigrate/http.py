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
from dataclasses import dataclass, field
from typing import Any

import httpx
import tenacity

from hdmigrate.errors import ConfigError, FatalApiError, RecordError, RecordRejected, TransientApiError

__all__ = [
    "HttpClient", "HttpStats", "RateLimiter", "limiter_for", "reset_limiters", "redact",
    "parse_retry_after", "rate_limit_info", "rate_limit_observations", "should_retry", "UNSENT_EXCEPTIONS", "is_loopback", "check_url_scheme",
]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 507, 520, 521, 522, 523, 524})
REJECT_STATUSES = frozenset({400, 404, 409, 413, 422})
RETRY_EXCEPTIONS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
UNSENT_EXCEPTIONS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
EXCERPT_CHARS = 500
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
    """Forget every shared limiter (tests)."""
    with _LIMITERS_LOCK:
        _LIMITERS.clear()


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
                 rng: random.Random | None = None):
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
        # follow_redirects stays off: API answers are taken as they come; download() follows by hand.
        self._client = httpx.Client(base_url=self.base_url, headers=headers or {}, timeout=timeout,
                                    transport=transport, follow_redirects=False)

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
        last = attempt >= self.max_attempts     # tenacity asks for a wait before its stop check
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
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait,
            sleep=self._retry_sleep,
            retry_error_callback=lambda state: state.outcome,
            reraise=False,
        )

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
        if outcome.failed:
            error = outcome.exception()
            if not isinstance(error, RETRY_EXCEPTIONS):
                raise error
            return TransientApiError(
                self.redact(f"{method} {url} failed after {self.max_attempts} attempts: "
                            f"{type(error).__name__}: {error}"),
                method=method, url=safe_url)
        response = outcome.result()
        excerpt = excerpt_of(response, self.secrets)
        return TransientApiError(
            self.redact(f"{method} {url} still answered HTTP {response.status_code} after "
                        f"{self.max_attempts} attempts: {excerpt}"),
            status=response.status_code, method=method, url=safe_url,
            request_id=_request_id(response.headers), excerpt=excerpt,
            retry_after=retry_after_of(response, now=self._wall_clock()))

    def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        """One attempt: wait for the limiter, send, count, feed the limiter from the headers."""
        limiter = self._limiter_for_url(request.url)
        limiter.acquire(self._sleep)
        auth = self._auth
        if not self._same_host(request.url):
            # Credentials go to the API host only (presigned storage URLs reject them).
            auth = None
            request.headers.pop("authorization", None)
        try:
            response = self._client.send(request, auth=auth, stream=stream)
        except httpx.HTTPError:
            self.stats.count_error()
            raise
        self.stats.count_response(response.status_code)
        for limit, remaining, reset in rate_limit_observations(response.headers):
            limiter.observe(limit, remaining, reset)
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
            return self._send(request)

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

    def paginate_link_header(self, path: str, params: Any = None) -> Iterator[httpx.Response]:
        """RFC 5988 `Link: <…>; rel="next"` pagination (Freshdesk); yields each page's response."""
        url: str | None = path
        seen: set[str] = set() if params else {str(self._url(path))}
        first = True
        while url:
            response = self.request("GET", url, params=params if first else None)
            first = False
            yield response
            url = response.links.get("next", {}).get("url")
            url = self._unseen(url, seen)

    def paginate_next_url(self, path: str, params: Any = None, *,
                          next_url: Callable[[Any], str | None]) -> Iterator[Any]:
        """Pagination where the JSON body names the next URL (Zendesk links.next / next_page /
        after_url, RT next_page); yields each page's JSON body."""
        url: str | None = path
        seen: set[str] = set() if params else {str(self._url(path))}
        first = True
        while url:
            body = self.get_json(url, params=params if first else None)
            first = False
            yield body
            url = self._unseen(next_url(body) if body is not None else None, seen)

    def _unseen(self, url: str | None, seen: set[str]) -> str | None:
        """A next URL, or None when it repeats one already fetched (a looping API)."""
        if not url:
            return None
        key = str(self._url(url))
        if key in seen:
            self.log(f"pagination loop: {url} was already fetched; stopping")
            return None
        seen.add(key)
        return url

    def paginate_offset(self, path: str, params: Any = None, *, page_param: str = "page",
                        size_param: str | None = "per_page", size: int = 100,
                        items: Callable[[Any], list], start: int = 1) -> Iterator[Any]:
        """Page-number pagination; stops after a page with fewer than `size` items."""
        page = start
        while True:
            query = dict(params or {})
            query[page_param] = page
            if size_param:
                query[size_param] = size
            body = self.get_json(path, params=query)
            yield body
            if body is None or len(items(body) or []) < size:
                return
            page += 1

    def download(self, url: str, *, max_bytes: int | None = None, max_redirects: int = 10) -> bytes:
        """GET a file, streamed, following redirects by hand so every hop passes the URL rules;
        credentials go to the API host only (presigned storage URLs reject them)."""
        target = self._url(url)

        def attempt(method: str, start: httpx.URL) -> bytes | httpx.Response:
            current = start
            for _ in range(max_redirects + 1):
                response = self._send(self._client.build_request("GET", current), stream=True)
                try:
                    if response.is_redirect and "location" in response.headers:
                        current = current.join(response.headers["location"])
                        check_url_scheme(current)
                        continue
                    if response.status_code != 200:
                        response.read()
                        return response
                    return self._read_limited(response, current, max_bytes)
                finally:
                    response.close()
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

    def _read_limited(self, response: httpx.Response, url: httpx.URL, max_bytes: int | None) -> bytes:
        declared = response.headers.get("content-length")
        if max_bytes is not None and declared and declared.isdigit() and int(declared) > max_bytes:
            raise RecordError(self.redact(f"{url}: {declared} bytes, more than the {max_bytes} bytes allowed"),
                              kind="attachment", field="size")
        chunks, total = [], 0
        for chunk in response.iter_bytes():
            total += len(chunk)
            if max_bytes is not None and total > max_bytes:
                raise RecordError(self.redact(f"{url}: more than the {max_bytes} bytes allowed"),
                                  kind="attachment", field="size")
            chunks.append(chunk)
        return b"".join(chunks)

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
