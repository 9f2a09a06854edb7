"""Seeding the Freshdesk sandbox from a canonical dump (what `hdmigrate demo` and the tests load)."""

from __future__ import annotations

from pathlib import Path

from .state import FIELD_TYPES, PRIORITY_CODES, SOURCE_CODES, STATUS_CODES, _html, _iso, _slug


class SeedFromDump:
    """Mixin of FreshdeskSandbox: `seed_from_dump`."""

    def seed_from_dump(self, root: Path) -> list[dict]:
        """Seed from a jsonl dump. Every record is seeded or named on stderr with the reason;
        returns the records left out (`seed_skipped`)."""
        _DumpSeeder(self, root).run()
        return self.seed_done()


class _DumpSeeder:
    """One seeding pass: dump ids -> sandbox ids, kind by kind, references before their users."""

    def __init__(self, box, root: Path):
        from hdmigrate.canonical_dump import blob_path, iter_records
        self.box, self.root, self.iter, self.blob_path = box, root, iter_records, blob_path
        self.users: dict[str, int] = {}
        self.ids: dict[tuple[str, str], int] = {}
        self.atts: dict[str, list[dict]] = {}

    def run(self) -> None:
        self.fields()
        self.groups_and_companies()
        self.people()
        comments, ticket_ids = self.children()
        seeded = self.tickets(comments)
        self.ratings(seeded, ticket_ids)

    def ref(self, kind: str, rid, table: str, value):
        """The sandbox id of a reference, saying so when the dump lacks its target."""
        found = self.ids.get((table, value)) if table != "user" else self.users.get(value)
        if value and found is None:
            self.box.seed_change(kind, rid, f"{table} {value} is not in the dump")
        return found

    def fields(self) -> None:
        box = self.box
        for rec in self.iter(self.root, "custom_field"):
            entity = rec.get("entity")
            kind = {"ticket": "ticket_field", "contact": "contact_field", "organization": "company_field"}.get(entity)
            if not kind:
                box.seed_skip("custom_field", rec.get("id"), f"Freshdesk has no custom fields of {entity!r} records")
                continue
            name = ("cf_" if entity == "ticket" else "") + _slug(str(rec.get("key")))
            f = box._field_shape(entity, name, rec.get("title") or str(rec.get("key")),
                                 FIELD_TYPES.get(rec.get("type"), "custom_text"), False, 100 + box.store.count(kind))
            if rec.get("options"):
                f["choices"] = [str(o.get("value")) for o in rec["options"]]
            box.store.insert(kind, f)

    def groups_and_companies(self) -> None:
        store = self.box.store
        for rec in self.iter(self.root, "group"):
            g = store.insert("group", {"name": rec["name"], "description": rec.get("description"),
                                       "escalate_to": None, "unassigned_for": None, "business_hour_id": None,
                                       "group_type": "support_agent_group",
                                       "created_at": _iso(rec.get("created_at")), "updated_at": _iso(rec.get("updated_at"))})
            self.ids[("group", rec["id"])] = g["id"]
        for rec in self.iter(self.root, "organization"):
            c = store.insert("company", {"name": rec["name"], "description": rec.get("notes"), "note": None,
                                         "domains": list(rec.get("domains") or []),
                                         "created_at": _iso(rec.get("created_at")),
                                         "updated_at": _iso(rec.get("updated_at")),
                                         "custom_fields": {_slug(k): v for k, v in (rec.get("custom_fields") or {}).items()},
                                         "health_score": None, "account_tier": None, "renewal_date": None,
                                         "industry": None})
            self.ids[("organization", rec["id"])] = c["id"]

    def people(self) -> None:
        box = self.box
        for rec in self.iter(self.root, "agent"):
            uid = box.store.next_id("user")
            groups = [g for g in (self.ref("agent", rec["id"], "group", g) for g in rec.get("group_ids") or [])
                      if g is not None]
            box.store.insert("agent", box._agent_shape(uid, rec["name"], rec.get("email"), groups,
                                                       rec.get("active", True), rec.get("created_at")))
            self.users[rec["id"]] = uid
        for rec in self.iter(self.root, "contact"):
            uid = box.store.next_id("user")
            phones = rec.get("phones") or []
            body = {"name": rec.get("name"), "email": rec.get("email"), "other_emails": rec.get("emails"),
                    "phone": phones[0] if phones else None, "mobile": phones[1] if len(phones) > 1 else None,
                    "description": rec.get("notes"), "tags": rec.get("tags"),
                    "company_id": self.ref("contact", rec["id"], "organization", rec.get("organization_id")),
                    "custom_fields": {_slug(k): v for k, v in (rec.get("custom_fields") or {}).items()}}
            c = box._contact_shape(uid, body, rec.get("created_at"), rec.get("updated_at"))
            c["deleted"] = rec.get("active") is False
            box.store.insert("contact", c)
            self.users[rec["id"]] = uid

    def children(self) -> tuple[dict[str, list[dict]], set]:
        """Comments by ticket and files by comment; those whose parent is not in the dump are named."""
        ticket_ids = {rec["id"] for rec in self.iter(self.root, "ticket")}
        comments: dict[str, list[dict]] = {}
        for rec in self.iter(self.root, "comment"):
            if rec.get("ticket_id") not in ticket_ids:
                self.box.seed_skip("comment", rec.get("id"), f"its ticket {rec.get('ticket_id')} is not in the dump")
                continue
            comments.setdefault(rec["ticket_id"], []).append(rec)
        comment_ids = {c["id"] for cs in comments.values() for c in cs}
        for rec in self.iter(self.root, "attachment"):
            if rec.get("comment_id") not in comment_ids:
                self.box.seed_skip("attachment", rec.get("id"), f"its comment {rec.get('comment_id')} is not seeded")
                continue
            self.atts.setdefault(rec["comment_id"], []).append(rec)
        return comments, ticket_ids

    def files_of(self, comment) -> list[dict]:
        out = []
        by_id = {a["id"]: a for a in self.atts.get(comment["id"], [])}
        for aid in comment.get("attachment_ids") or []:
            if aid not in by_id:
                self.box.seed_change("comment", comment["id"], f"attachment {aid} is not in the dump")
        order = [aid for aid in comment.get("attachment_ids") or [] if aid in by_id]
        for aid in order + [aid for aid in by_id if aid not in order]:
            a = by_id[aid]
            data = self.box.seed_blob(a, lambda sha: self.blob_path(self.root, sha).read_bytes())
            if data is None:
                continue
            out.append(self.box._attachment(a.get("file_name") or "file", a.get("content_type"), data,
                                            a.get("created_at")))
        return out

    def tickets(self, comments: dict[str, list[dict]]) -> dict[str, int]:
        seeded: dict[str, int] = {}      # dump ticket id -> sandbox ticket id
        for rec in self.iter(self.root, "ticket"):
            cs = sorted(comments.get(rec["id"], []), key=lambda c: c.get("created_at") or "")
            requester = self.users.get(rec.get("requester_id"))
            if requester is None:
                self._skip_ticket(rec, cs)
                continue
            t = self.box.store.insert("ticket", self._ticket(rec, requester, cs[0] if cs else None))
            seeded[rec["id"]] = t["id"]
            for c in cs[1:]:
                self._conversation(t["id"], c, requester)
        return seeded

    def _skip_ticket(self, rec: dict, cs: list[dict]) -> None:
        self.box.seed_skip("ticket", rec["id"], f"requester {rec.get('requester_id')} is not in the dump")
        why = f"its ticket {rec['id']} was not seeded"
        for c in cs:
            self.box.seed_skip("comment", c["id"], why)
            for a in self.atts.get(c["id"], []):
                self.box.seed_skip("attachment", a.get("id"), why)

    def _ticket(self, rec: dict, requester: int, first: dict | None) -> dict:
        tid = int(rec["id"]) if str(rec["id"]).isdigit() else None
        ref = self.ref
        t = self.box._ticket_shape({
            "subject": rec.get("subject"), "requester_id": requester,
            "status": STATUS_CODES.get(rec.get("status"), 2), "priority": PRIORITY_CODES.get(rec.get("priority"), 1),
            "source": SOURCE_CODES.get(rec.get("channel"), 2), "type": (rec.get("type") or "").capitalize() or None,
            "responder_id": ref("ticket", rec["id"], "user", rec.get("assignee_id")),
            "group_id": ref("ticket", rec["id"], "group", rec.get("group_id")),
            "company_id": ref("ticket", rec["id"], "organization", rec.get("organization_id")),
            "tags": rec.get("tags") or [],
            "custom_fields": {"cf_" + _slug(k): v for k, v in (rec.get("custom_fields") or {}).items()},
            "description": (first or {}).get("body_html") or _html((first or {}).get("body_text")),
        }, created=rec.get("created_at"), updated=rec.get("updated_at"),
            attachments=self.files_of(first) if first else [], id=tid)
        if (rec.get("extra") or {}).get("archived"):
            t["_archived"] = True
        return t

    def _conversation(self, ticket_id: int, c: dict, requester: int) -> None:
        author = self.users.get(c.get("author_id"))
        if author is None:
            self.box.seed_change("comment", c["id"], f"author {c.get('author_id')} is not in the dump: "
                                                     "seeded as the requester's")
        self.box.store.insert("conversation", self.box._conversation_shape(
            ticket_id, c.get("body_html") or _html(c.get("body_text")), author or requester,
            private=not c.get("public", True), incoming=c.get("author_kind") == "contact",
            source=2 if not c.get("public", True) else (1 if c.get("author_kind") == "contact" else 0),
            created=c.get("created_at"), attachments=self.files_of(c)))

    def ratings(self, seeded: dict[str, int], ticket_ids: set) -> None:
        box = self.box
        for rec in self.iter(self.root, "satisfaction_rating"):
            t = box.store.get("ticket", seeded[rec["ticket_id"]]) if rec.get("ticket_id") in seeded else None
            if t is None:
                box.seed_skip("satisfaction_rating", rec.get("id"), f"its ticket {rec.get('ticket_id')} "
                              + ("was not seeded" if rec.get("ticket_id") in ticket_ids else "is not in the dump"))
                continue
            user = self.users.get(rec.get("contact_id"))
            if rec.get("contact_id") and user is None:
                box.seed_change("satisfaction_rating", rec.get("id"),
                                f"contact {rec['contact_id']} is not in the dump: seeded as the requester's")
            box.store.insert("rating", box._rating_shape(t, user or t["requester_id"], rec.get("score"),
                                                         rec.get("comment"), rec.get("created_at"),
                                                         scale=rec.get("scale")))
