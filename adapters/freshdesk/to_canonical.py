"""Freshdesk payloads -> canonical records (pure: no I/O, no client).

One function per kind; `records(stream, payload)` is what `FreshdeskSource.to_canonical` and the
fixture tests call. What the fetch learned (which user ids are agents, status names, number
fields, CC people) arrives in the payload's `_hdm_*` keys. Times go through `hdmigrate.times`:
absent is None, a value that is not a time fails the record naming it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

from hdmigrate.times import to_rfc3339

from . import values as m

INLINE_IMG = re.compile(r"<img\b[^>]*>", re.I)
ATTR = re.compile(r'([\w-]+)\s*=\s*"([^"]*)"')
TICKET_DROP_FROM_EXTRA = {"id", "subject", "status", "requester_id", "priority", "type", "source",
                          "responder_id", "group_id", "company_id", "tags", "custom_fields", "due_by",
                          "created_at", "updated_at", "description", "description_text",
                          "attachments", "conversations"}



def person_id(user_id, agent_ids) -> str | None:
    if user_id is None:
        return None
    return ("a" if int(user_id) in agent_ids else "c") + str(user_id)


def _hints(payload: dict) -> set[int]:
    return {int(x) for x in payload.get("_hdm_agent_ids") or []}


def _without(d: dict, drop) -> dict:
    return {k: v for k, v in d.items() if k not in drop and not k.startswith("_hdm")}


def inline_id(src: str) -> str:
    """An inline image without data-id is named by its URL: the same in every run and process
    (Python's hash() of a str changes per process, so each delta run saw a new attachment)."""
    return "inline-" + hashlib.sha256(src.encode("utf-8")).hexdigest()[:20]


def inline_images(html: str | None) -> list[dict]:
    """Inline images Freshdesk keeps out of `attachments`: <img data-id=... src=".../inline/attachment?token=...">."""
    out = []
    for tag in INLINE_IMG.findall(html or ""):
        attrs = dict(ATTR.findall(tag))
        src = attrs.get("src", "")
        if "/inline/attachment" in src or attrs.get("data-id"):
            out.append({"id": attrs.get("data-id") or inline_id(src), "url": src})
    return out




def public_of_conversation(private) -> bool:
    """A conversation is public only when Freshdesk says `private: false` in so many words: a
    missing or ambiguous flag ("false", null) must never turn a private note public."""
    return private is False


def records(stream: str, payload: dict) -> Iterator[tuple[str, dict]]:
    """(kind, canonical record) for one fetched payload of `stream`."""
    if stream in m.ENTITY_OF_STREAM:
        if not payload.get("default"):
            yield "custom_field", field_record(m.ENTITY_OF_STREAM[stream], payload)
    elif stream == "companies":
        yield "organization", company_record(payload)
    elif stream == "groups":
        yield "group", group_record(payload)
    elif stream == "agents":
        yield "agent", agent_record(payload)
    elif stream == "contacts":
        yield "contact", contact_record(payload)
    elif stream in ("tickets", "spam_and_deleted_tickets", "archived_tickets"):
        yield from ticket_records(payload)
    elif stream == "satisfaction_ratings":
        yield "satisfaction_rating", rating_record(payload)


def _times(payload: dict) -> dict:
    out = {}
    for k in ("created_at", "updated_at"):
        v = to_rfc3339(payload.get(k))
        if v:
            out[k] = v
    return out


def field_record(entity: str, f: dict) -> dict:
    choices = f.get("choices")
    options = None
    if isinstance(choices, list):
        options = [{"value": str(c), "label": str(c)} for c in choices]
    elif isinstance(choices, dict):
        options = [{"value": str(k), "label": str(k)} for k in choices]
    rec = {"id": f"{entity}:{f['name']}", "entity": entity, "key": f["name"],
           "type": m.field_type_to_canonical(f.get("type", "")), "title": f.get("label") or f["name"],
           "required": bool(f.get("required_for_agents")), "active": True, **_times(f),
           "extra": _without(f, {"name", "label", "choices", "created_at", "updated_at"})}
    rec["extra"]["source_type"] = f.get("type")
    if options is not None:
        rec["options"] = options
    return rec


def company_record(c: dict) -> dict:
    notes = "\n\n".join(x for x in (c.get("description"), c.get("note")) if x)
    rec = {"id": str(c["id"]), "name": c.get("name") or f"company {c['id']}",
           "domains": list(c.get("domains") or []), "custom_fields": dict(c.get("custom_fields") or {}),
           **_times(c), "extra": _without(c, {"id", "name", "domains", "custom_fields", "created_at",
                                               "updated_at"})}
    if notes:
        rec["notes"] = notes
    return rec


def group_record(g: dict) -> dict:
    rec = {"id": str(g["id"]), "name": g.get("name") or f"group {g['id']}", **_times(g),
           "extra": _without(g, {"id", "name", "description", "created_at", "updated_at"})}
    if g.get("description"):
        rec["description"] = g["description"]
    return rec


def agent_record(a: dict) -> dict:
    c = a.get("contact") or {}
    role = "light" if a.get("occasional") else "agent"
    rec = {"id": "a" + str(a["id"]), "name": c.get("name") or c.get("email") or f"agent {a['id']}",
           "email": c.get("email") or "", "role": role,
           "group_ids": [str(g) for g in a.get("group_ids") or []], "active": bool(c.get("active", True)),
           **_times(a), "extra": _without(a, {"id", "group_ids", "created_at", "updated_at"})}
    return rec


def _iana(tz: str | None) -> str | None:
    return tz if tz and "/" in tz else None


def contact_record(c: dict) -> dict:
    phones = [p for p in (c.get("phone"), c.get("mobile")) if p]
    rec = {"id": "c" + str(c["id"]), "name": c.get("name") or c.get("email") or f"contact {c['id']}",
           "email": c.get("email"), "emails": list(c.get("other_emails") or []),
           "phones": [str(p) for p in phones], "tags": list(c.get("tags") or []),
           "custom_fields": dict(c.get("custom_fields") or c.get("custom_field") or {}),
           "active": not c.get("deleted", False), **_times(c),
           "extra": _without(c, {"id", "name", "email", "other_emails", "phone", "mobile", "tags",
                                 "custom_fields", "custom_field", "company_id", "customer_id",
                                 "description", "created_at", "updated_at"})}
    org = c.get("company_id") or c.get("customer_id")
    if org is not None:
        rec["organization_id"] = str(org)
    if c.get("language"):
        rec["language"] = c["language"]
    tz = _iana(c.get("time_zone"))
    if tz:
        rec["time_zone"] = tz
    if c.get("description"):
        rec["notes"] = c["description"]
    return rec


def _attachment(att: dict, comment_id: str, ticket_id: str, archived: bool) -> dict:
    rec = {"id": str(att["id"]), "comment_id": comment_id, "ticket_id": ticket_id,
           "file_name": att.get("name") or f"attachment-{att['id']}",
           "content_type": att.get("content_type") or "application/octet-stream",
           "size": int(att.get("size", att.get("file_size")) or 0), "inline": False, **_times(att),
           "extra": {"attachment_url": att.get("attachment_url"), "freshdesk_id": att["id"]}}
    if archived:
        rec["extra"]["archived"] = True
    return rec


def _inline(img: dict, comment_id: str, ticket_id: str, archived: bool) -> dict:
    rec = {"id": "inline-" + img["id"], "comment_id": comment_id, "ticket_id": ticket_id,
           "file_name": f"inline-{img['id']}", "content_type": "application/octet-stream",
           "size": 0, "inline": True, "content_id": img["id"],
           "extra": {"inline_url": img["url"], "size_unknown": True}}
    if archived:
        rec["extra"]["archived"] = True
    return rec


def _numbers(values: dict | None, types: dict | None) -> dict:
    """Custom field values of number and decimal fields as numbers (Freshdesk may send strings)."""
    out = dict(values or {})
    for key, ftype in (types or {}).items():
        v = out.get(key)
        if isinstance(v, str) and v.strip():
            try:
                out[key] = int(v) if ftype == "custom_number" else float(v)
            except ValueError:
                pass
    return out


def ticket_records(t: dict) -> Iterator[tuple[str, dict]]:
    """The ticket, its description as the first comment, then its conversations, each followed
    by its files."""
    ticket = ticket_record(t)
    yield "ticket", ticket
    if t.get("description") is not None or t.get("description_text") is not None or t.get("attachments"):
        yield from _with_files(_description(t, ticket), t.get("attachments"), t.get("description"), t)
    agents = _hints(t)
    for c in t.get("conversations") or []:
        yield from _with_files(_conversation(c, ticket, agents), c.get("attachments"), c.get("body"), t)


def ticket_record(t: dict) -> dict:
    tid = str(t["id"])
    status, exact = m.status_to_canonical(t.get("status"), t.get("_hdm_status_name"))
    extra = _without(t, TICKET_DROP_FROM_EXTRA)
    if not exact:
        extra["source_status"] = t.get("status")
        if t.get("_hdm_status_name"):
            extra["source_status_name"] = t["_hdm_status_name"]
    extra["source"] = t.get("source")
    if t.get("_hdm_archived"):
        extra["archived"] = True
    ticket = {"id": tid, "number": tid, "subject": t.get("subject") or "", "status": status,
              "requester_id": person_id(t.get("requester_id"), _hints(t)) or "c0",
              "tags": list(t.get("tags") or []), "custom_fields": _numbers(t.get("custom_fields"),
                                                                           t.get("_hdm_number_fields")),
              **_times(t), "extra": extra}
    cc = [pid for pid in (t.get("_hdm_cc_ids") or {}).values() if pid]
    optional = {"cc_ids": list(dict.fromkeys(cc)) if cc else None,
                "channel": m.channel_to_canonical(t.get("source")),
                "priority": m.priority_to_canonical(t.get("priority")),
                "type": m.type_to_canonical(t.get("type")),
                "assignee_id": None if t.get("responder_id") is None else "a" + str(t["responder_id"]),
                "group_id": None if t.get("group_id") is None else str(t["group_id"]),
                "organization_id": None if t.get("company_id") is None else str(t["company_id"]),
                "due_at": to_rfc3339(t["due_by"]) if t.get("due_by") else None,
                "solved_at": to_rfc3339((t.get("stats") or {}).get("resolved_at") or None)}
    ticket.update({k: v for k, v in optional.items() if v})
    if t.get("type") and not optional["type"]:
        extra["source_type"] = t["type"]
    return ticket


def _description(t: dict, ticket: dict) -> dict:
    """The description is the opening message."""
    tid = ticket["id"]
    comment = {"id": f"{tid}-description", "ticket_id": tid, "author_id": ticket["requester_id"],
               "author_kind": "agent" if ticket["requester_id"].startswith("a") else "contact",
               "public": True, "body_html": t.get("description") or "", "extra": {"description": True}}
    if t.get("description_text") is not None:
        comment["body_text"] = t["description_text"]
    if ticket.get("channel"):
        comment["channel"] = ticket["channel"]
    if t.get("created_at"):
        comment["created_at"] = to_rfc3339(t["created_at"])
    return comment


def _conversation(c: dict, ticket: dict, agents: set[int]) -> dict:
    author = person_id(c.get("user_id"), agents) or ticket["requester_id"]
    comment = {"id": str(c["id"]), "ticket_id": ticket["id"], "author_id": author,
               "author_kind": "agent" if author.startswith("a") else "contact",
               "public": public_of_conversation(c.get("private")), "body_html": c.get("body") or "",
               **_times(c), "extra": _without(c, {"id", "ticket_id", "user_id", "private", "body", "body_text",
                                                  "attachments", "created_at", "updated_at"})}
    if c.get("body_text") is not None:
        comment["body_text"] = c["body_text"]
    ch = m.conversation_channel(c.get("source"), ticket.get("channel"))
    if ch:
        comment["channel"] = ch
    return comment


def _with_files(comment: dict, attachments, html: str | None, t: dict) -> Iterator[tuple[str, dict]]:
    """The comment (naming its files) and then its files: attachments, then inline images."""
    archived = bool(t.get("_hdm_archived"))
    cid, tid = comment["id"], comment["ticket_id"]
    files = ([_attachment(a, cid, tid, archived) for a in attachments or []]
             + [_inline(i, cid, tid, archived) for i in inline_images(html)])
    comment["attachment_ids"] = [a["id"] for a in files]
    yield "comment", comment
    for a in files:
        yield "attachment", a


def rating_record(r: dict) -> dict:
    ratings = r.get("ratings") or {}
    raw = ratings.get("default_question", next(iter(ratings.values()), None) if ratings else None)
    score, scale = m.csat_to_canonical(raw)
    rec = {"id": str(r["id"]), "ticket_id": str(r.get("ticket_id")), "score": score, "scale": scale,
           **_times(r), "extra": _without(r, {"id", "ticket_id", "feedback", "user_id", "created_at",
                                              "updated_at"})}
    if r.get("feedback"):
        rec["comment"] = r["feedback"]
    if r.get("user_id") is not None:
        rec["contact_id"] = "c" + str(r["user_id"])
    return rec
