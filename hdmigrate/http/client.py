"""HttpClient: one vendor API's base URL, auth, limiter, deadline and address checks around each
exchange; retries, status mapping, pagination and downloads come from the mixins beside it."""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Callable, Collection, Iterable
from typing import Any

import httpcore
import httpx

from hdmigrate.errors import Cause, ConfigError, FatalApiError
from hdmigrate.http.classify import ClassifyMixin, VendorCause
from hdmigrate.http.downloads import DownloadMixin
from hdmigrate.http.jsonbody import HEAD_BYTES, Items, TooCostly, items_of, loads, read_answer
from hdmigrate.http.limits import (CONNECT_TIMEOUT, DEFAULT_DEADLINE, DEFAULT_MAX_BODY_BYTES,
                                       DEFAULT_MAX_DOWNLOAD_BYTES, ERROR_BODY_BYTES, MIN_SECRET_CHARS)
from hdmigrate.http.pagination import PaginationMixin
from hdmigrate.http.ratelimit import ANSWERED, RateLimiter, RatePolicy, limiter_for, rate_limit_observations
from hdmigrate.http.redaction import excerpt_of, redact
from hdmigrate.http.retrying import RetryMixin
from hdmigrate.http.stats import HttpStats
from hdmigrate.http.urls import check_url_scheme, is_loopback
from hdmigrate.netguard import (MIN_RATE, DeadlineExceeded, ResponseTooLarge, SilentServer, UrlRefused, _DeadlinePassed,
                                bytes_received,
                                address_problem, guarded, guarded_transport, read_body, resolve)

