"""Zendesk sandbox: seeding the account from a jsonl dump (`seed_from_dump`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hdmigrate import inline_images
from hdmigrate.canonical_dump import blob_path, iter_records
from hdmigrate.testing.sandbox import HttpAbort

from .state import CHANNEL_VIA, EMAIL, STATUS_OUT, _abort_reason, _field_type, _good_bad, _iso, _ts



@dataclass
class _Seeded:
    """What the seed steps share: the dump and the sandbox ids of what is seeded so far."""

    root: Path
    person: dict[str, int] = field(default_factory=dict)
    orgs: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)
    fields: dict[tuple[str, str], Any] = field(default_factory=dict)   # (entity, key) -> id or key
    ratings: dict[str, dict] = field(default_factory=dict)             # ticket id -> its newest rating
    attachments: dict[str, list[dict]] = field(default_factory=dict)   # comment id -> its files
    comments: dict[str, list[dict]] = field(default_factory=dict)      # ticket id -> its comments


FIELD_KINDS = {"ticket": "ticket_field", "contact": "user_field", "organization": "organization_field"}


def _via(channel: str | None) -> dict:
    return {"channel": CHANNEL_VIA.get(channel or "api", "api"), "source": {"from": {}, "to": {}, "rel": None}}


class SeedFromDump:
    """Mixin of ZendeskSandbox: `seed_from_dump` and its steps."""

    def _seed(self, root: Path) -> list[dict]:
        """Seed from a jsonl dump. Every record is seeded or named on stderr with the reason
        (`seed_skipped`, returned); ratings on a 1-5 or 0-10 scale become good/bad (Zendesk's
        ticket rating knows only those): the top of the scale (4-5, 8-10) is good."""
        self._blob_root = root
        s = _Seeded(root)
        self._seed_fields(s)
        self._seed_orgs_and_groups(s)
        for kind in ("agent", "contact"):
            for p in iter_records(root, kind):
                self._seed_person(s, kind, p)
        ticket_ids = {t["id"] for t in iter_records(root, "ticket")}
        self._seed_ratings(s, ticket_ids)
        self._seed_threads(s, ticket_ids)
        for t in iter_records(root, "ticket"):
            self._seed_ticket(s, t)
        return self.seed_done()

    def _seed_fields(self, s: _Seeded) -> None:
        for f in iter_records(s.root, "custom_field"):
            entity = f.get("entity")
            kind = FIELD_KINDS.get(entity)
            if kind is None:
                self.seed_skip("custom_field", f.get("id"), f"Zendesk has no custom fields of {entity!r} records")
                continue
            try:
                zf = self._make_field(kind, {"title": f.get("title") or f["key"], "type": _field_type(f.get("type")),
                                             "key": f["key"], "custom_field_options": [
                                                 {"name": o.get("label") or str(o.get("value")), "value": str(o.get("value"))}
                                                 for o in f.get("options") or []]})
            except HttpAbort as e:
                self.seed_skip("custom_field", f.get("id"), _abort_reason(e))
                continue
            s.fields[(entity, f["key"])] = zf["id"] if kind == "ticket_field" else zf["key"]

    def _seed_orgs_and_groups(self, s: _Seeded) -> None:
        for o in iter_records(s.root, "organization"):
            stored = self.store.insert("organization", {
                "url": None, "name": o["name"], "domain_names": o.get("domains") or [], "details": "",
                "notes": o.get("notes") or "", "group_id": None, "shared_tickets": False,
                "shared_comments": False, "tags": o.get("tags") or [], "external_id": None,
                "organization_fields": {s.fields.get(("organization", k), k): v
                                        for k, v in (o.get("custom_fields") or {}).items()},
                "created_at": _iso(o.get("created_at")), "updated_at": _iso(o.get("updated_at")),
                "_ts": self._tick(_ts(o.get("updated_at")))})
            s.orgs[o["id"]] = stored["id"]
        for g in iter_records(s.root, "group"):
            stored = self._make_group({"name": g["name"], "description": g.get("description") or ""})
            s.groups[g["id"]] = stored["id"]

    def _seed_person(self, s: _Seeded, kind: str, p: dict) -> None:
        if p.get("email") and p["email"].lower() == EMAIL:
            self.seed_change(kind, p["id"], f"{EMAIL} is the sandbox's admin: seeded as that user")
            s.person[p["id"]] = self.admin["id"]
            return
        emails = [e for e in p.get("emails") or [] if e]
        org = s.orgs.get(p.get("organization_id"))
        if p.get("organization_id") and org is None:
            self.seed_change(kind, p["id"], f"organization {p['organization_id']} is not in the dump")
        user = self._insert_user({
            "name": p["name"], "email": p.get("email"),
            "role": ("admin" if p.get("role") == "admin" else "agent") if kind == "agent" else "end-user",
            "organization_id": org, "locale": p.get("language"),
            "iana_time_zone": p.get("time_zone"), "tags": p.get("tags") or [],
            "notes": p.get("notes"), "active": p.get("active", True),
            "phone": (p.get("phones") or [None])[0],
            "user_fields": {s.fields.get(("contact", k), k): v for k, v in (p.get("custom_fields") or {}).items()},
            "identities": [{"type": "email", "value": e} for e in emails],
            "created_at": _iso(p.get("created_at")), "updated_at": _iso(p.get("updated_at"))})
        s.person[p["id"]] = user["id"]

    def _seed_ratings(self, s: _Seeded, ticket_ids: set[str]) -> None:
        for r in sorted(iter_records(s.root, "satisfaction_rating"), key=lambda r: r.get("created_at") or ""):
            if r.get("ticket_id") not in ticket_ids:
                self.seed_skip("satisfaction_rating", r.get("id"), f"its ticket {r.get('ticket_id')} is not in the dump")
                continue
            earlier = s.ratings.get(r["ticket_id"])
            if earlier:   # Zendesk keeps one rating per ticket: the newest
                self.seed_skip("satisfaction_rating", earlier.get("id"),
                               f"ticket {r['ticket_id']} has a newer rating ({r.get('id')}); Zendesk keeps one")
            s.ratings[r["ticket_id"]] = r

    def _seed_threads(self, s: _Seeded, ticket_ids: set[str]) -> None:
        """Comments by ticket and files by comment; those whose parent is not in the dump are named."""
        for a in iter_records(s.root, "attachment"):
            s.attachments.setdefault(a.get("comment_id"), []).append(a)
        for c in iter_records(s.root, "comment"):
            if c.get("ticket_id") not in ticket_ids:
                self.seed_skip("comment", c.get("id"), f"its ticket {c.get('ticket_id')} is not in the dump")
                continue
            s.comments.setdefault(c["ticket_id"], []).append(c)
        comment_ids = {c["id"] for cs in s.comments.values() for c in cs}
        for cid, atts in s.attachments.items():
            if cid not in comment_ids:
                for a in atts:
                    self.seed_skip("attachment", a.get("id"), f"its comment {cid} is not in the dump")

    def _files_of(self, s: _Seeded, c: dict) -> list[dict]:
        """The comment's attachments in attachment_ids order (then any others naming it)."""
        by_id = {a["id"]: a for a in s.attachments.get(c["id"], [])}
        for aid in c.get("attachment_ids") or []:
            if aid not in by_id:
                self.seed_change("comment", c["id"], f"attachment {aid} is not in the dump")
        order = [aid for aid in c.get("attachment_ids") or [] if aid in by_id]
        order += [aid for aid in by_id if aid not in order]
        files = []
        for aid in order:
            a = by_id[aid]
            data = self.seed_blob(a, lambda sha: blob_path(s.root, sha).read_bytes())
            if data is None:
                continue
            files.append(self._make_attachment(data, a.get("file_name") or "file",
                                               a.get("content_type") or "application/octet-stream",
                                               inline=bool(a.get("inline"))))
            files[-1]["_dump"] = a     # what the comment's HTML may call it (cid:, its old URL)
        return files

    @staticmethod
    def _html_of(c: dict, files: list[dict]) -> str | None:
        """Zendesk serves a comment's inline images from its own attachment URLs (as it does for
        the cid: images of an e-mail): images of the dump's files point there."""
        def new_src(ref):
            for f in files:
                if inline_images.refers_to(ref, f["_dump"]):
                    return f["content_url"]
            return None
        return inline_images.rewrite(c.get("body_html"), new_src)[0]

    def _seed_ticket(self, s: _Seeded, t: dict) -> None:
        requester = s.person.get(t.get("requester_id"))
        cs = sorted(s.comments.get(t["id"], []), key=lambda c: c.get("created_at") or "")
        if requester is None:
            self._skip_ticket(t, cs, s.ratings, s.attachments, f"requester {t.get('requester_id')} is not in the dump")
            return
        if not cs:
            self._skip_ticket(t, cs, s.ratings, s.attachments, "no comments (a Zendesk ticket needs its first comment)")
            return
        self._note_missing_references(s, t)
        comments = []
        for c in cs:
            files = self._files_of(s, c)
            author = s.person.get(c.get("author_id"))
            if author is None:
                self.seed_change("comment", c["id"], f"author {c.get('author_id')} is not in the dump: "
                                                     "seeded as the requester's")
            comments.append({"author_id": author or requester,
                             "public": bool(c.get("public", True)), "html_body": self._html_of(c, files),
                             "body": c.get("body_text"), "created_at": _iso(c.get("created_at")),
                             "_attachments": files, "via": _via(c.get("channel"))})
        try:
            self._create_ticket({
                "subject": t.get("subject"), "status": STATUS_OUT.get(t["status"], t["status"]),
                "priority": t.get("priority"), "type": t.get("type"), "requester_id": requester,
                "assignee_id": s.person.get(t.get("assignee_id")), "group_id": s.groups.get(t.get("group_id")),
                "organization_id": s.orgs.get(t.get("organization_id")),
                "collaborator_ids": [s.person[c] for c in t.get("cc_ids") or [] if c in s.person],
                "tags": t.get("tags") or [], "created_at": t.get("created_at"), "updated_at": t.get("updated_at"),
                "solved_at": t.get("solved_at"), "due_at": t.get("due_at"),
                "custom_fields": [{"id": s.fields[("ticket", k)], "value": v}
                                  for k, v in (t.get("custom_fields") or {}).items() if ("ticket", k) in s.fields],
                "satisfaction_rating": self._seed_rating(s.ratings.get(t["id"])),
                "via": _via(t.get("channel")),
            }, comments, seeded=True)
        except HttpAbort as e:
            self._skip_ticket(t, cs, s.ratings, s.attachments, _abort_reason(e))

    def _note_missing_references(self, s: _Seeded, t: dict) -> None:
        for ref, table in (("assignee_id", s.person), ("group_id", s.groups), ("organization_id", s.orgs)):
            if t.get(ref) and t[ref] not in table:
                self.seed_change("ticket", t["id"], f"{ref} {t[ref]} is not in the dump")
        for cc in t.get("cc_ids") or []:
            if cc not in s.person:
                self.seed_change("ticket", t["id"], f"cc {cc} is not in the dump")
        for k in t.get("custom_fields") or {}:
            if ("ticket", k) not in s.fields:
                self.seed_change("ticket", t["id"], f"custom field {k!r} is not defined in the dump")

    def seed_from_dump(self, root: Path) -> list[dict]:
        """Seed (more) records from a dump; returns the records left out, each with its reason."""
        return self._seed(Path(root))

    def _skip_ticket(self, t: dict, comments: list[dict], ratings: dict, attachments: dict,
                     reason: str) -> None:
        """The ticket, and what hangs off it, each named."""
        self.seed_skip("ticket", t["id"], reason)
        why = f"its ticket {t['id']} was not seeded"
        for c in comments:
            self.seed_skip("comment", c["id"], why)
            for a in attachments.get(c["id"], []):
                self.seed_skip("attachment", a.get("id"), why)
        if t["id"] in ratings:
            self.seed_skip("satisfaction_rating", ratings[t["id"]].get("id"), why)

    def _seed_rating(self, r: dict | None) -> dict | None:
        """A dump rating as Zendesk's ticket rating: good/bad, with its own times."""
        if r is None:
            return None
        score = _good_bad(r.get("score"), r.get("scale"))
        if score is None:
            self.seed_skip("satisfaction_rating", r.get("id"),
                           f"score {r.get('score')!r} on scale {r.get('scale')!r} is neither good nor bad")
            return None
        if score != r.get("score"):
            self.seed_change("satisfaction_rating", r.get("id"),
                             f"score {r.get('score')!r} ({r.get('scale')}) seeded as {score!r}",
                             summary="ratings on a 1-5 or 0-10 scale seeded as good/bad (4-5 and 8-10 good)")
        created = _iso(r.get("created_at"))
        return {"id": self.store.next_id("rating"), "score": score, "comment": r.get("comment"),
                "created_at": created, "updated_at": _iso(r.get("updated_at") or r.get("created_at"))}

    # ------------------------------------------------------------ object factories
