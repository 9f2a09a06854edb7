"""Canonical records → django-helpdesk 2.6 API request values (pure)."""

from __future__ import annotations

from hdmigrate import stamps

from .values import OPENING_TITLE

STATUS_TO_HD = {"new": 1, "open": 1, "pending": 1, "on_hold": 1, "solved": 3, "closed": 4}
PRIORITY_TO_HD = {"urgent": 1, "high": 2, "normal": 3, "low": 4, None: 3}

# HELPDESK_VALIDATE_ATTACHMENT_TYPES default allow-list (2.6.1)
ALLOWED_EXTENSIONS = (".txt", ".asc", ".pdf", ".doc", ".docx", ".odt", ".jpg", ".png", ".eml")


def extension_allowed(file_name: str) -> bool:
    return file_name.lower().endswith(ALLOWED_EXTENSIONS)


def stamped_title(title: str | None, stamp: str) -> str:
    """The opening follow-up's title carrying `stamp` (an earlier stamp replaced)."""
    return stamps.strip_title(title or OPENING_TITLE) + stamps.title_suffix(stamp)
