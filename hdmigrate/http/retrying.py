"""Retries (tenacity): which outcomes are tried again, how long to wait, when to give up."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from typing import Any

import httpx
import tenacity

from hdmigrate.errors import Cause, TransientApiError
from hdmigrate.http.classify import request_id, status_cause, transport_cause
from hdmigrate.http.limits import FIRST_CONTACT_ATTEMPTS, RETRY_EXCEPTIONS, RETRY_STATUSES, UNSENT_EXCEPTIONS
from hdmigrate.http.ratelimit import ANSWERED, limiter_for, retry_after_of
from hdmigrate.http.redaction import excerpt_of
from hdmigrate.netguard import SilentServer

def should_retry(allow: Collection[int], retry_state: tenacity.RetryCallState, *,
                 idempotent: bool = True) -> bool:
    """Pure retry predicate: transport failures and retryable statuses not in `allow`. When the
    request is not idempotent, only failures before it was sent (connect) are retried."""
    outcome = retry_state.outcome
    if outcome.failed:
        error = outcome.exception()
        if isinstance(error, SilentServer):      # once: a trickling server is never asked again
            return idempotent and retry_state.attempt_number == 1
        if not idempotent:
            return isinstance(error, UNSENT_EXCEPTIONS)
        return isinstance(error, RETRY_EXCEPTIONS)
    result = outcome.result()
    if not isinstance(result, httpx.Response):
        return False
    return result.status_code in RETRY_STATUSES and result.status_code not in allow


class _TooLongToWait(Exception):
    pass



class RetryMixin:
    """HttpClient's retry machinery (needs its clock, sleep, limiter, stats and log)."""

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
                # The server throttles: pause the limiter of what it throttles, and let the next
                # acquire() do the waiting, so this worker and every other waits exactly once.
                url = response.request.url
                own = self._class_limiter(url) if response.status_code == 429 else None
                if own is not None:
                    # An endpoint class with a budget of its own (Zendesk's incremental
                    # exports): only its requests wait; an exhausted account says so in its
                    # headers (Remaining: 0), which the limiter has already read.
                    own.pause(wait)
                    return 0.0
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
                and url.netloc.decode("ascii") not in ANSWERED)

    def _run(self, attempt: Callable[[str, httpx.URL], Any], method: str, url: httpx.URL,
             allow: Collection[int], idempotent: bool = True) -> Any:
        """Run `attempt(method, url)` with retries; returns its result or raises an ApiError."""
        try:
            result = self._retrying(allow, idempotent)(attempt, method, url)
        except RETRY_EXCEPTIONS as e:       # not retried (idempotent=False): still transient
            raise TransientApiError(
                self.redact(f"{method} {url}: {type(e).__name__}: {e} (not retried: the request "
                            "may have reached the server)"),
                method=method, url=self.redact(str(url)), cause=transport_cause(e)) from None
        except _TooLongToWait as e:
            raise TransientApiError(
                self.redact(f"{method} {url}: the server asks to wait {e.args[0]:.0f}s, "
                            f"more than max_wait ({self.max_wait:.0f}s)"),
                status=429, method=method, url=self.redact(str(url)), retry_after=e.args[0],
                cause=Cause.RATE_LIMIT) from None
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
                    url.netloc.decode("ascii") not in ANSWERED:
                return TransientApiError(
                    self.redact(f"{method} {url}: cannot reach {url.host} ({type(error).__name__}: "
                                f"{error}) after {attempts} attempts; nothing has answered at this "
                                "address: check the url in the plan"),
                    method=method, url=safe_url, cause=Cause.BAD_URL)
            return TransientApiError(
                self.redact(f"{method} {url} failed after {attempts} attempts: "
                            f"{type(error).__name__}: {error}"),
                method=method, url=safe_url, cause=transport_cause(error))
        response = outcome.result()
        excerpt = excerpt_of(response, self.secrets)
        return TransientApiError(
            self.redact(f"{method} {url} still answered HTTP {response.status_code} after "
                        f"{attempts} attempts: {excerpt}"),
            status=response.status_code, method=method, url=safe_url,
            request_id=request_id(response.headers), excerpt=excerpt, cause=status_cause(response.status_code),
            retry_after=retry_after_of(response, now=self._wall_clock()))
