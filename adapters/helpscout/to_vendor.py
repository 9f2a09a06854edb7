"""Canonical → Help Scout bodies. Pure: one function per kind returns the request body AND the
degradations of that record together, so the target's `degradations()` (the dry run) and its
`write()` come from the same call and cannot disagree.

What the functions need of the account is passed in as an `Account` (the mailbox, its fields,
the users by e-mail): read once by the target, the same in a dry run and a real run.

Limits (Help Scout's documents): a conversation holds at most 100 threads (the legacy API
answers 412 above that; plan to split, api-facts.md §3) — later comments go to a continuation
conversation, declared `threads_split`; files over 10 MB are refused — left in staging and the
side archive, declared `attachment_too_large`.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

from hdmigrate import degradations as codes
from hdmigrate import stamps, times
from hdmigrate.degradations import Degradation

# Threads one conversation holds when written as this target writes it (created with the opening
# thread, then one thread added at a time): "A single conversation can contain up to 100 threads.
# If you try to create conversation with more than 100 threads or add a thread to a conversation
# that has 99 threads or more, the API will return HTTP 412" (developer.helpscout.com/mailbox-api/
# endpoints/conversations/threads/update, "Locked conversation - maximum number of threads"): adding
# stops at 99.
MAX_THREADS = 99
# Per file: 10 MB is the legacy v1 limit ("we only support attachments of 10MB or lower", help-desk-api/
# conversations/create-attachment); the stored v2 pages (threads, Upload Attachment) state none, so it is
# kept as the documented bound, not confirmed for v2 (docs/adapters/helpscout.md).
MAX_FILE_BYTES = 10 * 1024 * 1024
STATUS = {"new": "active", "open": "active", "pending": "pending", "on_hold": "pending",
          "solved": "closed", "closed": "closed"}
TYPES = {"email": "email", "chat": "chat", "phone": "phone"}
THREAD_CHANNELS = {"chat": "chats", "phone": "phones"}   # a customer's chat or call: its own endpoint


@dataclass
class Account:
    """What of the target account the bodies depend on."""

    mailbox_id: int
    mailbox_name: str
    fields: list[dict] = field(default_factory=list)        # the mailbox's custom fields
    users: dict[str, int] = field(default_factory=dict)     # lower-cased e-mail -> user id
    me: int | None = None                                  # the app's own user (fallback author)


def _d(kind: str, rid: str, fld: str, code: str, detail: str) -> Degradation:
    return Degradation(kind, rid, fld, code, detail)


def split_name(name: str) -> tuple[str, str]:
    first, _, last = (name or "").partition(" ")
    return first, last


# --------------------------------------------------------------------------- people

def customer(record: dict, organization_id: int | None = None) -> tuple[dict, list[Degradation]]:
    first, last = split_name(record.get("name") or "")
    body: dict = {"firstName": first, "lastName": last}
    if organization_id is not None:
        body["organizationId"] = int(organization_id)
    emails = [e for e in [record.get("email"), *(record.get("emails") or [])] if e]
    if emails:
        body["emails"] = [{"type": "work", "value": e} for e in dict.fromkeys(emails)]
    if record.get("phones"):
        body["phones"] = [{"type": "work", "value": p} for p in record["phones"]]
    if record.get("notes"):
        body["background"] = record["notes"]
    degr = []
    for fld in ("tags", "custom_fields", "language", "time_zone"):
        if record.get(fld):
            degr.append(_d("contact", record["id"], fld, codes.VALUE_UNMAPPED,
                           f"Help Scout customers have no {fld.replace('_', ' ')}: left in staging"))
    if record.get("active") is not None:
        degr.append(_d("contact", record["id"], "active", codes.VALUE_UNMAPPED,
                       "Help Scout customers have no active flag: left in staging"))
    return body, degr


def agent(record: dict, account: Account) -> tuple[int | None, list[Degradation]]:
    """The Help Scout user of an agent (by e-mail). Users are invited, not created by the API:
    an agent without a user is written as the app's own user, and said so."""
    uid = account.users.get((record.get("email") or "").lower())
    if uid is not None:
        return uid, [_matched("agent", record, f"Help Scout user {uid}")]
    return None, [_d("agent", record["id"], "(record)", codes.RECORD_MERGED,
                     f"no Help Scout user has {record.get('email')!r} (users are invited, the API cannot "
                     "create them): held as the app's own user, who writes this agent's replies and notes"),
                  _d("agent", record["id"], "email", codes.AUTHOR_NOT_PRESERVED,
                     "this agent's replies and notes are written by the app's user")]


def organization(record: dict) -> tuple[dict, list[Degradation]]:
    body = {"name": record["name"]}
    if record.get("domains"):
        body["domains"] = list(record["domains"])
    if record.get("notes"):
        body["description"] = record["notes"]
    degr = [_d("organization", record["id"], fld, codes.VALUE_UNMAPPED, f"Help Scout organizations have no {fld}")
            for fld in ("tags", "custom_fields") if record.get(fld)]
    return body, degr


