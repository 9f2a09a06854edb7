"""Pacing: one token bucket per host shared by every client and worker in the process, corrected
by the vendors' rate-limit headers and paused by a 429's Retry-After."""

from __future__ import annotations

import email.utils
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from hdmigrate.errors import ConfigError


@dataclass(frozen=True)
class RatePolicy:
    """How fast one budget may go: a starting rate, then what the account announces in its
    rate-limit headers (up and down), times `share`, never above `ceiling`.

    From the plan's `[run] rate_limit` (see `policy_for`): absent → start at the documented
    default, learn freely; a number N → start at N, learn down, never above N; "80%" → start at
    80 % of the documented default, then 80 % of what the account announces."""

    start: float | None
    ceiling: float | None = None
    share: float = 1.0

    def learned(self, announced: float) -> float:
        rate = announced * self.share
        return min(rate, self.ceiling) if self.ceiling is not None else rate


_SHARE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*$")


def policy_for(configured: float | str | None, default: float | None) -> RatePolicy:
    """The policy of one budget from its `[run] rate_limit` value and the adapter's documented
    default (requests per minute)."""
    if configured is None:
        return RatePolicy(start=default)
    if isinstance(configured, str):
        found = _SHARE.match(configured)
        if not found or not 0 < float(found.group(1)) <= 100:
            raise ConfigError(f"rate_limit {configured!r}: give requests per minute (700) or a share of "
                              "the account's limit between 1% and 100% (\"80%\")")
        share = float(found.group(1)) / 100
        return RatePolicy(start=default * share if default else None, share=share)
    if isinstance(configured, bool) or not isinstance(configured, (int, float)) or configured <= 0:
        raise ConfigError(f"rate_limit {configured!r}: requests per minute must be a positive number")
    return RatePolicy(start=float(configured), ceiling=float(configured))


class RateLimiter:
    """Thread-safe token bucket (requests per minute), corrected by vendor headers.

    Reservations, not polling: `acquire` books the next free slot under the lock, then sleeps
    once outside it, so a no-op test sleep never spins. `per_minute=None` paces nothing but
    still honours `observe` and `pause`."""

    def __init__(self, per_minute: "float | RatePolicy | None" = None, *, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        # A plain rate (tests, sandboxes' own clients) only ever lowers itself to what a server
        # announces; a RatePolicy (every adapter client built from a plan) follows it both ways.
        self.policy = per_minute if isinstance(per_minute, RatePolicy) else None
        self.name = ""
        per_minute = self.policy.start if self.policy else per_minute
        self.announced: int | None = None   # the last per-minute limit a server announced
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
        # Per-minute counters without a reset header (Zendesk, Freshdesk) are fixed windows: a
        # jump up in `remaining` marks a new one, so the time left in a window can be learned.
        self._window_start: float | None = None
        self._last_remaining: int | None = None
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

    def observe(self, limit: int | None, remaining: int | None, reset_seconds: float | None) -> bool:
        """Correct the bucket from a response's rate-limit headers. True when the rate in use
        changed, or a policy's first announcement arrived (the caller says which rate it uses)."""
        with self._lock:
            now = self._clock()
            changed = False
            if limit and limit > 0 and reset_seconds is None:
                # Per-minute account limits (Zendesk X-Rate-Limit, Freshdesk X-Ratelimit-Total).
                first, self.announced = self.announced is None, limit
                if self.policy is not None:
                    wanted = self.policy.learned(float(limit))
                elif self.per_minute is None or limit < self.per_minute:
                    wanted = float(limit)
                else:
                    wanted = self.per_minute
                changed = wanted != self.per_minute or (first and self.policy is not None)
                if wanted != self.per_minute:
                    self._lower_rate(wanted)
            if remaining is None:
                return changed
            if reset_seconds is None:
                reset_seconds = self._learned_reset(now, limit, remaining)
            if remaining <= 0:
                hold = reset_seconds if reset_seconds is not None else self._default_reset(limit)
                self._hold_until = max(self._hold_until, now + hold)
            elif limit and remaining < max(2, limit * 0.1):
                # Few left: spread them over what is left of the window instead of bursting.
                # (Assuming a whole minute left when the window is unknown cost ~10 % of every
                # minute at full pace: the last tenth of each window went out at a crawl.)
                window = reset_seconds if reset_seconds is not None else 60.0
                self._slow_interval = window / remaining
                self._slow_until = now + window
            else:
                self._slow_until = 0.0
            return changed

    def _learned_reset(self, now: float, limit: int | None, remaining: int) -> float | None:
        """Seconds left in the current one-minute window, once a window start was seen (None
        before). A rise of more than a tenth of the limit is a new window (a smaller one is an
        answer overtaken by a later one); its start is taken as now, the latest it can have
        been, so the estimate errs towards more time left, i.e. slower."""
        last, self._last_remaining = self._last_remaining, remaining
        if last is not None and limit and remaining > last + max(2, limit * 0.1):
            self._window_start = now
        if self._window_start is None:
            return None
        return 60.0 - (now - self._window_start) % 60.0

    def _lower_rate(self, per_minute: float) -> None:   # (or raise: a policy follows the account)
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


def limiter_for(host: str, per_minute: "float | RatePolicy | None", *, clock: Callable[[], float] = time.monotonic,
                sleep: Callable[[float], None] = time.sleep) -> RateLimiter:
    """The process-wide limiter of a host ("name" or "name:port"). Keyed by host and clock, so a
    test's fake clock never shares a bucket with real time. When clients ask for different rates
    the lowest wins (a policy's starting rate counts as its rate)."""
    key = (host.lower(), clock)
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None:
            limiter = _LIMITERS[key] = RateLimiter(per_minute, clock=clock, sleep=sleep)
            limiter.name = host.lower()     # the budget it is ("host", or "host#class" for per-endpoint ones)
            return limiter
    if isinstance(per_minute, RatePolicy):
        if limiter.policy is None or (per_minute.ceiling or math.inf) < (limiter.policy.ceiling or math.inf):
            limiter.policy = per_minute
        per_minute = per_minute.start if limiter.announced is None else None
    if per_minute is not None and (limiter.per_minute is None or per_minute < limiter.per_minute):
        limiter.set_rate(per_minute)
    return limiter


def reset_limiters() -> None:
    """Forget every shared limiter and every host seen answering (tests)."""
    with _LIMITERS_LOCK:
        _LIMITERS.clear()
        ANSWERED.clear()


# Hosts ("name:port") that have answered at least once in this process. Until one has, a refused
# connection or an unknown name means a wrong URL (fail in seconds, with the hint); after, it is a
# transient drop worth the whole retry schedule.
ANSWERED: set[str] = set()


# ---- rate-limit headers

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
