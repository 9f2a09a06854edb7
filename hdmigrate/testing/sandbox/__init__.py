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

from .server import Sandbox, SandboxServer
from .routing import Bucket, BucketUsage, Route, route
from .messages import HttpAbort, Part, Request, Response
from .faults import FaultSpec, find_free_port, parse_faults
from ._constants import KNOWN_FAULTS
from .state import SandboxStats, Store

__all__ = [
    "SandboxServer", "Sandbox", "route", "Route", "Request", "Response", "Part", "HttpAbort",
    "FaultSpec", "parse_faults", "KNOWN_FAULTS", "Bucket", "BucketUsage", "SandboxStats", "Store",
    "find_free_port",
]
