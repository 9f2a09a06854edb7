"""API answers read within a memory bound (docs/guarantees.md "Resource caps").

An answer up to `IN_MEMORY_BYTES` (decoded) is read into memory and parsed with orjson, as every
normal page is. Past that, the bytes held so far and every further chunk are fed to ijson's push
parser as they arrive, and its events are built into Python objects under a budget: what the
parsed answer costs in memory (containers, strings, numbers), how deep it nests, and how long one
string or number runs (checked on the raw bytes, before the parser buffers it). Past any limit
the answer is refused the moment that is known, so whatever a source sends, one API answer costs
at most about `PARSE_BUDGET_BYTES` of memory, never the byte cap plus its parse.

Why a budget and not a lower byte cap: the vendors' pages are small in items (Zendesk 100 per
cursor page, 1000 per incremental export page; Freshdesk and RT at most 100) but not in bytes
(long HTML bodies, RT attachments inline as base64), while the memory a page costs once parsed
depends on its shape: 4 MiB of `[{},{},…]` parse to ~90 MB, 4 MiB of text to ~4 MB.
"""

from __future__ import annotations

import io
import json as jsonlib
import re
from typing import Any, BinaryIO, Iterator

import httpx
import ijson
import orjson

from hdmigrate.netguard import read_body_into

MiB = 1024 * 1024
IN_MEMORY_BYTES = 4 * MiB        # up to here: memory and orjson (worst shape ~90 MB parsed)
MAX_TOKEN_BYTES = 24 * MiB       # one string or number (an RT attachment, base64: ~18 MB of file)
PARSE_BUDGET_BYTES = 64 * MiB    # what one parsed answer may cost in Python objects
MAX_DEPTH = 512                  # nesting (orjson's own limit is 1024; no vendor nests past ~10)
FEED_BYTES = 64 * 1024           # bytes handed to the push parser at once
HEAD_BYTES = 64 * 1024           # what `.content` keeps of a large answer (excerpts, messages)

# Every digit as "0", everything else as " ": finds a run of 20 digits at memchr speed.
_DIGITS_ONLY = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_TWENTY_DIGITS = b"0" * 20

# Rough CPython sizes, in bytes: enough to tell a page from a bomb.
_CONTAINER, _ENTRY, _STR, _NUMBER, _POINTER = 64, 24, 49, 32, 8
KEY_CACHE = 4096                 # distinct keys shared between objects, as orjson does


class TooCostly(Exception):
    """An answer refused for its shape; str() says what was too much."""


class _Sink:
    """What `read_body_into` writes an answer into: memory up to IN_MEMORY_BYTES, then the push
    parser. The byte cap and the longest token are checked on every chunk."""

    def __init__(self, cap: int):
        self.cap, self.size = cap, 0
        self.chunks: list[bytes] = []
        self.head = b""
        self._run = 0
        self.parser: _PushParser | None = None

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.cap:
            raise OverflowError(self.size)
        if self.parser is None and self.size <= IN_MEMORY_BYTES:
            self.chunks.append(chunk)       # no token here can reach MAX_TOKEN_BYTES: not measured
            return
        if self.parser is None:
            held, self.chunks = b"".join(self.chunks), []
            self.head = held[:HEAD_BYTES]
            self._measure(held)
            self.parser = _PushParser()
            self.parser.feed(held)
        self._measure(chunk)
        self.parser.feed(chunk)

    def _measure(self, data: bytes) -> None:
        """Track the stretch since the last unescaped quote, an upper bound of the string or
        number the parser would hold whole. Runs inside `data` are shorter than the limit (data
        is at most IN_MEMORY_BYTES plus a chunk), so only its ends matter."""
        first = _quote(data, forward=True)
        if first < 0:
            self._run += len(data)
        else:
            self._run += first
            self._check()
            self._run = len(data) - _quote(data, forward=False) - 1
        self._check()

    def _check(self) -> None:
        if self._run > MAX_TOKEN_BYTES:
            raise TooCostly(f"the answer holds a single string or value longer than {MAX_TOKEN_BYTES // MiB} MiB")


def _quote(data: bytes, *, forward: bool) -> int:
    """The first (or last) quote not preceded by a backslash, or -1. (An escaped backslash
    before a real quote makes that quote look escaped: the run is overestimated, never under.)"""
    i = data.find(b'"') if forward else data.rfind(b'"')
    while i > 0 and data[i - 1] == 0x5C:
        i = data.find(b'"', i + 1) if forward else data.rfind(b'"', 0, i)
    return i


