"""Canonical records -> Zendesk request bodies, each with its degradations (pure: no client, no writes).

One function per kind returns `Mapped(body, degradations)` (hdmigrate.adapter.Mapped);
`ZendeskTarget.degradations()` (what the dry run records) and the writes call the same function
(`mapped` dispatches per kind), so they cannot disagree. What needs the account (target ids,
field ids, upload tokens and the URLs of uploaded files) arrives as plain values; `ctx` is read
only for the staged records (`comments`, `attachments`, `record`) and the people written so far.

Every body a created record gets carries its stamp (`hdmigrate.stamps.external`:
`hdm:<kind>:<source id>`) in external_id, which `ZendeskTarget.find_existing` looks up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hdmigrate import degradations as codes
from hdmigrate import inline_images
from hdmigrate.adapter import Mapped
from hdmigrate.degradations import Degradation
from hdmigrate.stamps import external as stamp

from .values import FIELD_TYPES_OUT, MAX_UPLOAD, PRIORITIES, STATUS_OUT, TYPES, ZD_STATUSES, field_key


class _Collect:
    def __init__(self, kind: str, rid: str):
        self.kind, self.rid, self.items = kind, str(rid), []

    def __call__(self, fld: str, code: str, detail: str = "") -> None:
        self.items.append(Degradation(self.kind, self.rid, fld, code, detail))


def _int(value: str | None) -> Any:
    """A target id as Zendesk takes it (a dry run's placeholder ids stay as they are)."""
    return int(value) if value is not None and str(value).isdigit() else value


def _tags(tags: list[str] | None, tag_migrated: str | None) -> list[str]:
    out = [t.replace(" ", "_") for t in (tags or []) if t]
    if tag_migrated and tag_migrated not in out:
        out.append(tag_migrated)
    return out


def _map_keys(values: dict | None, keys: dict | None) -> dict:
    if not values:
        return {}
    if not keys:
        return dict(values)
    return {keys[k]: v for k, v in values.items() if k in keys and keys[k]}


def uploadable(attachment: dict, size: int | None = None) -> bool:
    """Zendesk takes files of 1 byte up to MAX_UPLOAD."""
    size = attachment.get("size") if size is None else size
    return 0 < (size or 0) <= MAX_UPLOAD


# ------------------------------------------------------------------------------- tickets

@dataclass(frozen=True)
class TicketRefs:
    """The target ids a ticket body names (None: not known, e.g. a dry run or a missing record)."""

    requester: str | None = None
    assignee: str | None = None
    group: str | None = None
    organization: str | None = None
    ccs: tuple[str, ...] = ()
    field_ids: dict[str, int] = field(default_factory=dict)   # canonical field key -> ticket field id


def _choice(add, record: dict, name: str, value_map: dict, allowed, written=None):
    """The Zendesk value of a status/priority/type, or None with a degradation when it has none."""
    value = record.get(name)
    if value is None:
        return None
    written = value_map.get(value) or written or value
    if written not in allowed:
        add(name, codes.VALUE_UNMAPPED, f"{value!r} -> {written!r} is not a Zendesk {name}")
        return None
    return written


def ticket(record: dict, mapping: dict | None, refs: TicketRefs = TicketRefs(), comments: list[dict] = (),
           tag_migrated: str | None = None) -> Mapped:
    """A TicketImportInput for /imports/tickets(/create_many). `comments` are already Zendesk
    comment bodies (see `comment`); a value Zendesk has no place for is left out and said."""
    mapping = mapping or {}
    add = _Collect("ticket", record["id"])
    status_map = {**(mapping.get("status") or {})}
    status_map.setdefault("on_hold", "hold")
    status = _choice(add, record, "status", status_map, ZD_STATUSES, STATUS_OUT.get(record.get("status")))
    tags = list(record.get("tags") or [])
    if record.get("channel") not in (None, "api"):
        tags.append(f"channel_{record['channel']}")
        add("channel", codes.CHANNEL_NOT_PRESERVED, f"imported tickets and comments get via 'api' in Zendesk; "
            f"source channel {record['channel']!r} kept in the tag 'channel_{record['channel']}'")
    body: dict[str, Any] = {
        "external_id": stamp("ticket", record["id"]),
        "subject": record.get("subject") or "(no subject)",
        "status": status or "open",
        "tags": _tags(tags, tag_migrated),
        "comments": list(comments),
    }
    for key, value in (("requester_id", refs.requester), ("assignee_id", refs.assignee),
                       ("group_id", refs.group), ("organization_id", refs.organization)):
        if value:
            body[key] = _int(value)
    for name, allowed in (("priority", PRIORITIES), ("type", TYPES)):
        written = _choice(add, record, name, mapping.get(name) or {}, allowed)
        if written:
            body[name] = written
    if refs.ccs:
        body["collaborator_ids"] = [_int(c) for c in refs.ccs]
    for key in ("created_at", "updated_at", "solved_at"):
        if record.get(key):
            body[key] = record[key]
    if record.get("due_at"):
        if body.get("type") == "task":
            body["due_at"] = record["due_at"]
        else:
            add("due_at", codes.VALUE_UNMAPPED, "Zendesk holds a due date on tasks only")
    values = record.get("custom_fields") or {}
    if values and refs.field_ids:
        body["custom_fields"] = [{"id": refs.field_ids[k], "value": v} for k, v in values.items()
                                 if k in refs.field_ids]
    return Mapped(body, add.items)


def description(record: dict, requester: str | None) -> dict:
    """Zendesk needs a description: a ticket without comments gets its subject as a private note."""
    return {"author_id": _int(requester), "public": False, "value": record.get("subject") or "(no content)",
            **({"created_at": record["created_at"]} if record.get("created_at") else {})}


# ------------------------------------------------------------------------------- comments, files

def comment_body(record: dict, author: str | None, uploads: list[str]) -> dict:
    body: dict[str, Any] = {"author_id": _int(author), "public": record.get("public") is True}
    if record.get("body_html"):
        body["html_body"] = record["body_html"]
    else:
        body["value"] = record.get("body_text") or ""
    if record.get("created_at"):
        body["created_at"] = record["created_at"]
    if uploads:
        body["uploads"] = uploads
    return body


def _earlier_files(record: dict, ctx) -> list[dict]:
    """The files of the ticket's comments before this one (a reply may quote their images)."""
    out: list[dict] = []
    if not inline_images.image_refs(record.get("body_html")) or not hasattr(ctx, "comments"):
        return out
    for earlier in ctx.comments(record.get("ticket_id")):
        if earlier.get("id") == record.get("id"):
            return out
        out += [a for a, _ in ctx.attachments(earlier)]
    return out


def inline_plan(record: dict, files: list[dict], earlier: list[dict], uploaded) -> list[Degradation]:
    """What becomes of the comment's inline images, given the ids of the files uploaded (or to
    be uploaded): its own files it shows, and earlier comments' files it quotes, point at their
    Zendesk copies; an inline file it does not show becomes a plain attachment."""
    html = record.get("body_html")
    shown = [a for a in files if inline_images.referenced(html, a)]
    quoted = [a for a in earlier if str(a.get("id")) in uploaded and inline_images.referenced(html, a)]
    out: list[Degradation] = []
    for a in files:
        if a.get("inline") and a not in shown:
            out.append(Degradation("attachment", str(a["id"]), "inline", codes.INLINE_IMAGE_DETACHED,
                                   "uploaded as a file of the comment; the comment's HTML shows no image of it"))
    for a in shown:
        if str(a["id"]) in uploaded:
            out.append(Degradation("attachment", str(a["id"]), "inline", codes.INLINE_IMAGE_REHOSTED,
                                   "uploaded to Zendesk; the comment's image points at this copy"))
        else:
            out.append(Degradation("comment", str(record["id"]), "body_html.img_src", codes.INLINE_IMAGE_DETACHED,
                                   f"the image of attachment {a['id']} keeps its source URL: the file is not "
                                   "uploaded (see the attachment's own record)"))
    pointed = [a for a in shown + quoted if str(a["id"]) in uploaded]
    if pointed:
        out.append(Degradation("comment", str(record["id"]), "body_html.img_src", codes.INLINE_IMAGE_REHOSTED,
                               f"{len(pointed)} image(s) point at their copies uploaded to Zendesk; the rest "
                               "of the HTML is unchanged"))
    return out


def comment(record: dict, ctx, *, author: str | None, requester: str | None, uploads: list[str] = (),
            uploaded: dict[str, str] | None = None, files: list[dict] | None = None,
            earlier: list[dict] | None = None) -> Mapped:
    """A comment of a ticket import. `author`: its author's target id (None: written as the
    requester's). `uploaded`: attachment id -> URL of its Zendesk copy (the write's actual
    uploads; None: the files that will be uploaded, for the dry run) — inline images are pointed
    there. The degradations include its files' inline ones (kind "attachment")."""
    add = _Collect("comment", record["id"])
    if record.get("channel") not in (None, "api"):
        add("channel", codes.CHANNEL_NOT_PRESERVED,
            f"imported comments get via 'api'; source channel {record['channel']!r}")
    if author is None:
        add("author_id", codes.AUTHOR_NOT_PRESERVED,
            f"author {record.get('author_id')} has no target id; written as the requester")
    files = [a for a, _ in ctx.attachments(record)] if files is None else files
    earlier = _earlier_files(record, ctx) if earlier is None else earlier
    planned = uploaded if uploaded is not None else {str(a["id"]): None for a in files + earlier if uploadable(a)}
    items = inline_plan(record, files, earlier, planned)
    html = record.get("body_html")
    if uploaded:
        html = inline_images.point_at(html, uploaded, [a for a in files + earlier
                                                       if inline_images.referenced(html, a)])[0]
    body = comment_body({**record, "body_html": html}, author or requester, list(uploads))
    return Mapped(body, add.items + items)   # with what becomes of its files' images


def attachment(record: dict, ctx) -> Mapped:
    """Files travel with their comment's ticket: what becomes of this one (its size, its image)."""
    add = _Collect("attachment", record["id"])
    owner = ctx.record("comment", record["comment_id"]) if record.get("comment_id") else None
    if owner is not None:
        files = [a for a, _ in ctx.attachments(owner)] if hasattr(ctx, "attachments") else [record]
        if not any(str(a.get("id")) == str(record["id"]) for a in files):
            files = files + [record]
        planned = {str(a["id"]): None for a in files if uploadable(a)}
        add.items += [d for d in inline_plan(owner, files, [], planned)
                      if d.kind == "attachment" and d.id == str(record["id"])]
    add.items += size_degradations(record)
    return Mapped(None, add.items)


def size_degradations(record: dict, size: int | None = None) -> list[Degradation]:
    size = record.get("size") if size is None else size
    if size == 0:
        return [Degradation("attachment", str(record["id"]), "size", codes.ATTACHMENT_EMPTY,
                            "Zendesk refuses empty uploads; the file is left out")]
    if (size or 0) > MAX_UPLOAD:
        return [Degradation("attachment", str(record["id"]), "size", codes.ATTACHMENT_TOO_LARGE,
                            f"{size} bytes > {MAX_UPLOAD}; the file is left out")]
    return []


# ------------------------------------------------------------------------------- people, organizations

def user_body(kind: str, record: dict, organization_id: str | None = None,
              tag_migrated: str | None = None, field_keys: dict | None = None) -> dict:
    body: dict[str, Any] = {"name": record["name"], "external_id": stamp(kind, record["id"]),
                            "verified": True}
    if record.get("email"):
        body["email"] = record["email"]
    if kind == "agent":
        body["role"] = "admin" if record.get("role") == "admin" else "agent"
    else:
        body["role"] = "end-user"
        if record.get("phones"):
            body["phone"] = record["phones"][0]
        if organization_id:
            body["organization_id"] = _int(organization_id)
        for key, out in (("notes", "notes"), ("language", "locale"), ("time_zone", "time_zone")):
            if record.get(key):
                body[out] = record[key]
        identities = [{"type": "email", "value": e} for e in record.get("emails") or []]
        identities += [{"type": "phone_number", "value": p} for p in (record.get("phones") or [])[1:]]
        if identities:
            body["identities"] = identities
        fields = _map_keys(record.get("custom_fields"), field_keys)
        if fields:
            body["user_fields"] = fields
    body["tags"] = _tags(record.get("tags"), tag_migrated)
    if record.get("active") is False:
        body["suspended"] = True
    return body


def user(kind: str, record: dict, organization_id: str | None = None, tag_migrated: str | None = None,
         field_keys: dict | None = None) -> Mapped:
    """An agent or contact as a Zendesk user (created only where no user has the e-mail)."""
    add = _Collect(kind, record["id"])
    if kind == "contact":
        for name, what in (("time_zone", "time zone"), ("language", "locale")):
            if not record.get(name):
                add(name, codes.ACCOUNT_DEFAULT_APPLIED, f"no {what} in the source: Zendesk gives the user the account's")
    if kind == "agent":
        if record.get("group_ids"):
            add("group_ids", codes.VALUE_UNMAPPED, f"group memberships {record['group_ids']} are not written (this "
                "target creates no group_memberships); kept in staging and the side archive")
        if record.get("role") not in (None, "admin", "agent"):
            add("role", codes.VALUE_UNMAPPED, f"role {record['role']!r} written as 'agent' (Zendesk light agents "
                "are a custom role this target does not assign)")
    return Mapped(user_body(kind, record, organization_id, tag_migrated, field_keys), add.items)


def organization_body(record: dict, tag_migrated: str | None = None,
                      field_keys: dict | None = None) -> dict:
    body = {"name": record["name"], "external_id": stamp("organization", record["id"]),
            "domain_names": record.get("domains") or [], "notes": record.get("notes") or "",
            "tags": _tags(record.get("tags"), tag_migrated)}
    fields = _map_keys(record.get("custom_fields"), field_keys)
    if fields:
        body["organization_fields"] = fields
    return body


def organization(record: dict, tag_migrated: str | None = None, field_keys: dict | None = None) -> Mapped:
    return Mapped(organization_body(record, tag_migrated, field_keys))


def group(record: dict) -> Mapped:
    body = {"name": record["name"]}
    if record.get("description"):
        body["description"] = record["description"]
    return Mapped(body)


def custom_field_body(record: dict, mapping_key: str | None = None) -> dict:
    """A canonical custom_field as a Zendesk *_fields create body."""
    entity = record["entity"]
    body: dict[str, Any] = {"type": FIELD_TYPES_OUT.get(record["type"], "text"),
                            "title": record.get("title") or record["key"],
                            "active": record.get("active", True)}
    if entity != "ticket":
        body["key"] = field_key(mapping_key or record["key"])
    if record.get("options"):
        body["custom_field_options"] = [
            {"name": o.get("label") or str(o["value"]), "value": str(o["value"])}
            for o in record["options"]]
    if record.get("required"):
        body["required"] = True
    return body


def custom_field(record: dict) -> Mapped:
    return Mapped(custom_field_body(record))


def satisfaction_rating(record: dict) -> Mapped:
    add = _Collect("satisfaction_rating", record["id"])
    add("score", codes.CSAT_NOT_WRITABLE, "not written: Zendesk lets only the requester rate a ticket")
    return Mapped(None, add.items)


# ------------------------------------------------------------------------------- one entry point

def _person(ctx, source_id: str | None) -> str | None:
    found = ctx.person(source_id) if source_id else None
    return found[1] if found else None


def mapped(kind: str, record: dict, ctx, mapping: dict | None = None, tag_migrated: str | None = None) -> Mapped:
    """The one entry point per kind (what `degradations()` calls; the writes call the same
    functions with the account's ids)."""
    if kind == "ticket":
        return ticket(record, mapping, TicketRefs(requester=_person(ctx, record.get("requester_id"))),
                      tag_migrated=tag_migrated)
    if kind == "comment":
        return comment(record, ctx, author=_person(ctx, record.get("author_id")), requester=None)
    if kind == "attachment":
        return attachment(record, ctx)
    if kind in ("agent", "contact"):
        return user(kind, record, tag_migrated=tag_migrated)
    if kind == "organization":
        return organization(record, tag_migrated)
    if kind == "group":
        return group(record)
    if kind == "custom_field":
        return custom_field(record)
    if kind == "satisfaction_rating":
        return satisfaction_rating(record)
    return Mapped(None)
