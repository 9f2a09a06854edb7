"""Zendesk sandbox: the served endpoints (reads, writes, jobs)."""

from __future__ import annotations

import copy
import json
import secrets as _secrets
import threading
import time
from datetime import datetime, timezone
from typing import Any

from hdmigrate import inline_images
from hdmigrate.testing.sandbox import HttpAbort, Request, Response, route

from .seed import SeedFromDump
from .state import PAGE_MAX, ZendeskState, _decode_cursor, _encode_cursor, _invalid, _now


class ZendeskSandbox(SeedFromDump, ZendeskState):
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
            for r, stored in zip(body[key], chunk):
                if r["status"] == "closed":
                    r.setdefault("tags", r["tags"])
                # when the ticket last changed (its export position; never before updated_at)
                r["generated_timestamp"] = stored["_ts"]
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
        start = request.arg("start_time")
        if start is None or not start.lstrip("-").isdigit():
            return self._time_export(request, [], "ticket_events")     # its 400
        per_page = min(PAGE_MAX, int(request.arg("per_page") or PAGE_MAX))
        # the page's events and one more (which says the page is not the last)
        rows = self._ticket_event_rows(with_comments, int(start), per_page + 1)
        return self._time_export(request, rows, "ticket_events")

    def _ticket_event_rows(self, with_comments: bool, start: int | None = None,
                           limit: int | None = None) -> list[tuple[int, dict]]:
        """(timestamp, audit) rows of the ticket-events export from `start` on, in its order, at
        most `limit`: only those are built (built for every comment on every page, reading a
        large target back took hours)."""
        due = []
        for c in self.store.all("comment", copy=False):          # read only; the chosen are copied
            if start is None or c["_ts"] >= start:
                ticket = self.store.get("ticket", c["_ticket_id"], copy=False)
                if ticket is not None:
                    due.append((c["_ts"], c["audit_id"], c, ticket["id"]))
        due.sort(key=lambda d: (d[0], d[1]))
        rows = []
        for _ts, _audit, c, ticket_id in due[:limit]:
            c = copy.deepcopy(c)
            child = {"id": c["id"], "via": c["via"], "via_reference_id": None, "type": "Comment",
                     "author_id": c["author_id"], "body": c["body"], "html_body": self._html_out(c["html_body"]),
                     "public": c["public"], "attachments": [self._attachment_out(a) for a in c["attachments"]],
                     "audit_id": c["audit_id"], "created_at": c["created_at"], "event_type": "Comment"}
            if not with_comments:
                child = {"id": c["id"], "event_type": "Comment", "comment_present": True,
                         "comment_public": c["public"]}
            rows.append((c["_ts"], {"id": c["audit_id"], "ticket_id": ticket_id, "timestamp": c["_ts"],
                                    "created_at": c["created_at"], "updater_id": c["author_id"],
                                    "via": c["via"], "system": {}, "metadata": {}, "event_type": "Audit",
                                    "child_events": [child], "merged_ticket_ids": []}))
        return rows

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


def make_sandbox(data=None, port: int = 0, rate_limit: float | None = None, faults=None,
                 seed: int | None = None) -> ZendeskSandbox:
    """The `hdmigrate sandbox zendesk` entry point (AdapterSpec.sandbox)."""
    return ZendeskSandbox(data=data, port=port, rate_limit=rate_limit, faults=faults, seed=seed)
