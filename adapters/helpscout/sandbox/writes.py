"""Conversation and thread writes of the Help Scout sandbox, with the documented checks:
createdAt only with `imported`, at most 100 threads at creation and none added to a conversation
holding 99 (412), files of 10 MB at most (413), a
customer thread without `imported` re-opens the conversation, and every thread written without
`imported` that Help Scout would e-mail about is counted (`emails_sent`), as is the auto reply a
create with `autoReply: true` sends. A create takes the statuses active, closed, pending."""

from __future__ import annotations

from . import hal
from .limits import ADD_THREAD_BELOW, CREATE_STATUSES, CREATE_TYPES, MAX_THREADS, SOURCES, STATUSES, decode_file, now, _instant

EMAILING = {"customer": "notifies the team of a customer message",
            "message": "e-mails the reply to the customer"}


def create_conversation(box, body: dict) -> int:
    imported = body.get("imported") is True
    if not (body.get("subject") or "").strip():
        raise hal.bad_request("subject", "may not be empty", body.get("subject"))
    mailbox = box.store.get("mailbox", body.get("mailboxId") or 0, copy=False)
    if mailbox is None:
        raise hal.bad_request("mailboxId", "mailbox not found", body.get("mailboxId"))
    if body.get("type", "email") not in ("email", "chat", "phone"):
        raise hal.bad_request("type", "must be one of email, chat, phone", body.get("type"))
    if body.get("status") not in CREATE_STATUSES:
        raise hal.bad_request("status", f"must be one of {', '.join(CREATE_STATUSES)}", body.get("status"))
    threads = body.get("threads")
    if not isinstance(threads, list) or not threads:
        raise hal.bad_request("threads", "a conversation needs at least one thread", threads)
    if len(threads) > MAX_THREADS:
        raise hal.error(412, f"a conversation cannot be created with more than {MAX_THREADS} threads")
    created = _created_at(body, imported, "createdAt")
    customer = _customer(box, body.get("customer"), "customer")
    assignee = body.get("assignTo")
    if assignee is not None and box.store.get("user", assignee, copy=False) is None:
        raise hal.bad_request("assignTo", "user not found", assignee)
    fields = field_values(box, mailbox["id"], body.get("fields"))
    with box.store.lock:
        number = box.store.next_id("conversation_number")
        conv = box.store.insert("conversation", {
            "number": number, "type": body.get("type", "email"), "folderId": 1,
            "status": body["status"], "state": "published",
            "subject": body["subject"], "preview": "", "mailboxId": mailbox["id"], "createdAt": created,
            "closedAt": now() if body["status"] == "closed" else None,
            "closedBy": box.owner["id"] if body["status"] == "closed" else None, "userUpdatedAt": now(),
            "source": {"type": "api", "via": "user"}, "cc": [], "bcc": [],
            "tags": box.tag_names(body.get("tags") or []), "fields": fields, "_customer": customer,
            "_assignee": assignee, "_thread_count": 0, "_modified": now()})
    for i, item in enumerate(threads):
        kind = CREATE_TYPES.get(item.get("type"))
        if kind is None:
            raise hal.bad_request(f"threads[{i}].type", f"must be one of {', '.join(CREATE_TYPES)}", item.get("type"))
        if imported and item.get("createdAt") is None:
            item = {**item, "createdAt": created}       # an imported thread without a time: the conversation's
        add_thread(box, conv, kind, {**item, "imported": imported or item.get("imported") is True},
                   where=f"threads[{i}]", reopen=False, creating=True)
    # "When autoReply is set to true, an auto reply will be sent as long as there is at least one
    # customer thread" (Create Conversation); `imported` generates no outgoing e-mail at all.
    if body.get("autoReply") is True and not imported and any(t.get("type") == "customer" for t in threads):
        box.send_email(conv["id"], "customer", "auto reply to the customer (autoReply)")
    return conv["id"]