class HttpClient(RetryMixin, ClassifyMixin, PaginationMixin, DownloadMixin):
    """One vendor API: base URL, auth, retries, rate limiting, pagination, downloads."""

    def __init__(self, base_url: str, *, auth: Any = None, headers: dict | None = None,
                 rate_limit: "float | RatePolicy | None" = None, timeout: float = 30.0, max_attempts: int = 8,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, secrets: Iterable[str] = (),
                 log: Callable[[str], None] | None = None, max_wait: float = 300.0,
                 wall_clock: Callable[[], float] = time.time, backoff_initial: float = 0.5,
                 backoff_max: float = 60.0, limiter: RateLimiter | None = None,
                 rng: random.Random | None = None, attachment_hosts: Iterable[str] = (),
                 deadline: float = DEFAULT_DEADLINE, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
                 resolver: Callable[[str, int], list[str]] = resolve, vendor_cause: VendorCause | None = None,
                 throttle_class: Callable[[str], str | None] | None = None):
        """`attachment_hosts`: the vendor's documented file hosts (`*.zdusercontent.com`), the
        only hosts besides the API's own that `download` starts from. `deadline`: seconds one
        request may take overall (downloads earn more per byte received). `vendor_cause`: the
        adapter's reading of its vendor's error bodies (classify.VendorCause).
        `throttle_class`: for a path of the API host, the endpoint class with a budget of its
        own besides the account's (Zendesk's incremental exports), or None: a 429 there pauses
        that class only, so the rest of the account's budget goes on being used."""
        self.vendor_cause = vendor_cause
        self.throttle_class = throttle_class
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

    def _say_rate(self, limiter: RateLimiter, url: httpx.URL) -> None:
        """The rate in use, once per change: learned from the server's headers (issue: budgets
        run at the account's real limit, not the documented default)."""
        policy = limiter.policy
        how = f"{limiter.announced}/min announced by the server"
        if policy is not None and policy.share != 1.0:
            how += f", {policy.share:.0%} of it used"
        if policy is not None and policy.ceiling is not None and limiter.per_minute == policy.ceiling:
            how += f", capped by the plan's rate_limit {policy.ceiling:g}"
        budget = limiter.name or url.netloc.decode("ascii")
        self.log(f"rate limit for {budget}: {limiter.per_minute:g} requests/min ({how})")

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


    def _class_limiter(self, url: httpx.URL) -> RateLimiter | None:
        """The pause of the endpoint class `url` draws on besides the account (not paced: the
        vendors announce no rate for it; its 429s pause it), or None."""
        if self.throttle_class is None or not self._same_host(url):
            return None
        name = self.throttle_class(url.path)
        if name is None:
            return None
        return limiter_for(f"{self.host}#{name}", None, clock=self._clock, sleep=self._sleep)

    def _limiter_for_url(self, url: httpx.URL) -> RateLimiter:
        if self._same_host(url):
            return self.limiter
        # Other hosts (CDNs, presigned storage) are not paced, but their 429s still pause them.
        return limiter_for(url.netloc.decode("ascii"), None, clock=self._clock, sleep=self._sleep)


    def _exchange(self, request: httpx.Request, read: Callable[[httpx.Response], Any],
                  deadline: "float | Callable[[], float] | None" = None, stretch: float = 1.0) -> Any:
        """One attempt: wait for the limiter, send under the deadline and the address check,
        count, feed the limiter from the headers, and `read(response)` before the deadline ends."""
        limiter = self._limiter_for_url(request.url)
        paused = self._class_limiter(request.url)
        if paused is not None:
            paused.acquire(self._sleep)   # first: no account slot is held while the class waits
        limiter.acquire(self._sleep)
        auth = self._auth
        if not self._same_host(request.url):
            # Credentials go to the API host only (presigned storage URLs reject them).
            auth = None
            request.headers.pop("authorization", None)
        problem = self._reach_problem(request.url)
        if problem:
            raise UrlRefused(self.redact(f"refusing to fetch {request.url}: {request.url.host} is {problem}"))
        if callable(deadline):
            deadline = deadline()   # it starts when the limiters let the request go
        if deadline is None:
            # An upload earns time for its size at MIN_RATE; answers earn it as they arrive.
            sending = request.headers.get("content-length", "")
            extra = int(sending) / MIN_RATE if sending.isdigit() else 0.0
            deadline = time.monotonic() + self.deadline * stretch + extra
        with guarded(deadline, self._vet_for(request.url)):
            try:
                response = self._client.send(request, auth=auth, stream=True)
            except httpx.HTTPError:
                self.stats.count_error()
                raise
            except _DeadlinePassed:
                self.stats.count_error()
                raise self._deadline_error(request, silent=bytes_received() == 0, stretch=stretch) from None
            try:
                self.stats.count_response(response.status_code)
                ANSWERED.add(request.url.netloc.decode("ascii"))
                for limit, remaining, reset in rate_limit_observations(response.headers):
                    if limiter.observe(limit, remaining, reset):
                        self._say_rate(limiter, request.url)
                return read(response)
            except httpx.HTTPError:
                self.stats.count_dropped_answer(response.status_code)
                raise
            except _DeadlinePassed:
                raise self._deadline_error(request) from None
            finally:
                response.close()

    def _deadline_error(self, request: httpx.Request, silent: bool = False,
                        stretch: float = 1.0) -> DeadlineExceeded:
        if silent:
            return SilentServer(
                self.redact(f"{request.method} {request.url}: no answer at all within the request "
                            f"deadline ({self.deadline * stretch:g}s); the server is overloaded or "
                            "working out a heavy page"),
                method=request.method, url=self.redact(str(request.url)))
        return DeadlineExceeded(
            self.redact(f"{request.method} {request.url}: no complete answer within the request "
                        f"deadline ({self.deadline * stretch:g}s overall); the server is too slow or "
                        "trickling its answer"),
            method=request.method, url=self.redact(str(request.url)))

    def _read_api_body(self, response: httpx.Response, ok: Collection[int],
                       allow: Collection[int]) -> httpx.Response:
        """The whole body of an answer the caller takes, capped in bytes and, once parsed, in
        memory (jsonbody); an error body only in part."""
        status = response.status_code
        if status in ok or status in allow:
            try:
                read_answer(response, self.max_body_bytes)
            except OverflowError:
                raise self._too_large(response, f"the answer is larger than {self.max_body_bytes} bytes "
                                      "(decoded)", "an endless or decompression-bomb body") from None
            except TooCostly as e:
                raise self._too_large(response, str(e), "a hostile or broken answer") from None
        else:
            read_body(response, ERROR_BODY_BYTES, truncate=True)
        return response

    def _too_large(self, response: httpx.Response, what: str, why: str) -> ResponseTooLarge:
        request = response.request
        return ResponseTooLarge(
            self.redact(f"{request.method} {request.url}: {what}; refusing it ({why})"),
            status=response.status_code, method=request.method, url=self.redact(str(request.url)))

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

        tries = 0

        def attempt(method: str, url: httpx.URL) -> httpx.Response:
            nonlocal tries
            tries += 1
            request = self._client.build_request(method, url, params=params, json=json, content=content,
                                                 files=files, data=data, headers=headers)
            # every retry gets twice the time: a server that was silent (SilentServer, the one
            # deadline retried) or failing may be slow, not stuck
            return self._exchange(request, lambda r: self._read_api_body(r, ok, allow),
                                  stretch=1.0 if tries == 1 else 2.0)

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

    def get_json_items(self, url_or_path: str, key: str, *, params: Any = None, **kw: Any) -> Items:
        """A JSON object answer whose array under `key` is parsed one item at a time while the
        caller takes them (jsonbody.Items): for export pages, whose items are serialized one by
        one anyway. A fault found late in the answer raises as `get_json` would, from `items`."""
        response = self.request("GET", url_or_path, params=params, **kw)
        if "json" in vars(response) or not response.content:
            body = self._json(response)
            try:
                return Items.parsed(body, key)
            except ValueError:
                raise self._not_json(response) from None
        content = response.content
        response._content = content[:HEAD_BYTES]        # what an error message quotes: the text is parsed
        try:
            answer = items_of(content, key)
        except TooCostly as e:
            raise self._too_large(response, str(e), "a hostile or broken answer") from None
        except ValueError:
            raise self._not_json(response) from None
        del content

        def items():
            try:
                yield from answer.items
            except TooCostly as e:
                raise self._too_large(response, str(e), "a hostile or broken answer") from None
            except ValueError:
                raise self._not_json(response) from None
        return Items(key, items(), answer.head)

    def _json(self, response: httpx.Response) -> Any:
        if not response.content:
            return None
        try:
            if "json" in vars(response):        # a large answer, parsed while it was read
                return response.json()
            return loads(response.content)
        except TooCostly as e:
            raise self._too_large(response, str(e), "a hostile or broken answer") from None
        except ValueError:
            raise self._not_json(response) from None

    def _not_json(self, response: httpx.Response) -> FatalApiError:
        return FatalApiError(
            self.redact(f"{response.request.method} {response.request.url}: expected JSON, got "
                        f"{response.headers.get('content-type', 'no content type')}: "
                        f"{excerpt_of(response, self.secrets, 200)}"),
            status=response.status_code, method=response.request.method,
            url=self.redact(str(response.request.url)), cause=Cause.BAD_ANSWER)

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
