"""Requests and responses of the sandbox framework, with form and multipart parsing."""

from __future__ import annotations

import json as jsonlib
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from ._constants import _UNSET
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .routing import Route


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
