"""Pure mapping between Request Tracker 5 REST2 payloads and canonical records.

Person ids: RT numbers users in one space, but the canonical model splits agents (privileged
users) from contacts (unprivileged), so ids are prefixed: `a:<Name>` / `c:<Name>` (RT user names
are unique and are what REST2 puts in role lists and transaction creators).
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime, timezone

STAMP_CF = "hdmigrate-source-id"     # ticket custom field holding the migration stamp
PARTIAL = "~partial"                 # stamp suffix while a ticket's history is still being written
# Every ticket this tool creates also refers to `urn:hdmigrate:<stamp>` (an RT link). Links need no
# admin step (a custom field must be applied to queues, which REST2 cannot do) and TicketSQL
# finds them (`RefersTo = '...'`), so resumed runs find their tickets on any RT.
STAMP_LINK = "urn:hdmigrate:"
SYSTEM_USERS = {"Nobody", "RT_System"}
NULL_DATE = "1970-01-01T00:00:00Z"

STATUS_TO_CANONICAL = {"new": "new", "open": "open", "stalled": "pending", "resolved": "solved",
                       "rejected": "closed", "deleted": "closed"}
STATUS_TO_RT = {"new": "new", "open": "open", "pending": "stalled", "on_hold": "stalled",
                "solved": "resolved", "closed": "resolved"}
PRIORITY_TO_RT = {"low": 0, "normal": 50, "high": 75, "urgent": 100}

CF_TYPES = {"Freeform": "text", "Text": "textarea", "Wikitext": "textarea", "Select": "dropdown",
            "Autocomplete": "dropdown", "Date": "date", "DateTime": "date"}
CF_TYPES_TO_RT = {"text": "Freeform", "textarea": "Text", "integer": "Freeform", "decimal": "Freeform",
                  "checkbox": "Freeform", "regexp": "Freeform", "date": "Date", "dropdown": "Select",
                  "multiselect": "Select"}


def person_id(name: str, privileged: bool) -> str:
    return f"{'a' if privileged else 'c'}:{name}"


def user_name(pid: str) -> str:
    """The RT user name inside a person id made by `person_id`."""
    return pid.split(":", 1)[1] if pid[:2] in ("a:", "c:") else pid


def rt_time(value: str | None) -> str | None:
    """REST2 times (`2019-01-02T03:04:05Z`) as canonical RFC 3339; RT's 'not set' date → None."""
    if not value or value.startswith("1970-01-01"):
        return None
    return value


def sql_time(value: str) -> str:
    """RFC 3339 → RT's SQL format in UTC, the only one `Created` accepts on create."""
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"naive time {value!r}")
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def stamp_link(stamp: str) -> str:
    return STAMP_LINK + stamp


def stamp_from_links(hyperlinks) -> str | None:
    """The stamp of a complete ticket from REST2 `_hyperlinks` (refers-to urn:hdmigrate:…)."""
    for link in hyperlinks or []:
        url = (link.get("_url") or "") if isinstance(link, dict) else ""
        if url and link.get("ref") == "refers-to" and url.startswith(STAMP_LINK) and not url.endswith(PARTIAL):
            return url[len(STAMP_LINK):]
    return None


def same_time(sent_sql: str, read_back: str | None) -> bool:
    """Did RT keep the time sent in SQL format? REST2 reads it back as RFC 3339 (UTC)."""
    return bool(read_back) and read_back.replace("T", " ").rstrip("Z") == sent_sql


def origin_line(created_at: str, content_type: str) -> str:
    """A visible line naming the original creation time, put before the opening message where RT
    did not keep `Created` (the text that follows is the original, byte for byte)."""
    line = f"[hdmigrate] Originally created {created_at}"
    if content_type == "text/html":
        return f"<p>{line}</p>\n"
    return line + "\n\n"


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


def ref_id(value) -> str | None:
    """`{"id": "alice", "type": "user", ...}` → "alice"."""
    if isinstance(value, dict):
        value = value.get("id")
    return None if value in (None, "") else str(value)


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
    t = payload["ticket"]
    people: dict[str, bool] = payload.get("people", {})

    def pid(name: str | None) -> str | None:
        if not name or name in SYSTEM_USERS:
            return None
        return person_id(name, people.get(name, False))

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
    yield "ticket", ticket

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
