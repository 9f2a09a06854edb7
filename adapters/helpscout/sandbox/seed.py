"""Seeding the Help Scout sandbox from any canonical dump (hdmigrate.canonical_dump): groups
become mailboxes, agents users, contacts customers, ticket custom fields mailbox fields, tickets
conversations whose comments are imported threads (their times, authors and files kept).
Everything left out or changed is named on stderr (SandboxServer.seed_skip / seed_change)."""

from __future__ import annotations

import base64
from pathlib import Path

from hdmigrate import times

from .limits import MAX_THREADS, now
from .writes import add_thread

FIELD_TYPES = {"text": "singleline", "textarea": "multiline", "dropdown": "dropdown", "integer": "number",
               "decimal": "number", "date": "date"}
STATUS = {"new": "active", "open": "active", "pending": "pending", "on_hold": "pending",
          "solved": "closed", "closed": "closed"}


def seed_from_dump(box, root) -> list[dict]:
    from hdmigrate.canonical_dump import blob_path, iter_records
    root = Path(root)
    kinds = {p.stem for p in root.glob("*.jsonl")}
    read = lambda kind: list(iter_records(root, kind)) if kind in kinds else []  # noqa: E731
    mailboxes = _mailboxes(box, read("group"))
    _fields(box, read("custom_field"), mailboxes)
    orgs = {o["id"]: box.store.insert("organization", {"name": o["name"], "domains": o.get("domains") or [],
                                                       "description": o.get("notes"), "createdAt": now(),
                                                       "updatedAt": now()})["id"] for o in read("organization")}
    people = _people(box, read("agent"), read("contact"), orgs)
    for r in read("satisfaction_rating"):
        box.seed_skip("satisfaction_rating", r.get("id"), "Help Scout's Mailbox API lists no ratings")
    comments: dict[str, list[dict]] = {}
    for c in read("comment"):
        comments.setdefault(c.get("ticket_id"), []).append(c)
    files: dict[str, list[dict]] = {}
    for a in read("attachment"):
        files.setdefault(a.get("comment_id"), []).append(a)
    blob = lambda sha: blob_path(root, sha).read_bytes()  # noqa: E731
    for t in read("ticket"):
        cs = sorted(comments.pop(t["id"], []), key=lambda c: (c.get("created_at") or "", c["id"]))
        _conversation(box, t, cs, people, mailboxes, files, blob)
    for tid, cs in comments.items():
        for c in cs:
            box.seed_skip("comment", c.get("id"), f"its ticket {tid} is not in the dump")
    return box.seed_done()


def _mailboxes(box, groups: list[dict]) -> dict[str, int]:
    out = {}
    for g in groups:
        made = box.store.insert("mailbox", {"name": g["name"], "slug": g["id"], "email": f"{g['id']}@sandbox.helpscout.test",
                                            "createdAt": now(), "updatedAt": now()})
        out[g["id"]] = made["id"]
    return out


def _fields(box, fields: list[dict], mailboxes: dict[str, int]) -> None:
    for f in fields:
        if f.get("entity") != "ticket":
            box.seed_skip("custom_field", f.get("id"), f"Help Scout has no custom fields on {f.get('entity')} records")
            continue
        kind = FIELD_TYPES.get(f.get("type"))
        if kind is None:
            box.seed_change("custom_field", f.get("id"), f"type {f.get('type')} seeded as a single-line field")
            kind = "singleline"
        for mid in {box.mailbox["id"], *mailboxes.values()}:
            box.store.insert("field", {"name": f["key"], "type": kind, "required": bool(f.get("required")), "order": 1,
                                       "options": [{"id": box.store.next_id("option"), "order": i + 1,
                                                    "label": str(o.get("label") or o.get("value"))}
                                                   for i, o in enumerate(f.get("options") or [])],
                                       "_mailbox": mid})


def _people(box, agents, contacts, orgs) -> dict[str, tuple[str, int]]:
    people: dict[str, tuple[str, int]] = {}
    for a in agents:
        if (a.get("email") or "").lower() == box.owner["email"]:
            people[a["id"]] = ("user", box.owner["id"])
            continue
        people[a["id"]] = ("user", box.add_user(a.get("name") or a["email"], a["email"],
                                                role="admin" if a.get("role") == "admin" else "user")["id"])
    for c in contacts:
        first, _, last = (c.get("name") or "").partition(" ")
        emails = [{"value": e} for e in [c.get("email"), *(c.get("emails") or [])] if e]
        made = box.insert_customer({"firstName": first[:40], "lastName": last[:40], "emails": emails,
                                    "phones": [{"value": p} for p in c.get("phones") or []],
                                    "background": c.get("notes"), "organizationId": orgs.get(c.get("organization_id"))},
                                   {"createdAt": times.to_rfc3339(c.get("created_at")) if c.get("created_at") else None})
        people[c["id"]] = ("customer", made["id"])
    return people


