"""Request counters for benchmarks and tests."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

@dataclass
class HttpStats:
    """Counters for benchmarks and tests. `total` counts attempts sent (retries included)."""

    total: int = 0
    by_status: Counter = field(default_factory=Counter)
    retries: int = 0
    rate_limited: int = 0           # 429s received
    transport_errors: int = 0       # timeouts, refused or dropped connections
    waited: float = 0.0             # seconds slept by retry waits
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count_response(self, status: int) -> None:
        with self._lock:
            self.total += 1
            self.by_status[status] += 1
            if status == 429:
                self.rate_limited += 1

    def count_error(self) -> None:
        with self._lock:
            self.total += 1
            self.transport_errors += 1

    def count_dropped_answer(self, status: int) -> None:
        """An answer whose connection broke after its status line: a transport error, not a status."""
        with self._lock:
            self.by_status[status] -= 1
            if not self.by_status[status]:
                del self.by_status[status]
            if status == 429:
                self.rate_limited -= 1
            self.transport_errors += 1

    def count_retry(self, wait: float) -> None:
        with self._lock:
            self.retries += 1
            self.waited += wait

    def as_dict(self) -> dict:
        with self._lock:
            return {"total": self.total, "by_status": dict(self.by_status), "retries": self.retries,
                    "rate_limited": self.rate_limited, "transport_errors": self.transport_errors,
                    "waited": round(self.waited, 3)}

    def __getitem__(self, key: str) -> Any:   # stats["429s"] etc. for quick benchmark scripts
        aliases = {"429s": "rate_limited", "429": "rate_limited"}
        return self.as_dict()[aliases.get(key, key)]
