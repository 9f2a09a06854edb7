"""A loopback emulation of the Zendesk Support API, seeded from any jsonl dump.

Built to Zendesk's documents (developer.zendesk.com and its OpenAPI file), not to this package's
adapter: tests check its answers against ../shared/api-specs/zendesk/support-oas.yaml.

Served, both ways:
- auth: Basic `{email}/token:{token}` (401 "Couldn't authenticate you" otherwise; /users/me answers
  200 with an anonymous user, as Zendesk does);
- exports: /incremental/tickets/cursor and /incremental/users/cursor (opaque cursors,
  `after_cursor`, `end_of_stream`, sideloads `metric_sets` and `identities`), time-based
  /incremental/organizations and /incremental/ticket_events (`comment_events` sideload);
- lists with cursor pagination (`page[size]`, `meta.has_more`, `links.next`): groups, ticket,
  user and organization fields, /tickets/{id}/comments; search and show-many by external_id;
- writes: uploads (tokens, 60 minutes, consumed when a comment uses them), ticket import (single
  and create_many with `archive_immediately`), users create_or_update(_many) (matched by
  external_id, then email), organizations create_many, groups, fields; bulk calls answer a
  job_status that completes asynchronously (a worker thread) with per-item results, read per job
  or many at once (/job_statuses/show_many?ids=a,b); the `job_fail` fault fails single items;
- inline images of seeded comments (`cid:` or the dump's own URL of the file) are served from the
  account's own /attachments/token/ URLs (an inline image is a file of the account: ZD-OAS
  AttachmentBaseObject.inline);
- errors: 422 `RecordInvalid` with `details` keyed by field; 429 with Retry-After; per-response
  `X-Rate-Limit` / `X-Rate-Limit-Remaining`; incremental exports limited to 10 of the account's
  700 per minute (scaled to `--rate-limit`).
"""

from __future__ import annotations

import base64
import html as _html
import json
import secrets as _secrets
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from hdmigrate import inline_images
from hdmigrate.testing.sandbox import HttpAbort, Request, Response, SandboxServer, route

