"""The canonical model: kinds, load order, references, validation and content hashes.

The JSON Schema files in `schemas/` are the source of truth. Validation on the hot path uses
validators compiled from those same files (jsonschema-rs, then fastjsonschema for the message); a
failure is reported with kind, id, field and reason. The JSON of staging (canonical text, hashes,
payloads) goes through orjson, with the standard library for what orjson refuses.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache

import fastjsonschema
import orjson

import schemas

# Kinds in load order: everything a record references is loaded before it.
KINDS = ("custom_field", "organization", "group", "agent", "contact", "ticket", "comment",
         "attachment", "satisfaction_rating")
LOAD_ORDER = KINDS
PERSON_KINDS = ("agent", "contact")

TICKET_STATUSES = ("new", "open", "pending", "on_hold", "solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_TYPES = ("question", "incident", "problem", "task")
CHANNELS = ("email", "web", "phone", "chat", "sms", "social", "messaging", "api", "letter",
            "in_person", "other")


@dataclass(frozen=True)
class Ref:
    """A reference field: `kinds` it may point to; `required` refs fail the record when broken,
    optional ones are dropped with a degradation; `many` fields hold lists of ids."""

    field: str
    kinds: tuple[str, ...]
    required: bool = False
    many: bool = False


PERSON = PERSON_KINDS
REFERENCES: dict[str, tuple[Ref, ...]] = {
    "custom_field": (),
    "organization": (),
    "group": (),
    "agent": (Ref("group_ids", ("group",), many=True),),
    "contact": (Ref("organization_id", ("organization",)),),
    "ticket": (Ref("requester_id", PERSON, required=True), Ref("assignee_id", ("agent",)),
               Ref("group_id", ("group",)), Ref("organization_id", ("organization",)),
               Ref("cc_ids", PERSON, many=True)),
    "comment": (Ref("ticket_id", ("ticket",), required=True),
                Ref("author_id", PERSON, required=True)),
    "attachment": (Ref("comment_id", ("comment",), required=True),),
    "satisfaction_rating": (Ref("ticket_id", ("ticket",), required=True),
                            Ref("contact_id", PERSON)),
}


def references(kind: str, record: dict):
    """Yield (ref, source_id) for every reference a record holds."""
    for ref in REFERENCES[kind]:
        value = record.get(ref.field)
        if value is None:
            continue
        for source_id in (value if ref.many else [value]):
            yield ref, source_id


@cache
def _validator(kind: str):
    return fastjsonschema.compile(schemas.load(kind))


@cache
def _fast_check(kind: str):
    """A yes/no check compiled from the same schema by jsonschema-rs when it is installed
    (about 1.5 µs a record against fastjsonschema's 15), else None. It only ever says "valid":
    a record it refuses is judged again by fastjsonschema, whose verdict and message stand, so
    results are the same with or without it."""
    try:
        import jsonschema_rs
    except ImportError:
        return None
    try:
        return jsonschema_rs.validator_for(schemas.load(kind)).is_valid
    except Exception:  # noqa: BLE001 - a schema it cannot compile: fastjsonschema alone
        return None


def validator_name() -> str:
    """Which validator the hot path uses (benchmarks print it)."""
    return "jsonschema-rs + fastjsonschema" if _fast_check("ticket") else "fastjsonschema"


_MISSING = re.compile(r"must contain \['([^']+)'")


def validation_error(kind: str, record: dict) -> tuple[str, str] | None:
    """(field, reason) of the first schema violation of `record`, or None when it is valid."""
    if kind not in KINDS:
        return ("", f"unknown kind {kind!r}")
    if not isinstance(record, dict):
        return ("", "record is not a JSON object")
    fast = _fast_check(kind)
    if fast is not None:
        try:
            if fast(record):
                return None
        except Exception:  # noqa: BLE001 - a value it cannot read (not JSON): fastjsonschema decides
            pass
    try:
        _validator(kind)(record)
    except fastjsonschema.JsonSchemaValueException as e:
        if e.rule == "anyOf" and kind == "comment":
            return ("body_html", "a comment needs body_html or body_text as a string")
        missing = _MISSING.search(e.message)
        if missing and e.rule == "required":
            return (missing.group(1), "required field is missing")
        field = ".".join(str(p) for p in (e.path or [])[1:])
        if e.rule == "pattern" and field.endswith("_at"):
            return (field, f"not an RFC 3339 time with an offset or Z: {str(e.value)[:40]!r}")
        if e.rule == "pattern" and field == "sha256":
            return (field, f"not a lowercase hex SHA-256: {str(e.value)[:70]!r}")
        return (field, e.message.replace("data.", "", 1).replace("data ", "record ", 1))
    return None


def canonical_text(record: dict) -> str:
    """The JSON text a record is stored and hashed as: sorted keys, UTF-8 as is, compact."""
    try:
        return orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return _std_dumps(record, sort_keys=True)


def content_hash(record: dict) -> str:
    """A stable hash of a record's JSON value (key order does not matter)."""
    return hashlib.sha256(canonical_text(record).encode("utf-8")).hexdigest()


def dumps(record: dict) -> str:
    """The one JSON encoding used in staging and dumps: UTF-8 as is, compact."""
    try:
        return orjson.dumps(record).decode()
    except (TypeError, orjson.JSONEncodeError):
        return _std_dumps(record, sort_keys=False)


_LONG_NUMBER = re.compile(rb"[0-9]{20}")
_LONG_NUMBER_TEXT = re.compile(r"[0-9]{20}")


def loads(text: str | bytes):
    """Parse JSON text from staging, dumps or payloads. Text orjson refuses (lone surrogate
    escapes, NaN) or reads differently (integers beyond 64 bits, which orjson 3.13 turns into
    floats without a word: any run of 20 digits sends the text there) is read by the standard
    library, whose verdict and messages stand."""
    if (_LONG_NUMBER_TEXT if isinstance(text, str) else _LONG_NUMBER).search(text):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _std_dumps(value, *, sort_keys: bool) -> str:
    # What orjson refuses: non-string keys, integers beyond 64 bits, lone surrogates.
    return json.dumps(value, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":"))


def in_selection(selection: dict | None, kind: str, sid: str) -> bool:
    """Is a staged record in a selection made by the engine's `_select`? None selects everything;
    a kind mapped to None is selected whole."""
    if selection is None:
        return True
    chosen = selection.get(kind, ())
    return chosen is None or sid in chosen
