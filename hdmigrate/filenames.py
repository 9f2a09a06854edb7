"""Attachment file names made safe for a target, and the rename recorded.

A file name is written by whoever sent the mail: `../../etc/passwd`, `CON`, names with control
characters or 300 characters reach helpdesks that store files on disk (or agents who save them on
Windows). Targets send `safe_file_name(name)` instead and record `file_name_changed` on the
attachment when it differs; the jsonl archive keeps the original name in the record (it never uses
it as a path: blobs are stored under their sha256).
"""

from __future__ import annotations

import re

from . import degradations as codes
from .degradations import Degradation

MAX_BYTES = 255                       # ext4, NTFS, APFS: 255 bytes / UTF-16 units per name
FALLBACK = "file"
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f<>:\"|?*\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_RESERVED = re.compile(r"(?i)^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$")
_MAX_EXT_BYTES = 32                   # a longer "extension" is part of the name, not kept whole


def _cut(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` within `max_bytes` UTF-8 bytes (never half a character)."""
    return text.encode("utf-8")[:max(0, max_bytes)].decode("utf-8", "ignore")


def safe_file_name(name, max_bytes: int = MAX_BYTES) -> str:
    """`name` without path components, control or reserved characters, reserved Windows device
    names or leading/trailing dots and spaces, at most `max_bytes` UTF-8 bytes with its extension
    kept, never empty. A name that is already safe comes back unchanged."""
    text = name if isinstance(name, str) else str(name or "")
    text = re.split(r"[/\\]", text)[-1] if text.strip("/\\ ") else ""
    if not text:
        parts = [p for p in re.split(r"[/\\]", name if isinstance(name, str) else "") if p.strip(". ")]
        text = parts[-1] if parts else ""
    text = _UNSAFE.sub("_", text).strip(" .")
    stem, dot, ext = text.rpartition(".")
    if not dot or not stem or len(ext.encode("utf-8")) > _MAX_EXT_BYTES:
        stem, ext = text, ""
    if _RESERVED.match(stem.rstrip(" .")) or _RESERVED.match(stem.split(".")[0].rstrip(" ")):
        stem = "_" + stem  # CON.txt, nul.tar.gz: device names on Windows whatever the extension
    ext = "." + ext if ext else ""
    stem = _cut(stem, max_bytes - len(ext.encode("utf-8"))).rstrip(" .")
    out = (stem or FALLBACK) + ext
    if len(out.encode("utf-8")) > max_bytes:
        out = _cut(out, max_bytes)
    return out


def file_name_change(attachment: dict, sent: str) -> Degradation | None:
    """The degradation recording that `attachment` reached the target as `sent` (None if not)."""
    original = attachment.get("file_name")
    if original == sent:
        return None
    shown = repr(original)[:160] + ("…" if len(repr(original)) > 160 else "")
    return Degradation("attachment", str(attachment.get("id")), "file_name", codes.FILE_NAME_CHANGED,
                       f"file name {shown} is not safe on the target; sent as {sent!r}")


def target_file_name(attachment: dict, degraded: list | None = None, max_bytes: int = MAX_BYTES) -> str:
    """What a target sends as the name of `attachment`; appends the rename to `degraded`."""
    sent = safe_file_name(attachment.get("file_name"), max_bytes)
    change = file_name_change(attachment, sent)
    if change is not None and degraded is not None:
        degraded.append(change)
    return sent
