"""Canonical records -> Freshdesk request bodies, each with its degradations (no client, no writes).

One function per kind returns `Mapped(body, degradations)`; `FreshdeskTarget.degradations()`
(what the dry run records) and `FreshdeskTarget.write()` call the same function, so they cannot
disagree. What needs the account (target ids, the account's fields) is added by target.py; what
these functions need of the account arrives as plain values (`Account`). `ctx` is read only for
the staged records (`record`, `comments`, `custom_field`, `attachments`) and the plan's mapping;
a staged file is read only to embed an inline image.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from hdmigrate import degradations as codes
from hdmigrate import inline_images, stamps
from hdmigrate.adapter import Mapped
from hdmigrate.degradations import Degradation

from . import values as m

MAX_TICKET_ATTACHMENTS = 20 * 1024 * 1024
# Inline images up to this size are embedded in the body as data: URIs (no inline upload in FD-DOC),
# up to MAX_EMBEDDED_TOTAL bytes of images per body.
MAX_EMBEDDED_IMAGE = 1024 * 1024
MAX_EMBEDDED_TOTAL = 4 * 1024 * 1024
PRIVATE_OPENING = "<p>The opening message of this ticket was private; it follows as a private note.</p>"
NO_DESCRIPTION = "<p>(no description)</p>"
AGENT_AS_CONTACT_TAG = "hdm-agent"   # an agent the account lacks, written as a contact
INACTIVE_DETAIL = ("Freshdesk cannot keep an inactive person: deleting a contact also deletes its tickets, so "
                   "it is written active; the original state stays in staging and the side archive")
AGENT_AS_CONTACT = ("no Freshdesk agent with e-mail {email!r}: created as a contact; map it in [mapping.users] "
                    "to an existing agent to keep assignments")
SUPPORTED_LANGUAGES = {"ar", "ca", "cs", "da", "de", "en", "es", "et", "fi", "fr", "he", "hu", "id", "it",
                       "ja", "ko", "lv", "nb", "nl", "pl", "pt", "ro", "ru", "sk", "sl", "sv", "th", "tr",
                       "uk", "vi", "zh"}


@dataclass(frozen=True)
class Account:
    """What the mapping needs to know of the target account (None: not known, e.g. offline dry run)."""

    type_choices: list[str] | None = None
    agent_emails: frozenset[str] | None = None

    def is_agent(self, email: str) -> bool:
        return True if self.agent_emails is None else email in self.agent_emails


class _Collect:
    def __init__(self, kind: str, rid: str):
        self.kind, self.rid, self.items = kind, rid, []

    def __call__(self, fld: str, code: str, detail: str = "") -> None:
        self.items.append(Degradation(self.kind, self.rid, fld, code, detail))


# ------------------------------------------------------------------------------- values

def field_value(ftype: str | None, value):
    """Coerce a canonical custom field value into what Freshdesk accepts for the field type."""
    if value is None:
        return None
    if ftype == "custom_checkbox":
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if ftype == "custom_number":
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    if ftype == "custom_decimal":
        try:
            return str(float(value)) if not isinstance(value, str) else value
        except (TypeError, ValueError):
            return None
    if ftype == "custom_date":
        return str(value)[:10]
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value if isinstance(value, (str, int, float, bool)) else str(value)


def slug(label: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", (label or "").lower()).strip("_")
    return s or "field"


def freshdesk_language(language: str | None) -> str | None:
    """The Freshdesk language code written for a BCP 47 tag (None: not a Freshdesk language)."""
    if not language:
        return None
    lang = language.split("-")[0].lower()
    return lang if lang in SUPPORTED_LANGUAGES else None


def options(fld: dict) -> list[dict]:
    return [o for o in fld.get("options") or [] if isinstance(o, dict)]


def label(fld: dict, value):
    """A choice value's label (Freshdesk choices are labels); the value itself when it has none."""
    for o in options(fld):
        if str(o.get("value")) == str(value) and o.get("label") not in (None, ""):
            return str(o["label"])
    return value


def choice_labels(fld: dict) -> list[str] | None:
    """The Freshdesk choices of a canonical dropdown: its labels, or its values where labels repeat."""
    labels = [str(o.get("label") if o.get("label") not in (None, "") else o.get("value")) for o in options(fld)]
    return None if len(set(labels)) != len(labels) else labels


