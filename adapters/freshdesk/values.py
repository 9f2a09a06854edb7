"""Freshdesk enumerations both mapping directions share (to_canonical.py, to_vendor.py): tables and
their lookups, pure.

Enumerations follow api-facts.md section 2 and the `choices` of the recorded `/ticket_fields`
response: ticket `source` 1 Email, 2 Portal, 3 Phone, 4 Forum, 5 Twitter, 6 Facebook, 7 Chat,
8 MobiHelp, 9 Feedback Widget, 10 Outbound Email, 11 Ecommerce, 12 Bot, 13 Whatsapp; `status`
2 Open, 3 Pending, 4 Resolved, 5 Closed (+ account-specific custom statuses 6, 7, ...);
`priority` 1 Low, 2 Medium, 3 High, 4 Urgent.
"""

from __future__ import annotations

# --- status -------------------------------------------------------------------------------
STATUS_TO_CANONICAL = {2: "open", 3: "pending", 4: "solved", 5: "closed"}
STATUS_FROM_CANONICAL = {"new": 2, "open": 2, "pending": 3, "on_hold": 3, "solved": 4, "closed": 5}
# canonical values Freshdesk has no own status for (reported as value_unmapped unless the plan maps them)
STATUS_NEAREST_ONLY = {"new", "on_hold"}


def status_to_canonical(code, name: str | None = None) -> tuple[str, bool]:
    """(canonical status, exact?) for a Freshdesk status code; custom statuses (6, 7, ...) map to the
    nearest canonical value by their name ("Waiting on Customer" -> pending, "Waiting on Third
    Party" / "On hold" -> on_hold, anything else -> open)."""
    try:
        code = int(code)
    except (TypeError, ValueError):
        code = None
    if code in STATUS_TO_CANONICAL:
        return STATUS_TO_CANONICAL[code], True
    label = (name or "").lower()
    if any(w in label for w in ("customer", "reply", "requester")):
        return "pending", False
    if any(w in label for w in ("third", "hold", "vendor", "waiting", "paused")):
        return "on_hold", False
    if any(w in label for w in ("resolved", "solved", "done")):
        return "solved", False
    if "closed" in label:
        return "closed", False
    return "open", False


def status_from_canonical(status: str, overrides: dict | None = None) -> int:
    """Freshdesk status code for a canonical status; `[mapping.status]` may name a code or a label."""
    if overrides and status in overrides:
        value = overrides[status]
        try:
            return int(value)
        except (TypeError, ValueError):
            by_name = {"open": 2, "pending": 3, "resolved": 4, "closed": 5}
            if str(value).lower() in by_name:
                return by_name[str(value).lower()]
    return STATUS_FROM_CANONICAL.get(status, 2)


# --- priority -----------------------------------------------------------------------------
PRIORITY_TO_CANONICAL = {1: "low", 2: "normal", 3: "high", 4: "urgent"}
PRIORITY_FROM_CANONICAL = {v: k for k, v in PRIORITY_TO_CANONICAL.items()}


def priority_to_canonical(code) -> str | None:
    try:
        return PRIORITY_TO_CANONICAL.get(int(code))
    except (TypeError, ValueError):
        return None


def priority_from_canonical(priority: str | None, overrides: dict | None = None) -> int:
    if overrides and priority in overrides:
        try:
            return int(overrides[priority])
        except (TypeError, ValueError):
            pass
    return PRIORITY_FROM_CANONICAL.get(priority or "", 1)


# --- channel ------------------------------------------------------------------------------
SOURCE_TO_CHANNEL = {1: "email", 2: "web", 3: "phone", 4: "web", 5: "social", 6: "social",
                     7: "chat", 8: "messaging", 9: "web", 10: "email", 11: "other",
                     12: "messaging", 13: "messaging"}
# What Freshdesk's create-ticket accepts for `source` without a special integration.
CHANNEL_TO_SOURCE = {"email": 1, "web": 2, "phone": 3, "chat": 7}
DEFAULT_SOURCE = 2  # Portal
# Conversation `source` is a different enumeration: 0 reply, 1 email, 2 note, 3 tweet,
# 4 survey feedback, 5 facebook, 6 forwarded email, 7 phone, 8 mobihelp, 9 e-commerce.
CONVERSATION_SOURCE_TO_CHANNEL = {0: "email", 1: "email", 2: None, 3: "social", 4: "web",
                                  5: "social", 6: "email", 7: "phone", 8: "messaging", 9: "other"}


