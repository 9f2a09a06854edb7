"""Help Scout's documented limits and shared helpers of the sandbox (no imports of its server)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timezone

from . import hal

# developer.helpscout.com/mailbox-api/endpoints/conversations/threads/update ("Locked conversation -
# maximum number of threads"): a conversation is created with at most 100 threads, and a thread added
# to one that has 99 threads or more is refused; both answer 412.
MAX_THREADS = 100
ADD_THREAD_BELOW = 99
# 10 MB a file: the legacy v1 limit (help-desk-api/conversations/create-attachment); the v2 pages
# stored state none (413 above it here, as v1 answered for oversize requests).
MAX_FILE_BYTES = 10 * 1024 * 1024
STATUSES = ("active", "open", "pending", "closed", "spam")      # a status change (errors page sample)
CREATE_STATUSES = ("active", "closed", "pending")               # Create Conversation: "one of active closed pending"
CREATE_TYPES = {"customer": "customer", "reply": "message", "note": "note", "chat": "chat", "phone": "phone"}
SOURCES = {"customer": "email", "message": "email", "note": "api", "chat": "chat", "phone": "phone"}


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _instant(value: str, name: str) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise hal.bad_request(name, "must be an ISO 8601 date-time (2019-01-01T00:00:00Z)", value) from None


def decode_file(item: dict, where: str) -> bytes:
    for key in ("fileName", "mimeType", "data"):
        if not item.get(key) and not (key == "data" and item.get(key) == ""):
            raise hal.bad_request(f"{where}.{key}", "may not be empty")
    try:
        data = base64.b64decode(item["data"], validate=True)
    except (binascii.Error, ValueError):
        raise hal.bad_request(f"{where}.data", "is not base64") from None
    if len(data) > MAX_FILE_BYTES:
        raise hal.error(413, f"Attachment {item['fileName']!r} is larger than 10 MB")
    return data