def agent_email(record: dict, mapping: dict | None) -> str:
    """The e-mail an agent is looked up by: the plan's `[mapping.users]` override, else its own."""
    override = ((mapping or {}).get("users") or {}).get(record.get("email"))
    return override.lower() if override else (record.get("email") or "").lower()


def _tags(record: dict, options_: dict | None) -> list[str]:
    tags = [*(record.get("tags") or []), stamps.kindless(str(record["id"]))]
    if (options_ or {}).get("tag_migrated"):
        tags.append(str(options_["tag_migrated"]))
    return list(dict.fromkeys(tags))


def _custom_value_degradations(add, entity: str, record: dict, ctx) -> None:
    """A choice value that cannot be written as it is (from the staged field only)."""
    for key, value in (record.get("custom_fields") or {}).items():
        found = ctx.custom_field(entity, key) if hasattr(ctx, "custom_field") else None
        if not found or value in (None, "", []):
            continue
        fld = found[0]
        if fld.get("type") == "multiselect":
            values = value if isinstance(value, list) else [value]
            where = " (all values are named in the origin line)" if entity == "ticket" and len(values) > 1 else ""
            add(f"custom_fields.{key}", codes.FIELD_TYPE_CHANGED, f"multiselect written to a Freshdesk dropdown: "
                f"{values!r} written as {label(fld, values[0])!r}{where}")
        elif fld.get("type") == "dropdown" and str(label(fld, value)) != str(value):
            add(f"custom_fields.{key}", codes.OPTION_VALUE_AS_LABEL,
                f"{value!r} written as its label {label(fld, value)!r}")


# ------------------------------------------------------------------------------- bodies

def origin_line(comment: dict, ctx, ticket: dict | None = None) -> str:
    """The visible first line of a description or note: original time, author, channel, privacy
    (and, on a description, the ticket's facts), ending in the stamp `[hdm-<id>]`."""
    author = ""
    aid = comment.get("author_id")
    for k in ("agent", "contact"):
        rec = ctx.record(k, aid) if aid else None
        if rec:
            author = (rec.get("name") or "") + (f" <{rec['email']}>" if rec.get("email") else "")
            break
    parts = [f"Originally {comment.get('created_at') or 'at an unknown time'}"]
    if author:
        parts.append(f"by {author}")
    if comment.get("channel"):
        parts.append(f"via {comment['channel']}")
    parts.append("public" if comment.get("public", True) else "private")
    if ticket is not None:
        parts += _ticket_facts(ticket, ctx)
    text = html.escape(" · ".join(parts)) + " " + stamps.origin_mark(str(comment.get("id")))
    return f'<p class="{stamps.ORIGIN_CLASS}"><small>{text}</small></p>'


def _ticket_facts(ticket: dict, ctx) -> list[str]:
    parts = []
    if ticket.get("channel"):
        parts.append(f"ticket channel {ticket['channel']}")
    if ticket.get("due_at"):
        parts.append(f"due {ticket['due_at']}")
    if ticket.get("number"):
        parts.append(f"source ticket #{ticket['number']}")
    for key, value in (ticket.get("custom_fields") or {}).items():
        found = ctx.custom_field("ticket", key) if hasattr(ctx, "custom_field") else None
        if found and found[0].get("type") == "multiselect" and isinstance(value, list) and len(value) > 1:
            parts.append(f"{found[0].get('title') or key}: " + ", ".join(str(label(found[0], v)) for v in value))
    return parts


def body_html(comment: dict, ctx=None) -> str:
    if comment.get("body_html") is not None and comment.get("body_html") != "":
        return embed_inline(comment, ctx)[0] if ctx is not None else comment["body_html"]
    text = comment.get("body_text") or ""
    return "<div>" + html.escape(text).replace("\n", "<br>") + "</div>"


def first_comment(ticket_id: str, ctx) -> dict | None:
    comments = ctx.comments(ticket_id) if hasattr(ctx, "comments") else []
    return comments[0] if comments else None


def is_description(comment: dict, ctx) -> bool:
    """The ticket's first comment, when public, is written as the ticket's description."""
    first = first_comment(comment["ticket_id"], ctx)
    return first is not None and first.get("id") == comment.get("id") and first.get("public", True)


