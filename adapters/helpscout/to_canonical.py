"""Help Scout (Mailbox API 2.0) → canonical records. Pure: one function per kind, no I/O.

Ids: Help Scout numbers users, customers, mailboxes and organizations separately, so person and
group ids are prefixed (`u17` user, `c17` customer, `m3` mailbox, `o5` organization, `f104`
mailbox field); conversations, threads and attachments keep their own ids.
Threads: `customer` (a customer's e-mail), `message` (a user's reply) and `chat`/`phone` are
public; `note` is private; `forwardparent`/`forwardchild` (a forward to a third party) are
private, channel email. `lineitem` threads (status changes, assignments) are history, not
messages: kept in the ticket's `extra.line_items`.
"""

from __future__ import annotations

from collections.abc import Iterator

from hdmigrate import times
from hdmigrate.errors import RecordError

STATUS = {"active": "open", "open": "open", "pending": "pending", "closed": "closed", "spam": "closed"}
CHANNELS = {"email": "email", "chat": "chat", "phone": "phone", "beaconchat": "chat", "web": "web",
            "api": "api", "form": "web", "message": "email", "customer": "email"}
PUBLIC_THREADS = {"customer", "message", "reply", "chat", "phone", "beaconchat"}
PRIVATE_THREADS = {"note", "forwardparent", "forwardchild"}
FIELD_TYPES = {"singleline": "text", "multiline": "textarea", "dropdown": "dropdown", "number": "decimal",
               "date": "date", "text": "text"}


def person_id(ref: dict | None) -> str | None:
    """`u<id>` for a user, `c<id>` for a customer (Help Scout's `type`), None when absent."""
    if not isinstance(ref, dict) or ref.get("id") is None:
        return None
    return f"{'u' if ref.get('type') == 'user' else 'c'}{ref['id']}"


def _name(item: dict) -> str:
    name = " ".join(p for p in (item.get("firstName") or item.get("first"),
                                item.get("lastName") or item.get("last")) if p)
    return name or item.get("name") or item.get("email") or f"Help Scout {item.get('id')}"


def _times(item: dict, created: str = "createdAt", updated: str = "updatedAt") -> dict:
    out = {}
    if item.get(created):
        out["created_at"] = times.to_rfc3339(item[created])
    if item.get(updated):
        out["updated_at"] = times.to_rfc3339(item[updated])
    return out


def _extra(item: dict, used: set[str]) -> dict:
    return {k: v for k, v in item.items() if k not in used and k != "_links"}


def mailbox(item: dict) -> dict:
    return {"id": f"m{item['id']}", "name": item.get("name") or f"mailbox {item['id']}", **_times(item),
            "extra": _extra(item, {"id", "name", "createdAt", "updatedAt"})}


def user(item: dict) -> dict:
    email = item.get("email")
    if not email:
        raise RecordError(f"user {item.get('id')}: no e-mail (a canonical agent needs one)",
                          kind="agent", id=f"u{item.get('id')}", field="email")
    role = {"owner": "admin", "admin": "admin"}.get(item.get("role"), "agent")
    return {"id": f"u{item['id']}", "name": _name(item), "email": email, "role": role,
            "active": item.get("state", "active") != "disabled", **_times(item),
            "extra": _extra(item, {"id", "firstName", "lastName", "email", "role", "createdAt", "updatedAt"})}


def customer(item: dict) -> dict:
    inner = item.get("_embedded") or {}
    emails = [e.get("value") for e in inner.get("emails") or [] if e.get("value")]
    if item.get("email") and item["email"] not in emails:
        emails.insert(0, item["email"])
    phones = [p.get("value") for p in inner.get("phones") or [] if p.get("value")]
    out = {"id": f"c{item['id']}", "name": _name(item), "email": emails[0] if emails else None,
           "emails": emails[1:], "phones": phones, "notes": item.get("background"), **_times(item),
           "extra": _extra(item, {"id", "firstName", "lastName", "email", "background", "createdAt",
                                  "updatedAt", "organizationId"})}
    if item.get("organizationId"):
        out["organization_id"] = f"o{item['organizationId']}"
    if item.get("locale"):
        out["language"] = item["locale"]
    return out


def organization(item: dict) -> dict:
    return {"id": f"o{item['id']}", "name": item.get("name") or f"organization {item['id']}",
            "domains": [d for d in item.get("domains") or [] if isinstance(d, str)],
            "notes": item.get("description"), **_times(item),
            "extra": _extra(item, {"id", "name", "domains", "description", "createdAt", "updatedAt"})}