def add_thread(box, conv: dict, kind: str, body: dict, *, where: str = "",
               reopen: bool = True, creating: bool = False) -> int:
    prefix = f"{where}." if where else ""
    imported = body.get("imported") is True
    held = box.thread_count(conv["id"])
    if not creating and held >= ADD_THREAD_BELOW:
        raise hal.error(412, f"conversation {conv['id']} holds {held} threads: no thread can be added to a "
                             f"conversation with {ADD_THREAD_BELOW} or more")
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise hal.bad_request(f"{prefix}text", "may not be empty", text)
    created = _created_at(body, imported, f"{prefix}createdAt")
    files = [decode_file(f, f"{prefix}attachments[{i}]") for i, f in enumerate(body.get("attachments") or [])]
    if kind in ("customer", "chat", "phone"):
        author = ("customer", _customer(box, body.get("customer"), f"{prefix}customer"))
    else:
        user = body.get("user") if body.get("user") is not None else box.owner["id"]
        if box.store.get("user", user, copy=False) is None:
            raise hal.bad_request(f"{prefix}user", "user not found", user)
        author = ("user", int(user))
    customer = author[1] if author[0] == "customer" else conv.get("_customer")
    if kind == "message" and body.get("customer") is not None:
        customer = _customer(box, body["customer"], f"{prefix}customer")
    thread = box.store.insert("thread", {
        "type": kind, "status": "active", "state": "published", "body": text,
        "action": {"type": "imported", "text": "imported"} if imported else None,
        "source": {"type": SOURCES[kind], "via": "customer" if author[0] == "customer" else "user"},
        "to": [], "cc": body.get("cc") or [], "bcc": body.get("bcc") or [], "createdAt": created,
        "openedAt": None, "_conv": conv["id"], "_by": author, "_customer": customer, "_imported": imported})
    box.link_thread(conv["id"], thread["id"])
    add_files(box, conv["id"], thread["id"], body.get("attachments") or [], decoded=files)
    changes = {"_thread_count": box.thread_count(conv["id"]), "preview": text[:185]}
    if not imported:
        if kind in EMAILING:
            box.send_email(conv["id"], kind, EMAILING[kind])
        if kind == "customer" and reopen:
            changes["status"] = "active"   # a customer thread re-opens the conversation
    box.touch(conv, **changes)
    return thread["id"]


def add_files(box, conv_id: int, thread_id: int, items: list[dict],
              decoded: list[bytes] | None = None) -> list[int]:
    made = []
    for i, item in enumerate(items):
        data = decoded[i] if decoded is not None else decode_file(item, "attachment")
        a = box.store.insert("attachment", {"filename": item["fileName"], "mimeType": item["mimeType"],
                                            "_data": data, "_conv": conv_id, "_thread": thread_id})
        made.append(a["id"])
    return made


def patch_conversation(box, conv: dict, body: dict) -> None:
    op, path, value = body.get("op"), body.get("path"), body.get("value")
    if op not in ("replace", "remove", "move"):
        raise hal.bad_request("op", "must be one of replace, remove, move", op)
    if path == "/subject":
        if not (value or "").strip():
            raise hal.bad_request("value", "may not be empty", value)
        box.touch(conv, subject=value)
    elif path == "/status":
        if value not in STATUSES:
            raise hal.bad_request("value", f"must be one of {', '.join(STATUSES)}", value)
        box.touch(conv, status="active" if value == "open" else value,
                  closedAt=now() if value == "closed" else None)
    elif path == "/assignTo":
        if op != "remove" and box.store.get("user", value, copy=False) is None:
            raise hal.bad_request("value", "user not found", value)
        box.touch(conv, _assignee=None if op == "remove" else value)
    else:
        raise hal.bad_request("path", "must be one of /subject, /status, /assignTo, /mailboxId, /primaryCustomer.id", path)


def field_values(box, mailbox_id: int, items) -> list[dict]:
    out = []
    for i, item in enumerate(items or []):
        f = next((f for f in box.store.find("field", copy=False, _mailbox=mailbox_id) if f["id"] == item.get("id")), None)
        if f is None:
            raise hal.bad_request(f"fields[{i}].id", f"field not found in mailbox {mailbox_id}", item.get("id"))
        value, text = item.get("value"), item.get("value")
        if f.get("options"):
            option = next((o for o in f["options"] if str(o["id"]) == str(value)), None)
            if option is None:
                raise hal.bad_request(f"fields[{i}].value", "not an option id of this dropdown", value)
            text = option["label"]
        out.append({"id": f["id"], "name": f["name"], "value": str(value), "text": str(text)})
    return out


def _created_at(body: dict, imported: bool, path: str) -> str:
    value = body.get("createdAt")
    if value is None:
        return now()
    if not imported:
        raise hal.bad_request(path, "createdAt can only be used together with imported: true", value)
    return _instant(value, path).strftime("%Y-%m-%dT%H:%M:%SZ")


def _customer(box, ref, path: str) -> int:
    """A customer by id, or by e-mail (an unknown e-mail creates the customer, as Help Scout does)."""
    if not isinstance(ref, dict) or (ref.get("id") is None and not ref.get("email")):
        raise hal.bad_request(path, "a customer id or email is required", ref)
    if ref.get("id") is not None:
        if box.store.get("customer", ref["id"], copy=False) is None:
            raise hal.bad_request(f"{path}.id", "customer not found", ref["id"])
        return int(ref["id"])
    wanted = ref["email"].lower()
    for c in box.store.all("customer", copy=False):
        if wanted in [e["value"].lower() for e in c.get("emails") or []]:
            return c["id"]
    return box.insert_customer({"firstName": ref.get("firstName") or "", "lastName": ref.get("lastName") or "",
                                "emails": [{"value": ref["email"]}]})["id"]
