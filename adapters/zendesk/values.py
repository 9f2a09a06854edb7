"""Zendesk enumerations, id helpers and field tables both mapping directions share (pure).

Id scheme (canonical ids of records a Zendesk source emits):
- users: ``u<user id>`` for agents and contacts alike. Zendesk numbers all users in one sequence,
  so the prefix keeps person ids apart from other kinds' numeric ids while a ticket's
  ``requester_id`` can be written without knowing the user's role (a requester may be an agent).
- custom fields: ``ticket:<field id>``, ``contact:<field key>``, ``organization:<field key>``;
  the canonical ``key`` is the field id for ticket fields and the field key for user/org fields.
- tickets, comments, attachments, organizations, groups, satisfaction ratings: the Zendesk id.
"""

from __future__ import annotations

import html
import re
from typing import Any

# ---------------------------------------------------------------- enumerations

STATUS_IN = {"new": "new", "open": "open", "pending": "pending", "hold": "on_hold",
             "solved": "solved", "closed": "closed"}
STATUS_OUT = {v: k for k, v in STATUS_IN.items()}
PRIORITIES = ("low", "normal", "high", "urgent")
TYPES = ("question", "incident", "problem", "task")

# via type (string) -> canonical channel. Zendesk's via-types reference lists many more internal
# types (rule, merge, batch, linked_problem ...); those become "other" with the original kept.
VIA_TYPES = {
    "web": "web", "web_form": "web", "web_widget": "web", "help_center": "web", "dropbox": "web",
    "mobile": "web", "mobile_sdk": "web", "iphone": "web", "forum": "web", "topic": "web",
    "email": "email", "mail": "email",
    "api": "api", "web_service": "api",
    "voice": "phone", "phone": "phone", "voicemail": "phone", "phone_call_inbound": "phone",
    "phone_call_outbound": "phone", "api_voicemail": "phone", "api_phone_call_inbound": "phone",
    "api_phone_call_outbound": "phone",
    "chat": "chat", "chat_transcript": "chat", "chat_offline_message": "chat",
    "sms": "sms", "text": "sms",
    "twitter": "social", "twitter_dm": "social", "twitter_favorite": "social",
    "facebook": "social", "facebook_post": "social", "facebook_message": "social",
    "instagram_dm": "social", "instagram": "social",
    "native_messaging": "messaging", "messaging": "messaging", "whatsapp": "messaging",
    "line": "messaging", "wechat": "messaging", "any_channel": "messaging",
    "sunshine_conversations_api": "messaging",
}
# via id (integer) -> via type, from Zendesk's via-types reference. Ids not listed here map to
# channel "other" with the integer kept in extra.source_channel.
VIA_IDS = {0: "web_form", 4: "mail", 5: "web_service", 8: "rule", 9: "linked_problem",
           10: "group_deletion", 11: "user_change", 12: "user_deletion", 13: "group_change",
           14: "resource_push", 15: "iphone", 16: "get_satisfaction", 17: "dropbox", 19: "merge",
           20: "batch", 21: "recovered_from_suspended_tickets",
           22: "automatic_solution_suggestions", 23: "twitter_favorite", 24: "forum",
           26: "twitter_dm", 27: "closed_ticket", 29: "chat", 30: "twitter", 33: "voicemail",
           34: "phone_call_inbound", 35: "phone_call_outbound", 38: "facebook_post",
           41: "facebook_message", 46: "any_channel", 48: "sms", 49: "ticket_sharing",
           50: "help_center"}
# canonical channel -> the via type written back (informational: the import API sets via itself)
CHANNEL_OUT = {"email": "email", "web": "web", "phone": "voice", "chat": "chat", "sms": "sms",
               "social": "twitter", "messaging": "native_messaging", "api": "api"}


def channel(via: Any) -> tuple[str | None, Any]:
    """(canonical channel, original via.channel). Strings and integer via ids both map."""
    if not isinstance(via, dict):
        return None, None
    raw = via.get("channel")
    if raw is None:
        return None, None
    name = raw
    if isinstance(raw, bool):
        return "other", raw
    if isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit()):
        name = VIA_IDS.get(int(raw))
        if name is None:
            return "other", raw
    return VIA_TYPES.get(str(name).lower(), "other"), raw


def person_id(user_id: Any) -> str | None:
    return None if user_id is None or user_id == "" else f"u{user_id}"


def zendesk_user_id(person: str) -> str:
    return person[1:] if person.startswith("u") else person


FIELD_TYPES = {"text": "text", "textarea": "textarea", "checkbox": "checkbox", "date": "date",
               "integer": "integer", "decimal": "decimal", "regexp": "regexp",
               "tagger": "dropdown", "dropdown": "dropdown", "multiselect": "multiselect",
               "partialcreditcard": "text", "lookup": "text"}
# Zendesk's built-in ticket fields: not custom; their values live in the ticket's own columns.
SYSTEM_TICKET_FIELDS = {"subject", "description", "status", "tickettype", "priority", "group",
                        "assignee", "custom_status", "brand", "ticket_form", "requester"}
FIELD_TYPES_OUT = {"text": "text", "textarea": "textarea", "checkbox": "checkbox", "date": "date",
                   "integer": "integer", "decimal": "decimal", "regexp": "regexp",
                   "dropdown": "tagger", "multiselect": "multiselect"}

AGENT_ROLES = {"admin": "admin", "agent": "agent"}


def field_key(key: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in str(key).lower())
    return cleaned if cleaned and cleaned[0].isalpha() else f"f_{cleaned}"


# ---------------------------------------------------------------- the target API's limits and endpoints

TOKEN_LIFETIME = 55 * 60       # Zendesk keeps an unused upload token 60 minutes
MAX_UPLOAD = 50 * 1024 * 1024  # Zendesk's attachment size limit (account default)
FIELD_ENDPOINTS = {"ticket": ("ticket_fields", "ticket_field"),
                   "contact": ("user_fields", "user_field"),
                   "organization": ("organization_fields", "organization_field")}
ZD_STATUSES = {"new", "open", "pending", "hold", "solved", "closed"}


def _plain(text: str | None) -> str:
    """A comment's words without markup or spacing (Zendesk rewrites HTML it stores)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text or "")).split())


def _next(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    meta = body.get("meta") or {}
    if meta and not meta.get("has_more"):
        return None
    return (body.get("links") or {}).get("next") or body.get("next_page")
