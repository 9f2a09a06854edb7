"""Request Tracker 5 REST2 payloads → canonical records (pure). Person ids: see values.py."""

from __future__ import annotations

import base64
import hashlib
import re

from hdmigrate import times

from .values import (STAMP_CF, STATUS_TO_CANONICAL, SYSTEM_USERS, person_id, ref_id,
                     stamp_from_links)

NULL_DATE = "1970-01-01T00:00:00Z"

CF_TYPES = {"Freeform": "text", "Text": "textarea", "Wikitext": "textarea", "Select": "dropdown",
            "Autocomplete": "dropdown", "Date": "date", "DateTime": "date"}


def rt_time(value: str | None) -> str | None:
    """REST2 times (`2019-01-02T03:04:05Z`) as canonical RFC 3339; RT's 'not set' date → None."""
    if not value or value.startswith("1970-01-01"):
        return None
    return times.to_rfc3339(value)   # present but not a time: RecordError naming the value


def priority_to_canonical(value) -> str | None:
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None
    if n <= 24:
        return "low"
    if n <= 62:
        return "normal"
    if n <= 87:
        return "high"
    return "urgent"




def charset_of(headers: str | None) -> str:
    match = re.search(r'charset="?([A-Za-z0-9_.:-]+)"?', headers or "", re.I)
    return match.group(1) if match else "utf-8"


def decode_content(content: str | None) -> bytes:
    """`GET /attachment/N` gives Content base64-encoded (line-wrapped)."""
    return base64.b64decode(content or "")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def custom_field_to_canonical(cf: dict) -> dict:
    max_values = int(cf.get("MaxValues") or 0)
    ctype = CF_TYPES.get(cf.get("Type") or "", "text")
    if ctype == "dropdown" and max_values != 1:
        ctype = "multiselect"
    record = {"id": f"ticket:{cf['Name']}", "entity": "ticket", "key": cf["Name"], "type": ctype,
              "title": cf["Name"], "active": str(cf.get("Disabled") or "0") in ("0", ""),
              "extra": {"rt_id": str(cf.get("id")), "rt_type": cf.get("Type"), "max_values": max_values,
                        "description": cf.get("Description") or ""}}
    values = cf.get("Values")
    if isinstance(values, list) and values:
        record["options"] = [{"value": str(v), "label": str(v)} for v in values]
    return record


def queue_to_canonical(queue: dict) -> dict:
    return {"id": str(queue["id"]), "name": queue["Name"], "description": queue.get("Description") or "",
            "extra": {"lifecycle": queue.get("Lifecycle"), "disabled": queue.get("Disabled")}}


def user_to_canonical(user: dict) -> tuple[str, dict]:
    privileged = bool(int(user.get("Privileged") or 0))
    name = user["Name"]
    email = user.get("EmailAddress") or None
    display = user.get("RealName") or name
    extra = {"rt_id": str(user.get("id")), "rt_name": name, "organization": user.get("Organization") or None,
             "created": rt_time(user.get("Created"))}
    active = str(user.get("Disabled") or "0") in ("0", "")
    if privileged:
        # The canonical agent needs an email; a placeholder in the reserved .invalid domain is
        # flagged in extra so no target mistakes it for a real address.
        record = {"id": person_id(name, True), "name": display, "email": email or f"{name}@unknown.invalid",
                  "role": "agent", "active": active, "extra": extra}
        if not email:
            extra["email_missing"] = True
        return "agent", record
    record = {"id": person_id(name, False), "name": display, "email": email, "active": active, "extra": extra}
    return "contact", record


def ticket_to_canonical(payload: dict):
    """An enriched ticket payload (see RtSource.fetch) → ticket, comments and attachments."""
    people: dict[str, bool] = payload.get("people", {})

    def pid(name: str | None) -> str | None:
        if not name or name in SYSTEM_USERS:
            return None
        return person_id(name, people.get(name, False))

    ticket, requester = _ticket(payload, pid)
    yield "ticket", ticket
    yield from _history(payload, ticket, requester, pid)


