"""What a sandbox keeps: its request log, statistics and thread-safe record store."""

from __future__ import annotations

import copy
import itertools
import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any



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
