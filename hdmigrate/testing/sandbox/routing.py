"""Routes (`@route`) and the rate-limit buckets behind a sandbox's limits."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass


# --------------------------------------------------------------------------- routing

@dataclass
class Route:
    method: str
    pattern: re.Pattern
    handler: Callable
    name: str
    bucket: str | None = None   # per-endpoint rate-limit bucket (see SandboxServer.classify)
    auth: bool = True
    cost: int = 1
    unbound: bool = True        # a class method (called with the sandbox), not a plain function


def route(method: str, pattern: str, *, name: str | None = None, bucket: str | None = None,
          auth: bool = True, cost: int = 1) -> Callable:
    """Register a handler method: `pattern` must match the whole path (named groups → params)."""
    def decorate(func: Callable) -> Callable:
        routes = func.__dict__.setdefault("_sandbox_routes", [])
        routes.append(dict(method=method.upper(), pattern=pattern, name=name or func.__name__,
                           bucket=bucket, auth=auth, cost=cost))
        return func
    return decorate


# --------------------------------------------------------------------------- rate limiting

@dataclass
class BucketUsage:
    """What one bucket says about a request; vendor header hooks render these."""

    name: str
    limit: int
    remaining: int
    reset: float              # seconds until the window resets
    allowed: bool = True


class Bucket:
    """A fixed one-minute window (how Zendesk and Freshdesk count), thread-safe."""

    def __init__(self, name: str, per_minute: float, clock: Callable[[], float], window: float = 60.0):
        self.name = name
        self.limit = max(1, int(per_minute))
        self.window = window
        self._clock = clock
        self._start = clock()
        self._used = 0
        self._lock = threading.Lock()

    def _roll(self, now: float) -> None:
        if now - self._start >= self.window:
            # Windows stay aligned to the first one, as a wall-clock minute would.
            self._start += self.window * math.floor((now - self._start) / self.window)
            self._used = 0

    def peek(self, cost: int = 1) -> BucketUsage:
        with self._lock:
            now = self._clock()
            self._roll(now)
            reset = self._start + self.window - now
            allowed = self._used + cost <= self.limit
            return BucketUsage(self.name, self.limit, max(0, self.limit - self._used), reset, allowed)

    def take(self, cost: int = 1) -> None:
        with self._lock:
            self._roll(self._clock())
            self._used += cost

    @property
    def window_start(self) -> float:
        """When the current window began, on the bucket's clock (every window starts a whole
        number of windows after it): what a benchmark needs to know which requests one window
        can carry."""
        with self._lock:
            self._roll(self._clock())
            return self._start