def description(record: dict, ctx) -> str:
    """The ticket's description: the public opening message, or a placeholder."""
    first = first_comment(str(record["id"]), ctx)
    if first is not None and first.get("public", True):
        return origin_line(first, ctx, record) + body_html(first, ctx)
    note = PRIVATE_OPENING if first is not None else NO_DESCRIPTION
    return origin_line(first or {"id": record["id"]}, ctx, record) + note


# ------------------------------------------------------------------------------- per kind

def ticket(record: dict, ctx, account: Account) -> Mapped:
    """The create body (without the ids target.py resolves: requester, responder, group, company,
    custom fields) and every degradation the dry run can know."""
    rid, mp = str(record["id"]), ctx.mapping or {}
    add = _Collect("ticket", rid)
    source, exact = m.channel_from_canonical(record.get("channel"), mp.get("channel"))
    body: dict = {"subject": record.get("subject") or "(no subject)",
                  "status": m.status_from_canonical(record.get("status"), mp.get("status")),
                  "priority": m.priority_from_canonical(record.get("priority"), mp.get("priority")),
                  "source": source, "tags": _tags(record, ctx.options)}
    ttype = m.type_from_canonical(record.get("type"), account.type_choices, mp.get("type"))
    if ttype:
        body["type"] = ttype
    if record.get("created_at"):
        add("created_at", codes.TIMESTAMP_NOT_PRESERVED,
            f"Freshdesk cannot backdate; original {record['created_at']} is in the description's origin line")
    if not exact:
        add("channel", codes.CHANNEL_NOT_PRESERVED, f"no Freshdesk source for {record.get('channel')!r}; "
            "written as Portal, original named in the origin line")
    status = record.get("status")
    if status in m.STATUS_NEAREST_ONLY and status not in (mp.get("status") or {}):
        add("status", codes.VALUE_UNMAPPED, f"{status!r} has no Freshdesk status; written as "
            f"{m.status_from_canonical(status)}")
    if record.get("type") and not ttype:
        add("type", codes.VALUE_UNMAPPED, f"ticket type {record['type']!r} is not a Freshdesk type here")
    _opening_degradations(add, record, first_comment(rid, ctx))
    if record.get("due_at"):
        add("due_at", codes.TIMESTAMP_NOT_PRESERVED, "Freshdesk sets due dates from its SLA policies; the "
            "original due date is kept in the origin line")
    _custom_value_degradations(add, "ticket", record, ctx)
    _assignee(add, record, ctx, account)
    cc = _cc_emails(add, record, ctx)
    if cc:
        body["cc_emails"] = cc[:50]
    return Mapped(body, add.items)


def _opening_degradations(add, record: dict, first: dict | None) -> None:
    if first is None:
        return
    if not first.get("public", True):
        add("public", codes.PRIVATE_FIRST_MESSAGE, "the opening message is private: the ticket gets a public "
            "placeholder description and the message follows as a private note")
    elif first.get("author_id") != record.get("requester_id"):
        add("author_id", codes.AUTHOR_NOT_PRESERVED, "the description is always the requester's; its "
            "original author is named in the origin line")


def _assignee(add, record: dict, ctx, account: Account) -> None:
    if not record.get("assignee_id"):
        return
    assignee = ctx.record("agent", record["assignee_id"])
    if assignee is None:
        # the write leaves it unassigned too: said once, by the dry run and the write alike
        add("assignee_id", codes.VALUE_UNMAPPED, "the assignee is not a Freshdesk agent")
    elif not account.is_agent(agent_email(assignee, ctx.mapping)):
        add("assignee_id", codes.VALUE_UNMAPPED, f"the assignee {record['assignee_id']} is not a Freshdesk "
            "agent (written as a contact); the ticket is left unassigned")


def _cc_emails(add, record: dict, ctx) -> list[str]:
    out = []
    for pid in record.get("cc_ids") or []:
        person = next((p for p in (ctx.record("contact", pid), ctx.record("agent", pid)) if p), None)
        if person is not None and person.get("email"):
            out.append(person["email"])
        elif person is not None:
            add("cc_ids", codes.VALUE_UNMAPPED, f"CC {pid} has no e-mail address; Freshdesk takes CCs "
                "only as e-mail addresses")
    return out