def channel_to_canonical(source) -> str | None:
    try:
        return SOURCE_TO_CHANNEL.get(int(source), "other")
    except (TypeError, ValueError):
        return None


def conversation_channel(source, ticket_channel: str | None) -> str | None:
    try:
        code = int(source)
    except (TypeError, ValueError):
        return ticket_channel
    if code not in CONVERSATION_SOURCE_TO_CHANNEL:
        return "other"
    channel = CONVERSATION_SOURCE_TO_CHANNEL[code]
    return channel if channel is not None else ticket_channel


def channel_from_canonical(channel: str | None, overrides: dict | None = None) -> tuple[int, bool]:
    """(Freshdesk ticket source, exact?)"""
    if overrides and channel in overrides:
        try:
            return int(overrides[channel]), True
        except (TypeError, ValueError):
            pass
    if channel in CHANNEL_TO_SOURCE:
        return CHANNEL_TO_SOURCE[channel], True
    return DEFAULT_SOURCE, channel is None


# --- ticket type --------------------------------------------------------------------------
CANONICAL_TYPES = ("question", "incident", "problem", "task")


def type_to_canonical(value: str | None) -> str | None:
    if not value:
        return None
    v = str(value).strip().lower()
    return v if v in CANONICAL_TYPES else None


def type_from_canonical(value: str | None, choices: list[str] | None, overrides: dict | None = None) -> str | None:
    """A Freshdesk type label for a canonical type, or None when the account has no such type."""
    if not value:
        return None
    if overrides and value in overrides:
        return overrides[value]
    label = value.capitalize()
    if choices is None or label in choices:
        return label
    for c in choices:
        if c.lower() == value:
            return c
    return None


# --- custom field types -------------------------------------------------------------------
FIELD_TYPE_TO_CANONICAL = {
    "custom_text": "text", "custom_paragraph": "textarea", "custom_number": "integer",
    "custom_decimal": "decimal", "custom_checkbox": "checkbox", "custom_date": "date",
    "custom_dropdown": "dropdown", "nested_field": "dropdown", "custom_url": "text",
    "custom_phone_number": "text", "custom_multi_select_dropdown": "multiselect",
    "custom_date_time": "date",
}
FIELD_TYPE_FROM_CANONICAL = {
    "text": "custom_text", "textarea": "custom_paragraph", "integer": "custom_number",
    "decimal": "custom_decimal", "checkbox": "custom_checkbox", "date": "custom_date",
    "dropdown": "custom_dropdown", "multiselect": "custom_dropdown", "regexp": "custom_text",
}
ENTITY_OF_STREAM = {"ticket_fields": "ticket", "contact_fields": "contact", "company_fields": "organization"}
FIELDS_PATH = {"ticket": "ticket_fields", "contact": "contact_fields", "organization": "company_fields"}


def field_type_to_canonical(fd_type: str) -> str:
    return FIELD_TYPE_TO_CANONICAL.get(fd_type, "text")


# --- satisfaction -------------------------------------------------------------------------
# Freshdesk survey answers: 103 extremely happy .. 100 neutral .. -103 extremely unhappy
# (classic 3-point surveys use 103 / 100 / -103).
def csat_to_canonical(value) -> tuple[int | str, str]:
    try:
        v = int(value)
    except (TypeError, ValueError):
        return 0, "good_bad"
    # to a 1-5 scale: -103..103 -> 1..5
    table = {-103: 1, -102: 1, -101: 2, 100: 3, 101: 4, 102: 5, 103: 5}
    return table.get(v, 3), "1-5"


CSAT_ANSWER_NAMES = {103: "extremely happy", 102: "very happy", 101: "happy", 100: "neutral",
                     -101: "unhappy", -102: "very unhappy", -103: "extremely unhappy"}


def csat_from_canonical(score, scale: str | None) -> int:
    if scale == "good_bad":
        return 103 if str(score).lower() in ("good", "1", "true") else -103
    try:
        s = float(score)
    except (TypeError, ValueError):
        return 100
    if scale == "0-10":
        s = 1 + s * 4 / 10
    return {1: -103, 2: -101, 3: 100, 4: 101, 5: 103}[max(1, min(5, round(s)))]
