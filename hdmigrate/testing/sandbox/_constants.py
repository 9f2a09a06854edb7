"""Constants the sandbox framework's modules share."""

from __future__ import annotations

from typing import Any

KNOWN_FAULTS = ("5xx", "429", "drop", "slow", "job_fail")
_UNSET: Any = object()
