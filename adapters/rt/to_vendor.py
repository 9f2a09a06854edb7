"""Canonical records → Request Tracker 5 REST2 request values (pure)."""

from __future__ import annotations

from hdmigrate import times
from hdmigrate.errors import RecordError

STATUS_TO_RT = {"new": "new", "open": "open", "pending": "stalled", "on_hold": "stalled",
                "solved": "resolved", "closed": "resolved"}
PRIORITY_TO_RT = {"low": 0, "normal": 50, "high": 75, "urgent": 100}
CF_TYPES_TO_RT = {"text": "Freeform", "textarea": "Text", "integer": "Freeform", "decimal": "Freeform",
                  "checkbox": "Freeform", "regexp": "Freeform", "date": "Date", "dropdown": "Select",
                  "multiselect": "Select"}


def sql_time(value: str) -> str:
    """RFC 3339 → RT's SQL format in UTC, the only one `Created` accepts on create. Not a time:
    RecordError naming the value (hdmigrate.times)."""
    dt = times.to_datetime(value)
    if dt is None:
        raise RecordError(f"not a time: {value!r}")
    return dt.strftime("%Y-%m-%d %H:%M:%S")


def same_time(sent_sql: str, read_back: str | None) -> bool:
    """Did RT keep the time sent in SQL format? REST2 reads it back as RFC 3339 (UTC)."""
    return bool(read_back) and read_back.replace("T", " ").rstrip("Z") == sent_sql


def origin_line(created_at: str, content_type: str) -> str:
    """A visible line naming the original creation time, put before the opening message where RT
    did not keep `Created` (the text that follows is the original, byte for byte)."""
    line = f"[hdmigrate] Originally created {created_at}"
    if content_type == "text/html":
        return f"<p>{line}</p>\n"
    return line + "\n\n"