def _matched(kind: str, record: dict, what: str) -> Degradation:
    """Said in the dry run too: the record is the account's own, kept as it is."""
    return _d(kind, record["id"], "", codes.MATCHED_EXISTING, f"matched to {what}: kept as it is")


def group(record: dict, account: Account) -> list[Degradation]:
    matched = _matched("group", record, f"mailbox {account.mailbox_name!r}")
    if (record.get("name") or "").casefold() == account.mailbox_name.casefold():
        return [matched]
    return [matched, _d("group", record["id"], "(record)", codes.RECORD_MERGED,
               f"Help Scout mailboxes are not created by the API: this group is held as mailbox "
               f"{account.mailbox_name!r}, where its conversations go")]


def custom_field(record: dict, account: Account) -> tuple[int | None, list[Degradation]]:
    if record.get("entity") == "ticket":
        found = _field_named(account, record.get("key"), record.get("title"))
        if found is not None:
            return found["id"], [_matched("custom_field", record, f"mailbox field {found['id']}")]
        why = f"mailbox {account.mailbox_name!r} has no field named {record.get('key')!r}"
    else:
        why = f"Help Scout has no custom fields on {record.get('entity')} records"
    return None, [_d("custom_field", record["id"], "key", codes.CUSTOM_FIELD_NOT_CREATED,
                     f"{why} (the API cannot create fields): values left in staging")]


def _field_named(account: Account, *names) -> dict | None:
    wanted = {str(n).casefold() for n in names if n}
    return next((f for f in account.fields if str(f.get("name", "")).casefold() in wanted), None)


# --------------------------------------------------------------------------- conversations

def conversation(ticket: dict, comments: list[dict], account: Account, *, customer_id: int | None,
                 assignee_email: str | None, group_name: str | None = None) -> tuple[dict, list[Degradation]]:
    """The POST /v2/conversations body (without its first thread) and the ticket's degradations."""
    rid = ticket["id"]
    degr: list[Degradation] = []
    add = lambda fld, code, detail: degr.append(_d("ticket", rid, fld, code, detail))  # noqa: E731
    body: dict = {"subject": ticket.get("subject") or "", "mailboxId": account.mailbox_id,
                  "type": TYPES.get(ticket.get("channel") or "email", "email"),
                  "status": STATUS.get(ticket.get("status"), "active"), "imported": True,
                  "tags": list(dict.fromkeys([*(ticket.get("tags") or []), stamps.kindless(rid)])),
                  "customer": {"id": customer_id}}
    if ticket.get("created_at"):
        body["createdAt"] = times.utc_text(times.parse(ticket["created_at"]))
    if ticket.get("status") in ("new", "on_hold", "solved"):
        add("status", codes.VALUE_UNMAPPED, f"Help Scout has no {ticket['status']} status: written {body['status']}")
    if ticket.get("group_id") and (group_name or "").casefold() != account.mailbox_name.casefold():
        add("group_id", codes.VALUE_UNMAPPED, f"written to mailbox {account.mailbox_name!r}")
    if ticket.get("channel") and ticket["channel"] not in TYPES:
        add("channel", codes.CHANNEL_NOT_PRESERVED, f"Help Scout conversations are email, chat or phone: "
                                                    f"{ticket['channel']} written as email")
    for fld in ("priority", "type", "due_at", "cc_ids", "organization_id"):
        if ticket.get(fld):
            add(fld, codes.VALUE_UNMAPPED, f"Help Scout conversations have no {fld}: left in staging")
    if ticket.get("solved_at"):
        add("solved_at", codes.TIMESTAMP_NOT_PRESERVED, "Help Scout sets closedAt itself when it closes the conversation")
    _assignee(body, ticket, account, assignee_email, add)
    body["fields"] = _fields(ticket, account, add)
    if len(comments) > MAX_THREADS:
        add("comments", codes.THREADS_SPLIT,
            f"{len(comments)} comments, over the {MAX_THREADS} threads a Help Scout conversation takes: comments "
            f"{MAX_THREADS + 1} and later are in continuation conversations tagged {stamps.kindless(rid)}-partN")
    return body, degr


def _assignee(body: dict, ticket: dict, account: Account, email: str | None, add) -> None:
    if not ticket.get("assignee_id"):
        body["assignTo"] = None       # explicit null: unassigned, not the inbox's routing rules
        return
    uid = account.users.get((email or "").lower())
    body["assignTo"] = uid
    if uid is None:
        add("assignee_id", codes.VALUE_UNMAPPED, f"the assignee ({email or ticket['assignee_id']}) has no Help "
                                                 "Scout user: written unassigned")


def _fields(ticket: dict, account: Account, add) -> list[dict]:
    out = []
    for key, value in (ticket.get("custom_fields") or {}).items():
        if value is None or value == "":
            continue
        found = _field_named(account, key)
        if found is None:
            add(f"custom_fields.{key}", codes.VALUE_UNMAPPED, f"mailbox {account.mailbox_name!r} has no field {key!r}")
            continue
        if found.get("options"):
            option = next((o for o in found["options"] if str(o.get("label")) == str(value)), None)
            if option is None:
                add(f"custom_fields.{key}", codes.VALUE_UNMAPPED, f"{value!r} is not an option of field {key!r}")
                continue
            value = option["id"]
        out.append({"id": found["id"], "value": value})
    return out