def field(item: dict, mailbox_id: int | str | None = None) -> dict:
    kind = FIELD_TYPES.get(item.get("type"), "text")
    out = {"id": f"f{item['id']}", "entity": "ticket", "key": item.get("name") or f"field {item['id']}",
           "type": kind, "title": item.get("name"), "required": bool(item.get("required")),
           "options": [{"value": o.get("label"), "label": o.get("label")} for o in item.get("options") or []],
           "extra": _extra(item, {"id", "name", "type", "required", "options"})}
    if mailbox_id is not None:
        out["extra"]["mailbox_id"] = mailbox_id
    if kind != item.get("type"):
        out["extra"]["source_type"] = item.get("type")
    return out


def conversation(item: dict) -> Iterator[tuple[str, dict]]:
    """The ticket, then its comments (threads in time order) and their attachments."""
    ticket = _ticket(item)
    yield "ticket", ticket
    threads = (item.get("_embedded") or {}).get("threads") or []
    for thread in sorted(threads, key=lambda t: (t.get("createdAt") or "", t.get("id") or 0)):
        if thread.get("type") in PUBLIC_THREADS | PRIVATE_THREADS:
            yield from _thread(thread, ticket)


def _ticket(item: dict) -> dict:
    cid = item.get("id")
    requester = item.get("primaryCustomer") or item.get("customer") or item.get("createdBy")
    if not isinstance(requester, dict) or requester.get("id") is None:
        raise RecordError(f"conversation {cid}: no customer (primaryCustomer)", kind="ticket", id=str(cid),
                          field="requester_id")
    status = item.get("status") or "active"
    out = {"id": str(cid), "subject": item.get("subject") or "", "status": STATUS.get(status, "open"),
           "requester_id": f"c{requester['id']}", "number": str(item["number"]) if item.get("number") else None,
           "tags": [t.get("tag") if isinstance(t, dict) else str(t) for t in item.get("tags") or []],
           "channel": CHANNELS.get(item.get("type") or "email", "other"),
           "custom_fields": {f.get("name") or str(f.get("id")): f.get("text", f.get("value"))
                             for f in item.get("customFields") or []},
           **_times(item, updated="userUpdatedAt")}
    if item.get("closedAt"):
        out["solved_at"] = times.to_rfc3339(item["closedAt"])
    assignee = item.get("assignee")
    if isinstance(assignee, dict) and assignee.get("id") is not None:
        out["assignee_id"] = f"u{assignee['id']}"
    if item.get("mailboxId") is not None:
        out["group_id"] = f"m{item['mailboxId']}"
    extra = _extra(item, {"id", "subject", "status", "primaryCustomer", "number", "tags", "type",
                          "customFields", "createdAt", "userUpdatedAt", "closedAt", "assignee", "mailboxId"})
    extra.pop("_embedded", None)
    threads = (item.get("_embedded") or {}).get("threads") or []
    if isinstance(item.get("threads"), int):
        extra["thread_count"] = item["threads"]
    lines = [t for t in threads if t.get("type") not in PUBLIC_THREADS | PRIVATE_THREADS]
    if lines:
        extra["line_items"] = lines
    if status not in ("active", "pending", "closed"):
        extra["source_status"] = status
    out["extra"] = extra
    return out


def _thread(thread: dict, ticket: dict) -> Iterator[tuple[str, dict]]:
    tid = str(thread.get("id"))
    kind = thread.get("type")
    author = person_id(thread.get("createdBy")) or (f"c{thread['customer']['id']}" if (thread.get("customer") or {}).get("id") else None)
    if author is None:
        raise RecordError(f"thread {tid} of conversation {ticket['id']}: no author (createdBy)",
                          kind="comment", id=tid, field="author_id")
    files = (thread.get("_embedded") or {}).get("attachments") or []
    source = (thread.get("source") or {}).get("type")
    comment = {"id": tid, "ticket_id": ticket["id"], "author_id": author,
               "author_kind": "agent" if author.startswith("u") else "contact",
               "public": kind in PUBLIC_THREADS, "body_html": thread.get("body"),
               "channel": CHANNELS.get(kind if kind in ("chat", "phone", "beaconchat") else source or "email", "other"),
               "attachment_ids": [str(a.get("id")) for a in files], **_times(thread),
               "extra": _extra(thread, {"id", "body", "createdBy", "createdAt", "updatedAt", "_embedded"})}
    yield "comment", comment
    for att in files:
        yield "attachment", attachment(att, comment)


def attachment(att: dict, comment: dict) -> dict:
    out = {"id": str(att.get("id")), "comment_id": comment["id"], "ticket_id": comment["ticket_id"],
           "file_name": att.get("filename") or att.get("fileName") or f"attachment-{att.get('id')}",
           "content_type": att.get("mimeType") or "application/octet-stream", "size": int(att.get("size") or 0),
           "inline": False, "extra": _extra(att, {"id", "filename", "fileName", "mimeType", "size"})}
    data = ((att.get("_links") or {}).get("data") or {}).get("href")
    if data:
        out["extra"]["data_url"] = data
    return out
