"""Freshdesk as a target.

What Freshdesk v2 cannot do, and what this target does instead (api-facts.md section 2):
- No backdating (create-ticket and notes take no `created_at`): every description and note starts
  with a visible origin line (original time, author, channel, public/private, and the stamp
  `hdm-<source id>`), and `timestamp_not_preserved` is reported per ticket and comment.
- Replies (`/reply`) e-mail the requester, so every later comment is written as a note:
  public comments as public notes (`private: false`), private ones as private notes, with
  `user_id` = the author and `incoming` = the author is a contact; no `notify_emails` is sent.
  Ticket creation itself runs the account's automations and new-ticket e-mails; no API switch
  exists, so `check()`/`discover()` list the rules the user must switch off first.
- The opening message is always the public description; a private first comment becomes a
  public placeholder description plus the private note (`private_first_message`).
- Attachments go multipart with the comment that owns them; all files of one ticket must stay
  under 20 MB together: the ones that do not fit (in comment order) are left out, reported as
  `attachment_too_large`, and their bytes stay in staging.
- Re-runs never duplicate: tickets carry the tag `hdm-<source id>` (found again through
  `GET /tickets?requester_id=`, which has no search-index lag), notes carry the stamp in their
  origin line (found in `/tickets/{id}/conversations`), contacts are matched by e-mail, then
  `unique_external_id` `hdm-<source id>`, companies and groups by name, agents by e-mail.
- Live records are never overwritten nor deleted: a contact, company, group or agent the account
  already has (409 on create, or found by e-mail/name without our `unique_external_id`) is
  returned `matched`, so delta runs leave it as it is and rollback keeps it. Rollback deletes the
  contacts this tool created for good (`hard_delete?force=true`): a soft-deleted contact keeps
  its e-mail, and the next run could not create it again (409, and no listing shows it).
- Custom fields cannot be deleted through this target: rollback reports them as left.
"""

from __future__ import annotations

import html
import json
import os
import threading
from pathlib import Path

from hdmigrate import inline_images
from hdmigrate.adapter import Capability, Degradation, Target, WriteResult
from hdmigrate.canonical import CHANNELS, PERSON_KINDS
from hdmigrate.errors import Cause, FatalApiError, RecordError, RecordRejected, TransientApiError

from . import mapping as m
from .client import DEFAULT_RATE_LIMIT, FreshdeskClient

MAX_TICKET_ATTACHMENTS = 20 * 1024 * 1024
# Inline images up to this size are embedded in the body as data: URIs (no inline upload in FD-DOC),
# up to MAX_EMBEDDED_TOTAL bytes of images per body.
MAX_EMBEDDED_IMAGE = 1024 * 1024
MAX_EMBEDDED_TOTAL = 4 * 1024 * 1024
PRIVATE_OPENING = "<p>The opening message of this ticket was private; it follows as a private note.</p>"
EPOCH = "1970-01-01T00:00:00Z"
AUTOMATION_TYPES = {1: "ticket creation", 3: "time triggers", 4: "ticket updates"}
INACTIVE_DETAIL = ("Freshdesk cannot keep an inactive person: deleting a contact also deletes its tickets, so "
                   "it is written active; the original state stays in staging and the side archive")
AGENT_AS_CONTACT = ("no Freshdesk agent with e-mail {email!r}: created as a contact; map it in [mapping.users] "
                    "to an existing agent to keep assignments")
SUPPORTED_LANGUAGES = {"ar", "ca", "cs", "da", "de", "en", "es", "et", "fi", "fr", "he", "hu", "id", "it",
                       "ja", "ko", "lv", "nb", "nl", "pl", "pt", "ro", "ru", "sk", "sl", "sv", "th", "tr",
                       "uk", "vi", "zh"}


def freshdesk_language(language: str | None) -> str | None:
    """The Freshdesk language code written for a BCP 47 tag (None: not a Freshdesk language)."""
    if not language:
        return None
    lang = language.split("-")[0].lower()
    return lang if lang in SUPPORTED_LANGUAGES else None


def _options(field: dict) -> list[dict]:
    return [o for o in field.get("options") or [] if isinstance(o, dict)]


def _label(field: dict, value):
    """A choice value's label (Freshdesk choices are labels); the value itself when it has none."""
    for o in _options(field):
        if str(o.get("value")) == str(value) and o.get("label") not in (None, ""):
            return str(o["label"])
    return value


def _choice_labels(field: dict) -> list[str] | None:
    """The Freshdesk choices of a canonical dropdown: its labels, or its values where labels repeat."""
    opts = _options(field)
    labels = [str(o.get("label") if o.get("label") not in (None, "") else o.get("value")) for o in opts]
    if len(set(labels)) != len(labels):
        return None
    return labels


def stamp(source_id: str) -> str:
    return f"hdm-{source_id}"


