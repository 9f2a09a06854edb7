"""The framework every vendor sandbox builds on: a real HTTP server on loopback.

A vendor sandbox subclasses `SandboxServer`, registers handlers with `@route`, and overrides the
hooks it needs:

    class ToySandbox(SandboxServer):
        env = {"TOY_TOKEN": "t0k"}

        def authenticate(self, request):                 # 401 when False
            return request.headers.get("authorization") == "Bearer t0k"

        @route("GET", r"/items/(?P<id>\\d+)", name="show_item")
        def show(self, request):
            item = self.store.get("item", request.params["id"])
            return Response(200, json=item) if item else Response(404, json={"error": "nope"})

Per request, in order: faults (`drop`, `5xx`, `429`, `slow`), routing (404/405), auth (401),
rate limiting (429 + Retry-After; vendor headers on every answer), then the handler. A `drop`
runs the handler first and then cuts the connection mid-response, as a real network does: the
write happened, the client never heard about it.

Standard library only (ThreadingHTTPServer in a background thread); binds 127.0.0.1 only.
"""

from __future__ import annotations

import copy
import itertools
import json as jsonlib
import math
import os
import random
import re
import socket
import sys
import threading
import time
import traceback
import urllib.parse
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hdmigrate.errors import ConfigError

__all__ = [
    "SandboxServer", "Sandbox", "route", "Route", "Request", "Response", "Part", "HttpAbort",
    "FaultSpec", "parse_faults", "KNOWN_FAULTS", "Bucket", "BucketUsage", "SandboxStats", "Store",
    "find_free_port",
]

KNOWN_FAULTS = ("5xx", "429", "drop", "slow", "job_fail")
_UNSET: Any = object()


