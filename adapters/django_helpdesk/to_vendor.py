"""Canonical records → django-helpdesk 2.6 API request bodies, each with its degradations (pure).

One function per kind returns `Mapped(body, degradations)` (hdmigrate.adapter):
`DjangoHelpdeskTarget.degradations()` (what the dry run records) and its `write()` call the same
function, so they cannot disagree. What the bodies need of the server arrives as `Account`: the
plan's queue, whether file types are validated, and the ticket custom fields the server has (read
by check() from the API's OPTIONS answer; None: not known before a ticket is created). What only
the write can learn (a file the server refuses) target.py adds to the result.

People, queues and fields are never created (the API cannot list users, create staff, queues or
custom fields): a person with an address, the plan's queue and the server's fields are the
target's own, declared `matched_existing` up front.
"""

from __future__ import annotations

from dataclasses import dataclass

from hdmigrate import degradations as codes
from hdmigrate import stamps
from hdmigrate.adapter import Mapped
from hdmigrate.degradations import Degradation

from .values import OPENING_TITLE, STAMP_FIELD

STATUS_TO_HD = {"new": 1, "open": 1, "pending": 1, "on_hold": 1, "solved": 3, "closed": 4}
PRIORITY_TO_HD = {"urgent": 1, "high": 2, "normal": 3, "low": 4, None: 3}
STATUS_BECOMES_OPEN = ("pending", "on_hold", "new")
UNMAPPED_FIELDS = ("cc_ids", "tags", "type", "organization_id")   # the API has none of these

# HELPDESK_VALIDATE_ATTACHMENT_TYPES default allow-list (2.6.1)
ALLOWED_EXTENSIONS = (".txt", ".asc", ".pdf", ".doc", ".docx", ".odt", ".jpg", ".png", ".eml")


@dataclass(frozen=True)
class Account:
    """What the bodies need of the server."""

    queue: int = 1
    validate_types: bool = True
    # names of the ticket custom fields the server has (without the "custom_" prefix); None: unknown
    ticket_fields: frozenset[str] | None = None


class _Collect:
    def __init__(self, kind: str, rid):
        self.kind, self.rid, self.items = kind, str(rid), []

    def __call__(self, fld: str, code: str, detail: str) -> None:
        self.items.append(Degradation(self.kind, self.rid, fld, code, detail))


def extension_allowed(file_name: str) -> bool:
    return file_name.lower().endswith(ALLOWED_EXTENSIONS)


def upload_name(file_name: str, account: Account) -> str:
    """The name a file is uploaded under: ".txt" appended where the server's allow-list would refuse it."""
    return file_name + ".txt" if account.validate_types and not extension_allowed(file_name) else file_name


def stamped_title(title: str | None, stamp: str) -> str:
    """The opening follow-up's title carrying `stamp` (an earlier stamp replaced)."""
    return stamps.strip_title(title or OPENING_TITLE) + stamps.title_suffix(stamp)


def text(comment: dict | None) -> str:
    if not comment:
        return ""
    body = comment.get("body_text")
    return body if isinstance(body, str) else (comment.get("body_html") or "")


# ------------------------------------------------------------------------------- per kind

def person(kind: str, record: dict) -> Mapped:
    """Nothing is created: a contact is a submitter address; agents cannot be made staff or
    found by id. Body: {"email": ...} of the address kept as the target's own (None: no address)."""
    add = _Collect(kind, record["id"])
    if kind == "agent":
        add("", codes.VALUE_UNMAPPED, "the API cannot list users, create staff or return new user ids; "
                                      "agents are not created")
    email = record.get("email")
    if email:
        add("", codes.MATCHED_EXISTING, f"kept as the submitter address {email}: django-helpdesk's own, "
                                        "never updated nor deleted")
    return Mapped({"email": email} if email else None, add.items)


def group(record: dict, account: Account) -> Mapped:
    add = _Collect("group", record["id"])
    add("", codes.VALUE_UNMAPPED, f"no queue endpoint: tickets go to queue {account.queue}")
    add("", codes.MATCHED_EXISTING, f"held as the plan's queue {account.queue}, which the server has")
    return Mapped({"queue": account.queue}, add.items)


def custom_field(record: dict) -> Mapped:
    add = _Collect("custom_field", record["id"])
    add("", codes.VALUE_UNMAPPED, "custom fields cannot be created through the API")
    add("", codes.MATCHED_EXISTING, "the server's own fields are used where one has this name")
    return Mapped({"name": f"custom_{record['key']}"}, add.items)


def organization(record: dict) -> Mapped:
    return Mapped(None, [Degradation("organization", str(record["id"]), "", codes.VALUE_UNMAPPED,
                                     "django-helpdesk has no organizations")])


