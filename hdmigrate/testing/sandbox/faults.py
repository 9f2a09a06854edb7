"""Faults a sandbox injects (`5xx`, `429`, `drop`, `slow`, `job_fail`) and the free-port helper."""

from __future__ import annotations

import os
import random
import re
import socket
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from hdmigrate.errors import ConfigError

from ._constants import KNOWN_FAULTS


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