def comment(record: dict, ctx) -> Mapped:
    """A note (the description is written with its ticket): body and privacy, without the author
    target.py resolves (`user_id`, `incoming`)."""
    add = _Collect("comment", str(record["id"]))
    if record.get("created_at"):
        add("created_at", codes.TIMESTAMP_NOT_PRESERVED,
            f"Freshdesk cannot backdate; original {record['created_at']} is in the origin line")
    if record.get("channel"):
        add("channel", codes.CHANNEL_NOT_PRESERVED, f"written as a note; channel {record['channel']!r} is "
            "named in the origin line")
    if hasattr(ctx, "attachments"):
        _, embedded, kept = embed_inline(record, ctx)
        if embedded:
            add("body_html.img_src", codes.INLINE_IMAGE_REHOSTED,
                f"{embedded} inline image(s) embedded as data: URIs (Freshdesk's API uploads no inline "
                "images; each file is also attached); the rest of the HTML is unchanged")
        for aid, why in kept:
            add("body_html.img_src", codes.INLINE_IMAGE_DETACHED, f"the image of attachment {aid} keeps its "
                f"source URL: {why}")
    body = {"body": origin_line(record, ctx) + body_html(record, ctx), "private": record.get("public") is not True}
    return Mapped(body, add.items)


def attachment(record: dict, ctx, file_name=None) -> Mapped:
    """Files travel with their comment: only what becomes of this one."""
    add = _Collect("attachment", str(record["id"]))
    owner = ctx.record("comment", record.get("comment_id")) if record.get("comment_id") else None
    if owner is not None:
        for att, _path, code, detail in attachment_plan(owner, ctx, file_name)[1]:
            if str(att.get("id")) == str(record["id"]):
                add("size" if code != codes.INLINE_IMAGE_DETACHED else "inline", code, detail)
    return Mapped(None, add.items)


def satisfaction_rating(record: dict) -> Mapped:
    add = _Collect("satisfaction_rating", str(record["id"]))
    answer = m.csat_from_canonical(record.get("score"), record.get("scale"))
    body: dict = {"ratings": {"default_question": answer}}
    if record.get("comment"):
        body["feedback"] = record["comment"]
    if record.get("created_at"):
        add("created_at", codes.TIMESTAMP_NOT_PRESERVED, "Freshdesk stores the rating with the time of the migration")
    scale = record.get("scale") or "1-5"
    if scale != "1-5":
        add("score", codes.CSAT_SCALE_CHANGED,
            f"Freshdesk surveys answer on its own scale: {record.get('score')!r} on {scale} written as "
            f"{answer} ({m.CSAT_ANSWER_NAMES.get(answer, answer)}), read back as "
            f"{m.csat_to_canonical(answer)[0]} on 1-5; the original stays in staging and the side archive")
    return Mapped(body, add.items)


def contact(record: dict, ctx, kind: str = "contact") -> Mapped:
    """The contact body without `company_id` and `custom_fields` (target.py resolves those)."""
    add = _Collect(kind, str(record["id"]))
    phones = list(record.get("phones") or [])
    body = {"name": record.get("name") or record.get("email") or f"contact {record['id']}",
            "email": record.get("email") or None,
            "other_emails": [e for e in record.get("emails") or [] if e and e != record.get("email")][:10],
            "phone": phones[0] if phones else None, "mobile": phones[1] if len(phones) > 1 else None,
            "description": record.get("notes"), "tags": list(record.get("tags") or []),
            "unique_external_id": stamps.kindless(str(record["id"])),
            "language": freshdesk_language(record.get("language"))}
    if record.get("time_zone"):
        add("time_zone", codes.VALUE_UNMAPPED, f"Freshdesk takes its own time zone names; "
            f"{record['time_zone']!r} left unset (kept in staging and the side archive)")
    language, written = record.get("language"), body["language"]
    if language and written is None:
        add("language", codes.VALUE_UNMAPPED, f"language {language!r} is not a Freshdesk language; left unset")
    elif language and written != language:
        add("language", codes.VALUE_UNMAPPED, f"Freshdesk keeps only its own language codes: {language!r} "
            f"written as {written!r}")
    if record.get("active") is False:
        add("active", codes.VALUE_UNMAPPED, INACTIVE_DETAIL)
    _custom_value_degradations(add, "contact", record, ctx)
    return Mapped({k: v for k, v in body.items() if v not in (None, [], {}, "")}, add.items)