def _conversation(box, t, comments, people, mailboxes, files, blob) -> None:
    requester = people.get(t.get("requester_id"))
    if requester is None:
        box.seed_skip("ticket", t["id"], f"requester {t.get('requester_id')} is not in the dump")
        return
    if not comments:
        box.seed_skip("ticket", t["id"], "no comments (a Help Scout conversation needs a thread)")
        return
    customer = requester[1] if requester[0] == "customer" else _customer_for_user(box, requester[1])
    if len(comments) > MAX_THREADS:
        box.seed_change("ticket", t["id"], f"{len(comments)} comments: the first {MAX_THREADS} seeded")
        comments = comments[:MAX_THREADS]
    assignee = people.get(t.get("assignee_id"))
    conv = box.store.insert("conversation", {
        "number": box.store.next_id("conversation_number"), "type": t.get("channel") if t.get("channel") in ("chat", "phone") else "email",
        "folderId": 1, "status": STATUS.get(t.get("status"), "active"), "state": "published",
        "subject": t.get("subject") or "(no subject)", "preview": "",
        "mailboxId": mailboxes.get(t.get("group_id"), box.mailbox["id"]), "createdAt": _time(t.get("created_at")),
        "closedAt": _time(t.get("solved_at")) if t.get("solved_at") else None, "closedBy": None,
        "userUpdatedAt": _time(t.get("updated_at")), "source": {"type": "email", "via": "customer"},
        "cc": [], "bcc": [], "tags": box.tag_names(t.get("tags") or []), "fields": _values(box, t),
        "_customer": customer, "_assignee": assignee[1] if assignee and assignee[0] == "user" else None,
        "_thread_count": 0, "_modified": _time(t.get("updated_at"))})
    for c in comments:
        _thread(box, conv, c, people, customer, files, blob)
    # the threads' writes touched it: a seeded conversation was last modified when the dump says
    box.store.update("conversation", conv["id"], {"_modified": _time(t.get("updated_at")),
                                                  "userUpdatedAt": _time(t.get("updated_at"))})


def _thread(box, conv, c, people, customer, files, blob) -> None:
    author = people.get(c.get("author_id"))
    if author is None:
        box.seed_change("comment", c["id"], f"author {c.get('author_id')} is not in the dump: seeded as the customer's")
        author = ("customer", customer)
    if c.get("public") is not True:
        kind = "note"
    elif author[0] == "customer":
        kind = {"chat": "chat", "phone": "phone"}.get(c.get("channel"), "customer")
    else:
        kind = "message"
    sent = []
    for a in files.get(c["id"], []):
        data = box.seed_blob(a, blob)
        if data is not None:
            sent.append({"fileName": a.get("file_name") or "file", "mimeType": a.get("content_type") or
                         "application/octet-stream", "data": base64.b64encode(data).decode("ascii")})
    body = {"text": c.get("body_html") if c.get("body_html") is not None else (c.get("body_text") or "(empty)"),
            "imported": True, "createdAt": _time(c.get("created_at")), "attachments": sent}
    if author[0] == "customer":
        body["customer"] = {"id": author[1]}
    else:
        body.update(user=author[1], customer={"id": customer})
    try:
        add_thread(box, conv, kind, body, reopen=False)
    except Exception as e:  # noqa: BLE001 - an unseedable comment is named, the rest goes on
        box.seed_skip("comment", c["id"], f"{type(e).__name__}: {getattr(e, 'response', e)}")


def _customer_for_user(box, user_id: int) -> int:
    user = box.store.get("user", user_id, copy=False)
    for c in box.store.all("customer", copy=False):
        if user["email"] in [e["value"] for e in c.get("emails") or []]:
            return c["id"]
    return box.insert_customer({"firstName": user["firstName"], "lastName": user["lastName"],
                                "emails": [{"value": user["email"]}]})["id"]


def _values(box, t) -> list[dict]:
    out = []
    for key, value in (t.get("custom_fields") or {}).items():
        f = next((f for f in box.store.find("field", copy=False, _mailbox=box.mailbox["id"]) if f["name"] == key), None)
        if f is None or value is None:
            continue
        option = next((o for o in f.get("options") or [] if o["label"] == str(value)), None)
        out.append({"id": f["id"], "name": key, "value": str(option["id"] if option else value), "text": str(value)})
    return out


def _time(value) -> str:
    return times.utc_text(times.parse(times.to_rfc3339(value))) if value else now()