EMAIL = "admin@sandbox.zendesk.test"
TOKEN = "sandbox-zendesk-token"
PAGE_MAX = 1000
INCREMENTAL_SHARE = 10 / 700          # incremental exports: 10/min on a 700/min account
STATUS_OUT = {"on_hold": "hold"}
CHANNEL_VIA = {"email": "email", "web": "web", "phone": "voice", "chat": "chat", "sms": "sms",
               "social": "twitter", "messaging": "native_messaging", "api": "api", "letter": "api",
               "in_person": "api", "other": "api"}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ts(value: str | None) -> int:
    if not value:
        return int(time.time())
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def _iso(value: str | None) -> str:
    if not value:
        return _now()
    return datetime.fromtimestamp(_ts(value), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _invalid(field: str, description: str, error: str = "InvalidValue") -> HttpAbort:
    return HttpAbort(422, {"error": "RecordInvalid", "description": "Record validation errors",
                           "details": {field: [{"description": description, "error": error}]}})


def _encode_cursor(ts: int, rid: int) -> str:
    return base64.urlsafe_b64encode(f"{ts}.{rid}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        ts, rid = text.split(".")
        return int(ts), int(rid)
    except Exception:  # noqa: BLE001
        raise HttpAbort(400, {"error": "InvalidPaginationParameter",
                              "description": "cursor is invalid"}) from None


class ZendeskSandbox(SandboxServer):
    platform = "zendesk"
    env = {"ZENDESK_EMAIL": EMAIL, "ZENDESK_TOKEN": TOKEN}

    def __init__(self, data: Any = None, port: int = 0, rate_limit: float | None = None,
                 faults: Any = None, seed: int | None = None, **kw: Any):
        super().__init__(data, port, rate_limit, faults, seed, **kw)
        self._clock_lock = threading.Lock()
        self._last_ts = 0
        self._jobs: dict[str, dict] = {}
        self._job_lock = threading.Lock()
        self.job_delay = 0.05
        self.bulk_user_import = True   # False: users/create_many answers 403, as on accounts without it
        self.admin = self._insert_user({"name": "Sandbox Admin", "email": EMAIL, "role": "admin"})
        if data is not None:
            self._seed(Path(data))

    # ------------------------------------------------------------ protocol
    @property
    def plan_section(self) -> dict:
        return {"adapter": "zendesk", "url": self.url, "email_env": "ZENDESK_EMAIL",
                "token_env": "ZENDESK_TOKEN"}

    def authenticate(self, request: Request) -> bool:
        header = request.headers.get("authorization") or ""
        if not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except Exception:  # noqa: BLE001
            return False
        return user == f"{EMAIL}/token" and password == TOKEN

    def endpoint_limits(self, account_per_minute: float) -> dict[str, float]:
        return {"incremental": max(1.0, account_per_minute * INCREMENTAL_SHARE)}

    def classify(self, request: Request) -> str | None:
        return "incremental" if request.path.startswith("/api/v2/incremental/") else None

    def rate_limit_headers(self, request, usage) -> dict[str, str]:
        account = usage[0]
        return {"X-Rate-Limit": str(account.limit), "X-Rate-Limit-Remaining": str(account.remaining)}

    def too_many_requests(self, request: Request, retry_after: int, bucket: str) -> Response:
        if bucket == "incremental":
            return Response(429, json={"error": "APIRateLimitExceeded", "description":
                                       "Number of allowed incremental export API requests per minute exceeded"})
        return Response(429, body=b"Number of allowed API requests per minute exceeded",
                        content_type="text/plain; charset=utf-8")

    def unauthorized(self, request: Request) -> Response:
        return Response(401, json={"error": "Couldn't authenticate you"},
                        headers={"WWW-Authenticate": 'Basic realm="Web Password"'})

    def not_found(self, request: Request) -> Response:
        return Response(404, json={"error": "InvalidEndpoint", "description": "Not found"})

    # ------------------------------------------------------------ helpers
    def _tick(self, wanted: int | None = None) -> int:
        """A strictly increasing generated_timestamp (ordering key of the exports)."""
        with self._clock_lock:
            value = max(wanted or int(time.time()), self._last_ts + 1)
            self._last_ts = value
            return value

    def _base(self) -> str:
        return self.url if self._server is not None else "http://127.0.0.1"

    def _insert_user(self, fields: dict, id: int | None = None) -> dict:
        now = fields.get("created_at") or _now()
        user = {"url": None, "id": id, "name": fields.get("name") or "Unknown",
                "email": fields.get("email"), "created_at": now,
                "updated_at": fields.get("updated_at") or now, "time_zone": fields.get("time_zone") or "UTC",
                "iana_time_zone": fields.get("iana_time_zone") or fields.get("time_zone") or "Etc/UTC",
                "phone": fields.get("phone"), "shared_phone_number": None, "photo": None,
                "locale_id": 1, "locale": fields.get("locale") or "en-US",
                "organization_id": fields.get("organization_id"), "role": fields.get("role") or "end-user",
                "verified": bool(fields.get("verified", False)), "external_id": fields.get("external_id"),
                "tags": list(fields.get("tags") or []), "alias": "", "active": fields.get("active", True),
                "shared": False, "shared_agent": False, "last_login_at": None,
                "two_factor_auth_enabled": False, "signature": None, "details": "",
                "notes": fields.get("notes") or "", "role_type": None, "custom_role_id": None,
                "moderator": fields.get("role") in ("admin", "agent"), "ticket_restriction": None,
                "only_private_comments": False, "restricted_agent": False,
                "suspended": bool(fields.get("suspended", False)), "default_group_id": None,
                "report_csv": False, "user_fields": dict(fields.get("user_fields") or {}),
                "_identities": list(fields.get("identities") or []),
                "_ts": self._tick(_ts(fields.get("updated_at")) if fields.get("updated_at") else None)}
        stored = self.store.insert("user", user, id=id)
        self.store.update("user", stored["id"], {"url": f"/api/v2/users/{stored['id']}.json"})
        return self.store.get("user", stored["id"])

    def _public(self, kind: str, record: dict) -> dict:
        out = {k: v for k, v in record.items() if not k.startswith("_")}
        if out.get("url") and out["url"].startswith("/"):
            out["url"] = self._base() + out["url"]
        if kind == "ticket":
            out["via"] = record.get("via") or {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}
        return out

    def _page(self, request: Request, items: list[dict], key: str, kind: str) -> dict:
        """Cursor pagination (`page[size]`, `page[after]`) over items sorted by id."""
        size = min(100, int(request.arg("page[size]") or request.arg("per_page") or 100))
        after = request.arg("page[after]")
        items = sorted(items, key=lambda r: int(r["id"]))
        if after:
            _, last = _decode_cursor(after)
            items = [r for r in items if int(r["id"]) > last]
        chunk, more = items[:size], len(items) > size
        cursor = _encode_cursor(0, chunk[-1]["id"]) if chunk else None
        # The next link keeps the request's filters (role, external_id, …), as Zendesk's does.
        kept = urlencode([(k, v) for k, vs in request.query.items() if not k.startswith("page") and k != "per_page"
                          for v in vs])
        next_url = (f"{self._base()}{request.path}?page%5Bsize%5D={size}&page%5Bafter%5D={cursor}"
                    + (f"&{kept}" if kept else "")) if more else None
        return {key: [self._public(kind, r) for r in chunk],
                "meta": {"has_more": more, "after_cursor": cursor if more else None, "before_cursor": None},
                "links": {"next": next_url, "prev": None}}

    # ------------------------------------------------------------ seeding from a dump
    def _seed(self, root: Path) -> list[dict]:
        """Seed from a jsonl dump. Every record is seeded or named on stderr with the reason
        (`seed_skipped`, returned); ratings on a 1-5 or 0-10 scale become good/bad (Zendesk's
        ticket rating knows only those): the top of the scale (4-5, 8-10) is good."""
        from hdmigrate.canonical_dump import blob_path, iter_records

        self._blob_root = root
        person: dict[str, int] = {}
        orgs: dict[str, int] = {}
        groups: dict[str, int] = {}
        fields: dict[tuple[str, str], Any] = {}
        for f in iter_records(root, "custom_field"):
            entity = f.get("entity")
            kind = {"ticket": "ticket_field", "contact": "user_field", "organization": "organization_field"}.get(entity)
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
            fields[(entity, f["key"])] = zf["id"] if kind == "ticket_field" else zf["key"]
        for o in iter_records(root, "organization"):
            stored = self.store.insert("organization", {
                "url": None, "name": o["name"], "domain_names": o.get("domains") or [], "details": "",
                "notes": o.get("notes") or "", "group_id": None, "shared_tickets": False,
                "shared_comments": False, "tags": o.get("tags") or [], "external_id": None,
                "organization_fields": {fields.get(("organization", k), k): v
                                        for k, v in (o.get("custom_fields") or {}).items()},
                "created_at": _iso(o.get("created_at")), "updated_at": _iso(o.get("updated_at")),
                "_ts": self._tick(_ts(o.get("updated_at")))})
            orgs[o["id"]] = stored["id"]
        for g in iter_records(root, "group"):
            stored = self._make_group({"name": g["name"], "description": g.get("description") or ""})
            groups[g["id"]] = stored["id"]
        for kind in ("agent", "contact"):
            for p in iter_records(root, kind):
                if p.get("email") and p["email"].lower() == EMAIL:
                    self.seed_change(kind, p["id"], f"{EMAIL} is the sandbox's admin: seeded as that user")
                    person[p["id"]] = self.admin["id"]
                    continue
                emails = [e for e in p.get("emails") or [] if e]
                org = orgs.get(p.get("organization_id"))
                if p.get("organization_id") and org is None:
                    self.seed_change(kind, p["id"], f"organization {p['organization_id']} is not in the dump")
                user = self._insert_user({
                    "name": p["name"], "email": p.get("email"),
                    "role": ("admin" if p.get("role") == "admin" else "agent") if kind == "agent" else "end-user",
                    "organization_id": org, "locale": p.get("language"),
                    "iana_time_zone": p.get("time_zone"), "tags": p.get("tags") or [],
                    "notes": p.get("notes"), "active": p.get("active", True),
                    "phone": (p.get("phones") or [None])[0],
                    "user_fields": {fields.get(("contact", k), k): v for k, v in (p.get("custom_fields") or {}).items()},
                    "identities": [{"type": "email", "value": e} for e in emails],
                    "created_at": _iso(p.get("created_at")), "updated_at": _iso(p.get("updated_at"))})
                person[p["id"]] = user["id"]
        ticket_ids = {t["id"] for t in iter_records(root, "ticket")}
        ratings: dict[str, dict] = {}
        for r in sorted(iter_records(root, "satisfaction_rating"), key=lambda r: r.get("created_at") or ""):
            if r.get("ticket_id") not in ticket_ids:
                self.seed_skip("satisfaction_rating", r.get("id"), f"its ticket {r.get('ticket_id')} is not in the dump")
                continue
            earlier = ratings.get(r["ticket_id"])
            if earlier:   # Zendesk keeps one rating per ticket: the newest
                self.seed_skip("satisfaction_rating", earlier.get("id"),
                               f"ticket {r['ticket_id']} has a newer rating ({r.get('id')}); Zendesk keeps one")
            ratings[r["ticket_id"]] = r
        attachments: dict[str, list[dict]] = {}
        for a in iter_records(root, "attachment"):
            attachments.setdefault(a.get("comment_id"), []).append(a)
        comments_by_ticket: dict[str, list[dict]] = {}
        for c in iter_records(root, "comment"):
            if c.get("ticket_id") not in ticket_ids:
                self.seed_skip("comment", c.get("id"), f"its ticket {c.get('ticket_id')} is not in the dump")
                continue
            comments_by_ticket.setdefault(c["ticket_id"], []).append(c)
        comment_ids = {c["id"] for cs in comments_by_ticket.values() for c in cs}
        for cid, atts in attachments.items():
            if cid not in comment_ids:
                for a in atts:
                    self.seed_skip("attachment", a.get("id"), f"its comment {cid} is not in the dump")

        def files_of(c: dict) -> list[dict]:
            """The comment's attachments in attachment_ids order (then any others naming it)."""
            by_id = {a["id"]: a for a in attachments.get(c["id"], [])}
            for aid in c.get("attachment_ids") or []:
                if aid not in by_id:
                    self.seed_change("comment", c["id"], f"attachment {aid} is not in the dump")
            order = [aid for aid in c.get("attachment_ids") or [] if aid in by_id]
            order += [aid for aid in by_id if aid not in order]
            files = []
            for aid in order:
                a = by_id[aid]
                data = self.seed_blob(a, lambda sha: blob_path(root, sha).read_bytes())
                if data is None:
                    continue
                files.append(self._make_attachment(data, a.get("file_name") or "file",
                                                   a.get("content_type") or "application/octet-stream",
                                                   inline=bool(a.get("inline"))))
                files[-1]["_dump"] = a     # what the comment's HTML may call it (cid:, its old URL)
            return files

        def html_of(c: dict, files: list[dict]) -> str | None:
            """Zendesk serves a comment's inline images from its own attachment URLs (as it does
            for the cid: images of an e-mail): images of the dump's files point there."""
            def new_src(ref):
                for f in files:
                    if inline_images.refers_to(ref, f["_dump"]):
                        return f["content_url"]
                return None
            return inline_images.rewrite(c.get("body_html"), new_src)[0]

        for t in iter_records(root, "ticket"):
            requester = person.get(t.get("requester_id"))
            cs = sorted(comments_by_ticket.get(t["id"], []), key=lambda c: c.get("created_at") or "")
            if requester is None:
                self._skip_ticket(t, cs, ratings, attachments, f"requester {t.get('requester_id')} is not in the dump")
                continue
            if not cs:
                self._skip_ticket(t, cs, ratings, attachments, "no comments (a Zendesk ticket needs its first comment)")
                continue
            for ref, table in (("assignee_id", person), ("group_id", groups), ("organization_id", orgs)):
                if t.get(ref) and t[ref] not in table:
                    self.seed_change("ticket", t["id"], f"{ref} {t[ref]} is not in the dump")
            for cc in t.get("cc_ids") or []:
                if cc not in person:
                    self.seed_change("ticket", t["id"], f"cc {cc} is not in the dump")
            for k in t.get("custom_fields") or {}:
                if ("ticket", k) not in fields:
                    self.seed_change("ticket", t["id"], f"custom field {k!r} is not defined in the dump")
            comments = []
            for c in cs:
                files = files_of(c)
                author = person.get(c.get("author_id"))
                if author is None:
                    self.seed_change("comment", c["id"], f"author {c.get('author_id')} is not in the dump: "
                                                         "seeded as the requester's")
                comments.append({"author_id": author or requester,
                                 "public": bool(c.get("public", True)), "html_body": html_of(c, files),
                                 "body": c.get("body_text"), "created_at": _iso(c.get("created_at")),
                                 "_attachments": files,
                                 "via": {"channel": CHANNEL_VIA.get(c.get("channel") or "api", "api"),
                                         "source": {"from": {}, "to": {}, "rel": None}}})
            try:
                self._create_ticket({
                    "subject": t.get("subject"), "status": STATUS_OUT.get(t["status"], t["status"]),
                    "priority": t.get("priority"), "type": t.get("type"), "requester_id": requester,
                    "assignee_id": person.get(t.get("assignee_id")), "group_id": groups.get(t.get("group_id")),
                    "organization_id": orgs.get(t.get("organization_id")),
                    "collaborator_ids": [person[c] for c in t.get("cc_ids") or [] if c in person],
                    "tags": t.get("tags") or [], "created_at": t.get("created_at"), "updated_at": t.get("updated_at"),
                    "solved_at": t.get("solved_at"), "due_at": t.get("due_at"),
                    "custom_fields": [{"id": fields[("ticket", k)], "value": v}
                                      for k, v in (t.get("custom_fields") or {}).items() if ("ticket", k) in fields],
                    "satisfaction_rating": self._seed_rating(ratings.get(t["id"])),
                    "via": {"channel": CHANNEL_VIA.get(t.get("channel") or "api", "api"),
                            "source": {"from": {}, "to": {}, "rel": None}},
                }, comments, seeded=True)
            except HttpAbort as e:
                self._skip_ticket(t, cs, ratings, attachments, _abort_reason(e))
        return self.seed_done()

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
    def _make_field(self, kind: str, body: dict) -> dict:
        if not body.get("title"):
            raise _invalid("title", "Title: cannot be blank", "BlankValue")
        ftype = body.get("type") or "text"
        if ftype not in ("text", "textarea", "checkbox", "date", "integer", "decimal", "regexp",
                         "tagger", "dropdown", "multiselect", "partialcreditcard", "lookup"):
            raise _invalid("type", f"Type: {ftype} is not valid")
        if kind != "ticket_field":
            key = body.get("key")
            if not key:
                raise _invalid("key", "Key: cannot be blank", "BlankValue")
            if self.store.find(kind, key=key):
                raise _invalid("key", "Key: has already been taken", "DuplicateValue")
        now = _now()
        record = {"url": None, "type": "dropdown" if kind != "ticket_field" and ftype == "tagger" else ftype,
                  "title": body["title"], "raw_title": body["title"], "description": body.get("description") or "",
                  "position": self.store.count(kind), "active": body.get("active", True),
                  "required": bool(body.get("required", False)), "created_at": now, "updated_at": now}
        if kind != "ticket_field":
            record["key"] = body["key"]
        if body.get("custom_field_options"):
            record["custom_field_options"] = [
                {"id": self.store.next_id("option"), "name": o.get("name"), "raw_name": o.get("name"),
                 "value": o.get("value"), "default": False} for o in body["custom_field_options"]]
        stored = self.store.insert(kind, record)
        return self.store.update(kind, stored["id"], {"url": f"/api/v2/{kind}s/{stored['id']}.json"})

    def _make_group(self, body: dict) -> dict:
        if not body.get("name"):
            raise _invalid("name", "Name: cannot be blank", "BlankValue")
        now = _now()
        stored = self.store.insert("group", {"url": None, "name": body["name"],
                                             "description": body.get("description") or "",
                                             "default": False, "deleted": False, "is_public": True,
                                             "created_at": now, "updated_at": now})
        return self.store.update("group", stored["id"], {"url": f"/api/v2/groups/{stored['id']}.json"})

    def _make_attachment(self, data: bytes, name: str, content_type: str, inline: bool = False) -> dict:
        aid = self.store.next_id("attachment")
        token = _secrets.token_urlsafe(12)
        self.store.insert("blob", {"data": data, "token": token}, id=aid)
        return {"id": aid, "file_name": name, "content_url": f"/attachments/token/{token}/?name={name}",
                "mapped_content_url": f"/attachments/token/{token}/?name={name}",
                "content_type": content_type, "size": len(data), "width": None, "height": None,
                "inline": inline, "deleted": False, "malware_access_override": False,
                "malware_scan_result": "not_scanned", "thumbnails": [], "url": f"/api/v2/attachments/{aid}.json"}

    def _attachment_out(self, a: dict) -> dict:
        out = {k: v for k, v in a.items() if not k.startswith("_")}
        for key in ("content_url", "mapped_content_url", "url"):
            if out.get(key, "").startswith("/"):
                out[key] = self._base() + out[key]
        return out

    def _create_ticket(self, body: dict, comments: list[dict], *, seeded: bool = False,
                       archive: bool = False) -> dict:
        """Store a ticket and its comments (import semantics: timestamps and authors kept)."""
        if not body.get("requester_id") or not self.store.get("user", body["requester_id"]):
            raise _invalid("requester_id", "Requester: is invalid", "InvalidValue")
        if not comments:
            raise _invalid("base", "Description: cannot be blank", "BlankValue")
        status = body.get("status") or "new"
        if status not in ("new", "open", "pending", "hold", "solved", "closed"):
            raise _invalid("status", f"Status: {status} is not valid")
        for name, allowed in (("priority", ("urgent", "high", "normal", "low")),
                              ("type", ("problem", "incident", "question", "task"))):
            if body.get(name) is not None and body[name] not in allowed:
                raise _invalid(name, f"{name.title()}: {body[name]} is not valid")
        for c in comments:
            if not self.store.get("user", c.get("author_id") or body["requester_id"]):
                raise _invalid("comments", f"Author: {c.get('author_id')} is invalid")
        created = _iso(body.get("created_at"))
        updated = _iso(body.get("updated_at") or body.get("created_at"))
        first = comments[0]
        ticket = {
            "url": None, "external_id": body.get("external_id"), "via": body.get("via"),
            "created_at": created, "updated_at": updated, "type": body.get("type"),
            "subject": body.get("subject") or "", "raw_subject": body.get("subject") or "",
            "description": first.get("body") or first.get("value") or first.get("html_body") or "",
            "priority": body.get("priority"), "status": status, "recipient": None,
            "requester_id": body["requester_id"], "submitter_id": body["requester_id"],
            "assignee_id": body.get("assignee_id"), "organization_id": body.get("organization_id"),
            "group_id": body.get("group_id"), "collaborator_ids": list(body.get("collaborator_ids") or []),
            "follower_ids": [], "email_cc_ids": [], "forum_topic_id": None, "problem_id": None,
            "has_incidents": False, "is_public": bool(first.get("public", True)),
            "due_at": body.get("due_at"), "tags": sorted(set(body.get("tags") or [])),
            "custom_fields": list(body.get("custom_fields") or []),
            "satisfaction_rating": body.get("satisfaction_rating"), "sharing_agreement_ids": [],
            "followup_ids": [], "ticket_form_id": None, "brand_id": 1, "allow_channelback": False,
            "allow_attachments": True, "from_messaging_channel": False,
            "_solved_at": body.get("solved_at"), "_archived": archive and status == "closed",
            "_ts": self._tick(_ts(updated) if seeded else None),
        }
        ticket["fields"] = ticket["custom_fields"]
        stored = self.store.insert("ticket", ticket)
        tid = stored["id"]
        self.store.update("ticket", tid, {"url": f"/api/v2/tickets/{tid}.json"})
        for c in comments:
            html = c.get("html_body")
            text = c.get("body") if c.get("body") is not None else c.get("value")
            if html is None:
                # `body` is plain text: Zendesk escapes it for html_body
                html = ('<div class="zd-comment" dir="auto"><p dir="auto">'
                        + _html.escape(text or "", quote=False).replace("\n", "<br>") + "</p></div>")
            if text is None:
                text = html
            cid = self.store.next_id("comment")
            self.store.insert("comment", {
                "id": cid, "type": "Comment", "author_id": c.get("author_id") or body["requester_id"],
                "body": text, "html_body": html, "plain_body": text, "public": bool(c.get("public", True)),
                "attachments": c.get("_attachments") or [], "audit_id": cid,
                "via": c.get("via") or {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
                "created_at": _iso(c.get("created_at") or created), "metadata": {"system": {}, "custom": {}},
                "_ticket_id": tid, "_ts": _ts(c.get("created_at") or created)}, id=cid)
        return self.store.get("ticket", tid)

    # ------------------------------------------------------------ account
    @route("GET", r"/api/v2/users/me(\.json)?", auth=False)
    def me(self, request: Request):
        if not self.authenticate(request):
            return {"user": {"id": None, "url": None, "name": "Anonymous user", "email": "invalid@example.com",
                             "role": "end-user", "active": True}}
        return {"user": self._public("user", self.store.get("user", self.admin["id"]))}

    # ------------------------------------------------------------ incremental exports
    def _cursor_export(self, request: Request, kind: str, key: str) -> dict:
        per_page = min(PAGE_MAX, int(request.arg("per_page") or PAGE_MAX))
        cursor = request.arg("cursor")
        items = sorted(self.store.all(kind), key=lambda r: (r["_ts"], int(r["id"])))
        if cursor:
            ts, rid = _decode_cursor(cursor)
            items = [r for r in items if (r["_ts"], int(r["id"])) > (ts, rid)]
        else:
            start = request.arg("start_time")
            if start is None or not start.isdigit():
                raise HttpAbort(400, {"error": "InvalidValue", "description": "start_time is required"})
            items = [r for r in items if r["_ts"] >= int(start)]
        chunk = items[:per_page]
        end = len(items) <= per_page
        if chunk:
            after = _encode_cursor(chunk[-1]["_ts"], int(chunk[-1]["id"]))
        else:
            after = cursor or _encode_cursor(int(request.arg("start_time") or 0) - 1, 0)
        base = f"{self._base()}{request.path}"
        body = {key: [self._public(kind, r) for r in chunk], "after_cursor": after,
                "after_url": f"{base}?cursor={after}", "before_cursor": None, "before_url": None,
                "end_of_stream": end}
        include = (request.arg("include") or "").split(",")
        if kind == "ticket":
            for r in body[key]:
                if r["status"] == "closed":
                    r.setdefault("tags", r["tags"])
            if "metric_sets" in include:
                body["metric_sets"] = [{"id": r["id"], "ticket_id": r["id"], "solved_at": r.get("_solved_at"),
                                        "created_at": r["created_at"], "updated_at": r["updated_at"]}
                                       for r in chunk]
        if kind == "user" and "identities" in include:
            identities = []
            for u in chunk:
                values = ([{"type": "email", "value": u["email"], "primary": True}] if u.get("email") else []) + \
                         [dict(i, primary=False) for i in u.get("_identities") or []]
                for i in values:
                    identities.append({"id": self.store.next_id("identity"), "user_id": u["id"], "type": i["type"],
                                       "value": i["value"], "verified": True, "primary": i["primary"],
                                       "created_at": u["created_at"], "updated_at": u["updated_at"], "url": None})
            body["identities"] = identities
        return body

    @route("GET", r"/api/v2/incremental/tickets/cursor(\.json)?")
    def export_tickets(self, request: Request):
        return self._cursor_export(request, "ticket", "tickets")

    @route("GET", r"/api/v2/incremental/users/cursor(\.json)?")
    def export_users(self, request: Request):
        return self._cursor_export(request, "user", "users")

    def _time_export(self, request: Request, rows: list[tuple[int, dict]], key: str) -> dict:
        start = request.arg("start_time")
        if start is None or not start.lstrip("-").isdigit():
            raise HttpAbort(400, {"error": "InvalidValue", "description": "start_time is required"})
        per_page = min(PAGE_MAX, int(request.arg("per_page") or PAGE_MAX))
        rows = sorted((r for r in rows if r[0] >= int(start)), key=lambda r: (r[0], r[1]["id"]))
        chunk = rows[:per_page]
        end = len(rows) <= per_page
        end_time = chunk[-1][0] if chunk else int(start)
        if not end and end_time == int(start):
            end_time += 1          # never hand back the start (a page of one second's items)
        return {key: [r[1] for r in chunk], "count": len(chunk), "end_of_stream": end, "end_time": end_time,
                "next_page": f"{self._base()}{request.path}?start_time={end_time}"}

    @route("GET", r"/api/v2/incremental/organizations(\.json)?")
    def export_organizations(self, request: Request):
        rows = [(o["_ts"], self._public("organization", o)) for o in self.store.all("organization")]
        return self._time_export(request, rows, "organizations")

    @route("GET", r"/api/v2/incremental/ticket_events(\.json)?")
    def export_ticket_events(self, request: Request):
        with_comments = "comment_events" in (request.arg("include") or "")
        rows = []
        for c in self.store.all("comment"):
            ticket = self.store.get("ticket", c["_ticket_id"])
            if ticket is None:
                continue
            child = {"id": c["id"], "via": c["via"], "via_reference_id": None, "type": "Comment",
                     "author_id": c["author_id"], "body": c["body"], "html_body": self._html_out(c["html_body"]),
                     "public": c["public"], "attachments": [self._attachment_out(a) for a in c["attachments"]],
                     "audit_id": c["audit_id"], "created_at": c["created_at"], "event_type": "Comment"}
            if not with_comments:
                child = {"id": c["id"], "event_type": "Comment", "comment_present": True,
                         "comment_public": c["public"]}
            rows.append((c["_ts"], {"id": c["audit_id"], "ticket_id": ticket["id"], "timestamp": c["_ts"],
                                    "created_at": c["created_at"], "updater_id": c["author_id"],
                                    "via": c["via"], "system": {}, "metadata": {}, "event_type": "Audit",
                                    "child_events": [child], "merged_ticket_ids": []}))
        return self._time_export(request, rows, "ticket_events")

    # ------------------------------------------------------------ lists, search
    @route("GET", r"/api/v2/groups(\.json)?")
    def list_groups(self, request: Request):
        return self._page(request, self.store.all("group"), "groups", "group")

    @route("POST", r"/api/v2/groups(\.json)?")
    def create_group(self, request: Request):
        body = (request.json or {}).get("group") or {}
        return Response(201, json={"group": self._public("group", self._make_group(body))})

    @route("GET", r"/api/v2/(?P<kind>ticket|user|organization)_fields(\.json)?")
    def list_fields(self, request: Request):
        kind = f"{request.params['kind']}_field"
        return self._page(request, self.store.all(kind), f"{kind}s", kind)

    @route("POST", r"/api/v2/(?P<kind>ticket|user|organization)_fields(\.json)?")
    def create_field(self, request: Request):
        kind = f"{request.params['kind']}_field"
        body = (request.json or {}).get(kind) or {}
        return Response(201, json={kind: self._public(kind, self._make_field(kind, body))})

    @route("GET", r"/api/v2/tickets(\.json)?")
    def list_tickets(self, request: Request):
        items = self.store.all("ticket")
        external = request.arg("external_id")
        if external is not None:
            items = [t for t in items if (t.get("external_id") or "") == external]
        return self._page(request, items, "tickets", "ticket")

    @route("GET", r"/api/v2/tickets/(?P<id>\d+)(\.json)?")
    def show_ticket(self, request: Request):
        ticket = self.store.get("ticket", request.params["id"])
        if ticket is None:
            raise HttpAbort(404, {"error": "RecordNotFound", "description": "Not found"})
        return {"ticket": self._public("ticket", ticket)}

    @route("PUT", r"/api/v2/tickets/(?P<id>\d+)(\.json)?")
    def update_ticket(self, request: Request):
        """Update Ticket (ZD-OAS UpdateTicket): status, priority, type, subject, tags, custom_fields
        (merged by field id). A closed (or archived) ticket cannot be updated: 422."""
        ticket = self.store.get("ticket", request.params["id"])
        if ticket is None or ticket.get("_archived"):
            raise HttpAbort(404, {"error": "RecordNotFound", "description": "Not found"})
        body = (request.json or {}).get("ticket") or {}
        if ticket["status"] == "closed":
            raise _invalid("status", "Status: closed prevents ticket update")
        changes: dict[str, Any] = {}
        if body.get("status") is not None:
            if body["status"] not in ("new", "open", "pending", "hold", "solved", "closed"):
                raise _invalid("status", f"Status: {body['status']} is not valid")
            changes["status"] = body["status"]
        for name, allowed in (("priority", ("urgent", "high", "normal", "low")),
                              ("type", ("problem", "incident", "question", "task"))):
            if name in body:
                if body[name] is not None and body[name] not in allowed:
                    raise _invalid(name, f"{name.title()}: {body[name]} is not valid")
                changes[name] = body[name]
        if body.get("subject") is not None:
            changes.update(subject=body["subject"], raw_subject=body["subject"])
        if body.get("tags") is not None:
            changes["tags"] = sorted(set(body["tags"]))
        values = body.get("custom_fields") if body.get("custom_fields") is not None else body.get("fields")
        if values is not None:
            merged = {f["id"]: f for f in ticket.get("custom_fields") or []}
            for f in values:
                merged[f["id"]] = {"id": f["id"], "value": f.get("value")}
            changes["custom_fields"] = changes["fields"] = list(merged.values())
        changes["updated_at"] = _now()
        changes["_ts"] = self._tick()
        self.store.update("ticket", ticket["id"], changes)
        return {"ticket": self._public("ticket", self.store.get("ticket", ticket["id"])), "audit": {"events": []}}

    @route("GET", r"/api/v2/(?P<what>tickets|organizations|users)/count(\.json)?")
    def count(self, request: Request):
        kind = request.params["what"][:-1]
        return {"count": {"value": self.store.count(kind), "refreshed_at": _now()}}

    @route("GET", r"/api/v2/tickets/(?P<id>\d+)/comments(\.json)?")
    def list_comments(self, request: Request):
        if self.store.get("ticket", request.params["id"]) is None:
            raise HttpAbort(404, {"error": "RecordNotFound", "description": "Not found"})
        items = [c for c in self.store.all("comment") if str(c["_ticket_id"]) == request.params["id"]]
        page = self._page(request, items, "comments", "comment")
        for c in page["comments"]:
            c["attachments"] = [self._attachment_out(a) for a in c["attachments"]]
            c["html_body"] = self._html_out(c.get("html_body"))
        return page

    def _html_out(self, html: str | None) -> str | None:
        """Seeded inline images are stored at the account's relative attachment URLs: served absolute."""
        return inline_images.rewrite(html, lambda ref: self._base() + ref.src
                                     if ref.src.startswith("/attachments/token/") else None)[0]

    @route("PUT", r"/api/v2/tickets/(?P<id>\d+)/comments/(?P<cid>\d+)/make_private(\.json)?")
    def make_comment_private(self, request: Request):
        """Make Comment Private (ZD-OAS MakeTicketCommentPrivate): one way only; empty answer."""
        comment = self.store.get("comment", int(request.params["cid"]))
        if comment is None or str(comment["_ticket_id"]) != request.params["id"]:
            raise HttpAbort(404, {"error": "RecordNotFound", "description": "Not found"})
        self.store.update("comment", comment["id"], {"public": False})
        return ""

    @route("GET", r"/api/v2/users(\.json)?")
    def list_users(self, request: Request):
        """List Users (ZD-OAS ListUsers): filters `role` (end-user, agent, admin), `role[]`
        (several), `external_id`; cursor or `per_page` pagination, at most 100 per page."""
        users = self.store.all("user")
        roles = [r for r in (request.query.get("role[]") or []) if r]
        if request.arg("role"):
            roles.append(request.arg("role"))
        if roles:
            users = [u for u in users if u.get("role") in roles]
        external = request.arg("external_id")
        if external is not None:
            users = [u for u in users if (u.get("external_id") or "").lower() == external.lower()]
        return self._page(request, users, "users", "user")

    @route("GET", r"/api/v2/organizations/search(\.json)?")
    def search_organizations(self, request: Request):
        external, name = request.arg("external_id"), request.arg("name")
        found = [o for o in self.store.all("organization")
                 if (external is not None and (o.get("external_id") or "").lower() == external.lower())
                 or (name is not None and o["name"].lower() == name.lower())]
        return {"organizations": [self._public("organization", o) for o in found], "count": len(found),
                "next_page": None, "previous_page": None}

    @route("GET", r"/api/v2/(?P<what>users|organizations)/show_many(\.json)?")
    def show_many(self, request: Request):
        kind = request.params["what"][:-1]
        ids = [i for i in (request.arg("ids") or "").split(",") if i]
        externals = [e.lower() for e in (request.arg("external_ids") or "").split(",") if e]
        found = [r for r in self.store.all(kind) if str(r["id"]) in ids
                 or (r.get("external_id") or "").lower() in externals]
        return {request.params["what"]: [self._public(kind, r) for r in found], "count": len(found),
                "next_page": None, "previous_page": None}

    @route("GET", r"/api/v2/users/search(\.json)?")
    def search_users(self, request: Request):
        external, query = request.arg("external_id"), (request.arg("query") or "").strip()
        users = self.store.all("user")
        if external is not None:
            found = [u for u in users if (u.get("external_id") or "").lower() == external.lower()]
        elif query.startswith("email:"):
            email = query[6:].strip('"').lower()
            found = [u for u in users if (u.get("email") or "").lower() == email
                     or any(i.get("value", "").lower() == email for i in u.get("_identities") or [])]
        else:
            q = query.lower()
            found = [u for u in users if q and (q in (u.get("name") or "").lower() or q in (u.get("email") or "").lower())]
        return {"users": [self._public("user", u) for u in found[:100]], "count": len(found),
                "next_page": None, "previous_page": None}

    @route("GET", r"/attachments/token/(?P<token>[^/]+)/?", auth=False)
    def download(self, request: Request):
        for blob in self.store.find("blob", token=request.params["token"]):
            return Response(200, body=blob["data"], content_type="application/octet-stream")
        raise HttpAbort(404, {"error": "RecordNotFound", "description": "Not found"})

    # ------------------------------------------------------------ uploads
    @route("POST", r"/api/v2/uploads(\.json)?")
    def upload(self, request: Request):
        name = request.arg("filename")
        if not name:
            raise _invalid("filename", "Filename: cannot be blank", "BlankValue")
        if not request.body:
            raise _invalid("file", "File: cannot be empty", "BlankValue")
        content_type = request.content_type or "application/octet-stream"
        attachment = self._make_attachment(request.body, name, content_type)
        token = request.arg("token")
        with self.store.lock:
            upload = self.store.get("upload", token) if token else None
            if token and upload is None:
                raise HttpAbort(404, {"error": "RecordNotFound", "description": "Not found"})
            if upload is None:
                token = _secrets.token_urlsafe(18)
                upload = {"token": token, "attachments": [], "expires": time.time() + 3600, "used": False}
            upload["attachments"].append(attachment)
            self.store.insert("upload", upload, id=token, id_field="token")
        return Response(201, json={"upload": {
            "token": token, "expires_at": datetime.fromtimestamp(upload["expires"], timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "attachment": self._attachment_out(attachment),
            "attachments": [self._attachment_out(a) for a in upload["attachments"]]}})

    def _take_uploads(self, tokens: list[str]) -> list[dict]:
        files = []
        with self.store.lock:
            for token in tokens or []:
                upload = self.store.get("upload", token)
                if upload is None or upload["used"] or upload["expires"] < time.time():
                    raise _invalid("uploads", f"Uploads: token {token} is invalid or expired")
                files += upload["attachments"]
        return files

    def _consume(self, tokens: list[str]) -> None:
        with self.store.lock:
            for token in tokens or []:
                self.store.update("upload", token, {"used": True})

    # ------------------------------------------------------------ ticket import
    def _import_one(self, body: dict, archive: bool) -> dict:
        if not isinstance(body, dict):
            raise _invalid("base", "Ticket: is invalid")
        comments, tokens = [], []
        for c in body.get("comments") or ([body["comment"]] if body.get("comment") else []):
            files = self._take_uploads(c.get("uploads") or [])
            tokens += c.get("uploads") or []
            comments.append({**c, "_attachments": files,
                             "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}})
        ticket = self._create_ticket({**body, "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}},
                                     comments, archive=archive)
        self._consume(tokens)
        return ticket

    @route("POST", r"/api/v2/imports/tickets(\.json)?")
    def import_ticket(self, request: Request):
        body = (request.json or {}).get("ticket")
        ticket = self._import_one(body, request.arg("archive_immediately") == "true")
        return Response(201, json={"ticket": self._public("ticket", ticket)})

    @route("POST", r"/api/v2/imports/tickets/create_many(\.json)?")
    def import_many(self, request: Request):
        tickets = (request.json or {}).get("tickets")
        if not isinstance(tickets, list):
            raise _invalid("tickets", "Tickets: is required", "BlankValue")
        if len(tickets) > 100:
            raise HttpAbort(400, {"error": "TooManyValues", "description": "Maximum 100 tickets may be imported per call"})
        archive = request.arg("archive_immediately") == "true"
        return self._job("api_import_create_many", tickets,
                         lambda body: {"id": self._import_one(body, archive)["id"]})

    # ------------------------------------------------------------ users, organizations
    def _create_or_update_user(self, body: dict) -> tuple[dict, str]:
        if not isinstance(body, dict) or not body.get("name"):
            raise _invalid("name", "Name: is too short (minimum one character)", "ValueTooShort")
        email = (body.get("email") or "").lower()
        if body.get("email") and "@" not in email:
            raise _invalid("email", f"Email: {body['email']} is not properly formatted", "InvalidFormat")
        with self.store.lock:
            existing = None
            if body.get("external_id"):
                existing = next((u for u in self.store.all("user")
                                 if (u.get("external_id") or "").lower() == body["external_id"].lower()), None)
            if existing is None and email:
                existing = next((u for u in self.store.all("user") if (u.get("email") or "").lower() == email), None)
            fields = {k: v for k, v in body.items() if k in (
                "name", "email", "role", "organization_id", "external_id", "tags", "notes", "phone",
                "locale", "time_zone", "user_fields", "verified", "suspended")}
            if fields.get("organization_id") and not self.store.get("organization", fields["organization_id"]):
                raise _invalid("organization_id", "Organization: is invalid")
            if "identities" in body:
                fields["identities"] = [i for i in body["identities"] if isinstance(i, dict)]
            if existing is not None:
                changes = {k: v for k, v in fields.items() if k != "identities"}
                if existing["id"] == self.admin["id"]:
                    changes.pop("role", None)          # the account owner stays admin
                if "identities" in fields:
                    changes["_identities"] = fields["identities"]
                changes["updated_at"] = _now()
                changes["_ts"] = self._tick()
                return self.store.update("user", existing["id"], changes), "updated"
            return self._insert_user(fields), "created"

    @route("POST", r"/api/v2/users/create_or_update(\.json)?")
    def user_create_or_update(self, request: Request):
        user, action = self._create_or_update_user((request.json or {}).get("user"))
        return Response(201 if action == "created" else 200, json={"user": self._public("user", user)})

    @route("POST", r"/api/v2/users/create_or_update_many(\.json)?")
    def users_create_or_update_many(self, request: Request):
        users = (request.json or {}).get("users")
        if not isinstance(users, list):
            raise _invalid("users", "Users: is required", "BlankValue")
        if len(users) > 100:
            raise HttpAbort(400, {"error": "TooManyValues", "description": "Maximum 100 users may be created per call"})

        def one(body):
            user, action = self._create_or_update_user(body)
            return {"id": user["id"], "action": action, "status": action.title(), "success": True}
        return self._job("create_or_update_many_users", users, one)

    def _create_user(self, body: dict) -> dict:
        """Create User: a new user only; an e-mail or external_id in use is refused (422)."""
        if not isinstance(body, dict) or not body.get("name"):
            raise _invalid("name", "Name: is too short (minimum one character)", "ValueTooShort")
        email = (body.get("email") or "").lower()
        if body.get("email") and "@" not in email:
            raise _invalid("email", f"Email: {body['email']} is not properly formatted", "InvalidFormat")
        with self.store.lock:
            for u in self.store.all("user"):
                if email and ((u.get("email") or "").lower() == email
                              or any(i.get("value", "").lower() == email for i in u.get("_identities") or [])):
                    raise _invalid("email", f"Email: {body['email']} is already being used by another user",
                                   "DuplicateValue")
                if body.get("external_id") and (u.get("external_id") or "").lower() == body["external_id"].lower():
                    raise _invalid("external_id", "External: has already been taken", "DuplicateValue")
            fields = {k: v for k, v in body.items() if k in (
                "name", "email", "role", "organization_id", "external_id", "tags", "notes", "phone",
                "locale", "time_zone", "user_fields", "verified", "suspended")}
            if fields.get("organization_id") and not self.store.get("organization", fields["organization_id"]):
                raise _invalid("organization_id", "Organization: is invalid")
            if "identities" in body:
                fields["identities"] = [i for i in body["identities"] if isinstance(i, dict)]
            return self._insert_user(fields)

    @route("POST", r"/api/v2/users(\.json)?")
    def create_user(self, request: Request):
        user = self._create_user((request.json or {}).get("user"))
        return Response(201, json={"user": self._public("user", user)})

    @route("POST", r"/api/v2/users/create_many(\.json)?")
    def users_create_many(self, request: Request):
        users = (request.json or {}).get("users")
        if not isinstance(users, list):
            raise _invalid("users", "Users: is required", "BlankValue")
        if len(users) > 100:
            raise HttpAbort(400, {"error": "TooManyValues", "description": "Maximum 100 users may be created per call"})
        if not self.bulk_user_import:
            raise HttpAbort(403, {"error": "Forbidden", "description": "Bulk user import is not enabled"})

        def one(body):
            user = self._create_user(body)
            return {"id": user["id"], "action": "create", "status": "Created", "success": True}
        return self._job("create_many_users", users, one)

    # ------------------------------------------------------------ pre-seeding (tests, demos)
    def preseed(self, *, users=(), organizations=(), groups=()) -> dict[str, list[dict]]:
        """Records a live account holds before a migration: users take Create User fields
        (`name`, `email`, `tags`, `suspended`, `role` ...), organizations and groups a `name`.
        Returns the stored records."""
        out: dict[str, list[dict]] = {"user": [], "organization": [], "group": []}
        for body in groups:
            out["group"].append(self._make_group(body))
        for body in organizations:
            now = _now()
            stored = self.store.insert("organization", {
                "url": None, "name": body["name"], "domain_names": list(body.get("domain_names") or []),
                "details": body.get("details") or "", "notes": body.get("notes") or "", "group_id": None,
                "shared_tickets": False, "shared_comments": False, "tags": list(body.get("tags") or []),
                "external_id": body.get("external_id"), "organization_fields": {},
                "created_at": now, "updated_at": now, "_ts": self._tick()})
            out["organization"].append(self.store.update(
                "organization", stored["id"], {"url": f"/api/v2/organizations/{stored['id']}.json"}))
        for body in users:
            out["user"].append(self._create_user(body))
        return out

    @route("POST", r"/api/v2/organizations/create_many(\.json)?")
    def orgs_create_many(self, request: Request):
        orgs = (request.json or {}).get("organizations")
        if not isinstance(orgs, list):
            raise _invalid("organizations", "Organizations: is required", "BlankValue")
        if len(orgs) > 100:
            raise HttpAbort(400, {"error": "TooManyValues", "description": "Maximum 100 organizations per call"})

        def one(body):
            if not isinstance(body, dict) or not body.get("name"):
                raise _invalid("name", "Name: cannot be blank", "BlankValue")
            with self.store.lock:
                if any(o["name"].lower() == body["name"].lower() for o in self.store.all("organization")):
                    raise _invalid("name", "Name: has already been taken", "DuplicateValue")
                now = _now()
                stored = self.store.insert("organization", {
                    "url": None, "name": body["name"], "domain_names": body.get("domain_names") or [],
                    "details": body.get("details") or "", "notes": body.get("notes") or "", "group_id": None,
                    "shared_tickets": False, "shared_comments": False, "tags": body.get("tags") or [],
                    "external_id": body.get("external_id"),
                    "organization_fields": body.get("organization_fields") or {},
                    "created_at": now, "updated_at": now, "_ts": self._tick()})
                self.store.update("organization", stored["id"], {"url": f"/api/v2/organizations/{stored['id']}.json"})
            return {"id": stored["id"], "action": "create", "status": "Created", "success": True}
        return self._job("create_many_organizations", orgs, one)

    # ------------------------------------------------------------ jobs
    def _job(self, job_type: str, items: list, work) -> Response:
        job_id = _secrets.token_hex(16)
        job = {"id": job_id, "url": f"{self._base()}/api/v2/job_statuses/{job_id}.json", "job_type": job_type,
               "total": len(items), "progress": 0, "status": "queued", "message": None, "results": None}
        with self._job_lock:
            self._jobs[job_id] = job

        def run():
            time.sleep(self.job_delay)
            results = []
            with self._job_lock:
                job["status"] = "working"
            for index, item in enumerate(items):
                try:
                    if self.faults.hit("job_fail"):
                        raise _invalid("base", "Sandbox fault: the job item failed (job_fail)", "JobItemFailed")
                    results.append({"index": index, **work(item)})
                except HttpAbort as abort:
                    payload = abort.response.json if isinstance(abort.response.json, dict) else {}
                    details = payload.get("details") or payload.get("description")
                    results.append({"index": index, "action": "create", "error": payload.get("error", "Failed"),
                                    "details": json.dumps(details) if not isinstance(details, str) else details,
                                    "status": "Failed", "success": False})
                except Exception as e:  # noqa: BLE001 - a crashing item fails that item
                    results.append({"index": index, "action": "create", "error": "InternalError", "details": str(e),
                                    "status": "Failed", "success": False})
                with self._job_lock:
                    job["progress"] = index + 1
            with self._job_lock:
                job.update(status="completed", results=results,
                           message=f"Completed at {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S +0000}")

        threading.Thread(target=run, daemon=True, name=f"zendesk-job-{job_id[:6]}").start()
        return Response(200, json={"job_status": dict(job)})

    @route("GET", r"/api/v2/job_statuses(\.json)?")
    def list_jobs(self, request: Request):
        with self._job_lock:
            jobs = json.loads(json.dumps(list(self._jobs.values())[-100:]))
        return {"job_statuses": jobs, "meta": {"has_more": False, "after_cursor": None, "before_cursor": None},
                "links": {"next": None, "prev": None}}

    # before the single-job route, so that no id pattern can take `show_many` for an id
    @route("GET", r"/api/v2/job_statuses/show_many(\.json)?")
    def show_many_jobs(self, request: Request):
        ids = [i for i in (request.arg("ids") or "").split(",") if i]
        if not ids:
            raise HttpAbort(400, {"error": "InvalidParameter", "description": "ids is required"})
        with self._job_lock:   # unknown ids are left out, as Zendesk's show_many endpoints do
            jobs = [self._jobs[i] for i in dict.fromkeys(ids) if i in self._jobs]
            return {"job_statuses": json.loads(json.dumps(jobs))}

    @route("GET", r"/api/v2/job_statuses/(?P<id>[0-9a-zA-Z-]+)(\.json)?")
    def job_status(self, request: Request):
        with self._job_lock:
            job = self._jobs.get(request.params["id"])
            if job is None:
                raise HttpAbort(404, {"error": "RecordNotFound", "description": "Not found"})
            return {"job_status": json.loads(json.dumps(job))}

    # ------------------------------------------------------------ for tests
    def tickets_with_comments(self) -> list[tuple[dict, list[dict]]]:
        by_ticket: dict[int, list[dict]] = {}
        for c in self.store.all("comment"):
            by_ticket.setdefault(c["_ticket_id"], []).append(c)
        return [(t, sorted(by_ticket.get(t["id"], []), key=lambda c: c["id"]))
                for t in sorted(self.store.all("ticket"), key=lambda t: t["id"])]


def _good_bad(score, scale: str | None) -> str | None:
    """good/bad as given; numbers by scale (1-5: 4 and 5 good; 0-10: 8 and up good)."""
    if isinstance(score, str) and score.lower() in ("good", "bad"):
        return score.lower()
    try:
        value = float(score)
    except (TypeError, ValueError):
        return None
    top = 10 if scale == "0-10" or value > 5 else 5
    return "good" if value >= (8 if top == 10 else 4) else "bad"


def _abort_reason(e: HttpAbort) -> str:
    """What the 422 the sandbox would have answered says."""
    payload = e.response.json
    details = payload.get("details") if isinstance(payload, dict) else None
    if isinstance(details, dict):
        return "; ".join(d.get("description", "") for ds in details.values() for d in ds)
    return f"the sandbox refused it ({e})"


def _field_type(canonical: str | None) -> str:
    return {"dropdown": "tagger"}.get(canonical or "text", canonical or "text")


def make_sandbox(data=None, port: int = 0, rate_limit: float | None = None, faults=None,
                 seed: int | None = None) -> ZendeskSandbox:
    """The `hdmigrate sandbox zendesk` entry point (AdapterSpec.sandbox)."""
    return ZendeskSandbox(data=data, port=port, rate_limit=rate_limit, faults=faults, seed=seed)