def agent(record: dict, ctx, account: Account) -> Mapped:
    """An agent the account has is matched (body None); one it lacks becomes a contact."""
    add = _Collect("agent", str(record["id"]))
    if record.get("active") is False:
        add("active", codes.VALUE_UNMAPPED, INACTIVE_DETAIL)
    if account.is_agent(agent_email(record, ctx.mapping)):
        return Mapped(None, add.items)
    add("role", codes.VALUE_UNMAPPED, AGENT_AS_CONTACT.format(email=record.get("email")))
    if record.get("group_ids"):
        add("group_ids", codes.VALUE_UNMAPPED, "written as a contact, which has no groups; "
            f"groups {record['group_ids']} kept in staging and the side archive")
    as_contact = {"id": record["id"], "name": record.get("name"), "email": record.get("email"),
                  "tags": [AGENT_AS_CONTACT_TAG]}
    return Mapped(contact(as_contact, ctx).body, add.items)


def organization(record: dict, ctx) -> Mapped:
    """The company body without `custom_fields` (target.py resolves those)."""
    add = _Collect("organization", str(record["id"]))
    if record.get("tags"):
        add("tags", codes.VALUE_UNMAPPED, f"Freshdesk companies have no tags; {record['tags']} kept in "
            "staging and the side archive")
    _custom_value_degradations(add, "organization", record, ctx)
    body = {"name": record["name"], "description": record.get("notes"),
            "domains": [d for d in record.get("domains") or [] if d]}
    return Mapped({k: v for k, v in body.items() if v not in (None, [], {})}, add.items)


def group(record: dict) -> Mapped:
    body = {"name": record["name"]}
    if record.get("description"):
        body["description"] = record["description"]
    return Mapped(body)


def custom_field(record: dict) -> Mapped:
    """The create body of a field (target.py picks the path by entity)."""
    add = _Collect("custom_field", str(record["id"]))
    ctype = record.get("type")
    fd_type = m.FIELD_TYPE_FROM_CANONICAL.get(ctype, "custom_text")
    if ctype in ("multiselect", "regexp"):
        detail = f"Freshdesk has no {ctype} field type; created as {fd_type}"
        if ctype == "regexp":
            pattern = (record.get("extra") or {}).get("regexp_for_validation")
            detail += " (no validation)" + (f"; the pattern {pattern!r} is kept in staging" if pattern else "")
        else:
            detail += " (one choice per record; further values are named in the ticket's origin line)"
        add("type", codes.FIELD_TYPE_CHANGED, detail)
    if record.get("required"):
        add("required", codes.VALUE_UNMAPPED, "created optional (a required field would refuse the migrated "
            "records that have no value); make it required in Freshdesk after the migration")
    relabelled = [(o.get("value"), o.get("label")) for o in options(record)
                  if o.get("label") not in (None, "") and str(o.get("label")) != str(o.get("value"))]
    if relabelled:
        add("options", codes.OPTION_VALUE_AS_LABEL, "Freshdesk choices are plain labels: the choices are the "
            "labels, values are written as their labels (" + ", ".join(
                f"{v!r} → {lab!r}" for v, lab in relabelled[:10]) + (", …" if len(relabelled) > 10 else "") + ")")
    title = record.get("title") or str(record["key"])
    body: dict = {"label": title, "type": fd_type, "label_for_customers": title}
    if record.get("entity") == "ticket":
        body.update(customers_can_edit=False, displayed_to_customers=False)
    if fd_type == "custom_dropdown":
        # Freshdesk choices are what agents see: the labels (values where labels repeat).
        values = choice_labels(record) or [str(o.get("value") if o.get("value") is not None else o.get("label"))
                                           for o in options(record)]
        body["choices"] = [{"value": v, "position": i + 1} for i, v in enumerate(values)]
    return Mapped(body, add.items)


def mapped(kind: str, record: dict, ctx, account: Account, file_name=None) -> Mapped:
    """The one entry point per kind (what `degradations()` and the writes call)."""
    if kind == "ticket":
        return ticket(record, ctx, account)
    if kind == "comment":
        return comment(record, ctx)
    if kind == "attachment":
        return attachment(record, ctx, file_name)
    if kind == "satisfaction_rating":
        return satisfaction_rating(record)
    if kind == "contact":
        return contact(record, ctx)
    if kind == "agent":
        return agent(record, ctx, account)
    if kind == "organization":
        return organization(record, ctx)
    if kind == "group":
        return group(record)
    if kind == "custom_field":
        return custom_field(record)
    return Mapped(None)


