"""Times: the one parser every adapter and the engine use.

The failure rule: a vendor value that is absent (None or "") is None; a value that is present but
is not a time raises `RecordError` naming the value, so the record fails with that reason instead
of losing its time silently. Canonical records hold RFC 3339 strings with `Z` or an offset, never
naive times (canonical-model.md): a vendor's naive time gets the plan's zone.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import RecordError


def to_rfc3339(value: Any, zone: str = "UTC") -> str | None:
    """A vendor time as canonical RFC 3339: ISO 8601 strings (a naive one, or a date, gets
    `zone`) and Unix seconds. UTC comes out as `…Z`; other offsets are kept."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RecordError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    parsed = _parse_iso(str(value).strip(), value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_zone(zone))
    if parsed.utcoffset() == timezone.utc.utcoffset(None):
        return parsed.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return parsed.isoformat()


def to_datetime(value: Any, zone: str = "UTC") -> datetime | None:
    """A vendor time as an aware UTC datetime (same rule as `to_rfc3339`)."""
    text = to_rfc3339(value, zone)
    return None if text is None else parse(text)


def parse(value: Any) -> datetime | None:
    """A canonical RFC 3339 string as an aware UTC datetime. Canonical records are validated
    before they are staged, so anything else (absent, naive, garbage) reads as "no time"."""
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    return dt.astimezone(timezone.utc)


def unix(value: str | None) -> int | None:
    """A canonical time as Unix seconds."""
    dt = parse(value)
    return None if dt is None else int(dt.timestamp())


def now_text() -> str:
    """The current UTC time as the tool's own bookkeeping stamp (runs, steps, batch state):
    RFC 3339 with microseconds and `Z`."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc_text(dt: datetime) -> str:
    """An aware datetime as canonical `YYYY-MM-DDTHH:MM:SSZ` (fractions dropped)."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str, original: Any) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise RecordError(f"not an ISO 8601 time: {original!r}") from None


def _zone(name: str):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RecordError(f"unknown time zone {name!r}") from None