def satisfaction_rating(record: dict) -> Mapped:
    return Mapped(None, [Degradation("satisfaction_rating", str(record["id"]), "", codes.CSAT_NOT_WRITABLE,
                                     "django-helpdesk has no satisfaction ratings")])


def ticket(record: dict, first: dict | None, account: Account) -> Mapped:
    """The POST /tickets/ body (the stamp field is added by target.py) and the ticket's
    degradations, custom field values included where the server's fields are known."""
    add = _Collect("ticket", record["id"])
    if record.get("created_at"):
        add("created_at", codes.TIMESTAMP_NOT_PRESERVED, "`created` is ignored on create")
    if record.get("assignee_id"):
        add("assignee_id", codes.VALUE_UNMAPPED, "agents cannot be resolved to user ids through the API")
    if record.get("group_id"):
        add("group_id", codes.VALUE_UNMAPPED, f"all tickets go to queue {account.queue}")
    if record.get("status") in STATUS_BECOMES_OPEN:
        add("status", codes.VALUE_UNMAPPED, f"{record['status']} becomes Open")
    for fld in UNMAPPED_FIELDS:
        if record.get(fld):
            add(fld, codes.VALUE_UNMAPPED, f"django-helpdesk's API has no {fld}")
    if record.get("channel"):
        add("channel", codes.CHANNEL_NOT_PRESERVED, "no channel")
    degr = add.items
    if account.ticket_fields is not None:
        degr = degr + custom_values(record, account.ticket_fields).degradations
    body = {"queue": account.queue, "title": record.get("subject") or "", "description": text(first),
            "priority": PRIORITY_TO_HD.get(record.get("priority"), 3), "status": 1}
    return Mapped(body, degr)


def custom_values(record: dict, fields: frozenset[str] | set[str]) -> Mapped:
    """The ticket's custom field values the server has a field for ({"custom_<key>": value}), and
    the others named."""
    add = _Collect("ticket", record["id"])
    body = {}
    for key, value in (record.get("custom_fields") or {}).items():
        if key in fields and key != STAMP_FIELD:
            body[f"custom_{key}"] = value
        else:
            add(f"custom_fields.{key}", codes.VALUE_UNMAPPED, f"no custom field {key!r} in django-helpdesk")
    return Mapped(body, add.items)


def final(record: dict, *, submitter_email: str | None, stamp: str | None, values: dict) -> dict:
    """The PATCH /tickets/{id}/ body written after the follow-ups (a PATCH mails nothing): final
    status, submitter, due date, resolution, the complete stamp, custom field values."""
    body: dict = {"status": STATUS_TO_HD.get(record.get("status"), 1)}
    if submitter_email:
        body["submitter_email"] = submitter_email
    if record.get("due_at"):
        body["due_date"] = record["due_at"]
    if (record.get("extra") or {}).get("resolution"):
        body["resolution"] = record["extra"]["resolution"]
    if stamp is not None:
        body[f"custom_{STAMP_FIELD}"] = stamp
    body.update(values)
    return body


def comment(record: dict, *, first: bool) -> Mapped:
    """The POST /followups/ body (without the ticket id; the opening message is the ticket's
    description instead) and the message's degradations."""
    add = _Collect("comment", record["id"])
    if record.get("created_at"):
        add("created_at", codes.TIMESTAMP_NOT_PRESERVED, "follow-up `date` is read-only")
    add("author_id", codes.AUTHOR_NOT_PRESERVED, "follow-ups are authored by the API user")
    if record.get("channel"):
        add("channel", codes.CHANNEL_NOT_PRESERVED, "no channel")
    if not isinstance(record.get("body_text"), str) and record.get("body_html"):
        add("body_html", codes.VALUE_UNMAPPED, "HTML stored as the follow-up's plain text")
    if first and not record.get("public", True):
        add("public", codes.PRIVATE_FIRST_MESSAGE, "the opening follow-up is always public")
    return Mapped({"comment": text(record), "public": record.get("public") is True}, add.items)


def attachment(record: dict, account: Account) -> Mapped:
    """A follow-up's file (read and uploaded by target.py): what is declared before the upload."""
    add = _Collect("attachment", record["id"])
    if record.get("size") == 0:
        add("size", codes.ATTACHMENT_EMPTY, "django-helpdesk refuses empty files; left out")
    if record.get("inline"):
        add("inline", codes.INLINE_IMAGE_DETACHED, "kept as a regular follow-up attachment")
    if upload_name(record.get("file_name") or "", account) != (record.get("file_name") or ""):
        add("file_name", codes.ATTACHMENT_RENAMED,
            "extension not in the server's allow-list: uploaded as <name>.txt, bytes unchanged")
    return Mapped(None, add.items)