# ------------------------------------------------------------------------------- files

def _size(att: dict, path) -> int:
    try:
        return Path(path).stat().st_size
    except (OSError, TypeError):
        return int(att.get("size") or 0)


def attachment_plan(comment_rec: dict, ctx, file_name=None):
    """(files to send [(name, path, content_type, att)], skipped [(att, path, code, detail)])
    for one comment: the ticket's files in comment order, until 20 MB are used."""
    send, skipped = [], []
    if not comment_rec.get("attachment_ids") or not hasattr(ctx, "attachments"):
        return send, skipped
    used = 0
    name_of = file_name or (lambda att: att.get("file_name"))
    for c in ctx.comments(comment_rec["ticket_id"]):
        mine = c.get("id") == comment_rec.get("id")
        for att, path in (ctx.attachments(c) if c.get("attachment_ids") else []):
            size = _size(att, path)
            if size == 0:
                if mine:
                    skipped.append((att, path, codes.ATTACHMENT_EMPTY, "Freshdesk rejects empty files"))
                continue
            if used + size > MAX_TICKET_ATTACHMENTS:
                if mine:
                    skipped.append((att, path, codes.ATTACHMENT_TOO_LARGE,
                                    f"{size} bytes do not fit in the 20 MB Freshdesk allows per ticket "
                                    f"({used} used); the file stays in staging"))
                continue
            used += size
            if mine:
                send.append((name_of(att), path, att.get("content_type") or "application/octet-stream", att))
                if att.get("inline"):
                    skipped.append((att, path, codes.INLINE_IMAGE_DETACHED,
                                    "attached as a regular file (Freshdesk's API uploads no inline "
                                    "images); the comment's image of it is embedded (see the comment)"))
    return send, skipped


def embed_inline(comment_rec: dict, ctx) -> tuple[str, int, list[tuple[str, str]]]:
    """(the comment's HTML with every image of one of its staged files as a data: URI, how many
    were embedded, [(attachment id, why not)] for images of its files left as they were).
    Freshdesk documents no upload of inline images for tickets and notes, and the source's URL
    breaks when the old account closes. Only those src values change."""
    text = comment_rec.get("body_html") or ""
    pairs = list(ctx.attachments(comment_rec)) if comment_rec.get("attachment_ids") else []
    own = {str(a.get("id")) for a, _ in pairs}
    if comment_rec.get("ticket_id") and hasattr(ctx, "comments"):
        for c in ctx.comments(comment_rec["ticket_id"]):     # quoted replies show earlier comments' images
            if c.get("id") == comment_rec.get("id"):
                break
            pairs += list(ctx.attachments(c)) if c.get("attachment_ids") else []
    shown = [(a, p) for a, p in pairs if inline_images.referenced(text, a)]
    urls: dict[str, str] = {}
    kept: list[tuple[str, str]] = []
    budget = MAX_EMBEDDED_TOTAL
    for att, path in shown:
        size = _size(att, path)
        if str(att.get("id")) not in own and not (path and Path(path).is_file() and 0 < size <= MAX_EMBEDDED_IMAGE):
            continue          # another comment's file: its own comment records what became of it
        why = _not_embedded(path, size, budget)
        if why:
            kept.append((str(att["id"]), why))
        elif str(att["id"]) not in urls:
            budget -= size
            urls[str(att["id"])] = inline_images.data_uri(att.get("content_type"), Path(path).read_bytes())
    new, changed = inline_images.point_at(text, urls, [a for a, _ in shown])
    return new or "", len(changed), kept


def _not_embedded(path, size: int, budget: int) -> str | None:
    if path is None or not Path(path).is_file():
        return "its bytes are not in staging"
    if not size:
        return "the file is empty"
    if size > MAX_EMBEDDED_IMAGE:
        return f"{size} bytes are too many to embed (> {MAX_EMBEDDED_IMAGE}); the file is attached"
    if size > budget:
        return (f"the body already embeds {MAX_EMBEDDED_TOTAL - budget} bytes of images (at most "
                f"{MAX_EMBEDDED_TOTAL}); the file is attached")
    return None
