"""A hostile helpdesk API on loopback, for every adapter's tests.

`HostileServer` is a threaded HTTP server on 127.0.0.1 (an ephemeral port) answering each path
it was given with one misbehaviour:

    redirect      302 to `to` (another loopback port, plain http, 169.254.x / 10.x: the client
                  must refuse those before connecting; nothing here ever contacts them)
    json          a fixed JSON answer (`body`), optionally with a Link next header (`link`):
                  a body naming its own cursor or next link repeats it forever
    endless_json  a JSON array that never ends
    large_json    a valid JSON answer of `size` bytes (Content-Length exact) in one `shape`:
                  "items" (a page of small tickets), "empties" (`[{},{},…]`), "nested" (`{"a":`
                  `size` / 10 levels deep) or "string" (one string of almost `size` bytes)
    gzip_bomb     ~`compressed` bytes of gzip that decode to ~1000 times as much
    file          `send` bytes (0: endless) under a Content-Length of `length` (None: none),
                  so the length can lie either way
    trickle       `size` pieces of `chunk` bytes, one every `every` seconds (`headers=True`: the
                  status line and headers trickle too, a byte at a time)
    silent        says nothing for `wait` seconds, then answers `body` as JSON (`quiet`: only
                  the first that many requests wait; then answers come at once)
    secret        counts the hit (tests assert it is never reached)

`hits` lists every path requested. Stopping the server ends every endless answer.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx

_ZERO_MEMBER: bytes | None = None


def gzip_bomb(compressed: int = 3 * 1024 * 1024) -> bytes:
    """Concatenated gzip members of 1 MiB of zeros each (~1 KiB compressed): `compressed` bytes
    that decode to roughly a thousand times as much. Built in milliseconds."""
    global _ZERO_MEMBER
    if _ZERO_MEMBER is None:
        packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        _ZERO_MEMBER = packer.compress(bytes(1024 * 1024)) + packer.flush()
    return _ZERO_MEMBER * max(1, compressed // len(_ZERO_MEMBER))


# shape -> (head, repeated unit, tail or tail(count)); every shape is valid JSON
_LARGE_SHAPES = {
    "items": (b'{"tickets": [', b'{"id": 1, "status": "open", "subject": "Printer on fire again"}, ',
              b'{"id": 0}], "end_of_stream": true}'),
    "empties": (b"[", b"{}, ", b"{}]"),
    "nested": (b"", b'{"a": ', lambda count: b"1" + b"}" * count),
    "string": (b'{"body": "', b"x" * 1024, b'"}'),
}


class HostileServer:
    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, dict]] = {}
        self.hits: list[str] = []
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):   # quiet tests
                pass

            def do_GET(self):
                server._handle(self)

            do_POST = do_GET

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):   # a client hanging up is the point
                pass

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True,
                                        name=f"hostile-{self.port}")

    # ---- setup
    def add(self, path: str, mode: str, **params) -> str:
        """Serve `path` (without query) with `mode`; returns its full URL."""
        self.routes[path] = (mode, params)
        return self.url + path

    def hit_count(self, path: str) -> int:
        return sum(1 for p in self.hits if urlsplit(p).path == path)

    def __enter__(self) -> "HostileServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    # ---- answers
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        self.hits.append(h.path)
        path = urlsplit(h.path).path
        mode, params = self.routes.get(path, ("missing", {}))
        try:
            getattr(self, "_" + mode)(h, **params)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            pass   # the client gave up, as it should

    def _head(self, h, status: int = 200, headers: dict | None = None) -> None:
        h.send_response(status)
        for name, value in (headers or {}).items():
            h.send_header(name, str(value))
        h.end_headers()

    def _missing(self, h) -> None:
        self._head(h, 404, {"Content-Length": 0})

    def _secret(self, h) -> None:
        body = b"internal secret"
        self._head(h, 200, {"Content-Length": len(body)})
        h.wfile.write(body)

    def _redirect(self, h, to: str) -> None:
        self._head(h, 302, {"Location": to, "Content-Length": 0})

    def _json(self, h, body, link: str | None = None) -> None:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Content-Length": len(data)}
        if link:
            headers["Link"] = f'<{link}>; rel="next"'
        self._head(h, 200, headers)
        h.wfile.write(data)

    def _endless_json(self, h) -> None:
        self._head(h, 200, {"Content-Type": "application/json", "Connection": "close"})
        h.wfile.write(b"[")
        item = b'{"id": 1, "subject": "' + b"x" * 1000 + b'"},'
        block = item * 64
        while not self._stop.is_set():
            h.wfile.write(block)

    def _large_json(self, h, shape: str = "items", size: int = 100 * 1024 * 1024) -> None:
        head, unit, tail = _LARGE_SHAPES[shape]
        if callable(tail):      # a closing byte per unit
            count = max(0, (size - len(head) - 1) // (len(unit) + 1))
            body_tail = tail(count)
        else:
            count = max(0, (size - len(head) - len(tail)) // len(unit))
            body_tail = tail
        total = len(head) + count * len(unit) + len(body_tail)
        self._head(h, 200, {"Content-Type": "application/json", "Content-Length": total})
        h.wfile.write(head)
        per_block = max(1, 65536 // len(unit))
        block, sent = unit * per_block, 0
        while sent < count and not self._stop.is_set():
            n = min(per_block, count - sent)
            h.wfile.write(block if n == per_block else unit * n)
            sent += n
        h.wfile.write(body_tail)

    def _gzip_bomb(self, h, compressed: int = 3 * 1024 * 1024) -> None:
        data = gzip_bomb(compressed)
        self._head(h, 200, {"Content-Type": "application/json", "Content-Encoding": "gzip",
                            "Content-Length": len(data)})
        h.wfile.write(data)

    def _file(self, h, send: int = 0, length: int | None = None) -> None:
        headers = {"Content-Type": "application/octet-stream"}
        if length is not None:
            headers["Content-Length"] = length
        else:
            headers["Connection"] = "close"
        self._head(h, 200, headers)
        block = b"\xab" * 65536
        sent = 0
        while not self._stop.is_set() and (send == 0 or sent < send):
            piece = block if send == 0 else block[: send - sent]
            h.wfile.write(piece)
            sent += len(piece)

    def _trickle(self, h, size: int = 100, every: float = 0.1, headers: bool = False,
                 chunk: int = 1) -> None:
        if headers:
            head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {size * chunk}\r\nX-Padding: {'p' * 200}\r\n\r\n").encode()
            for i in range(len(head)):
                if self._stop.wait(every):
                    return
                h.wfile.write(head[i:i + 1])
                h.wfile.flush()
        else:
            self._head(h, 200, {"Content-Type": "application/json", "Content-Length": size * chunk})
            h.wfile.flush()
        piece = b" " * chunk
        for _ in range(size):
            if self._stop.wait(every):
                return
            h.wfile.write(piece)
            h.wfile.flush()


    def _silent(self, h, wait: float = 1.0, body=None, quiet: int | None = None) -> None:
        waited = self.hit_count(urlsplit(h.path).path) if quiet is not None else 0
        if quiet is None or waited <= quiet:
            if self._stop.wait(wait):
                return
        data = json.dumps(body if body is not None else {"ok": True}).encode()
        self._head(h, 200, {"Content-Type": "application/json", "Content-Length": len(data)})
        h.wfile.write(data)


def free_port() -> int:
    """A loopback port nothing listens on (for connection-refused tests)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = 2.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


class PretendHost(httpx.BaseTransport):
    """An httpx transport that sends requests for `host` (an https name) to the hostile server
    over loopback http, so a client sees a public https source while every byte stays on
    127.0.0.1. Other hosts go through the HTTP layer's own guarded transport."""

    def __init__(self, server: HostileServer, host: str):
        from hdmigrate.netguard import guarded_transport
        self.server, self.host = server, host
        self.inner = guarded_transport()

    def handle_request(self, request):
        if request.url.host == self.host:
            request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.server.port)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