def part_of(position: int) -> int:
    """Which conversation (0: the ticket's own, 1..: continuations) holds the comment at `position`."""
    return position // MAX_THREADS


def continuation(ticket: dict, part: int, base: dict) -> dict:
    """The body of continuation conversation `part` of a long ticket (its threads follow)."""
    return {**base, "subject": f"{base.get('subject') or ''} (part {part + 1})",
            "tags": [*[t for t in base["tags"] if t != stamps.kindless(ticket["id"])],
                     f"{stamps.kindless(ticket['id'])}-part{part + 1}"]}


def thread(comment: dict, files: list[tuple[dict, Path]], account: Account, *, author: tuple[str, int | None] | None,
           customer_id: int | None, opening: bool) -> tuple[str, dict, list[Degradation]]:
    """(endpoint, body, degradations) of one comment as an imported thread. `author` is
    ("contact", customer id) or ("agent", user id or None when the agent has no user)."""
    rid = comment["id"]
    degr: list[Degradation] = []
    add = lambda fld, code, detail: degr.append(_d("comment", rid, fld, code, detail))  # noqa: E731
    kind, who = author or ("agent", None)
    channel = comment.get("channel")
    if comment.get("public") is not True:
        endpoint = "notes"
        if kind == "contact":
            add("author_id", codes.AUTHOR_NOT_PRESERVED, "a private note by a customer: Help Scout notes are "
                                                         "written by users, so by the app's user")
    elif kind == "contact":
        endpoint = THREAD_CHANNELS.get(channel, "customer")
    else:
        endpoint = "reply"
    if channel and channel != "email" and not (endpoint in ("chats", "phones")):
        add("channel", codes.CHANNEL_NOT_PRESERVED, f"written as a Help Scout {endpoint} thread (no {channel} channel)")
    body: dict = {"text": _text(comment), "imported": True}
    if comment.get("created_at"):
        body["createdAt"] = times.utc_text(times.parse(comment["created_at"]))
    if endpoint in ("customer", "chats", "phones"):
        body["customer"] = {"id": who if kind == "contact" else customer_id}
    else:
        body["user"] = who if kind == "agent" and who is not None else account.me
        if kind == "agent" and who is None and comment.get("author_id") is not None:
            add("author_id", codes.AUTHOR_NOT_PRESERVED, "the agent has no Help Scout user (users are invited, "
                                                         "not created by the API): written by the app's user")
        if endpoint == "reply":
            body["customer"] = {"id": customer_id}
    sent, file_degr = attachments(files)
    degr += file_degr
    if any(att.get("inline") for att, _ in files):
        add("body_html", codes.INLINE_IMAGE_DETACHED, "the body is kept byte-identical, so its images still "
                                                      "point where the source had them; the files are attached to the thread")
    if sent:
        body["attachments"] = sent
    if opening:
        body["type"] = {"notes": "note", "chats": "chat", "phones": "phone"}.get(endpoint, endpoint)
    return endpoint, body, degr


def _text(comment: dict) -> str:
    if comment.get("body_html") is not None:
        return comment["body_html"]
    return html.escape(comment.get("body_text") or "").replace("\n", "<br>")


def attachments(files: list[tuple[dict, Path]]) -> tuple[list[dict], list[Degradation]]:
    """The inline base64 files of a thread, and the ones left out."""
    sent, degr = [], []
    for att, path in files:
        if int(att.get("size") or 0) > MAX_FILE_BYTES:
            degr.append(_d("attachment", att["id"], "size", codes.ATTACHMENT_TOO_LARGE,
                           f"{att.get('size')} bytes, over Help Scout's {MAX_FILE_BYTES // (1024 * 1024)} MB per file: "
                           "left out of the thread, kept in staging and the side archive"))
            continue
        if att.get("inline"):
            degr.append(_d("attachment", att["id"], "inline", codes.INLINE_IMAGE_DETACHED,
                           "Help Scout threads take files as attachments; the body keeps its original reference"))
        if path is None:      # the dry run: what is declared, without reading the file
            continue
        sent.append({"fileName": att.get("_send_name") or att.get("file_name") or "file",
                     "mimeType": att.get("content_type") or "application/octet-stream",
                     "data": base64.b64encode(Path(path).read_bytes()).decode("ascii")})
    return sent, degr


def attachment_degradations(att: dict) -> list[Degradation]:
    """What `attachments` declares for one file, without reading it (the dry run)."""
    return attachments([(att, None)])[1]


def rating(record: dict) -> list[Degradation]:
    return [_d("satisfaction_rating", record["id"], "score", codes.CSAT_NOT_WRITABLE,
               "Help Scout ratings come from its own e-mails; the API cannot import them")]