def _ticket(payload: dict, pid) -> tuple[dict, str | None]:
    """The ticket record, and its first requestor (None: none; the ticket then names its creator)."""
    t = payload["ticket"]
    tid = str(t["id"])
    requestors = [n for n in (ref_id(r) for r in t.get("Requestor") or []) if n]
    creator = pid(ref_id(t.get("Creator")))
    requester = pid(requestors[0]) if requestors else creator
    custom_fields, stamp = {}, None
    for cf in t.get("CustomFields") or []:
        values = cf.get("values") or []
        if cf.get("name") == STAMP_CF:
            stamp = values[0] if values else None
            continue
        if values:
            custom_fields[cf["name"]] = values[0] if len(values) == 1 else list(values)
    status = t.get("Status") or "new"
    ticket = {
        "id": tid, "number": tid, "subject": t.get("Subject") or "",
        "status": STATUS_TO_CANONICAL.get(status, "open"),
        "priority": priority_to_canonical(t.get("Priority")),
        "requester_id": requester,
        "creator_id": creator,
        "assignee_id": pid(ref_id(t.get("Owner"))),
        "group_id": ref_id(t.get("Queue")),
        "cc_ids": [p for p in (pid(ref_id(c)) for c in t.get("Cc") or []) if p],
        "custom_fields": custom_fields,
        "created_at": rt_time(t.get("Created")),
        "updated_at": rt_time(t.get("LastUpdated")),
        "due_at": rt_time(t.get("Due")),
        "solved_at": rt_time(t.get("Resolved")),
        "extra": {"source_status": status, "source_priority": int(t.get("Priority") or 0),
                  "additional_requester_ids": [pid(n) for n in requestors[1:] if pid(n)],
                  "admin_cc_ids": [p for p in (pid(ref_id(c)) for c in t.get("AdminCc") or []) if p],
                  "time_worked": t.get("TimeWorked"),
                  "stamp": stamp or stamp_from_links(payload.get("links"))},
    }
    if ticket["requester_id"] is None:
        ticket["requester_id"] = creator or "c:Nobody"
    return ticket, requester


def _history(payload: dict, ticket: dict, requester: str | None, pid):
    """Create/Correspond/Comment transactions → comments, their files → attachments."""
    tid, creator = ticket["id"], ticket["creator_id"]
    parts: dict[str, list[dict]] = {}
    for att in payload.get("attachments", []):
        parts.setdefault(str(ref_id(att.get("TransactionId"))), []).append(att)
    bodies = payload.get("bodies", {})
    files = payload.get("files", {})
    for txn in payload.get("history", []):
        kind = txn.get("Type")
        if kind not in ("Create", "Correspond", "Comment"):
            continue
        txn_id = str(txn["id"])
        author = pid(ref_id(txn.get("Creator")))
        if kind == "Create":
            # REST2 records the Create transaction as the API user; the ticket's Creator is the author.
            author = creator or author
        comment = {"id": txn_id, "ticket_id": tid, "author_id": author or requester,
                   "author_kind": (author or "c:")[:1] == "a" and "agent" or "contact",
                   "public": kind != "Comment",
                   "created_at": ticket["created_at"] if kind == "Create" and ticket["created_at"] else rt_time(txn.get("Created")),
                   "attachment_ids": [], "extra": {"rt_type": kind}}
        text = html = None
        for part in parts.get(txn_id, []):
            aid = str(part["id"])
            if part.get("Filename"):
                meta = files.get(aid, {})
                comment["attachment_ids"].append(aid)
                yield "attachment", {"id": aid, "comment_id": txn_id, "ticket_id": tid,
                                     "file_name": part["Filename"],
                                     "content_type": (part.get("ContentType") or "application/octet-stream"),
                                     "size": meta.get("size", int(part.get("ContentLength") or 0)),
                                     "sha256": meta.get("sha256", ""), "inline": False}
            elif aid in bodies:
                if part.get("ContentType") == "text/plain" and text is None:
                    text = bodies[aid]
                elif part.get("ContentType") == "text/html" and html is None:
                    html = bodies[aid]
        if text is not None:
            comment["body_text"] = text
        if html is not None:
            comment["body_html"] = html
        if text is None and html is None:
            comment["body_text"] = ""
        yield "comment", comment
