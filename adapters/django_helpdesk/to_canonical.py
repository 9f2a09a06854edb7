"""django-helpdesk 2.6 API payloads → canonical records (pure). Person ids: see values.py."""

from __future__ import annotations

from hdmigrate import stamps

from .values import STAMP_FIELD, agent_id, contact_id

# django-helpdesk statuses: 1 Open, 2 Reopened, 3 Resolved, 4 Closed, 5 Duplicate
STATUS_TO_CANONICAL = {1: "open", 2: "open", 3: "solved", 4: "closed", 5: "closed"}
# priorities: 1 Critical, 2 High, 3 Normal, 4 Low, 5 Very Low
PRIORITY_TO_CANONICAL = {1: "urgent", 2: "high", 3: "normal", 4: "low", 5: "low"}


def agent_record(user_id) -> dict:
    return {"id": agent_id(user_id), "name": f"django-helpdesk user {user_id}",
            "email": f"user-{user_id}@unknown.invalid", "role": "agent",
            "extra": {"hd_user_id": user_id, "email_missing": True}}


def contact_record(email: str) -> dict:
    return {"id": contact_id(email), "name": email, "email": email}


def title_stamp(ticket: dict) -> str | None:
    """The stamp in the title of a ticket's opening follow-up (targets without the custom field)."""
    followups = sorted(ticket.get("followup_set") or [], key=lambda f: (f.get("date") or "", f.get("id") or 0))
    return stamps.from_title(followups[0].get("title") or "") if followups else None




def ticket_to_canonical(payload: dict):
    t = payload["ticket"]
    files = payload.get("files", {})
    tid = str(t["id"])
    followups = sorted(t.get("followup_set") or [], key=lambda f: (f.get("date") or "", f["id"]))
    users = {f.get("user") for f in followups if f.get("user") is not None}
    if t.get("assigned_to") is not None:
        users.add(t["assigned_to"])
    for uid in sorted(users):
        yield "agent", agent_record(uid)
    submitter = t.get("submitter_email") or None
    if submitter:
        yield "contact", contact_record(submitter)
    yield "group", {"id": str(t["queue"]), "name": f"queue {t['queue']}", "extra": {"hd_queue_id": t["queue"]}}
    requester = contact_id(submitter) if submitter else (
        agent_id(followups[0]["user"]) if followups and followups[0].get("user") is not None else "c:unknown")
    custom = {k[len("custom_"):]: v for k, v in t.items()
              if k.startswith("custom_") and k != f"custom_{STAMP_FIELD}" and v not in (None, "")}
    status = t.get("status")
    yield "ticket", {
        "id": tid, "number": tid, "subject": t.get("title") or "",
        "status": STATUS_TO_CANONICAL.get(status, "open"),
        "priority": PRIORITY_TO_CANONICAL.get(t.get("priority")),
        "requester_id": requester,
        "assignee_id": agent_id(t["assigned_to"]) if t.get("assigned_to") is not None else None,
        "group_id": str(t["queue"]),
        "custom_fields": custom,
        "created_at": followups[0]["date"] if followups else None,
        "due_at": t.get("due_date"),
        "extra": {"source_status": status, "source_priority": t.get("priority"), "on_hold": t.get("on_hold"),
                  "resolution": t.get("resolution"), "merged_to": t.get("merged_to"),
                  "description": t.get("description"),
                  "stamp": t.get(f"custom_{STAMP_FIELD}") or title_stamp(t)},
    }
    for f in followups:
        fid = str(f["id"])
        author = agent_id(f["user"]) if f.get("user") is not None else requester
        att_ids = []
        for a in f.get("followupattachment_set") or []:
            aid = str(a["id"])
            meta = files.get(aid, {})
            att_ids.append(aid)
            yield "attachment", {"id": aid, "comment_id": fid, "ticket_id": tid, "file_name": a["filename"],
                                 "content_type": a.get("mime_type") or "application/octet-stream",
                                 "size": meta.get("size", a.get("size") or 0), "sha256": meta.get("sha256", ""),
                                 "inline": False, "extra": {"url": a.get("file")}}
        yield "comment", {"id": fid, "ticket_id": tid, "author_id": author,
                          "author_kind": "agent" if f.get("user") is not None else "contact",
                          "public": f.get("public") is True, "body_text": f.get("comment") or "",
                          "created_at": f.get("date"), "attachment_ids": att_ids,
                          "extra": {"title": f.get("title"), "new_status": f.get("new_status"),
                                    "time_spent": f.get("time_spent"), "message_id": f.get("message_id")}}