class _PushParser:
    """ijson's push parser feeding a budgeted builder; a syntax error is kept, not raised, so
    the answer is still read to its end (then `.json()` raises it, as for any non-JSON body)."""

    def __init__(self) -> None:
        self.events = ijson.utils.sendable_list()
        self.coro = ijson.basic_parse_coro(self.events, use_float=True)
        self.builder = _Builder()
        self.error: Exception | None = None

    def feed(self, data: bytes) -> None:
        # In steps: one send's events are all held at once (16 K of them per 64 KiB at most).
        for start in range(0, len(data), FEED_BYTES):
            self._feed(data[start:start + FEED_BYTES])

    def _feed(self, data: bytes) -> None:
        if self.error is not None:
            return
        try:
            self.coro.send(data)
            self._build()
        except TooCostly:
            raise
        except (ijson.JSONError, ValueError, UnicodeDecodeError) as e:
            self.error = e

    def _build(self) -> None:
        for event, value in self.events:
            self.builder.add(event, value)
        del self.events[:]

    def result(self) -> Any:
        if self.error is None:
            try:
                self.coro.close()
                self._build()
                if not self.builder.done:
                    raise ValueError("the answer ends inside a value")
            except TooCostly:
                raise
            except (ijson.JSONError, ValueError, UnicodeDecodeError) as e:
                self.error = e
        if self.error is not None:
            raise jsonlib.JSONDecodeError(f"not JSON: {self.error}", "", 0)
        return self.builder.root


def read_answer(response: httpx.Response, cap: int) -> None:
    """Read an answer the caller takes: at most `cap` decoded bytes (OverflowError past it),
    TooCostly when its shape passes a limit. A small one becomes `response.content` as usual; a
    large one is parsed while it is read, `response.json()` returns the result and `content`
    keeps its first HEAD_BYTES."""
    sink = _Sink(cap)
    read_body_into(response, sink)
    if sink.parser is None:
        response._content = b"".join(sink.chunks)     # what httpx's own read() sets
        return
    parser = sink.parser
    try:
        parsed, error = parser.result(), None
    except ValueError as e:
        parsed, error = None, e
    response._content = sink.head

    def json(**_: Any) -> Any:
        if error is not None:
            raise error
        return parsed
    response.json = json


def loads(data: bytes) -> Any:
    """A body held in memory: orjson, unless its bracket count says the parse would pass the
    budget (then the budgeted parser refuses it). The standard library reads what orjson
    refuses (NaN) or reads differently (integers past 64 bits, which orjson makes floats; any run
    of 20 digits sends the body there), so every answer decodes as before."""
    if _over_budget(data):
        return _parse_bounded(io.BytesIO(data))
    if _TWENTY_DIGITS in data.translate(_DIGITS_ONLY):
        return jsonlib.loads(data)     # orjson reads integers past 64 bits as floats (3.13)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            return jsonlib.loads(data)
        except RecursionError:
            raise TooCostly(f"the answer nests deeper than {MAX_DEPTH} levels") from None


def _over_budget(data: bytes) -> bool:
    """Whether the bracket count says parsing `data` whole would pass the budget."""
    return len(data) + (_CONTAINER + _POINTER) * (data.count(b"{") + data.count(b"[")) > PARSE_BUDGET_BYTES


def _parse_bounded(stream: BinaryIO) -> Any:
    """A body held in memory whose brackets say orjson would pass the budget: built under it."""
    parser = _PushParser()
    while chunk := stream.read(64 * 1024):
        parser.feed(chunk)
    return parser.result()


class _Builder:
    def __init__(self) -> None:
        self.stack: list[Any] = []
        self.keys: list[Any] = []
        self.key: Any = None
        self.cost = 0
        self.root: Any = None
        self.done = False
        self._keys: dict[str, str] = {}

    def add(self, event: str, value: Any) -> bool:
        """Take one event; True once the top-level value is complete."""
        if event == "map_key":
            shared = self._keys.get(value)
            if shared is None:
                self._spend(_STR + len(value))
                if len(self._keys) < KEY_CACHE:
                    self._keys[value] = shared = value
            self.key = shared if shared is not None else value
            return self._spend(_ENTRY)
        if event in ("end_map", "end_array"):
            done = self.stack.pop()
            self.key = self.keys.pop()
            return self._finish(done) if not self.stack else False
        opens = event in ("start_map", "start_array")
        if opens:
            value = {} if event == "start_map" else []
            self._spend(_CONTAINER + _POINTER)
        elif event == "string":
            self._spend(_STR + _POINTER + len(value))
        else:
            self._spend(_NUMBER + _POINTER if event == "number" else _POINTER)
        if self.stack:
            parent = self.stack[-1]
            if type(parent) is list:
                parent.append(value)
            else:
                parent[self.key] = value
        if not opens:
            return self._finish(value) if not self.stack else False
        if len(self.stack) >= MAX_DEPTH:
            raise TooCostly(f"the answer nests deeper than {MAX_DEPTH} levels")
        self.stack.append(value)
        self.keys.append(self.key)
        return False

    def _spend(self, cost: int) -> bool:
        self.cost += cost
        if self.cost > PARSE_BUDGET_BYTES:
            raise TooCostly(f"the answer would take more than {PARSE_BUDGET_BYTES // MiB} MiB of memory "
                            "once parsed")
        return False

    def _finish(self, value: Any) -> bool:
        if not self.stack:
            self.root, self.done = value, True
        return True