def find_free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (prefer port=0, which cannot race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- faults

def _parse_duration(text: str, where: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*", text)
    if not match:
        raise ConfigError(f"--faults: {where}: duration {text!r} is not like 2s, 500ms or 1.5")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value / 1000 if unit == "ms" else value * 60 if unit == "m" else value


@dataclass
class Fault:
    name: str
    probability: float
    detail: str | None = None


class FaultSpec:
    """Parsed `--faults`; `hit(name)` draws whether a fault happens now.

    Repeatable: the n-th draw of a fault depends only on (seed, name, n), so one fault's draws do
    not shift another's, and the same sequence of requests sees the same faults."""

    def __init__(self, faults: Iterable[Fault] = (), seed: int | None = None):
        self.faults = {f.name: f for f in faults}
        self.seed = seed if seed is not None else int.from_bytes(os.urandom(8), "big")
        self._draws: Counter = Counter()
        self.injected: Counter = Counter()
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return any(f.probability > 0 for f in self.faults.values())

    def __contains__(self, name: str) -> bool:
        return name in self.faults

    def probability(self, name: str) -> float:
        fault = self.faults.get(name)
        return fault.probability if fault else 0.0

    def detail(self, name: str, default: str | None = None) -> str | None:
        fault = self.faults.get(name)
        return fault.detail if fault and fault.detail is not None else default

    def hit(self, name: str) -> bool:
        """Whether fault `name` happens on this draw; counted in `injected` when it does."""
        probability = self.probability(name)
        if probability <= 0:
            return False
        with self._lock:
            n = self._draws[name]
            self._draws[name] += 1
            happened = random.Random(f"{self.seed}:{name}:{n}").random() < probability
            if happened:
                self.injected[name] += 1
        return happened

    def duration(self, name: str, default: float) -> float:
        detail = self.detail(name)
        return _parse_duration(detail, name) if detail else default

    def __repr__(self) -> str:
        spec = ",".join(f"{f.name}={f.probability}" + (f":{f.detail}" if f.detail else "")
                        for f in self.faults.values())
        return f"FaultSpec({spec!r}, seed={self.seed})"


def parse_faults(spec: str | FaultSpec | None, *, seed: int | None = None,
                 known: Iterable[str] = KNOWN_FAULTS) -> FaultSpec:
    """Parse `name=probability[:detail]`, comma-separated (cli-and-plan.md, "Sandbox faults")."""
    if isinstance(spec, FaultSpec):
        return spec
    known = tuple(known)
    faults = []
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, rest = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"--faults: {item!r} is not name=probability[:detail] (e.g. 5xx=0.1)")
        if name not in known:
            raise ConfigError(f"--faults: unknown fault {name!r}; known: {', '.join(known)}")
        value, _, detail = rest.partition(":")
        try:
            probability = float(value)
        except ValueError:
            raise ConfigError(f"--faults: {name}: probability {value.strip()!r} is not a number") from None
        if not 0.0 <= probability <= 1.0:
            raise ConfigError(f"--faults: {name}: probability {probability} is not between 0 and 1")
        if name in (f.name for f in faults):
            raise ConfigError(f"--faults: {name} given twice")
        fault = Fault(name, probability, detail.strip() or None)
        _check_detail(fault)
        faults.append(fault)
    return FaultSpec(faults, seed)


def _check_detail(fault: Fault) -> None:
    if fault.detail is None:
        return
    if fault.name in ("slow", "429"):
        _parse_duration(fault.detail, fault.name)
    elif fault.name == "5xx" and not re.fullmatch(r"5\d\d", fault.detail):
        raise ConfigError(f"--faults: 5xx: detail {fault.detail!r} is not a 5xx status (e.g. 5xx=0.1:503)")


# --------------------------------------------------------------------------- requests and responses

class Headers:
    """Case-insensitive, multi-valued request headers."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()):
        self._items = [(k, v) for k, v in items]

    def get(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for key, value in self._items:
            if key.lower() == name:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        return [v for k, v in self._items if k.lower() == name.lower()]

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)


@dataclass
class Part:
    """One part of a multipart/form-data body."""

    name: str | None
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


class HttpAbort(Exception):
    """Raised in a handler (or by the framework) to answer with an error right away."""

    def __init__(self, status: int, json: Any = _UNSET, *, body: bytes | None = None,
                 headers: dict | None = None):
        super().__init__(f"HTTP {status}")
        self.response = Response(status, json=json, body=body, headers=dict(headers or {}))


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    body: bytes
    params: dict[str, str] = field(default_factory=dict)   # the route's named groups
    route: "Route | None" = None
    client: tuple[str, int] | None = None
    _json: Any = field(default=_UNSET, repr=False)
    _parts: list[Part] | None = field(default=None, repr=False)

    @property
    def content_type(self) -> str:
        return (self.headers.get("content-type") or "").split(";")[0].strip().lower()

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    @property
    def json(self) -> Any:
        """The JSON body (None when empty); invalid JSON answers 400 by itself."""
        if self._json is _UNSET:
            if not self.body.strip():
                self._json = None
            else:
                try:
                    self._json = jsonlib.loads(self.body)
                except (ValueError, UnicodeDecodeError):
                    raise HttpAbort(400, {"error": "invalid JSON body"}) from None
        return self._json

    @property
    def parts(self) -> list[Part]:
        """multipart/form-data parts, or urlencoded form fields as parts without filename."""
        if self._parts is None:
            self._parts = _parse_form(self.headers.get("content-type") or "", self.body)
        return self._parts

    @property
    def form(self) -> dict[str, list[str]]:
        """Form fields that are not files, multi-valued."""
        out: dict[str, list[str]] = {}
        for part in self.parts:
            if part.filename is None and part.name is not None:
                out.setdefault(part.name, []).append(part.text)
        return out

    @property
    def files(self) -> list[Part]:
        return [p for p in self.parts if p.filename is not None]


@dataclass
class Response:
    status: int = 200
    json: Any = _UNSET
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None

    def encode(self) -> tuple[bytes, str | None]:
        if self.json is not _UNSET:
            return jsonlib.dumps(self.json, ensure_ascii=False).encode(), "application/json; charset=utf-8"
        return (self.body or b""), self.content_type or ("application/octet-stream" if self.body else None)


def _as_response(result: Any) -> Response:
    """Handlers may return a Response, (status, json), (status, json, headers), bytes or JSON."""
    if isinstance(result, Response):
        return result
    if isinstance(result, tuple):
        status, payload, *rest = result
        headers = rest[0] if rest else {}
        if isinstance(payload, (bytes, bytearray)):
            return Response(status, body=bytes(payload), headers=dict(headers))
        return Response(status, json=payload, headers=dict(headers))
    if isinstance(result, (bytes, bytearray)):
        return Response(200, body=bytes(result))
    if result is None:
        return Response(204)
    return Response(200, json=result)


def _parse_form(content_type: str, body: bytes) -> list[Part]:
    message = Message()
    message["content-type"] = content_type or "application/octet-stream"
    kind = message.get_content_type()
    if kind == "application/x-www-form-urlencoded":
        pairs = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        return [Part(name, value.encode()) for name, value in pairs]
    if kind != "multipart/form-data":
        return []
    boundary = message.get_param("boundary")
    if not boundary or not isinstance(boundary, str):
        raise HttpAbort(400, {"error": "multipart body without boundary"})
    return _parse_multipart(body, boundary.encode())


def _parse_multipart(body: bytes, boundary: bytes) -> list[Part]:
    parts = []
    delimiter = b"\r\n--" + boundary
    chunks = (b"\r\n" + body).split(delimiter)
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break                   # the closing delimiter
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise HttpAbort(400, {"error": "malformed multipart part"})
        headers = Message()
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip()] = value.strip()
        parts.append(Part(name=headers.get_param("name", header="content-disposition"),
                          data=data, filename=headers.get_filename(),
                          content_type=headers.get("content-type")))
    return parts


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


# --------------------------------------------------------------------------- stats and store

@dataclass
class LogEntry:
    method: str
    path: str
    route: str | None
    status: int
    fault: str | None = None


class SandboxStats:
    """What the sandbox served; read by tests and benchmarks."""

    def __init__(self, log_size: int = 10_000):
        self._lock = threading.Lock()
        self.requests: Counter = Counter()        # (method, route name) → count
        self.by_status: Counter = Counter()
        self.throttled = 0                        # 429s served (limits and faults)
        self.unauthorized = 0
        self.handler_errors: list[str] = []       # tracebacks of handlers that crashed (500)
        self.log: deque[LogEntry] = deque(maxlen=log_size)

    def record(self, entry: LogEntry) -> None:
        with self._lock:
            self.requests[(entry.method, entry.route or "?")] += 1
            self.by_status[entry.status] += 1
            if entry.status == 429:
                self.throttled += 1
            if entry.status == 401:
                self.unauthorized += 1
            self.log.append(entry)

    def count(self, method: str | None = None, route: str | None = None) -> int:
        with self._lock:
            return sum(n for (m, r), n in self.requests.items()
                       if (method is None or m == method) and (route is None or r == route))

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.requests.values())

    def snapshot(self, faults: Counter | None = None) -> dict:
        with self._lock:
            return {"total": sum(self.requests.values()),
                    "requests": {f"{m} {r}": n for (m, r), n in sorted(self.requests.items())},
                    "by_status": dict(self.by_status), "throttled": self.throttled,
                    "unauthorized": self.unauthorized, "handler_errors": len(self.handler_errors),
                    "faults": dict(faults or {})}


_copy = copy.deepcopy   # Store methods take a `copy` flag that shadows the module


class Store:
    """Thread-safe in-memory records by kind, with per-kind integer ids.

    Reads return copies, so a handler cannot change stored state by accident; hold `store.lock`
    around read-modify-write sequences that must be atomic."""

    def __init__(self, first_id: int = 1):
        self.lock = threading.RLock()
        self._data: dict[str, dict[str, dict]] = {}
        self._ids: dict[str, itertools.count] = {}
        self._first_id = first_id

    def next_id(self, kind: str) -> int:
        with self.lock:
            counter = self._ids.setdefault(kind, itertools.count(self._first_id))
            return next(counter)

    def insert(self, kind: str, record: dict, *, id: int | str | None = None, id_field: str = "id") -> dict:
        """Store a copy of `record`, giving it `id_field` (a new id unless given); returns a copy."""
        with self.lock:
            if id is None:
                id = record.get(id_field)
            if id is None:
                id = self.next_id(kind)
            else:
                self._bump(kind, id)
            stored = _copy(record)
            stored[id_field] = id
            self._data.setdefault(kind, {})[str(id)] = stored
            return _copy(stored)

    def _bump(self, kind: str, id: int | str) -> None:
        # Seeded ids must never be handed out again.
        if isinstance(id, int) or (isinstance(id, str) and id.isdigit()):
            current = self._ids.get(kind)
            peek = next(current) if current else self._first_id
            self._ids[kind] = itertools.count(max(peek, int(id) + 1))

    def get(self, kind: str, id: int | str, *, copy: bool = True) -> dict | None:
        with self.lock:
            record = self._data.get(kind, {}).get(str(id))
            return _copy(record) if copy and record is not None else record

    def update(self, kind: str, id: int | str, changes: dict) -> dict | None:
        with self.lock:
            record = self._data.get(kind, {}).get(str(id))
            if record is None:
                return None
            record.update(_copy(changes))
            return _copy(record)

    def delete(self, kind: str, id: int | str) -> bool:
        with self.lock:
            return self._data.get(kind, {}).pop(str(id), None) is not None

    def all(self, kind: str, *, copy: bool = True) -> list[dict]:
        """Every record of a kind in insertion order. `copy=False` skips the deep copies (large
        list endpoints); the records must then be treated as read-only."""
        with self.lock:
            records = list(self._data.get(kind, {}).values())
            return _copy(records) if copy else records

    def find(self, kind: str, *, copy: bool = True, **equals: Any) -> list[dict]:
        with self.lock:
            records = [r for r in self._data.get(kind, {}).values()
                       if all(r.get(k) == v for k, v in equals.items())]
            return _copy(records) if copy else records

    def count(self, kind: str) -> int:
        with self.lock:
            return len(self._data.get(kind, {}))

    def kinds(self) -> list[str]:
        with self.lock:
            return sorted(self._data)


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
