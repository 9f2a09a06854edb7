"""Limits the HTTP layer (hdmigrate.http) puts on what a source or target can make it do.

A helpdesk's data is written by its customers, and its API may be broken or hostile, so:
- network reach: `vet_address` refuses private, link-local and reserved addresses (and loopback,
  unless the source itself is on loopback) for every host but the one the plan names; the
  socket layer (`GuardedBackend`) resolves the name once, checks every address, then connects to
  the checked address, so a DNS answer cannot change between the check and the connection;
- time: a per-request deadline (thread-local, set by the client around one request) bounds every
  socket read and write, so a server trickling one byte a second cannot hold a request;
- size: `read_body` decodes gzip/deflate itself in small steps and stops at a cap, so an endless
  body or a gzip bomb costs at most the cap;
- pagination: `PageGuard` stops a stream whose cursor, next link or page content repeats.
"""

from __future__ import annotations

import fnmatch
import hashlib
import ipaddress
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from hdmigrate.errors import Cause, FatalApiError, RecordError, RecordRejected, TransientApiError

CHUNK = 64 * 1024
RAW_STEP = 16 * 1024   # compressed bytes fed to zlib at once: bounds what one step can expand to


# --------------------------------------------------------------------------- errors

class UrlRefused(RecordError):
    """A URL the HTTP layer will not fetch (not a host the plan names, a private address, a
    downgrade to plain HTTP). The record that needed it is degraded, the run goes on."""

    default_cause = Cause.REFUSED_URL

    def __init__(self, message: str):
        super().__init__(message, kind="attachment", field="url")


class ResponseTooLarge(RecordRejected):
    """An API answer over the body cap (an endless body, a decompression bomb): refused like a
    rejected record, so the record (or the stream) it was for fails and the run goes on."""

    default_cause = Cause.TOO_LARGE


class DeadlineExceeded(TransientApiError):
    """A request that did not finish within its overall deadline (not retried: a server that
    trickles once will trickle again)."""

    default_cause = Cause.TIMEOUT


class SilentServer(DeadlineExceeded):
    """Not one byte of an answer within the deadline: a server still working out a heavy page
    (an export under load), unlike one trickling its answer. A read is asked once more, with
    twice the time."""


class PaginationLoop(FatalApiError):
    """A source that repeats a cursor, next link or page: that stream stops."""

    default_cause = Cause.PAGINATION_LOOP

    def __init__(self, message: str, *, stream: str):
        super().__init__(message)
        self.stream = stream


class _DeadlinePassed(Exception):
    """Raised below httpx (not an httpcore error, so httpx passes it through unmapped)."""


# --------------------------------------------------------------------------- addresses