# -- one array of a page, item by item ------------------------------------------------------------

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = jsonlib.JSONDecoder()          # what jsonlib.loads uses: strict, NaN allowed, exact ints


class Items:
    """A JSON object answer whose array under `key` is read one item at a time: `items` yields
    them; `head` holds the answer's other members, whole once `items` has been gone through
    (members after the array are read after it). An export page of 1,000 comment events parsed
    whole was ~130,000 Python objects alive at once; this way one event's are, while the
    feed serializes each in turn. What `loads` would refuse is refused here too (ValueError);
    some items may have been yielded before a fault late in the answer is found."""

    def __init__(self, key: str, items: Iterator[Any], head: dict):
        self.key, self.items, self.head = key, items, head

    @classmethod
    def parsed(cls, body: Any, key: str) -> "Items":
        """An answer already parsed whole (a large one is parsed while it is read)."""
        if body is None:
            return cls(key, iter(()), {})
        if not isinstance(body, dict):
            raise ValueError(f"expected a JSON object with {key!r}, got {type(body).__name__}")
        array = body.get(key)
        return cls(key, iter(array if isinstance(array, list) else ()),
                   {k: v for k, v in body.items() if k != key})


def items_of(data: bytes, key: str) -> Items:
    """The answer `data` (held in memory) as Items. Whatever `loads` would not read with the
    standard library's own rules (an answer its bracket count says is too costly, one that is
    not UTF-8, not an object) goes through `loads` whole, so it is read, or refused, as before."""
    if _over_budget(data):
        return Items.parsed(loads(data), key)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Items.parsed(loads(data), key)
    start = _WHITESPACE.match(text).end()
    if not text.startswith("{", start):
        return Items.parsed(loads(data), key)
    head: dict = {}
    return Items(key, _walk(text, start + 1, key, head), head)


def _walk(text: str, at: int, key: str, head: dict) -> Iterator[Any]:
    """The members of the object opened before `at`: `key`'s array item by item, the others
    into `head`; then nothing but whitespace may follow."""
    space, decode = _WHITESPACE.match, _DECODER.raw_decode
    at, ended = _opened(text, space(text, at).end(), "}")
    seen_key = False
    while not ended:
        name, at = _scan(decode, text, at)
        if not isinstance(name, str):
            raise jsonlib.JSONDecodeError("Expecting property name enclosed in double quotes", text, at)
        at = space(text, at).end()
        if not text.startswith(":", at):
            raise jsonlib.JSONDecodeError("Expecting ':' delimiter", text, at)
        at = space(text, at + 1).end()
        if name == key:
            if seen_key:                       # loads would keep the last one only
                raise jsonlib.JSONDecodeError(f"{key!r} twice in one answer", text, at)
            seen_key = True
        if name == key and text.startswith("[", at):
            at, done = _opened(text, space(text, at + 1).end(), "]")
            while not done:
                item, at = _scan(decode, text, at)
                yield item
                at, done = _next(text, at, "]")
        else:
            value, at = _scan(decode, text, at)
            if name != key:                    # the key's value not an array: no items, as in loads
                head[name] = value
        at, ended = _next(text, at, "}")
    if space(text, at).end() != len(text):
        raise jsonlib.JSONDecodeError("Extra data", text, at)


def _opened(text: str, at: int, close: str) -> tuple[int, bool]:
    """Just inside a container: (where its first value starts, or after `close` if it is empty)."""
    return (at + 1, True) if text.startswith(close, at) else (at, False)


def _next(text: str, at: int, close: str) -> tuple[int, bool]:
    """After a value: (where the next one starts, False), or (after `close`, True)."""
    at = _WHITESPACE.match(text, at).end()
    if text.startswith(",", at):
        return _WHITESPACE.match(text, at + 1).end(), False
    if text.startswith(close, at):
        return at + 1, True
    raise jsonlib.JSONDecodeError("Expecting ',' delimiter", text, at)


def _scan(decode, text: str, at: int) -> tuple[Any, int]:
    try:
        return decode(text, at)
    except RecursionError:
        raise TooCostly(f"the answer nests deeper than {MAX_DEPTH} levels") from None