class FreshdeskTarget(Target):
    name = "freshdesk"
    stamp_places = frozenset({"external", "tags", "body"})   # where verify reads this target's stamp
    capabilities = frozenset({Capability.PRIVATE_NOTES, Capability.ATTACHMENTS, Capability.CUSTOM_FIELDS,
                              Capability.CREATE_CUSTOM_FIELDS, Capability.SATISFACTION_RATINGS,
                              Capability.EXTERNAL_ID_LOOKUP, Capability.DELETE, Capability.UPDATE})
    updatable_kinds = frozenset({"ticket", "contact", "organization", "comment"})
    default_rate_limit = DEFAULT_RATE_LIMIT

    def __init__(self, ctx, transport=None, **http_options):
        super().__init__(ctx)
        self.client = FreshdeskClient(ctx.config.get("url", ""), ctx.secrets.get("api_key", ""),
                                      rate_limit=ctx.rate_limit, transport=transport, **http_options)
        self._agents: dict[str, int] | None = None      # email -> agent id
        self._agent_ids: set[int] = set()
        self._fields: dict[str, dict] = {}               # entity -> {name: field}
        self._field_map_file = Path(ctx.workdir) / "freshdesk-field-map.json" if ctx.workdir else None
        self._field_map: dict[str, str] = self._load_field_map()   # "entity:key" -> freshdesk name
        self._companies: dict[str, int] | None = None
        self._groups: dict[str, int] | None = None
        self._ratings: dict[str, int] | None = None

    # --- account state (read-only lookups, cached) ------------------------------------------
    def agents(self) -> dict[str, int]:
        if self._agents is None:
            self._agents = {}
            for a in self.client.all("agents"):
                email = ((a.get("contact") or {}).get("email") or "").lower()
                self._agent_ids.add(int(a["id"]))
                if email:
                    self._agents[email] = int(a["id"])
        return self._agents

    def fields(self, entity: str) -> dict[str, dict]:
        if entity not in self._fields:
            self._fields[entity] = {f["name"]: f for f in self.client.all(m.FIELDS_PATH[entity])}
        return self._fields[entity]

    def _load_field_map(self) -> dict[str, str]:
        if self._field_map_file and self._field_map_file.exists():
            try:
                return json.loads(self._field_map_file.read_text())
            except (ValueError, OSError):
                pass
        return {}

    def _save_field_map(self) -> None:
        if self._field_map_file:
            # A name of its own per writer: parallel workers must not rename each other's file.
            tmp = self._field_map_file.with_name(
                f"{self._field_map_file.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(self._field_map, sort_keys=True))
            tmp.replace(self._field_map_file)

    def automation_warnings(self) -> list[str]:
        out = []
        for type_id, label in AUTOMATION_TYPES.items():
            try:
                rules = self.client.get_json(f"automations/{type_id}/rules", allow=(403, 404)) or []
            except FatalApiError:
                rules = []
            active = [r.get("name", "?") for r in rules if isinstance(r, dict) and r.get("active", True)]
            if active:
                out.append(f"Freshdesk automations on {label} are active and will run on migrated tickets: "
                           + ", ".join(active) + " (switch them off for the migration)")
        out.append("Freshdesk sends its new-ticket e-mail notifications on every API-created ticket; switch "
                   "off Admin > Email Notifications (requester: 'New ticket created', agents: 'New ticket "
                   "created', 'Ticket assigned') before the migration. Comments are written as notes "
                   "without notify_emails, so they notify nobody.")
        return out

    def check(self) -> None:
        me = self.client.get_json("agents/me")
        if not isinstance(me, dict) or "id" not in me:
            raise FatalApiError("freshdesk: /agents/me did not return an agent; check url and API key",
                                cause=Cause.AUTH)
        for line in self.automation_warnings():
            self.ctx.log(line)

    def discover(self) -> dict:
        tf = self.fields("ticket")
        status = (tf.get("status") or {}).get("choices") or {}
        types = list((tf.get("ticket_type") or {}).get("choices") or [])
        return {
            "statuses": {k: v[0] if isinstance(v, list) else v for k, v in status.items()},
            "priorities": {"1": "Low", "2": "Medium", "3": "High", "4": "Urgent"},
            "types": types,
            "channels": {"1": "Email", "2": "Portal", "3": "Phone", "7": "Chat"},  # what create accepts
            # what is written for a canonical value the plan does not map (the wizard shows it)
            "defaults": {
                "status": {s: str(m.status_from_canonical(s)) for s in m.STATUS_FROM_CANONICAL},
                "priority": {p: str(c) for p, c in m.PRIORITY_FROM_CANONICAL.items()},
                "type": {t: m.type_from_canonical(t, types) for t in m.CANONICAL_TYPES},
                "channel": {c: str(m.channel_from_canonical(c)[0]) for c in CHANNELS},
            },
            "groups": sorted(self._group_map()),
            "agents": sorted(self.agents()),
            "fields": {e: [n for n, f in self.fields(e).items() if not f.get("default")]
                       for e in ("ticket", "contact", "organization")},
            "warnings": self.automation_warnings(),
            "counts": {},
        }

    @classmethod
    def person_effect(cls, kind: str, record: dict) -> str | None:
        # agents are paid seats: one the account lacks is created as a contact (_write_agent)
        return "contact" if kind in PERSON_KINDS else None

    def _group_map(self) -> dict[str, int]:
        if self._groups is None:
            self._groups = {g["name"].lower(): int(g["id"]) for g in self.client.all("groups")}
        return self._groups

    def _company_map(self) -> dict[str, int]:
        if self._companies is None:
            self._companies = {c["name"].lower(): int(c["id"]) for c in self.client.all("companies")}
        return self._companies

    def _type_choices(self) -> list[str] | None:
        try:
            return list((self.fields("ticket").get("ticket_type") or {}).get("choices") or [])
        except Exception:  # noqa: BLE001 - dry run without a reachable target: assume defaults
            return None

    # --- degradations (no writes) -------------------------------------------------------------
    def degradations(self, kind: str, record: dict, ctx) -> list[Degradation]:
        rid = str(record.get("id"))
        out: list[Degradation] = []

        def add(field, code, detail=""):
            out.append(Degradation(kind, rid, field, code, detail))

        if kind == "ticket":
            if record.get("created_at"):
                add("created_at", "timestamp_not_preserved",
                    f"Freshdesk cannot backdate; original {record['created_at']} is in the description's origin line")
            channel = record.get("channel")
            _, exact = m.channel_from_canonical(channel, (ctx.mapping or {}).get("channel"))
            if not exact:
                add("channel", "channel_not_preserved", f"no Freshdesk source for {channel!r}; written as Portal, "
                    "original named in the origin line")
            status = record.get("status")
            if status in m.STATUS_NEAREST_ONLY and status not in ((ctx.mapping or {}).get("status") or {}):
                add("status", "value_unmapped", f"{status!r} has no Freshdesk status; written as "
                    f"{m.status_from_canonical(status)}")
            if record.get("type") and m.type_from_canonical(record["type"], self._type_choices(),
                                                            (ctx.mapping or {}).get("type")) is None:
                add("type", "value_unmapped", f"ticket type {record['type']!r} is not a Freshdesk type here")
            comments = ctx.comments(rid) if hasattr(ctx, "comments") else []
            first = comments[0] if comments else None
            if first is not None and not first.get("public", True):
                add("public", "private_first_message", "the opening message is private: the ticket gets a public "
                    "placeholder description and the message follows as a private note")
            if first is not None and first.get("public", True) and first.get("author_id") != record.get("requester_id"):
                add("author_id", "author_not_preserved", "the description is always the requester's; its "
                    "original author is named in the origin line")
            due = m.parse_time(record.get("due_at"))
            if record.get("due_at"):
                add("due_at", "timestamp_not_preserved", "Freshdesk sets due dates from its SLA policies; the "
                    "original due date is kept in the origin line")
            del due
        elif kind == "comment":
            if record.get("created_at"):
                add("created_at", "timestamp_not_preserved",
                    f"Freshdesk cannot backdate; original {record['created_at']} is in the origin line")
            if record.get("channel"):
                add("channel", "channel_not_preserved", f"written as a note; channel {record['channel']!r} is "
                    "named in the origin line")
        if kind == "comment" and hasattr(ctx, "attachments"):
            _, embedded, kept = _embed_inline(record, ctx)
            if embedded:
                add("body_html.img_src", "inline_image_rehosted",
                    f"{embedded} inline image(s) embedded as data: URIs (Freshdesk's API uploads no inline "
                    "images; each file is also attached); the rest of the HTML is unchanged")
            for aid, why in kept:
                add("body_html.img_src", "inline_image_detached", f"the image of attachment {aid} keeps its "
                    f"source URL: {why}")
        elif kind == "attachment":
            comment = ctx.record("comment", record.get("comment_id")) if record.get("comment_id") else None
            if comment is not None:
                for att, path, code, detail in self._attachment_plan(comment, ctx)[1]:
                    if str(att.get("id")) == rid:
                        add("size" if code != "inline_image_detached" else "inline", code, detail)
        elif kind == "satisfaction_rating":
            if record.get("created_at"):
                add("created_at", "timestamp_not_preserved", "Freshdesk stores the rating with the time of the migration")
            scale = record.get("scale") or "1-5"
            if scale != "1-5":
                answer = m.csat_from_canonical(record.get("score"), record.get("scale"))
                add("score", "csat_scale_changed",
                    f"Freshdesk surveys answer on its own scale: {record.get('score')!r} on {scale} written as "
                    f"{answer} ({m.CSAT_ANSWER_NAMES.get(answer, answer)}), read back as "
                    f"{m.csat_to_canonical(answer)[0]} on 1-5; the original stays in staging and the side archive")
        elif kind == "contact":
            if record.get("time_zone"):
                add("time_zone", "value_unmapped", f"Freshdesk takes its own time zone names; "
                    f"{record['time_zone']!r} left unset (kept in staging and the side archive)")
            language = record.get("language")
            written = freshdesk_language(language)
            if language and written is None:
                add("language", "value_unmapped", f"language {language!r} is not a Freshdesk language; left unset")
            elif language and written != language:
                add("language", "value_unmapped", f"Freshdesk keeps only its own language codes: {language!r} "
                    f"written as {written!r}")
            if record.get("active") is False:
                add("active", "value_unmapped", INACTIVE_DETAIL)
        elif kind == "agent":
            if record.get("active") is False:
                add("active", "value_unmapped", INACTIVE_DETAIL)
            email = self._agent_email(record, ctx)
            try:
                is_agent = email in self.agents()
            except Exception:  # noqa: BLE001 - dry run without a reachable target: cannot tell
                is_agent = True
            if not is_agent:
                add("role", "value_unmapped", AGENT_AS_CONTACT.format(email=record.get("email")))
                if record.get("group_ids"):
                    add("group_ids", "value_unmapped", "written as a contact, which has no groups; "
                        f"groups {record['group_ids']} kept in staging and the side archive")
        elif kind == "organization":
            if record.get("tags"):
                add("tags", "value_unmapped", f"Freshdesk companies have no tags; {record['tags']} kept in "
                    "staging and the side archive")
        elif kind == "custom_field":
            ctype = record.get("type")
            if ctype in ("multiselect", "regexp"):
                fd_type = m.FIELD_TYPE_FROM_CANONICAL[ctype]
                detail = f"Freshdesk has no {ctype} field type; created as {fd_type}"
                if ctype == "regexp":
                    pattern = (record.get("extra") or {}).get("regexp_for_validation")
                    detail += " (no validation)" + (f"; the pattern {pattern!r} is kept in staging" if pattern else "")
                else:
                    detail += " (one choice per record; further values are named in the ticket's origin line)"
                add("type", "field_type_changed", detail)
            if record.get("required"):
                add("required", "value_unmapped", "created optional (a required field would refuse the migrated "
                    "records that have no value); make it required in Freshdesk after the migration")
            relabelled = [(o.get("value"), o.get("label")) for o in _options(record)
                          if o.get("label") not in (None, "") and str(o.get("label")) != str(o.get("value"))]
            if relabelled:
                add("options", "option_value_as_label", "Freshdesk choices are plain labels: the choices are the "
                    "labels, values are written as their labels (" + ", ".join(
                        f"{v!r} → {lab!r}" for v, lab in relabelled[:10]) + (", …" if len(relabelled) > 10 else "") + ")")
        if kind in ("ticket", "contact", "organization"):
            for key, value in (record.get("custom_fields") or {}).items():
                d = self._value_degradation(kind, key, value, ctx)
                if d:
                    add(f"custom_fields.{key}", *d)
        if kind == "ticket":
            assignee = ctx.record("agent", record["assignee_id"]) if record.get("assignee_id") else None
            if assignee is not None:
                try:
                    is_agent = self._agent_email(assignee, ctx) in self.agents()
                except Exception:  # noqa: BLE001 - dry run without a reachable target: cannot tell
                    is_agent = True
                if not is_agent:
                    add("assignee_id", "value_unmapped", f"the assignee {record['assignee_id']} is not a Freshdesk "
                        "agent (written as a contact); the ticket is left unassigned")
            for pid in record.get("cc_ids") or []:
                person = next((p for p in (ctx.record("contact", pid), ctx.record("agent", pid)) if p), None)
                if person is not None and not person.get("email"):
                    add("cc_ids", "value_unmapped", f"CC {pid} has no e-mail address; Freshdesk takes CCs "
                        "only as e-mail addresses")
        return out

    def _value_degradation(self, entity: str, key, value, ctx) -> tuple[str, str] | None:
        """(code, detail) when a choice value cannot be written as it is (pure: staged field only)."""
        found = ctx.custom_field(entity, key) if hasattr(ctx, "custom_field") else None
        if not found or value in (None, "", []):
            return None
        field = found[0]
        if field.get("type") == "multiselect":
            values = value if isinstance(value, list) else [value]
            labels = [_label(field, v) for v in values]
            where = " (all values are named in the origin line)" if entity == "ticket" and len(values) > 1 else ""
            return ("field_type_changed", f"multiselect written to a Freshdesk dropdown: {values!r} written as "
                    f"{labels[0]!r}{where}")
        if field.get("type") == "dropdown":
            label = _label(field, value)
            if str(label) != str(value):
                return ("option_value_as_label", f"{value!r} written as its label {label!r}")
        return None

    def _agent_email(self, record: dict, ctx) -> str:
        email = (record.get("email") or "").lower()
        override = ((ctx.mapping or {}).get("users") or {}).get(record.get("email"))
        return override.lower() if override else email

    # --- attachments ------------------------------------------------------------------------
    def _attachment_plan(self, comment: dict, ctx):
        """(files to send [(name, path, content_type, att)], skipped [(att, path, code, detail)])
        for one comment: the ticket's files in comment order, until 20 MB are used."""
        send, skipped = [], []
        if not comment.get("attachment_ids") or not hasattr(ctx, "attachments"):
            return send, skipped
        used = 0
        for c in ctx.comments(comment["ticket_id"]):
            pairs = ctx.attachments(c) if c.get("attachment_ids") else []
            for att, path in pairs:
                size = _size(att, path)
                mine = c.get("id") == comment.get("id")
                if size == 0:
                    if mine:
                        skipped.append((att, path, "attachment_empty", "Freshdesk rejects empty files"))
                    continue
                if used + size > MAX_TICKET_ATTACHMENTS:
                    if mine:
                        skipped.append((att, path, "attachment_too_large",
                                        f"{size} bytes do not fit in the 20 MB Freshdesk allows per ticket "
                                        f"({used} used); the file stays in staging"))
                    continue
                used += size
                if mine:
                    send.append((self.file_name(att), path, att.get("content_type")
                                 or "application/octet-stream", att))
                    if att.get("inline"):
                        skipped.append((att, path, "inline_image_detached",
                                        "attached as a regular file (Freshdesk's API uploads no inline "
                                        "images); the comment's image of it is embedded (see the comment)"))
        return send, skipped

    @staticmethod
    def _files(send) -> list[tuple[str, bytes, str]]:
        return [(name, Path(path).read_bytes(), ctype) for name, path, ctype, _ in send]

    # --- find_existing ------------------------------------------------------------------------
    def find_existing(self, kind: str, record: dict, ctx) -> str | None:
        rid = str(record.get("id"))
        if kind == "ticket":
            person = ctx.person(record.get("requester_id"))
            if not person:
                return None
            for _, items, _ in self.client.pages("tickets", {"requester_id": person[1], "updated_since": EPOCH}):
                for t in items:
                    if stamp(rid) in (t.get("tags") or []):
                        return str(t["id"])
            return None
        if kind == "comment":
            ticket = ctx.target_id("ticket", record.get("ticket_id"))
            if not ticket:
                return None
            if self._is_description(record, ctx):
                return f"{ticket}:description"
            marker = f"[{stamp(rid)}]"
            for c in self.client.all(f"tickets/{ticket}/conversations"):
                if marker in (c.get("body") or "") or marker in (c.get("body_text") or ""):
                    return str(c["id"])
            return None
        if kind == "contact":
            return self._find_contact(record)
        if kind == "agent":
            email = (record.get("email") or "").lower()
            override = ((ctx.mapping or {}).get("users") or {}).get(record.get("email"))
            if override:
                email = override.lower()
            if email in self.agents():
                return WriteResult(str(self.agents()[email]), matched=True)
            return self._find_contact({"id": rid, "email": record.get("email")})
        # Companies, groups and fields carry no stamp: found by name, they may be the account's
        # own, so they count as matched (kept by rollback, never updated).
        if kind == "organization":
            cid = self._company_map().get((record.get("name") or "").lower())
            return WriteResult(str(cid), matched=True) if cid else None
        if kind == "group":
            gid = self._group_map().get((record.get("name") or "").lower())
            return WriteResult(str(gid), matched=True) if gid else None
        if kind == "custom_field":
            self._fields.pop(record.get("entity"), None)   # a create whose answer was lost: look again
            name = self._existing_field(record)
            return WriteResult(name, matched=True) if name else None
        if kind == "satisfaction_rating":
            ticket = ctx.target_id("ticket", record.get("ticket_id"))
            if ticket and self._ratings is None:
                self._ratings = {str(r.get("ticket_id")): int(r["id"])
                                 for r in self.client.all("surveys/satisfaction_ratings", {"created_since": EPOCH})}
            rid_t = (self._ratings or {}).get(str(ticket))
            return str(rid_t) if rid_t else None
        return None

    def _find_contact(self, record: dict) -> WriteResult | None:
        """The contact of this e-mail or stamp: created by this tool when it carries our
        `unique_external_id`, else the account's own (matched)."""
        email = record.get("email")
        ours = stamp(record["id"])
        if email:
            found = self.client.get_json("contacts", {"email": email}) or []
            if found:
                return WriteResult(str(found[0]["id"]), matched=found[0].get("unique_external_id") != ours)
        found = self.client.get_json("contacts", {"unique_external_id": ours}) or []
        return WriteResult(str(found[0]["id"])) if found else None

    def _is_description(self, comment: dict, ctx) -> bool:
        comments = ctx.comments(comment["ticket_id"])
        return bool(comments) and comments[0].get("id") == comment.get("id") and comments[0].get("public", True)

    # --- custom fields ------------------------------------------------------------------------
    def _existing_field(self, record: dict) -> str | None:
        entity, key = record.get("entity"), str(record.get("key"))
        fields = self.fields(entity)
        override = ((self.ctx.mapping or {}).get("fields") or {}).get(entity, {}).get(key)
        title_slug = m.slug(record.get("title") or key)
        for name in (override, key, "cf_" + m.slug(key), "cf_" + title_slug, title_slug):
            if name and name in fields and not fields[name].get("default"):
                self._remember(entity, key, name)
                return name
        for name, f in fields.items():
            if not f.get("default") and (f.get("label") or "").lower() == (record.get("title") or "").lower():
                self._remember(entity, key, name)
                return name
        return None

    def _remember(self, entity: str, key: str, name: str) -> None:
        if self._field_map.get(f"{entity}:{key}") != name:
            self._field_map[f"{entity}:{key}"] = name
            self._save_field_map()

    def _create_field(self, record: dict) -> str:
        entity = record["entity"]
        fd_type = m.FIELD_TYPE_FROM_CANONICAL.get(record.get("type"), "custom_text")
        label = record.get("title") or str(record["key"])
        body: dict = {"label": label, "type": fd_type}
        if entity == "ticket":
            body.update(label_for_customers=label, customers_can_edit=False, displayed_to_customers=False)
            path = "admin/ticket_fields"
        else:
            body.update(label_for_customers=label)
            path = m.FIELDS_PATH[entity]
        if fd_type == "custom_dropdown":
            # Freshdesk choices are what agents see: the labels (values where labels repeat).
            values = _choice_labels(record) or [str(o.get("value") if o.get("value") is not None else o.get("label"))
                                                for o in _options(record)]
            body["choices"] = [{"value": v, "position": i + 1} for i, v in enumerate(values)]
        created = self.client.post_json(path, body).json()
        self._fields.setdefault(entity, {})[created["name"]] = created
        self._remember(entity, str(record["key"]), created["name"])
        return created["name"]

    def _custom_fields(self, entity: str, values: dict | None, degr: list, kind: str, rid: str, ctx=None) -> dict:
        out = {}
        if not values:
            return out
        fields = self.fields(entity)
        overrides = ((self.ctx.mapping or {}).get("fields") or {}).get(entity, {})
        for key, value in values.items():
            found = ctx.custom_field(entity, key) if ctx is not None and hasattr(ctx, "custom_field") else None
            name = overrides.get(key) or (found[1] if found and found[1] else None) \
                or self._field_map.get(f"{entity}:{key}")
            if found and not found[1] and not name and value not in (None, "", []):
                # The field is staged but not in Freshdesk (its write failed): writing the record now
                # would lose the value silently; it fails and is written again once the field is there.
                raise RecordError(f"{kind} {rid}: custom field {key!r} is not in Freshdesk yet (its write failed); "
                                  "written again once it is", kind=kind, id=rid, field=f"custom_fields.{key}")
            if not name:
                for cand in (key, "cf_" + m.slug(key)):
                    if cand in fields and not fields[cand].get("default"):
                        name = cand
                        break
            if name and name not in fields:
                self._fields.pop(entity, None)      # created by another run or lane: look again
                fields = self.fields(entity)
            if not name or name not in fields:
                if value is not None:
                    degr.append(Degradation(kind, rid, f"custom_fields.{key}", "value_unmapped",
                                            "no Freshdesk field for this key (map it in [mapping.fields])"))
                continue
            staged = found[0] if found else None
            choices = fields[name].get("choices")
            if staged and staged.get("type") in ("dropdown", "multiselect") and isinstance(choices, list):
                values = value if isinstance(value, list) else [value]
                labels = [_label(staged, v) for v in values if v not in (None, "")]
                picked = next((x for x in labels if x in choices), None)
                if picked is None:
                    picked = next((v for v in values if v in choices), None)
                if picked is not None:
                    value = picked
            coerced = m.field_value_from_canonical(fields[name].get("type"), value)
            if coerced is None and value is not None:
                degr.append(Degradation(kind, rid, f"custom_fields.{key}", "field_type_changed",
                                        f"{value!r} does not fit the Freshdesk {fields[name].get('type')} field"))
                continue
            if isinstance(choices, list) and coerced is not None and choices and coerced not in choices:
                degr.append(Degradation(kind, rid, f"custom_fields.{key}", "value_unmapped",
                                        f"{coerced!r} is not a choice of {name}"))
                continue
            if coerced is not None:
                out[name] = coerced
        return out

    # --- the origin line ---------------------------------------------------------------------
    def _origin(self, comment: dict, ctx, ticket: dict | None = None) -> str:
        author = ""
        aid = comment.get("author_id")
        for k in ("agent", "contact"):
            rec = ctx.record(k, aid) if aid else None
            if rec:
                author = rec.get("name") or ""
                if rec.get("email"):
                    author += f" <{rec['email']}>"
                break
        parts = [f"Originally {comment.get('created_at') or 'at an unknown time'}"]
        if author:
            parts.append(f"by {author}")
        if comment.get("channel"):
            parts.append(f"via {comment['channel']}")
        parts.append("public" if comment.get("public", True) else "private")
        if ticket is not None:
            if ticket.get("channel"):
                parts.append(f"ticket channel {ticket['channel']}")
            if ticket.get("due_at"):
                parts.append(f"due {ticket['due_at']}")
            if ticket.get("number"):
                parts.append(f"source ticket #{ticket['number']}")
            for key, value in (ticket.get("custom_fields") or {}).items():
                found = ctx.custom_field("ticket", key) if hasattr(ctx, "custom_field") else None
                if found and found[0].get("type") == "multiselect" and isinstance(value, list) and len(value) > 1:
                    title = found[0].get("title") or key
                    parts.append(f"{title}: " + ", ".join(str(_label(found[0], v)) for v in value))
        text = html.escape(" · ".join(parts)) + f" [{stamp(comment.get('id'))}]"
        return f'<p class="hdm-origin"><small>{text}</small></p>'

    @staticmethod
    def _body(comment: dict, ctx=None) -> str:
        if comment.get("body_html") is not None and comment.get("body_html") != "":
            return _embed_inline(comment, ctx)[0] if ctx is not None else comment["body_html"]
        text = comment.get("body_text") or ""
        return "<div>" + html.escape(text).replace("\n", "<br>") + "</div>"

    # --- writes -------------------------------------------------------------------------------
    def write(self, kind: str, record: dict, ctx) -> WriteResult:
        method = getattr(self, f"_write_{kind}", None)
        if method is None:
            raise RecordError(f"freshdesk target does not write {kind!r}", kind=kind, id=record.get("id"))
        try:
            return method(record, ctx)
        except TransientApiError as e:
            # The connection broke after the request went out (the HTTP layer does not resend a
            # create): Freshdesk may hold it already. Look it up before anybody writes it again.
            if e.status is not None:
                raise
            found = self.find_existing(kind, record, ctx)
            if found:
                return found if isinstance(found, WriteResult) else WriteResult(found)
            raise

    def _write_custom_field(self, record, ctx) -> WriteResult:
        existing = self._existing_field(record)
        if existing:
            return WriteResult(existing, matched=True)
        return WriteResult(self._create_field(record))

    def _write_organization(self, record, ctx) -> WriteResult:
        degr: list = []
        body = {"name": record["name"], "description": record.get("notes"),
                "domains": [d for d in record.get("domains") or [] if d],
                "custom_fields": self._custom_fields("organization", record.get("custom_fields"), degr,
                                                     "organization", str(record["id"]), ctx)}
        body = {k: v for k, v in body.items() if v not in (None, [], {})}
        r = self.client.request("POST", "companies", json=body, allow=(409,))
        if r.status_code == 409:
            self._companies = None
            existing = self._company_map().get(record["name"].lower())
            if existing is None:
                raise RecordRejected(f"freshdesk: company {record['name']!r} conflicts: {r.text[:200]}")
            return WriteResult(str(existing), degradations=degr, matched=True)   # the account's own
        cid = int(r.json()["id"])
        self._company_map()[record["name"].lower()] = cid
        return WriteResult(str(cid), degradations=degr)

    def _write_group(self, record, ctx) -> WriteResult:
        body = {"name": record["name"]}
        if record.get("description"):
            body["description"] = record["description"]
        r = self.client.request("POST", "groups", json=body, allow=(409,))
        if r.status_code == 409:
            self._groups = None
            gid = self._group_map().get(record["name"].lower())
            if gid is None:
                raise RecordRejected(f"freshdesk: group {record['name']!r} conflicts")
            return WriteResult(str(gid), matched=True)   # the account's own
        gid = int(r.json()["id"])
        self._group_map()[record["name"].lower()] = gid
        return WriteResult(str(gid))

    def _contact_body(self, record, ctx, degr) -> dict:
        phones = list(record.get("phones") or [])
        body = {"name": record.get("name") or record.get("email") or f"contact {record['id']}",
                "email": record.get("email") or None,
                "other_emails": [e for e in record.get("emails") or [] if e and e != record.get("email")][:10],
                "phone": phones[0] if phones else None, "mobile": phones[1] if len(phones) > 1 else None,
                "description": record.get("notes"), "tags": list(record.get("tags") or []),
                "unique_external_id": stamp(record["id"])}
        lang = freshdesk_language(record.get("language"))
        if lang:
            body["language"] = lang
        org = ctx.target_id("organization", record.get("organization_id")) if record.get("organization_id") else None
        if org:
            body["company_id"] = int(org)
        cf = self._custom_fields("contact", record.get("custom_fields"), degr, "contact", str(record["id"]), ctx)
        if cf:
            body["custom_fields"] = cf
        return {k: v for k, v in body.items() if v not in (None, [], {}, "")}

    def _write_contact(self, record, ctx) -> WriteResult:
        degr: list = []
        body = self._contact_body(record, ctx, degr)
        r = self.client.request("POST", "contacts", json=body, allow=(409,))
        if r.status_code == 409:
            found = self._find_contact(record)
            if not found:
                raise RecordRejected(f"freshdesk: contact {record['id']} conflicts: {r.text[:300]}", status=409)
            found.degradations = degr   # a live contact is left as it is (matched), never updated
            return found
        return WriteResult(str(r.json()["id"]), degradations=degr)

    def _write_agent(self, record, ctx) -> WriteResult:
        email = (record.get("email") or "").lower()
        override = ((ctx.mapping or {}).get("users") or {}).get(record.get("email"))
        if override:
            email = override.lower()
        if email in self.agents():
            return WriteResult(str(self.agents()[email]), matched=True)
        # Freshdesk agents are paid seats: an agent the account does not have becomes a contact,
        # so the people references (requesters, note authors) still resolve.
        # (reported by degradations(): role value_unmapped)
        contact = {"id": record["id"], "name": record.get("name"), "email": record.get("email"),
                   "tags": ["hdm-agent"]}
        return self._write_contact(contact, ctx)

    def _real_agent(self, target_id: str | None) -> int | None:
        if not target_id:
            return None
        self.agents()
        return int(target_id) if int(target_id) in self._agent_ids else None

    def _write_ticket(self, record, ctx) -> WriteResult:
        rid = str(record["id"])
        degr: list = []
        mp = ctx.mapping or {}
        comments = ctx.comments(rid)
        first = comments[0] if comments else None
        requester = ctx.person(record.get("requester_id"))
        if not requester:
            raise RecordError(f"ticket {rid}: requester {record.get('requester_id')!r} is not in Freshdesk",
                              kind="ticket", id=rid, field="requester_id")
        source, _ = m.channel_from_canonical(record.get("channel"), mp.get("channel"))
        tags = list(dict.fromkeys([*(record.get("tags") or []), stamp(rid)]))
        if (ctx.options or {}).get("tag_migrated"):
            tags.append(str(ctx.options["tag_migrated"]))
        body: dict = {
            "subject": record.get("subject") or "(no subject)",
            "requester_id": int(requester[1]),
            "status": m.status_from_canonical(record.get("status"), mp.get("status")),
            "priority": m.priority_from_canonical(record.get("priority"), mp.get("priority")),
            "source": source,
            "tags": list(dict.fromkeys(tags)),
        }
        ttype = m.type_from_canonical(record.get("type"), self._type_choices(), mp.get("type"))
        if ttype:
            body["type"] = ttype
        responder = self._real_agent(ctx.target_id("agent", record.get("assignee_id"))) \
            if record.get("assignee_id") else None
        if responder:
            body["responder_id"] = responder
        elif record.get("assignee_id") and ctx.record("agent", record["assignee_id"]) is None:
            degr.append(Degradation("ticket", rid, "assignee_id", "value_unmapped",
                                    "the assignee is not a Freshdesk agent"))
        group = ctx.target_id("group", record.get("group_id")) if record.get("group_id") else None
        if group:
            body["group_id"] = int(group)
        org = ctx.target_id("organization", record.get("organization_id")) if record.get("organization_id") else None
        if org:
            req_rec = ctx.record(requester[0], record.get("requester_id")) or {}
            if req_rec.get("organization_id") == record.get("organization_id"):
                body["company_id"] = int(org)
        cc = []
        for pid in record.get("cc_ids") or []:
            for k in ("contact", "agent"):
                p = ctx.record(k, pid)
                if p and p.get("email"):
                    cc.append(p["email"])
                    break
        if cc:
            body["cc_emails"] = cc[:50]
        cf = self._custom_fields("ticket", record.get("custom_fields"), degr, "ticket", rid, ctx)
        if cf:
            body["custom_fields"] = cf
        files: list = []
        children: dict = {}
        if first is not None and first.get("public", True):
            body["description"] = self._origin(first, ctx, record) + self._body(first, ctx)
            send, _ = self._attachment_plan(first, ctx)
            files = self._files(send)
        else:
            note = PRIVATE_OPENING if first is not None else "<p>(no description)</p>"
            body["description"] = self._origin(first or {"id": rid}, ctx, record) + note
        try:
            r = self._post(rid, "tickets", body, files, send, degr)
        except RecordRejected as e:
            # A requester the account already had (matched, left as it is) need not belong to the
            # company: the ticket is written without it rather than the contact changed.
            if "company_id" not in body or "company_id" not in str(e):
                raise
            body.pop("company_id")
            degr.append(Degradation("ticket", rid, "organization_id", "value_unmapped",
                                    "the requester, an existing Freshdesk contact left unchanged, does not "
                                    "belong to this company there; the ticket is written without the company"))
            r = self._post(rid, "tickets", body, files, send, degr)
        created = r.json()
        tid = str(created["id"])
        if first is not None and first.get("public", True):
            children[("comment", str(first["id"]))] = f"{tid}:description"
            for (name, path, ctype, att), a in zip(send, created.get("attachments") or []):
                children[("attachment", str(att["id"]))] = str(a.get("id"))
        return WriteResult(tid, children=children, degradations=degr)

    def _write_comment(self, record, ctx) -> WriteResult:
        rid = str(record["id"])
        ticket = ctx.target_id("ticket", record.get("ticket_id"))
        if not ticket:
            raise RecordError(f"comment {rid}: ticket not in Freshdesk", kind="comment", id=rid, field="ticket_id")
        send, _ = self._attachment_plan(record, ctx)
        if self._is_description(record, ctx):
            # Written with the ticket as its description.
            return WriteResult(f"{ticket}:description")
        author = ctx.person(record.get("author_id"))
        body: dict = {"body": self._origin(record, ctx) + self._body(record, ctx),
                      "private": record.get("public") is not True}
        degr: list = []
        if author:
            body["user_id"] = int(author[1])
            body["incoming"] = author[0] == "contact"
        else:
            degr.append(Degradation("comment", rid, "author_id", "author_not_preserved",
                                    "author not in Freshdesk; named in the origin line"))
        files = self._files(send)
        path = f"tickets/{ticket}/notes"
        r = self._post(rid, path, body, files, send, degr)
        created = r.json()
        children = {("attachment", str(att["id"])): str(a.get("id"))
                    for (_, _, _, att), a in zip(send, created.get("attachments") or [])}
        return WriteResult(str(created["id"]), children=children, degradations=degr)

    def _post(self, rid: str, path: str, body: dict, files: list, send: list, degr: list):
        """POST with files; when Freshdesk refuses the files themselves (400 naming `attachments`:
        a type or size the account does not take), the record is written without them and each
        file is named (`attachment_rejected`): one file never fails its ticket or note. The
        refused request created nothing (a validation error), so nothing is written twice."""
        if not files:
            return self.client.post_json(path, body)
        try:
            return self.client.post_multipart(path, body, files)
        except RecordRejected as e:
            if "attachments" not in str(e):
                raise
            for _, _, _, att in send:
                degr.append(Degradation("attachment", str(att["id"]), "file_name", "attachment_rejected",
                                        f"Freshdesk refused the file: {e}"))
            send.clear()
            return self.client.post_json(path, body)

    def _write_attachment(self, record, ctx) -> WriteResult:
        # Attachments are uploaded with their comment; this only reports where they went.
        comment = ctx.target_id("comment", record.get("comment_id"))
        if not comment:
            raise RecordError(f"attachment {record['id']}: its comment is not in Freshdesk",
                              kind="attachment", id=record.get("id"), field="comment_id")
        return WriteResult(f"{comment}:{record.get('file_name')}")

    def _write_satisfaction_rating(self, record, ctx) -> WriteResult:
        ticket = ctx.target_id("ticket", record.get("ticket_id"))
        body = {"ratings": {"default_question": m.csat_from_canonical(record.get("score"), record.get("scale"))}}
        if record.get("comment"):
            body["feedback"] = record["comment"]
        r = self.client.post_json(f"tickets/{ticket}/satisfaction_ratings", body)
        return WriteResult(str(r.json()["id"]))

    # --- delta runs and rollback ----------------------------------------------------------------
    def update(self, kind: str, target_id: str, record: dict, ctx) -> WriteResult:
        degr: list = []
        mp = ctx.mapping or {}
        if kind == "ticket":
            tags = [*(record.get("tags") or []), stamp(record["id"])]
            if (ctx.options or {}).get("tag_migrated"):
                tags.append(str(ctx.options["tag_migrated"]))
            body = {"status": m.status_from_canonical(record.get("status"), mp.get("status")),
                    "priority": m.priority_from_canonical(record.get("priority"), mp.get("priority")),
                    "tags": list(dict.fromkeys(tags)),
                    "subject": record.get("subject") or "(no subject)"}
            ttype = m.type_from_canonical(record.get("type"), self._type_choices(), mp.get("type"))
            if ttype:
                body["type"] = ttype
            cf = self._custom_fields("ticket", record.get("custom_fields"), degr, "ticket", str(record["id"]), ctx)
            if cf:
                body["custom_fields"] = cf
            self.client.put_json(f"tickets/{target_id}", body)
        elif kind == "contact":
            body = self._contact_body(record, ctx, degr)
            body.pop("unique_external_id", None)
            self.client.put_json(f"contacts/{target_id}", body)
        elif kind == "organization":
            body = {"name": record["name"], "description": record.get("notes"),
                    "domains": record.get("domains") or None}
            self.client.put_json(f"companies/{target_id}", {k: v for k, v in body.items() if v is not None})
        elif kind == "comment":
            return self._update_comment(target_id, record, ctx)
        else:
            raise NotImplementedError(f"the freshdesk target does not update {kind} records")
        return WriteResult(target_id, degradations=degr)

    def _update_comment(self, target_id: str, record: dict, ctx) -> WriteResult:
        """Update a conversation takes only `body` and `attachments` (FD-DOC): the text and new
        files are written in place. A note made private in the source is written again as a
        private note and the public one deleted (its origin line keeps the original time); the
        description, always public in Freshdesk: see _private_description."""
        rid = str(record["id"])
        ticket = ctx.target_id("ticket", record.get("ticket_id"))
        if not ticket:
            raise RecordError(f"comment {rid}: ticket not in Freshdesk", kind="comment", id=rid, field="ticket_id")
        private = record.get("public") is not True
        send, skipped = self._attachment_plan(record, ctx)
        new_ids = {str(a["id"]) for a, _ in ctx.attachments(record) if ctx.target_id("attachment", a["id"]) is None}
        new_send = [s for s in send if str(s[3]["id"]) in new_ids]
        degr = [Degradation("attachment", str(a["id"]), "size", code, detail)
                for a, _, code, detail in skipped if str(a["id"]) in new_ids and code != "inline_image_detached"]
        if str(target_id).endswith(":description"):
            if private:
                return self._private_description(record, ctx, ticket)
            body = {"description": self._origin(record, ctx, ctx.record("ticket", record["ticket_id"]))
                    + self._body(record, ctx)}
            r = (self.client.post_multipart(f"tickets/{ticket}", body, self._files(new_send), method="PUT")
                 if new_send else self.client.put_json(f"tickets/{ticket}", body))
            added = (r.json().get("attachments") or [])[-len(new_send):] if new_send else []
            return WriteResult(target_id, children=_file_ids(new_send, added), degradations=degr)
        conversations = self.client.all(f"tickets/{ticket}/conversations")
        held = next((c for c in conversations if str(c.get("id")) == str(target_id)), None)
        if held is None:
            raise RecordError(f"comment {rid}: note {target_id} is no longer in Freshdesk ticket {ticket}",
                              kind="comment", id=rid)
        if private and held.get("private") is not True:
            return self._rewrite_private(record, ctx, held, conversations)
        if not private and held.get("private") is True:
            degr.append(Degradation("comment", rid, "public", "update_not_applied",
                                    "public in the source now; Freshdesk cannot make a private note public, so it "
                                    "stays private"))
        body = {"body": self._origin(record, ctx) + self._body(record, ctx)}
        path = f"conversations/{target_id}"
        r = (self.client.post_multipart(path, body, self._files(new_send), method="PUT")
             if new_send else self.client.put_json(path, body))
        added = (r.json().get("attachments") or [])[-len(new_send):] if new_send else []
        return WriteResult(target_id, children=_file_ids(new_send, added), degradations=degr)

    def _private_description(self, record: dict, ctx, ticket: str) -> WriteResult:
        """The opening message made private. Freshdesk shows a ticket's description to the
        requester, so its text moves into a private note (written first, or the one an interrupted
        run wrote), the description becomes the placeholder a private opening message gets on a
        first write, and the description's files are deleted (DELETE /attachments/{id}). A step
        that fails fails the record, saying what is still public."""
        rid = str(record["id"])
        marker = f"[{stamp(rid)}]"
        copy = next((c for c in self.client.all(f"tickets/{ticket}/conversations")
                     if c.get("private") is True and marker in (c.get("body") or "")), None)
        result = WriteResult(str(copy["id"])) if copy else self._write_comment(record, ctx)
        try:
            self.client.put_json(f"tickets/{ticket}", {"description": self._origin(
                record, ctx, ctx.record("ticket", record["ticket_id"])) + PRIVATE_OPENING})
            for a in (self.client.get_json(f"tickets/{ticket}") or {}).get("attachments") or []:
                self.client.delete(f"attachments/{a['id']}")
        except Exception as e:  # noqa: BLE001 - named in the failure; the next run tries again
            raise RecordError(f"comment {rid} is private in the source now: written as private note "
                              f"{result.target_id}, but the description of ticket {ticket} (or one of its files) "
                              f"could not be replaced ({e}); it is still public", kind="comment", id=rid,
                              field="public") from e
        return result

    def _rewrite_private(self, record: dict, ctx, held: dict, conversations: list[dict]) -> WriteResult:
        """The private copy first (or the one an interrupted run already wrote: same stamp, private),
        then the public note goes. If it cannot be deleted the record fails, naming it."""
        rid = str(record["id"])
        marker = f"[{stamp(rid)}]"
        copy = next((c for c in conversations if c.get("private") is True and c.get("id") != held.get("id")
                     and marker in (c.get("body") or "")), None)
        result = WriteResult(str(copy["id"])) if copy else self._write_comment(record, ctx)
        try:
            self.client.delete(f"conversations/{held['id']}")
        except Exception as e:  # noqa: BLE001 - named in the failure; the next run deletes it again
            raise RecordError(f"comment {rid} is private in the source now: written again as private note "
                              f"{result.target_id}, but the public note {held['id']} could not be deleted ({e}); "
                              "it is still public", kind="comment", id=rid, field="public") from e
        return result

    def delete(self, kind: str, target_id: str) -> None:
        path = {"ticket": "tickets", "contact": "contacts", "organization": "companies", "group": "groups",
                "comment": "conversations", "agent": None}.get(kind, None)
        if kind == "agent":
            if self._real_agent(target_id):
                return   # matched an existing agent; never ours to delete
            path = "contacts"
        if kind == "custom_field":
            raise NotImplementedError("this target does not delete custom fields; remove it in Freshdesk's admin")
        if path is None or ":" in str(target_id):
            return
        if path == "contacts":
            # For good: a soft-deleted contact keeps its e-mail, so the next run could not create
            # it again (409, and the contact lists no longer show it to match).
            self.client.request("DELETE", f"contacts/{target_id}/hard_delete", params={"force": "true"},
                                allow=(404,))
            return
        self.client.delete(f"{path}/{target_id}")

    def count(self, kind: str) -> int | None:
        return None

    def close(self) -> None:
        self.client.close()


def _file_ids(send, added: list[dict]) -> dict:
    return {("attachment", str(att["id"])): str(a.get("id")) for (_, _, _, att), a in zip(send, added)}


def _size(att: dict, path) -> int:
    try:
        return Path(path).stat().st_size
    except (OSError, TypeError):
        return int(att.get("size") or 0)


def _embed_inline(comment: dict, ctx) -> tuple[str, int, list[tuple[str, str]]]:
    """(the comment's HTML with every image of one of its staged files as a data: URI, how many
    were embedded, [(attachment id, why not)] for images of its files left as they were).
    Freshdesk documents no upload of inline images for tickets and notes, and the source's URL
    breaks when the old account closes. Only those src values change."""
    text = comment.get("body_html") or ""
    pairs = list(ctx.attachments(comment)) if comment.get("attachment_ids") else []
    own = {str(a.get("id")) for a, _ in pairs}
    if comment.get("ticket_id") and hasattr(ctx, "comments"):
        for c in ctx.comments(comment["ticket_id"]):     # quoted replies show earlier comments' images
            if c.get("id") == comment.get("id"):
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
        if path is None or not Path(path).is_file():
            kept.append((str(att["id"]), "its bytes are not in staging"))
        elif not size:
            kept.append((str(att["id"]), "the file is empty"))
        elif size > MAX_EMBEDDED_IMAGE:
            kept.append((str(att["id"]), f"{size} bytes are too many to embed (> {MAX_EMBEDDED_IMAGE}); "
                                         "the file is attached"))
        elif size > budget:
            kept.append((str(att["id"]), f"the body already embeds {MAX_EMBEDDED_TOTAL - budget} bytes of "
                                         f"images (at most {MAX_EMBEDDED_TOTAL}); the file is attached"))
        elif str(att["id"]) not in urls:
            budget -= size
            urls[str(att["id"])] = inline_images.data_uri(att.get("content_type"), Path(path).read_bytes())
    new, changed = inline_images.point_at(text, urls, [a for a, _ in shown])
    return new or "", len(changed), kept