def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address((host or "").strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def address_problem(host: str, *, allow_loopback: bool) -> str | None:
    """Why an address (IP literal or "localhost") may not be contacted, or None."""
    name = (host or "").strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return None if allow_loopback else "a loopback address"
    ip = _ip(name)
    if ip is None:
        return None           # a name: checked once resolved, at connect time
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved or ip.is_multicast or ip.is_unspecified:
        return "a reserved address"
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address a name resolves to (IP literals as they are)."""
    if _ip(host) is not None:
        return [str(_ip(host))]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def host_matches(host: str, patterns: Iterable[str]) -> bool:
    """`*.zdusercontent.com` style patterns; `*.x.com` also matches `x.com` itself."""
    host = (host or "").lower().rstrip(".")
    for pattern in patterns:
        pattern = pattern.lower()
        if fnmatch.fnmatchcase(host, pattern) or (pattern.startswith("*.") and host == pattern[2:]):
            return True
    return False


# --------------------------------------------------------------------------- per-request guard

MIN_RATE = 64 * 1024   # bytes/s: a transfer keeping up this pace earns time beyond the deadline


class _Guard(threading.local):
    deadline: float | None = None              # time.monotonic() by which the request ends
    base: float | None = None                  # the deadline before any byte was received
    vet: Callable[[str, int], str] | None = None   # (host, port) -> address to connect to
    received: int = 0                          # bytes read from the server for this request


_guard = _Guard()


@contextmanager
def guarded(deadline: float | None, vet: Callable[[str, int], str] | None) -> Iterator[None]:
    """Apply a deadline and an address check to the requests this thread sends inside."""
    saved = (_guard.deadline, _guard.base, _guard.vet, _guard.received)
    _guard.deadline, _guard.base, _guard.vet, _guard.received = deadline, deadline, vet, 0
    try:
        yield
    finally:
        _guard.deadline, _guard.base, _guard.vet, _guard.received = saved


def bytes_received() -> int:
    """Bytes the server sent so far for the request this thread is sending (inside `guarded`)."""
    return _guard.received


def earn_time(received: int) -> None:
    """A large answer may take longer than the deadline, as long as its bytes keep coming at
    MIN_RATE or faster (a trickle of one byte a second earns nothing worth having)."""
    if _guard.base is not None:
        _guard.deadline = _guard.base + received / MIN_RATE


def _bounded(timeout: float | None) -> float | None:
    deadline = _guard.deadline
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise _DeadlinePassed()
    return left if timeout is None else min(timeout, left)


def _timed(call: Callable[[float | None], Any], timeout: float | None) -> Any:
    """Run one socket operation with its timeout cut to what is left of the deadline."""
    try:
        return call(_bounded(timeout))
    except (httpcore.ReadTimeout, httpcore.WriteTimeout, httpcore.ConnectTimeout):
        if _guard.deadline is not None and time.monotonic() >= _guard.deadline:
            raise _DeadlinePassed() from None
        raise


class _GuardedStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner

    def _timed(self, call: Callable[[float | None], Any], timeout: float | None) -> Any:
        return _timed(call, timeout)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._timed(lambda t: self._inner.read(max_bytes, t), timeout)
        _guard.received += len(data)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        return self._timed(lambda t: self._inner.write(buffer, t), timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _GuardedStream(self._timed(
            lambda t: self._inner.start_tls(ssl_context, server_hostname, t), timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """The socket layer under httpx: address check before connecting, deadline on every I/O."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None):
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
        vet = _guard.vet
        if vet is not None:
            host = vet(host, port)      # the checked address; TLS still verifies the name
        return _GuardedStream(_timed(
            lambda t: self._inner.connect_tcp(host, port, t, local_address, socket_options), timeout))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        return _GuardedStream(self._inner.connect_unix_socket(path, _bounded(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def guarded_transport(**kw: Any) -> httpx.HTTPTransport:
    """httpx's own transport with the guarded socket layer underneath."""
    transport = httpx.HTTPTransport(**kw)
    pool = getattr(transport, "_pool", None)
    # httpx 0.28/0.29 keep the httpcore pool here; each new connection takes the pool's backend.
    if isinstance(pool, httpcore.ConnectionPool):
        pool._network_backend = GuardedBackend(pool._network_backend)
    return transport


# --------------------------------------------------------------------------- bodies

def _decoded_chunks(response: httpx.Response) -> Iterator[bytes]:
    """The body, decoded in bounded steps (zlib with max_length) for gzip/deflate."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        yield from response.iter_raw(CHUNK)
        return
    if encoding not in ("gzip", "x-gzip", "deflate"):
        # Only gzip and deflate are asked for (and decodable in bounded steps).
        raise httpx.DecodingError(f"unrequested content-encoding {encoding!r}")
    wbits = zlib.MAX_WBITS | 32          # gzip or zlib header, auto-detected
    decoder, members = zlib.decompressobj(wbits), 0
    for raw in response.iter_raw(RAW_STEP):
        data = raw
        while data:
            if decoder.eof:                  # the next member of a multi-member gzip body
                decoder, members = zlib.decompressobj(wbits), members + 1
            try:
                out = decoder.decompress(data, CHUNK)
            except zlib.error:
                if members:
                    return                   # trailing bytes after a whole member: ignored
                if wbits > 0 and encoding == "deflate":   # raw deflate without a zlib header
                    wbits = -zlib.MAX_WBITS
                    decoder = zlib.decompressobj(wbits)
                    continue
                raise httpx.DecodingError(f"cannot decode the {encoding} body") from None
            if out:
                yield out
            data = decoder.unconsumed_tail or (decoder.unused_data if decoder.eof else b"")
    tail = decoder.flush()
    if tail:
        yield tail


def read_body(response: httpx.Response, limit: int, *, truncate: bool = False) -> bytes:
    """Read a streamed response's decoded body, at most `limit` bytes. Over the limit: raise
    OverflowError (or, with `truncate`, keep the first `limit` bytes and stop reading). The bytes
    also become `response.content`, so `.json()` and excerpts work as usual."""
    chunks, total, raw = [], 0, response.num_bytes_downloaded
    for chunk in _decoded_chunks(response):
        total += len(chunk)
        earn_time(response.num_bytes_downloaded - raw)
        if total > limit:
            if truncate:
                chunks.append(chunk[: len(chunk) - (total - limit)])
                break
            response.close()
            raise OverflowError(total)
        chunks.append(chunk)
    data = b"".join(chunks)
    response._content = data    # what httpx's own read() sets
    return data


def read_body_into(response: httpx.Response, sink) -> None:
    """Stream a response's decoded body into `sink.write` (which enforces its own size cap by
    raising OverflowError), never holding more than one chunk."""
    raw = response.num_bytes_downloaded
    try:
        for chunk in _decoded_chunks(response):
            earn_time(response.num_bytes_downloaded - raw)
            raw = response.num_bytes_downloaded
            sink.write(chunk)
    except OverflowError:
        response.close()
        raise


# --------------------------------------------------------------------------- pagination

class PageGuard:
    """One per pagination loop. `see(key)` for a cursor, next link or page number, `see_items`
    for a page's item ids (a server that ignores the page parameter answers the same page
    forever): a repeat raises PaginationLoop naming the stream."""

    def __init__(self, stream: str):
        self.stream = stream
        self._seen: set[str] = set()
        self.pages = 0

    def see(self, key: Any, what: str = "cursor") -> None:
        if key is None or key == "":
            return
        text = str(key)
        if text in self._seen:
            shown = text if len(text) <= 120 else text[:119] + "…"
            raise PaginationLoop(
                f"stream {self.stream}: the source repeated the {what} {shown!r} after "
                f"{self.pages} pages; stopping this stream (its pagination loops; the pages "
                "before were kept)", stream=self.stream)
        self._seen.add(text)
        self.pages += 1

    def see_items(self, ids: Iterable[Any]) -> None:
        ids = [str(i) for i in ids]
        if not ids:
            return
        digest = hashlib.sha256("\x00".join(ids).encode()).hexdigest()[:16]
        self.see(f"items:{digest}", what=f"page (same {len(ids)} items, first id {ids[0]})")
