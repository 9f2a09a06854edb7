"""Canonical records → Request Tracker 5 REST2 request bodies, each with its degradations (pure).

One function per kind returns `Mapped(body, degradations)` (hdmigrate.adapter): `RtTarget.degradations()`
(what the dry run records) and `RtTarget.write()` call the same function, so they cannot disagree.
What the bodies need of the server arrives as plain values: `Server` (what the target learned of
this RT: whether it keeps `Created` and `Creator` sent on create) and, per ticket, the queue, the
custom fields applied to it and the RT user names of the people involved (target.py resolves them,
read-only in a dry run). What only the write can learn (a file or an author RT refuses, a
`Created` the server dropped although its version said it keeps it) target.py adds to the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hdmigrate import degradations as codes
from hdmigrate import stamps, times
from hdmigrate.adapter import Mapped
from hdmigrate.degradations import Degradation
from hdmigrate.errors import RecordError

from . import values

STATUS_TO_RT = {"new": "new", "open": "open", "pending": "stalled", "on_hold": "stalled",
                "solved": "resolved", "closed": "resolved"}
PRIORITY_TO_RT = {"low": 0, "normal": 50, "high": 75, "urgent": 100}
CF_TYPES_TO_RT = {"text": "Freeform", "textarea": "Text", "integer": "Freeform", "decimal": "Freeform",
                  "checkbox": "Freeform", "regexp": "Freeform", "date": "Date", "dropdown": "Select",
                  "multiselect": "Select"}
TICKET_CF = "RT::Queue-RT::Ticket"      # the LookupType of ticket custom fields
CREATED_MARK = "created by hdmigrate"   # in the Comments field of users this tool creates
UNMAPPED_FIELDS = ("type", "tags", "organization_id", "channel")   # RT tickets have none of these
# Debian bookworm's RT: the security release 5.0.3+dfsg-3~deb12u7 drops Created and Creator sent on
# ticket create (REST2 lists them in immutable_fields, silently); deb12u6 and earlier keep them.
DEBIAN_BOOKWORM = re.compile(r"5\.0\.3\+dfsg-\d+~deb12u(\d+)")
FIRST_DROPPING_REVISION = 7


@dataclass
class Server:
    """What the target knows of this RT (None: not known yet; learned from the first ticket read back)."""

    keeps_created: bool | None = None
    keeps_creator: bool | None = None
    act_as: bool = False          # act_as_created_users: comments posted as the users this run creates
    api_user: str = "root"        # whom the token belongs to (the creator where RT drops Creator)


def keeps_create_fields(version: str | None) -> bool | None:
    """Whether an RT of this REST2 `Version` (GET /rt) keeps `Created` and `Creator` sent on ticket
    create: known for Debian bookworm's 5.0.3 revisions (deb12u7 and later drop both), None for any
    other version (then the first ticket written and read back tells)."""
    found = DEBIAN_BOOKWORM.fullmatch(str(version or "").strip())
    if not found:
        return None
    return int(found.group(1)) < FIRST_DROPPING_REVISION


# ------------------------------------------------------------------------------- values

def sql_time(value: str) -> str:
    """RFC 3339 → RT's SQL format in UTC, the only one `Created` accepts on create. Not a time:
    RecordError naming the value (hdmigrate.times)."""
    dt = times.to_datetime(value)
    if dt is None:
        raise RecordError(f"not a time: {value!r}")
    return dt.strftime("%Y-%m-%d %H:%M:%S")


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


def content(comment: dict | None) -> tuple[str, str]:
    """(Content, ContentType) of a message: its text when it has one, else its HTML."""
    if not comment:
        return "", "text/plain"
    if isinstance(comment.get("body_text"), str):
        return comment["body_text"], "text/plain"
    return comment.get("body_html") or "", "text/html"


def created_detail(original: str) -> str:
    return (f"RT did not keep Created (REST2 of current RT releases treats it as immutable); original "
            f"{original} is in the opening message's origin line")


def creator_details(sent: str, got: str | None) -> tuple[str, str]:
    """(ticket detail, opening-message detail) where RT did not keep the Creator sent."""
    return (f"RT did not keep Creator {sent!r} (REST2 treats it as immutable); the ticket is created by {got!r}",
            f"the opening message is authored by the ticket's creator {got!r}, not {sent!r}")


def generated_name(kind: str, record: dict) -> str:
    """The RT user name of a person without an address (or whose name is taken)."""
    return f"hdm-{kind}-{record['id']}"


def created_from(kind: str, record: dict) -> str:
    """The end of the Comments of a user this tool created: which record it is."""
    return f" from {kind} {record['id']}"


def matched(kind: str, rid: str, name: str) -> Degradation:
    """Said in the dry run too: RT already holds this record (same e-mail or name): adopted as it is."""
    return Degradation(kind, str(rid), "", codes.MATCHED_EXISTING,
                       f"RT already has this {kind} ({name}): adopted as it is, never updated nor deleted")


# ------------------------------------------------------------------------------- per kind

def ticket(record: dict, comments: list[dict], *, queue: str | None, queue_cfs: set[str], stamp: str,
           creator: str | None, server: Server, field_names: dict | None = None) -> Mapped:
    """The POST /ticket body (without its files: target.py reads and adds them) and every
    degradation of the ticket and its opening message known before the write. `creator` is the RT
    user name of the ticket's creator (None: none is sent); `field_names` the plan's
    [mapping.fields.ticket] (source key -> RT custom field name)."""
    rid = str(record["id"])
    degr: list[Degradation] = []
    add = lambda kind, id_, fld, code, detail: degr.append(Degradation(kind, str(id_), fld, code, detail))  # noqa: E731
    first = comments[0] if comments else None
    text, ctype = content(first)
    created = record.get("created_at") or (first or {}).get("created_at")
    if created and server.keeps_created is not True:
        # Until this server has shown (or its version says) that it keeps Created, the original
        # time stays visible before the opening message.
        text = origin_line(created, ctype) + text
        add("ticket", rid, "created_at", codes.TIMESTAMP_NOT_PRESERVED, created_detail(created))
    for fld in UNMAPPED_FIELDS:
        if record.get(fld):
            code = codes.CHANNEL_NOT_PRESERVED if fld == "channel" else codes.VALUE_UNMAPPED
            add("ticket", rid, fld, code, f"RT tickets have no {fld}")
    partial = stamps.with_prefix(stamp, partial=True)
    body: dict = {"Queue": queue, "Subject": record.get("subject") or "", "Status": "new",
                  "Content": text, "ContentType": ctype, "RefersTo": stamps.link(partial), "CustomFields": {}}
    if values.STAMP_CF in queue_cfs:
        body["CustomFields"][values.STAMP_CF] = partial
    if created:
        body["Created"] = sql_time(created)
    if creator:
        body["Creator"] = creator
        if server.keeps_creator is False and creator != server.api_user:
            ticket_detail, opening_detail = creator_details(creator, server.api_user)
            add("ticket", rid, "creator_id", codes.AUTHOR_NOT_PRESERVED, ticket_detail)
            if first:
                add("comment", first["id"], "author_id", codes.AUTHOR_NOT_PRESERVED, opening_detail)
    extra = record.get("extra") or {}
    if isinstance(extra.get("source_priority"), int):
        body["Priority"] = extra["source_priority"]
    elif record.get("priority") in PRIORITY_TO_RT:
        body["Priority"] = PRIORITY_TO_RT[record["priority"]]
    if record.get("due_at"):
        body["Due"] = sql_time(record["due_at"])
    for key, value in (record.get("custom_fields") or {}).items():
        target_key = (field_names or {}).get(key, key)
        if target_key in queue_cfs:
            body["CustomFields"][target_key] = value
        else:
            add("ticket", rid, f"custom_fields.{key}", codes.VALUE_UNMAPPED,
                f"custom field {target_key!r} is not applied to queue {queue or '(new)'}")
    if first and not first.get("public", True):
        add("comment", first["id"], "public", codes.PRIVATE_FIRST_MESSAGE,
            "RT's opening message (Create) is always part of the public history")
    return Mapped(body, degr)


def finish(record: dict, *, owner: str | None, requestors: list[str], ccs: list[str], admin_ccs: list[str],
           stamp: str, queue_cfs: set[str]) -> list[dict]:
    """The PUT /ticket/{id} bodies written after the history, in order: the final status and owner;
    then the watchers (RT mails on create, correspond and resolve, never on adding a watcher);
    last the complete stamp (a ticket found by it is never written again)."""
    extra = record.get("extra") or {}
    source_status = extra.get("source_status")
    keep_source = values.STATUS_TO_CANONICAL.get(source_status) == record.get("status") and source_status
    first: dict = {"Status": source_status if keep_source else STATUS_TO_RT.get(record.get("status"), "open")}
    if owner:
        first["Owner"] = owner
    second: dict = {"Requestor": requestors, "Cc": ccs}
    if values.STAMP_CF in queue_cfs:
        second["CustomFields"] = {values.STAMP_CF: stamp}
    if admin_ccs:
        second["AdminCc"] = admin_ccs
    last = {"AddRefersTo": stamps.link(stamp), "DeleteRefersTo": stamps.link(stamps.with_prefix(stamp, partial=True))}
    return [first, second, last]


def comment(record: dict, *, first: bool, server: Server) -> Mapped:
    """The correspond/comment body (an opening message goes into the ticket's create body instead)
    and the message's degradations."""
    rid = str(record["id"])
    degr: list[Degradation] = []
    add = lambda fld, code, detail: degr.append(Degradation("comment", rid, fld, code, detail))  # noqa: E731
    text, ctype = content(record)
    where = ("; the ticket's Created keeps the original time" if first and server.keeps_created
             else "; the original time is in the opening message's origin line" if first else "")
    add("created_at", codes.TIMESTAMP_NOT_PRESERVED, "REST2 dates every transaction at load time" + where)
    if record.get("channel"):
        add("channel", codes.CHANNEL_NOT_PRESERVED, "RT has no channel")
    if first:
        pass   # the opening message's author is the ticket's Creator (see ticket())
    elif not server.act_as:
        add("author_id", codes.AUTHOR_NOT_PRESERVED, "posted as the API user (act_as_created_users is off)")
    elif not record.get("public") and record.get("author_kind") != "agent":
        add("author_id", codes.AUTHOR_NOT_PRESERVED, "contacts lack CommentOnTicket; private note posted as the API user")
    return Mapped({"Content": text, "ContentType": ctype}, degr)


def attachment(record: dict) -> Mapped:
    """A message's file (its bytes are read and sent by target.py with the message)."""
    rid = str(record["id"])
    if empty_file(record):
        return Mapped(None, [Degradation("attachment", rid, "size", codes.ATTACHMENT_EMPTY, EMPTY_DETAIL)])
    if record.get("inline"):
        return Mapped(None, [Degradation("attachment", rid, "inline", codes.INLINE_IMAGE_DETACHED,
                                         "kept as a regular attachment")])
    return Mapped(None)


EMPTY_DETAIL = "RT refuses 0-byte files; left out, the message is written without it"


def empty_file(record: dict) -> bool:
    return record.get("size") == 0


def user(kind: str, record: dict) -> Mapped:
    """The POST /user body of an agent (privileged) or contact (unprivileged) RT does not hold yet."""
    extra = record.get("extra") or {}
    email = record.get("email") or None
    body = {"Name": extra.get("rt_name") or email or generated_name(kind, record), "RealName": record.get("name") or "",
            "Privileged": 1 if kind == "agent" else 0, "Comments": f"{CREATED_MARK}{created_from(kind, record)}"}
    if email:
        body["EmailAddress"] = email
    if extra.get("organization"):
        body["Organization"] = extra["organization"]
    if record.get("active") is False:
        body["Disabled"] = 1
    degr = [Degradation(kind, str(record["id"]), f"custom_fields.{key}", codes.VALUE_UNMAPPED,
                        "RT users get no custom field values from this tool: left in staging")
            for key, value in (record.get("custom_fields") or {}).items() if value not in (None, "", [])]
    return Mapped(body, degr)


def queue(record: dict) -> Mapped:
    return Mapped({"Name": record["name"], "Description": record.get("description") or ""})


def custom_field(record: dict) -> Mapped:
    """The POST /customfield body of a ticket field RT does not hold yet (its options:
    `field_options`). A contact's or organization's field gets none (body None): RT users get no
    custom field values from this tool, and a ticket field of that name would be a wrong one."""
    rid = str(record["id"])
    if record.get("entity", "ticket") != "ticket":
        return Mapped(None, [Degradation("custom_field", rid, "entity", codes.VALUE_UNMAPPED,
                                         f"a {record.get('entity')} field: RT users get no custom field values "
                                         "from this tool (the values stay in staging and the side archive)")])
    body = {"Name": record["key"], "Type": CF_TYPES_TO_RT.get(record.get("type"), "Freeform"),
            "LookupType": TICKET_CF, "MaxValues": 0 if record.get("type") == "multiselect" else 1,
            "Description": record.get("title") or ""}
    return Mapped(body, [Degradation("custom_field", str(record["id"]), "entity", codes.VALUE_UNMAPPED,
                                     "created, but REST2 (RT 5.0.3) cannot apply a custom field to queues; "
                                     "values are kept only where an RT admin has applied it")])


def field_options(record: dict) -> list[dict]:
    """The POST /customfield/{id}/value bodies of a new field's options."""
    return [{"Name": str(option.get("value"))} for option in record.get("options") or []]


def organization(record: dict) -> Mapped:
    return Mapped(None, [Degradation("organization", str(record["id"]), "", codes.VALUE_UNMAPPED,
                                     "RT has no organizations (users keep a name)")])


def satisfaction_rating(record: dict) -> Mapped:
    return Mapped(None, [Degradation("satisfaction_rating", str(record["id"]), "", codes.CSAT_NOT_WRITABLE,
                                     "RT has no satisfaction ratings")])
