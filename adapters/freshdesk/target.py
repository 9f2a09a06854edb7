"""Freshdesk as a target.

What Freshdesk v2 cannot do, and what this target does instead (api-facts.md section 2):
- No backdating (create-ticket and notes take no `created_at`): every description and note starts
  with a visible origin line (original time, author, channel, public/private, and the stamp
  `hdm-<source id>`), and `timestamp_not_preserved` is reported per ticket and comment. Each
  ticket's original created, first reply and solved times go into text ticket fields created for
  them (original_times.py), so reports on the target can measure the history.
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

Where things are: request bodies and their degradations in to_vendor.py (the dry run and the
writes call the same functions); delta-run updates and rollback deletes in updates.py; this
module keeps I/O, id resolution, account lookups and find_existing.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from hdmigrate import degradations as codes
from hdmigrate import stamps
from hdmigrate.adapter import Capability, Degradation, Target, WriteResult
from hdmigrate.canonical import CHANNELS, PERSON_KINDS
from hdmigrate.errors import Cause, FatalApiError, RecordError, RecordRejected

from . import to_vendor
from . import values as m
from .to_vendor import MAX_EMBEDDED_IMAGE  # noqa: F401 - imported by tests
from .original_times import OriginalTimes
from .updates import Updates, file_ids
from .client import DEFAULT_RATE_LIMIT, FreshdeskClient, endpoint_budgets

EPOCH = "1970-01-01T00:00:00Z"
AUTOMATION_TYPES = {1: "ticket creation", 3: "time triggers", 4: "ticket updates"}


class FreshdeskTarget(OriginalTimes, Updates, Target):
    name = "freshdesk"
    stamp_places = frozenset({"external", "tags", "body"})   # where verify reads this target's stamp
    capabilities = frozenset({Capability.PRIVATE_NOTES, Capability.ATTACHMENTS, Capability.CUSTOM_FIELDS,
                              Capability.CREATE_CUSTOM_FIELDS, Capability.SATISFACTION_RATINGS,
                              Capability.EXTERNAL_ID_LOOKUP, Capability.DELETE, Capability.UPDATE})
    updatable_kinds = frozenset({"ticket", "contact", "organization", "comment"})
    default_rate_limit = DEFAULT_RATE_LIMIT
    # Creates draw on their own per-endpoint budget under the account's (the estimate uses it).
    endpoint_budgets = staticmethod(endpoint_budgets)

    def __init__(self, ctx, transport=None, **http_options):
        super().__init__(ctx)
        self.client = FreshdeskClient(ctx.config.get("url", ""), ctx.secrets.get("api_key", ""),
                                      rate_limit=ctx.rate_limit, transport=transport,
                                      **{"log": ctx.log, **http_options})
        self._agents: dict[str, int] | None = None      # email -> agent id
        self._agent_ids: set[int] = set()
        self._fields: dict[str, dict] = {}               # entity -> {name: field}
        self._field_map_file = Path(ctx.workdir) / "freshdesk-field-map.json" if ctx.workdir else None
        self._field_map: dict[str, str] = self._load_field_map()   # "entity:key" -> freshdesk name
        self._companies: dict[str, int] | None = None
        self._groups: dict[str, int] | None = None
        self._ratings: dict[str, int] | None = None
        self._account: to_vendor.Account | None = None

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

    def account(self) -> to_vendor.Account:
        """What the mapping needs of the account; unknown (None) when it cannot be read (a dry run
        without a reachable target assumes defaults)."""
        if self._account is None:
            try:
                emails = frozenset(self.agents())
            except Exception:  # noqa: BLE001 - dry run without a reachable target: cannot tell
                emails = None
            self._account = to_vendor.Account(type_choices=self._type_choices(), agent_emails=emails)
        return self._account

    # --- degradations (no writes): the same mapping the writes use ---------------------------
    def degradations(self, kind: str, record: dict, ctx) -> list[Degradation]:
        return to_vendor.mapped(kind, record, ctx, self.account(), self.file_name).degradations

    def _attachment_plan(self, comment: dict, ctx):
        return to_vendor.attachment_plan(comment, ctx, self.file_name)

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
                    if stamps.kindless(rid) in (t.get("tags") or []):
                        return str(t["id"])
            return None
        if kind == "comment":
            ticket = ctx.target_id("ticket", record.get("ticket_id"))
            if not ticket:
                return None
            if to_vendor.is_description(record, ctx):
                return f"{ticket}:description"
            marker = stamps.origin_mark(rid)
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
        ours = stamps.kindless(str(record["id"]))
        if email:
            found = self.client.get_json("contacts", {"email": email}) or []
            if found:
                return WriteResult(str(found[0]["id"]), matched=found[0].get("unique_external_id") != ours)
        found = self.client.get_json("contacts", {"unique_external_id": ours}) or []
        return WriteResult(str(found[0]["id"])) if found else None

    # --- custom fields ------------------------------------------------------------------------
    def _existing_field(self, record: dict) -> str | None:
        entity, key = record.get("entity"), str(record.get("key"))
        fields = self.fields(entity)
        override = ((self.ctx.mapping or {}).get("fields") or {}).get(entity, {}).get(key)
        title_slug = to_vendor.slug(record.get("title") or key)
        for name in (override, key, "cf_" + to_vendor.slug(key), "cf_" + title_slug, title_slug):
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
        path = "admin/ticket_fields" if entity == "ticket" else m.FIELDS_PATH[entity]
        created = self.client.post_json(path, to_vendor.custom_field(record).body).json()
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
                for cand in (key, "cf_" + to_vendor.slug(key)):
                    if cand in fields and not fields[cand].get("default"):
                        name = cand
                        break
            if name and name not in fields:
                self._fields.pop(entity, None)      # created by another run or lane: look again
                fields = self.fields(entity)
            if not name or name not in fields:
                if value is not None:
                    degr.append(Degradation(kind, rid, f"custom_fields.{key}", codes.VALUE_UNMAPPED,
                                            "no Freshdesk field for this key (map it in [mapping.fields])"))
                continue
            staged = found[0] if found else None
            choices = fields[name].get("choices")
            if staged and staged.get("type") in ("dropdown", "multiselect") and isinstance(choices, list):
                values = value if isinstance(value, list) else [value]
                labels = [to_vendor.label(staged, v) for v in values if v not in (None, "")]
                picked = next((x for x in labels if x in choices), None)
                if picked is None:
                    picked = next((v for v in values if v in choices), None)
                if picked is not None:
                    value = picked
            coerced = to_vendor.field_value(fields[name].get("type"), value)
            if coerced is None and value is not None:
                degr.append(Degradation(kind, rid, f"custom_fields.{key}", codes.FIELD_TYPE_CHANGED,
                                        f"{value!r} does not fit the Freshdesk {fields[name].get('type')} field"))
                continue
            if isinstance(choices, list) and coerced is not None and choices and coerced not in choices:
                degr.append(Degradation(kind, rid, f"custom_fields.{key}", codes.VALUE_UNMAPPED,
                                        f"{coerced!r} is not a choice of {name}"))
                continue
            if coerced is not None:
                out[name] = coerced
        return out

    # --- writes -------------------------------------------------------------------------------
    def write(self, kind: str, record: dict, ctx) -> WriteResult:
        method = getattr(self, f"_write_{kind}", None)
        if method is None:
            raise RecordError(f"freshdesk target does not write {kind!r}", kind=kind, id=record.get("id"))
        # A lost answer (the request went out, no reply) is recovered by the engine's write step:
        # it looks the record up through find_existing before anything writes it again.
        return method(record, ctx)

    def _write_custom_field(self, record, ctx) -> WriteResult:
        existing = self._existing_field(record)
        if existing:
            return WriteResult(existing, matched=True)
        return WriteResult(self._create_field(record))

    def _write_organization(self, record, ctx) -> WriteResult:
        degr: list = []
        body = dict(to_vendor.organization(record, ctx).body)
        cf = self._custom_fields("organization", record.get("custom_fields"), degr, "organization",
                                 str(record["id"]), ctx)
        if cf:
            body["custom_fields"] = cf
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
        r = self.client.request("POST", "groups", json=to_vendor.group(record).body, allow=(409,))
        if r.status_code == 409:
            self._groups = None
            gid = self._group_map().get(record["name"].lower())
            if gid is None:
                raise RecordRejected(f"freshdesk: group {record['name']!r} conflicts")
            return WriteResult(str(gid), matched=True)   # the account's own
        gid = int(r.json()["id"])
        self._group_map()[record["name"].lower()] = gid
        return WriteResult(str(gid))

    def _contact_body(self, record, ctx, degr, body: dict | None = None) -> dict:
        """The mapped contact body plus what needs the account: company and custom fields."""
        body = dict(body if body is not None else to_vendor.contact(record, ctx).body)
        org = ctx.target_id("organization", record.get("organization_id")) if record.get("organization_id") else None
        if org:
            body["company_id"] = int(org)
        cf = self._custom_fields("contact", record.get("custom_fields"), degr, "contact", str(record["id"]), ctx)
        if cf:
            body["custom_fields"] = cf
        return body

    def _write_contact(self, record, ctx, body: dict | None = None) -> WriteResult:
        degr: list = []
        body = self._contact_body(record, ctx, degr, body)
        r = self.client.request("POST", "contacts", json=body, allow=(409,))
        if r.status_code == 409:
            found = self._find_contact(record)
            if not found:
                raise RecordRejected(f"freshdesk: contact {record['id']} conflicts: {r.text[:300]}", status=409)
            found.degradations = degr   # a live contact is left as it is (matched), never updated
            return found
        return WriteResult(str(r.json()["id"]), degradations=degr)

    def _write_agent(self, record, ctx) -> WriteResult:
        email = to_vendor.agent_email(record, ctx.mapping)
        if email in self.agents():
            return WriteResult(str(self.agents()[email]), matched=True)
        # Freshdesk agents are paid seats: an agent the account does not have becomes a contact,
        # so the people references (requesters, note authors) still resolve (degradations: role).
        body = to_vendor.agent(record, ctx, to_vendor.Account(agent_emails=frozenset(self.agents()))).body
        return self._write_contact({"id": record["id"], "email": record.get("email")}, ctx, body)

    def _real_agent(self, target_id: str | None) -> int | None:
        if not target_id:
            return None
        self.agents()
        return int(target_id) if int(target_id) in self._agent_ids else None

    def _ticket_ids(self, record, ctx, requester, body: dict) -> None:
        """The ids the mapping leaves to the target: requester, responder, group and company."""
        body["requester_id"] = int(requester[1])
        responder = self._real_agent(ctx.target_id("agent", record.get("assignee_id"))) \
            if record.get("assignee_id") else None
        if responder:
            body["responder_id"] = responder
        group = ctx.target_id("group", record.get("group_id")) if record.get("group_id") else None
        if group:
            body["group_id"] = int(group)
        org = ctx.target_id("organization", record.get("organization_id")) if record.get("organization_id") else None
        if org:
            req_rec = ctx.record(requester[0], record.get("requester_id")) or {}
            if req_rec.get("organization_id") == record.get("organization_id"):
                body["company_id"] = int(org)

    def _write_ticket(self, record, ctx) -> WriteResult:
        rid = str(record["id"])
        requester = ctx.person(record.get("requester_id"))
        if not requester:
            raise RecordError(f"ticket {rid}: requester {record.get('requester_id')!r} is not in Freshdesk",
                              kind="ticket", id=rid, field="requester_id")
        body = dict(to_vendor.ticket(record, ctx, self.account()).body)   # its degradations: degradations()
        self._ticket_ids(record, ctx, requester, body)
        degr: list = []
        cf = self._custom_fields("ticket", record.get("custom_fields"), degr, "ticket", rid, ctx)
        cf.update(self._original_time_values(record, ctx, degr))    # original_times.py
        if cf:
            body["custom_fields"] = cf
        body["description"] = to_vendor.description(record, ctx)
        first = to_vendor.first_comment(rid, ctx)
        opening = first if first is not None and first.get("public", True) else None
        send = self._attachment_plan(opening, ctx)[0] if opening else []
        files = self._files(send)
        try:
            r = self._post(rid, "tickets", body, files, send, degr)
        except RecordRejected as e:
            # A requester the account already had (matched, left as it is) need not belong to the
            # company: the ticket is written without it rather than the contact changed.
            if "company_id" not in body or "company_id" not in str(e):
                raise
            body.pop("company_id")
            degr.append(Degradation("ticket", rid, "organization_id", codes.VALUE_UNMAPPED,
                                    "the requester, an existing Freshdesk contact left unchanged, does not "
                                    "belong to this company there; the ticket is written without the company"))
            r = self._post(rid, "tickets", body, files, send, degr)
        created = r.json()
        tid = str(created["id"])
        children: dict = {}
        if opening is not None:
            children[("comment", str(opening["id"]))] = f"{tid}:description"
            children.update(file_ids(send, created.get("attachments") or []))
        return WriteResult(tid, children=children, degradations=degr)

    def _write_comment(self, record, ctx) -> WriteResult:
        rid = str(record["id"])
        ticket = ctx.target_id("ticket", record.get("ticket_id"))
        if not ticket:
            raise RecordError(f"comment {rid}: ticket not in Freshdesk", kind="comment", id=rid, field="ticket_id")
        if to_vendor.is_description(record, ctx):
            # Written with the ticket as its description.
            return WriteResult(f"{ticket}:description")
        send, _ = self._attachment_plan(record, ctx)
        body = dict(to_vendor.comment(record, ctx).body)     # its degradations: degradations()
        degr: list = []
        author = ctx.person(record.get("author_id"))
        if author:
            body["user_id"] = int(author[1])
            body["incoming"] = author[0] == "contact"
        else:
            degr.append(Degradation("comment", rid, "author_id", codes.AUTHOR_NOT_PRESERVED,
                                    "author not in Freshdesk; named in the origin line"))
        r = self._post(rid, f"tickets/{ticket}/notes", body, self._files(send), send, degr)
        created = r.json()
        return WriteResult(str(created["id"]), children=file_ids(send, created.get("attachments") or []),
                           degradations=degr)

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
                degr.append(Degradation("attachment", str(att["id"]), "file_name", codes.ATTACHMENT_REJECTED,
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
        r = self.client.post_json(f"tickets/{ticket}/satisfaction_ratings", to_vendor.satisfaction_rating(record).body)
        return WriteResult(str(r.json()["id"]))

    def count(self, kind: str) -> int | None:
        return None

    def close(self) -> None:
        self.client.close()
