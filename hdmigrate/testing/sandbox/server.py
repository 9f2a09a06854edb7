"""`SandboxServer`: the real loopback HTTP server a vendor sandbox subclasses."""

from __future__ import annotations

import itertools
import math
import re
import socket
import sys
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from hdmigrate.errors import ConfigError

from ._constants import KNOWN_FAULTS
from .faults import FaultSpec, parse_faults
from .messages import Headers, HttpAbort, Request, Response, _as_response
from .routing import Bucket, BucketUsage, Route
from .state import LogEntry, SandboxStats, Store


# --------------------------------------------------------------------------- the server

class SandboxServer:
    """Base of every vendor sandbox; implements the `Sandbox` protocol of hdmigrate.adapter.

    Hooks for subclasses: `authenticate`, `unauthorized`, `endpoint_limits`, `classify`,
    `request_cost`, `rate_limit_headers`, `too_many_requests`, `server_error`, `not_found`."""

    platform = "sandbox"
    env: dict[str, str] = {}
    fault_names: tuple[str, ...] = KNOWN_FAULTS   # vendors may add their own
    _routes: list[Route] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        routes: list[Route] = []
        seen: set[str] = set()
        for klass in cls.__mro__:          # subclass routes first: they override the parents'
            for attr, func in vars(klass).items():
                if attr in seen or not callable(func):
                    continue
                for spec in getattr(func, "_sandbox_routes", []):
                    routes.append(Route(spec["method"], re.compile(spec["pattern"]), func, spec["name"],
                                        spec["bucket"], spec["auth"], spec["cost"]))
                seen.add(attr)
        cls._routes = routes

    def __init__(self, data: Any = None, port: int = 0, rate_limit: float | None = None,
                 faults: str | FaultSpec | None = None, seed: int | None = None, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 log: Callable[[str], None] | None = None):
        self.data = data
        self.port = port
        self.rate_limit = rate_limit
        self.faults = parse_faults(faults, seed=seed, known=self.fault_names)
        self.seed = seed
        self.clock = clock
        self.sleep = sleep
        self._log = log
        self.store = Store()
        self.stats = SandboxStats()
        self.extra_routes: list[Route] = []
        self.buckets: dict[str, Bucket] = {}
        if rate_limit is not None:
            if rate_limit <= 0:
                raise ConfigError(f"sandbox rate limit must be positive, got {rate_limit}")
            self.buckets["account"] = Bucket("account", rate_limit, clock)
            for name, per_minute in self.endpoint_limits(rate_limit).items():
                self.buckets[name] = Bucket(name, per_minute, clock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        # Seeding from a dump: every record the sandbox could not seed, and every one it seeded
        # differently from the dump, each {"kind", "id", "reason"} and said on stderr.
        self.seed_skipped: list[dict] = []
        self.seed_changed: list[dict] = []
        self._seed_routine: dict[str, int] = {}

    # ---- the Sandbox protocol
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("sandbox not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def plan_section(self) -> dict:
        """A plan [source]/[target] table pointing at this sandbox (vendors add their keys)."""
        return {"adapter": self.platform, "url": self.url}

    def start(self) -> "SandboxServer":
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", self.port), _handler_class(self))
        server.sandbox = self
        self._server = server
        self.port = server.server_address[1]
        self._stopped.clear()
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"{self.platform}-sandbox:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._stopped.set()

    def wait(self) -> None:
        """Block until stop() (the foreground `hdmigrate sandbox` command)."""
        while not self._stopped.wait(0.5):
            pass

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- routing
    def add_route(self, method: str, pattern: str, handler: Callable[[Request], Any], *,
                  name: str | None = None, bucket: str | None = None, auth: bool = True, cost: int = 1) -> None:
        """Register a plain function `handler(request)` at run time (router-object style)."""
        self.extra_routes.append(Route(method.upper(), re.compile(pattern), handler,
                                       name or getattr(handler, "__name__", pattern), bucket, auth, cost,
                                       unbound=False))

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, params, path_known): path_known tells a 405 from a 404."""
        path_known = False
        for candidate in itertools.chain(self.extra_routes, self._routes):
            found = candidate.pattern.fullmatch(path)
            if found is None:
                continue
            path_known = True
            if candidate.method == method or (candidate.method == "GET" and method == "HEAD"):
                return candidate, {k: v for k, v in found.groupdict().items() if v is not None}, True
        return None, {}, path_known

    def call(self, route: Route, request: Request) -> Any:
        return route.handler(self, request) if route.unbound else route.handler(request)

    # ---- hooks
    def authenticate(self, request: Request) -> bool:
        """Subclasses check the Authorization header; True lets the request in."""
        return True

    def unauthorized(self, request: Request) -> Response:
        return Response(401, json={"error": "Couldn't authenticate you"},
                        headers={"WWW-Authenticate": 'Basic realm="sandbox"'})

    def endpoint_limits(self, account_per_minute: float) -> dict[str, float]:
        """Per-endpoint buckets (name → per minute), e.g. the vendor's ratios of the account limit."""
        return {}

    def classify(self, request: Request) -> str | None:
        """The per-endpoint bucket of a request, if any (default: the route's `bucket`)."""
        return request.route.bucket if request.route else None

    def request_cost(self, request: Request) -> int:
        """Rate-limit credits a request uses (Freshdesk `include` costs more)."""
        return request.route.cost if request.route else 1

    def rate_limit_headers(self, request: Request, usage: list[BucketUsage]) -> dict[str, str]:
        """Headers about the limits; `usage[0]` is the account bucket. Default: IETF draft names."""
        account = usage[0]
        return {"ratelimit-limit": str(account.limit), "ratelimit-remaining": str(account.remaining),
                "ratelimit-reset": str(max(0, math.ceil(account.reset)))}

    def too_many_requests(self, request: Request, retry_after: int, bucket: str) -> Response:
        return Response(429, body=f"Rate limit exceeded ({bucket}); retry in {retry_after} seconds\n".encode(),
                        content_type="text/plain; charset=utf-8")

    def server_error(self, request: Request, status: int) -> Response:
        return Response(status, json={"error": "Internal Server Error", "status": status})

    def not_found(self, request: Request) -> Response:
        return Response(404, json={"error": "InvalidEndpoint", "description": "Not found"})

    def method_not_allowed(self, request: Request) -> Response:
        return Response(405, json={"error": "MethodNotAllowed"})

    # ---- the request pipeline
    def handle(self, request: Request) -> tuple[Response, str | None]:
        """(response, fault name) for one request; a 'drop' fault is carried out by the transport."""
        route, params, path_known = self.match(request.method, request.path)
        request.route, request.params = route, params
        if self.faults.hit("5xx"):
            status = int(self.faults.detail("5xx", "503"))
            return self.server_error(request, status), "5xx"
        if self.faults.hit("429"):
            retry_after = max(1, math.ceil(self.faults.duration("429", 1.0)))
            response = self.too_many_requests(request, retry_after, "fault")
            response.headers["Retry-After"] = str(retry_after)
            return response, "429"
        fault = None
        if self.faults.hit("slow"):
            self.sleep(self.faults.duration("slow", 1.0))
            fault = "slow"
        if route is None:
            return (self.method_not_allowed(request) if path_known else self.not_found(request)), fault
        if route.auth and not self.authenticate(request):
            return self.unauthorized(request), fault
        limited, rate_headers = self._rate_limit(request)
        if limited is not None:
            return limited, fault
        response = self._run_handler(route, request)
        response.headers = {**rate_headers, **response.headers}
        return response, fault

    def _rate_limit(self, request: Request) -> tuple[Response | None, dict[str, str]]:
        if not self.buckets:
            return None, {}
        cost = self.request_cost(request)
        names = ["account"]
        endpoint = self.classify(request)
        if endpoint is not None and endpoint in self.buckets:
            names.append(endpoint)
        usage = [self.buckets[name].peek(cost) for name in names]
        refused = next((u for u in usage if not u.allowed), None)
        if refused is None:
            for name in names:
                self.buckets[name].take(cost)
            usage = [self.buckets[name].peek(0) for name in names]
            return None, self.rate_limit_headers(request, usage)
        retry_after = max(1, math.ceil(refused.reset))
        response = self.too_many_requests(request, retry_after, refused.name)
        response.headers = {**self.rate_limit_headers(request, usage), **response.headers,
                            "Retry-After": str(retry_after)}
        return response, {}

    def _run_handler(self, route: Route, request: Request) -> Response:
        try:
            response = _as_response(self.call(route, request))
            response.encode()           # a body that cannot be sent is the handler's bug too
            return response
        except HttpAbort as abort:
            return abort.response
        except Exception:  # noqa: BLE001 - a crashing handler answers 500 and is recorded for tests
            return self.crashed(route.name)

    def crashed(self, where: str) -> Response:
        """Record the current exception (tests assert none happened) and answer 500."""
        trace = traceback.format_exc()
        self.stats.handler_errors.append(trace)
        self.log(f"sandbox {where} crashed:\n{trace}")
        return Response(500, json={"error": "sandbox handler crashed", "route": where})

    # ---- seeding from a dump
    def seed_skip(self, kind: str, record_id: Any, reason: str) -> None:
        """A dump record left out of the sandbox, and why (never silently)."""
        self._seed_note(self.seed_skipped, "not seeded", kind, record_id, reason)

    def seed_blob(self, attachment: dict, read: Callable[[str], bytes]) -> bytes | None:
        """The bytes of a dump attachment (`read(sha256)`), or None with the reason said."""
        from hdmigrate.errors import RecordError
        sha = attachment.get("sha256") or ""
        try:
            return read(sha)
        except (OSError, RecordError) as e:
            self.seed_skip("attachment", attachment.get("id"),
                           f"blob {sha} unreadable ({e.__class__.__name__})" if sha else "no sha256")
            return None

    def seed_change(self, kind: str, record_id: Any, reason: str, *, summary: str | None = None) -> None:
        """A dump record seeded, but not as the dump has it (a dropped reference, a mapped value).
        With `summary`, a routine conversion: counted under that text and said once at the end."""
        if summary is None:
            self._seed_note(self.seed_changed, "seeded differently", kind, record_id, reason)
            return
        self.seed_changed.append({"kind": kind, "id": str(record_id), "reason": reason})
        self._seed_routine[summary] = self._seed_routine.get(summary, 0) + 1

    def _seed_note(self, into: list[dict], what: str, kind: str, record_id: Any, reason: str) -> None:
        into.append({"kind": kind, "id": str(record_id), "reason": reason})
        print(f"{self.platform} sandbox: {what}: {kind} {record_id}: {reason}", file=sys.stderr)

    def seed_done(self) -> list[dict]:
        """After seeding: the routine conversions and the totals, one line each (when there are
        any); the skipped records are returned, so callers and tests can check them."""
        for summary, n in self._seed_routine.items():
            print(f"{self.platform} sandbox: {n} {summary}", file=sys.stderr)
        said = len(self.seed_changed) - sum(self._seed_routine.values())
        if self.seed_skipped or said:
            print(f"{self.platform} sandbox: {len(self.seed_skipped)} dump records not seeded, "
                  f"{said} seeded differently (listed above)", file=sys.stderr)
        return self.seed_skipped

    def log(self, message: str) -> None:
        if self._log is not None:
            self._log(message)

    def summary(self) -> dict:
        return self.stats.snapshot(self.faults.injected)


Sandbox = SandboxServer   # the name other modules may prefer


# --------------------------------------------------------------------------- the HTTP glue

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sandbox: SandboxServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (a test's timeout, a killed run) are normal; anything else is logged.
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            self.sandbox.log(f"sandbox connection from {client_address} failed:\n{traceback.format_exc()}")


def _handler_class(sandbox: SandboxServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_SandboxHandler):
        pass
    Handler.sandbox = sandbox
    return Handler


class _SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"      # keep-alive, as the vendors' APIs
    server_version = "hdmigrate-sandbox"
    sys_version = ""
    timeout = 60                       # idle keep-alive connections end eventually
    sandbox: SandboxServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle plus delayed ACKs
        # add ~40 ms to every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass                            # the sandbox's own stats and log replace stderr noise

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _serve(self) -> None:
        try:
            request = self._read_request()
        except HttpAbort as abort:
            self._write(abort.response, head=False)
            return
        sandbox = self.sandbox
        try:
            response, fault = sandbox.handle(request)
        except HttpAbort as abort:
            response, fault = abort.response, None
        except Exception:  # noqa: BLE001 - a crashing hook (authenticate, classify…) answers 500
            response, fault = sandbox.crashed("hook"), None
        dropped = sandbox.faults.hit("drop")
        route_name = request.route.name if request.route else None
        sandbox.stats.record(LogEntry(request.method, request.path, route_name,
                                      0 if dropped else response.status, "drop" if dropped else fault))
        if dropped:
            self._drop(response)
        else:
            self._write(response, head=request.method == "HEAD")

    def _read_request(self) -> Request:
        parsed = urllib.parse.urlsplit(self.path)
        query: dict[str, list[str]] = {}
        for name, value in urllib.parse.parse_qsl(parsed.query, keep_blank_values=True):
            query.setdefault(name, []).append(value)
        return Request(method=self.command, path=urllib.parse.unquote(parsed.path), query=query,
                       headers=Headers(self.headers.items()), body=self._read_body(),
                       client=self.client_address)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            return self._read_chunked()
        length = self.headers.get("content-length")
        if not length:
            return b""
        try:
            size = int(length)
        except ValueError:
            raise HttpAbort(400, {"error": "bad Content-Length"}) from None
        return self.rfile.read(size)

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            line = self.rfile.readline(65537)
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass                # trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(65537)

    def _write(self, response: Response, *, head: bool) -> None:
        body, content_type = response.encode()
        self.send_response(response.status)
        headers = {k.lower(): (k, v) for k, v in response.headers.items()}
        if content_type and "content-type" not in headers:
            self.send_header("Content-Type", content_type)
        for name, value in headers.values():
            if name.lower() != "content-length":
                self.send_header(name, str(value))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)
        self.wfile.flush()

    def _drop(self, response: Response) -> None:
        """Announce the whole body, send part of it, then close: the client sees a dropped
        connection mid-response (httpx: RemoteProtocolError)."""
        body, content_type = response.encode()
        body = body or b"{}"
        self.send_response(response.status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) + 64))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
