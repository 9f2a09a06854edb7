"""Zendesk Support API payloads -> canonical records (pure: plain dicts in, plain dicts out).

One function per kind; `ZendeskSource.to_canonical` and the fixture tests (every recorded real
Zendesk response in ../shared/vendor-fixtures/zendesk) call them. Times go through
`hdmigrate.times` (absent -> None; present but not a time -> RecordError naming the value).
Id scheme: see values.py.
"""

from __future__ import annotations

import hashlib
import mimetypes
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hdmigrate import inline_images
from hdmigrate.errors import RecordError
from hdmigrate.times import to_rfc3339 as rfc3339

from .values import (AGENT_ROLES, FIELD_TYPES, PRIORITIES, STATUS_IN, SYSTEM_TICKET_FIELDS, TYPES,
                     channel, person_id)


def _sid(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _rest(raw: dict, used: set[str]) -> dict:
    """Source fields with no canonical home, unchanged (canonical rule: nothing dropped)."""
    return {k: v for k, v in raw.items() if k not in used}


def _times(raw: dict, zone: str) -> dict:
    return {"created_at": rfc3339(raw.get("created_at"), zone),
            "updated_at": rfc3339(raw.get("updated_at"), zone)}


def _require_id(raw: Any, kind: str) -> str:
    if not isinstance(raw, dict):
        raise RecordError(f"{kind}: payload is not a JSON object", kind=kind)
    if raw.get("id") is None:
        raise RecordError(f"{kind}: payload has no id", kind=kind, field="id")
    return str(raw["id"])


def custom_field(entity: str, raw: dict, zone: str = "UTC") -> dict | None:
    """A ticket_fields / user_fields / organization_fields item; None for Zendesk system fields."""
    zid = _require_id(raw, "custom_field")
    ztype = raw.get("type")
    if entity == "ticket" and ztype in SYSTEM_TICKET_FIELDS:
        return None
    key = zid if entity == "ticket" else (raw.get("key") or zid)
    ctype = FIELD_TYPES.get(ztype, "text")
    options = raw.get("custom_field_options") or []
    record = {
        "id": f"{entity}:{key}", "entity": entity, "key": str(key), "type": ctype,
        "title": raw.get("title"),
        "options": [{"value": o.get("value"), "label": o.get("name")} for o in options
                    if isinstance(o, dict)],
        "required": bool(raw.get("required") or raw.get("required_in_portal")),
        "active": bool(raw.get("active", True)),
        **_times(raw, zone),
        "extra": _rest(raw, {"created_at", "updated_at", "title", "custom_field_options",
                             "required", "active"}),
    }
    if ctype != ztype:
        record["extra"]["source_type"] = ztype
    return record


# ---------------------------------------------------------------- organizations, groups, users

def organization(raw: dict, zone: str = "UTC") -> dict:
    oid = _require_id(raw, "organization")
    return {
        "id": oid, "name": raw.get("name") or f"organization {oid}",
        "domains": list(raw.get("domain_names") or []), "notes": raw.get("notes"),
        "tags": list(raw.get("tags") or []),
        "custom_fields": dict(raw.get("organization_fields") or {}),
        **_times(raw, zone),
        "extra": _rest(raw, {"id", "name", "domain_names", "notes", "tags", "organization_fields",
                             "created_at", "updated_at"}),
    }


def group(raw: dict, zone: str = "UTC") -> dict:
    gid = _require_id(raw, "group")
    return {"id": gid, "name": raw.get("name") or f"group {gid}",
            "description": raw.get("description"), **_times(raw, zone),
            "extra": _rest(raw, {"id", "name", "description", "created_at", "updated_at"})}


def user_kind(raw: dict) -> str:
    """"agent" or "contact" by the user's own `role` (ZD-OAS User.role: "end-user", "agent",
    "admin"): an end-user is a contact, and so is an agent without an e-mail (see `user`)."""
    return "agent" if raw.get("role") in AGENT_ROLES and raw.get("email") else "contact"


def user(raw: dict, zone: str = "UTC") -> tuple[str, dict]:
    """(kind, record): role agent/admin -> agent; end-user (or none) -> contact. Deleted and
    suspended users are kept, flagged in `extra` (`active` false for deleted ones)."""
    uid = _require_id(raw, "user")
    role = raw.get("role")
    identities = [i for i in (raw.get("identities") or []) if isinstance(i, dict)]
    emails = [i.get("value") for i in identities if i.get("type") == "email" and i.get("value")]
    phones = [i.get("value") for i in identities if i.get("type") == "phone_number" and i.get("value")]
    email = raw.get("email")
    if email and email not in emails:
        emails.insert(0, email)
    if raw.get("phone") and raw["phone"] not in phones:
        phones.insert(0, raw["phone"])
    name = raw.get("name") or email or f"user {uid}"
    used = {"id", "name", "email", "role", "active", "created_at", "updated_at", "identities"}
    # Deleted (active false) and suspended users are both inactive people.
    common = {"id": person_id(uid), "name": name,
              "active": raw.get("active", True) is not False and not raw.get("suspended"),
              **_times(raw, zone)}
    extra = _rest(raw, used)
    extra["source_role"] = role
    if raw.get("active") is False:
        extra["deleted"] = True
    if user_kind(raw) == "agent":
        record = {**common, "email": email, "role": AGENT_ROLES[role], "group_ids": [],
                  "extra": extra}
        if raw.get("custom_role_id") is not None and role == "agent":
            extra["custom_role_id"] = raw.get("custom_role_id")
        return "agent", record
    if role in AGENT_ROLES:
        extra["agent_without_email"] = True
    tz = raw.get("iana_time_zone")
    record = {**common, "email": email, "emails": [e for e in emails if e != email],
              "phones": phones, "organization_id": _sid(raw.get("organization_id")),
              "language": raw.get("locale"), "time_zone": tz,
              "tags": list(raw.get("tags") or []), "custom_fields": dict(raw.get("user_fields") or {}),
              "notes": raw.get("notes"), "extra": extra}
    extra.pop("organization_id", None)
    for k in ("locale", "tags", "user_fields", "notes", "iana_time_zone"):
        extra.pop(k, None)
    if identities:
        extra["identities"] = identities
    return "contact", record


# ---------------------------------------------------------------- tickets

def ticket(raw: dict, zone: str = "UTC") -> dict | None:
    """A ticket of the incremental export; None for a deleted ticket (status "deleted", scrubbed
    by Zendesk: nothing left to migrate; the source logs each one)."""
    tid = _require_id(raw, "ticket")
    zstatus = raw.get("status")
    if zstatus == "deleted":
        return None
    extra = _rest(raw, {"id", "subject", "status", "requester_id", "priority", "type", "via",
                        "assignee_id", "group_id", "organization_id", "collaborator_ids",
                        "email_cc_ids", "tags", "custom_fields", "fields", "due_at",
                        "created_at", "updated_at"})
    status = STATUS_IN.get(zstatus)
    if status is None:
        status = "open"
        extra["source_status"] = zstatus
    priority = raw.get("priority")
    if priority is not None and priority not in PRIORITIES:
        extra["source_priority"] = priority
        priority = "normal"
    ttype = raw.get("type")
    if ttype is not None and ttype not in TYPES:
        extra["source_type"] = ttype
        ttype = None
    chan, original = channel(raw.get("via"))
    extra["via"] = raw.get("via")
    if original is not None:
        extra["source_channel"] = original
    requester = raw.get("requester_id") or raw.get("submitter_id")
    if requester is None:
        raise RecordError(f"ticket {tid} has no requester", kind="ticket", id=tid,
                          field="requester_id")
    ccs: list[str] = []
    for uid in list(raw.get("collaborator_ids") or []) + list(raw.get("email_cc_ids") or []):
        pid = person_id(uid)
        if pid and pid not in ccs:
            ccs.append(pid)
    values = raw.get("custom_fields")
    if values is None:
        values = raw.get("fields") or []
    custom = {str(v["id"]): v.get("value") for v in values if isinstance(v, dict) and "id" in v}
    solved_at = None
    metric = raw.get("metric_set") or {}
    if isinstance(metric, dict) and metric.get("solved_at"):
        solved_at = rfc3339(metric["solved_at"], zone)
    return {
        "id": tid, "number": tid, "subject": raw.get("subject") or raw.get("raw_subject") or "",
        "status": status, "requester_id": person_id(requester), "priority": priority,
        "type": ttype, "channel": chan, "assignee_id": person_id(raw.get("assignee_id")),
        "group_id": _sid(raw.get("group_id")), "organization_id": _sid(raw.get("organization_id")),
        "cc_ids": ccs, "tags": list(raw.get("tags") or []), "custom_fields": custom,
        "due_at": rfc3339(raw.get("due_at"), zone), "solved_at": solved_at,
        **_times(raw, zone), "extra": extra,
    }


def satisfaction_rating(raw_ticket: dict, zone: str = "UTC") -> dict | None:
    """The rating embedded in an exported ticket (no extra request); only scored ones."""
    rating = raw_ticket.get("satisfaction_rating")
    if not isinstance(rating, dict) or rating.get("score") not in ("good", "bad"):
        return None
    tid = str(raw_ticket["id"])
    return {"id": str(rating.get("id") or f"t{tid}"), "ticket_id": tid, "score": rating["score"],
            "scale": "good_bad", "comment": rating.get("comment"),
            "contact_id": person_id(raw_ticket.get("requester_id")),
            "created_at": rfc3339(rating.get("created_at"), zone),
            "updated_at": rfc3339(rating.get("updated_at"), zone),
            "extra": _rest(rating, {"id", "score", "comment", "created_at", "updated_at"})}


def comment(raw: dict, zone: str = "UTC", shown: set[str] | None = None) -> tuple[dict, list[dict]]:
    """A comment (a ticket-events `Comment` child event or a /tickets/{id}/comments item, with
    `ticket_id` added by the source) and its attachments. `shown`: the file URLs of the ticket's
    earlier comments (the caller keeps one set per ticket; updated here), so an image a reply
    quotes is not taken for a new file of the reply."""
    cid = _require_id(raw, "comment")
    tid = _sid(raw.get("ticket_id"))
    if tid is None:
        raise RecordError(f"comment {cid} has no ticket_id", kind="comment", id=cid,
                          field="ticket_id")
    chan, original = channel(raw.get("via"))
    attachments = []
    for a in raw.get("attachments") or []:
        if not isinstance(a, dict) or a.get("id") is None:
            continue
        attachments.append({
            "id": str(a["id"]), "comment_id": cid, "ticket_id": tid,
            "file_name": a.get("file_name") or f"attachment-{a['id']}",
            "content_type": a.get("content_type") or "application/octet-stream",
            "size": int(a.get("size") or 0), "inline": bool(a.get("inline", False)),
            "content_id": None,
            "extra": _rest(a, {"id", "file_name", "content_type", "size", "inline"}),
        })
    attachments += unlisted_inline_images(raw.get("html_body"), attachments, cid, tid, shown)
    author = raw.get("author_id")
    extra = _rest(raw, {"id", "ticket_id", "author_id", "public", "body", "html_body",
                        "attachments", "created_at", "via", "_hdm_author_kind"})
    extra["via"] = raw.get("via")
    if original is not None:
        extra["source_channel"] = original
    if not isinstance(raw.get("public"), bool):
        extra["source_public"] = raw.get("public")   # ambiguous: kept, and read as private
    record = {
        "id": cid, "ticket_id": tid,
        "author_id": person_id(author) if author not in (None, -1) else "system",
        # Only an explicit JSON true is public: a missing flag or "false" must never publish a note.
        "public": raw.get("public") is True,
        "body_html": raw.get("html_body"), "body_text": raw.get("body") if raw.get("body") is not None else raw.get("plain_body"),
        "channel": chan, "attachment_ids": [a["id"] for a in attachments],
        "created_at": rfc3339(raw.get("created_at"), zone), "extra": extra,
    }
    if author in (None, -1):
        record["author_kind"] = "system"
        extra["source_author_id"] = author
    elif raw.get("_hdm_author_kind"):
        record["author_kind"] = raw["_hdm_author_kind"]     # from the source's agent list
    if record["body_html"] is None and record["body_text"] is None:
        record["body_text"] = ""
    return record, attachments


def unlisted_inline_images(html_body: str | None, listed: list[dict], comment_id: str,
                           ticket_id: str, shown: set[str] | None = None) -> list[dict]:
    """Inline images the comment shows but does not list: Zendesk leaves attachments with
    `inline: true` out of a comment's list (ZD-OAS AttachmentBaseObject.inline; List Comments
    has them only with include_inline_images), so each <img> at an /attachments/token/ URL that no
    listed file has becomes an inline attachment, named by its URL (stable across runs), fetched
    from that URL (the HTTP layer refuses hosts the plan does not name)."""
    known = {u for a in listed for u in inline_images.source_urls(a)} | (shown or set())
    out: list[dict] = []
    for ref in inline_images.image_refs(html_body):
        src = ref.src.strip()
        path = urlsplit(src).path if src.lower().startswith(("http://", "https://")) else ""
        if "/attachments/token/" not in path:
            continue
        if shown is not None:
            shown.add(src)            # images only: the set stays small
        if src in known:
            continue
        known.add(src)
        name = (parse_qs(urlsplit(src).query).get("name") or [""])[0] or path.rstrip("/").rsplit("/", 1)[-1]
        out.append({"id": "inline-" + hashlib.sha256(src.encode("utf-8")).hexdigest()[:20],
                    "comment_id": comment_id, "ticket_id": ticket_id, "file_name": name or "inline-image",
                    "content_type": mimetypes.guess_type(name)[0] or "application/octet-stream",
                    "size": 0, "inline": True, "content_id": None,
                    "extra": {"content_url": src, "size_unknown": True, "unlisted": True}})
    return out

