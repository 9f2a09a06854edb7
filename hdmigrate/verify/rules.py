"""What `verify` compares and what explains a difference: the constants, findings and text normalisation."""

from __future__ import annotations

import dataclasses
import html
from html.parser import HTMLParser

from ..adapter import Capability
from ..times import parse as parse_time


EXIT_DIFFERENCES = 5

MAX_STORED_FINDINGS = 2000

LOSSLESS_TARGETS = frozenset({"jsonl"})

TIME_FIELDS = ("created_at", "updated_at", "solved_at", "due_at")

SKIP_ALWAYS = frozenset({"id", "extra"})

ENUM_FIELDS = ("status", "priority", "type", "channel")

TIMED_KINDS = frozenset({"ticket", "comment", "satisfaction_rating"})

LEFT_OUT_CODES = frozenset({"attachment_empty", "attachment_rejected", "attachment_too_large",
                            "attachment_url_refused", "csat_not_writable", "attachments_not_supported",
                            "record_merged"})

NOT_MIGRATED_STATES = {"failed": "record_failed", "rolled_back": "rolled_back"}

EXIT_NOT_MIGRATED = 1

TARGET_ASSIGNED = {"ticket": {"number": "number_not_preserved"},
                   "custom_field": {"key": "field_key_assigned"}}

# Which fields a degradation code covers (besides the field recorded with it).
CODE_FIELDS: dict[str, frozenset[str]] = {
    "timestamp_not_preserved": frozenset(TIME_FIELDS),
    "author_not_preserved": frozenset({"author_id", "author_kind"}),
    "channel_not_preserved": frozenset({"channel"}),
    "private_first_message": frozenset({"public"}),
    "attachment_too_large": frozenset({"attachment_ids", "(record)", "sha256", "size"}),
    "attachment_empty": frozenset({"attachment_ids", "(record)", "sha256", "size"}),
    "attachment_rejected": frozenset({"attachment_ids", "(record)", "sha256", "size", "file_name"}),
    "attachment_url_refused": frozenset({"attachment_ids", "(record)", "sha256", "size"}),
    "field_type_changed": frozenset({"custom_fields"}),
    "value_unmapped": frozenset(),
    "csat_not_writable": frozenset({"(record)", "score", "scale", "comment", "contact_id"}),
    "inline_image_detached": frozenset({"body_html", "inline", "content_id", "attachment_ids"}),
    "inline_image_rehosted": frozenset({"inline", "content_id"}),  # bodies: _images_only decides
    "text_repaired": frozenset({"subject", "body_html", "body_text"}),
    "csat_scale_changed": frozenset({"score", "scale"}),
    "file_name_changed": frozenset({"file_name"}),
}

# What a missing capability of the target explains: capability -> (code, fields).
CAPABILITY_FIELDS: dict[Capability, tuple[str, frozenset[str]]] = {
    Capability.PRESERVE_TIMESTAMPS: ("timestamp_not_preserved", frozenset(TIME_FIELDS)),
    Capability.PRESERVE_AUTHORS: ("author_not_preserved", frozenset({"author_id", "author_kind"})),
    Capability.PRESERVE_CHANNEL: ("channel_not_preserved", frozenset({"channel"})),
    Capability.CUSTOM_FIELDS: ("custom_fields_not_supported", frozenset({"custom_fields"})),
    Capability.INLINE_IMAGES: ("inline_image_detached", frozenset({"inline", "content_id"})),
}

CAPABILITY_KINDS: dict[Capability, tuple[str, frozenset[str]]] = {
    Capability.SATISFACTION_RATINGS: ("csat_not_writable", frozenset({"satisfaction_rating"})),
    Capability.ATTACHMENTS: ("attachments_not_supported", frozenset({"attachment"})),
    Capability.CREATE_CUSTOM_FIELDS: ("custom_field_not_created", frozenset({"custom_field"})),
}


@dataclasses.dataclass(slots=True)     # one per differing field: a migration has many
class Finding:
    kind: str
    id: str
    field: str
    problem: str                   # missing, duplicate, unrecorded, extra, differs, unreadable
    source: object = None
    target: object = None
    target_id: str | None = None
    explained: bool = False
    code: str = ""                 # the degradation / explanation code
    detail: str = ""

    def as_dict(self) -> dict:
        out = {"kind": self.kind, "id": self.id, "field": self.field, "problem": self.problem,
               "explained": self.explained, "code": self.code, "detail": self.detail}
        if self.target_id is not None:
            out["target_id"] = self.target_id
        if self.problem == "differs":
            out["source"] = _short_value(self.source)
            out["target"] = _short_value(self.target)
        return out

class _Shortened(str):
    """A value _short_value already cut: not cut again."""


def _short_value(value, limit: int = 300):
    if isinstance(value, _Shortened):
        return value
    if isinstance(value, str) and len(value) > limit:
        return _Shortened(value[:limit] + f"… ({len(value)} characters)")
    if isinstance(value, (list, dict)):
        text = repr(value)
        if len(text) > limit:
            return _Shortened(text[:limit] + "…")
    return value


def shorten_values(f: "Finding") -> None:
    """Cut a kept finding's values to what the report shows of them (as_dict), so a verify keeping
    one finding per rewritten comment does not keep both of its bodies whole."""
    f.source, f.target = _short_value(f.source), _short_value(f.target)

def same_second(a, b) -> bool:
    da, db = parse_time(a), parse_time(b)
    if da is None or db is None:
        return a == b
    return int(da.timestamp()) == int(db.timestamp())

class _Text(HTMLParser):
    """Visible text of an HTML fragment (scripts and styles dropped), whitespace collapsed."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "li", "tr", "h1", "h2", "h3", "blockquote"):
            self.parts.append(" ")
        if tag == "img":
            src = dict(attrs).get("src") or ""
            self.parts.append(f" [img {src.split('/')[-1]}] " if src else " ")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)

def html_text(value: str | None) -> str:
    if not value:
        return ""
    parser = _Text()
    try:
        parser.feed(value)
        parser.close()
    except Exception:  # noqa: BLE001 - malformed markup: fall back to the raw string
        return " ".join(html.unescape(value).split())
    return " ".join("".join(parser.parts).split())

def _norm_tag(tag) -> str:
    return str(tag).strip().lower().replace(" ", "_")

def _same(a, b) -> bool:
    if a == b:
        return True
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return float(a) == float(b)
    if a in (None, [], {}, "") and b in (None, [], {}, ""):
        return True
    return False

def _id_order(value) -> tuple:
    text = str(value)
    return (0, int(text), "") if text.isdigit() else (1, 0, text)

def _sortable(value) -> str:
    dt = parse_time(value)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f") if dt else str(value or "")
