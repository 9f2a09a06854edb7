"""The Freshdesk sandbox's routes (API v2 endpoints), on top of its state and seeding."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

from hdmigrate.testing.sandbox import HttpAbort, Response, route

from .seed import SeedFromDump
from .state import API, FIELD_TYPES, FreshdeskState, _slug, _text, _time, now_iso, validation


class FreshdeskSandbox(SeedFromDump, FreshdeskState):
    # --- routes: account ----------------------------------------------------------------------
    @route("GET", API + r"/agents/me")
    def agents_me(self, request):
        return self.store.get("agent", self.me)

    @route("GET", API + r"/agents")
    def agents_list(self, request):
        items = self.store.all("agent")
        email = request.arg("email")
        if email:
            items = [a for a in items if (a["contact"].get("email") or "").lower() == email.lower()]
        return self._page(request, items)

    @route("GET", API + r"/agents/(?P<id>\d+)")
    def agent_show(self, request):
        return self.store.get("agent", request.params["id"]) or HttpAbort(404, body=b" ").response

    @route("GET", API + r"/automations/(?P<type>\d+)/rules")
    def automations(self, request):
        return self._page(request, self.automation_rules.get(int(request.params["type"]), []))

    # --- fields -------------------------------------------------------------------------------
    @route("GET", API + r"/ticket_fields")
    def ticket_fields(self, request):
        fields = self.store.all("ticket_field")
        for f in fields:
            if f["name"] == "group":
                f["choices"] = {g["name"]: g["id"] for g in self.store.all("group")}
            if f["name"] == "agent":
                f["choices"] = {a["contact"]["name"]: a["id"] for a in self.store.all("agent")}
        return self._page(request, fields)

    @route("GET", API + r"/contact_fields")
    def contact_fields(self, request):
        return self._page(request, self.store.all("contact_field"))

    @route("GET", API + r"/company_fields")
    def company_fields(self, request):
        return self._page(request, self.store.all("company_field"))

    def _create_field(self, request, entity, kind, prefix):
        body, _ = self._body(request)
        label = body.get("label")
        if not label:
            raise validation(("label", "It should not be blank as this is a mandatory field", "missing_field"))
        ftype = body.get("type")
        if ftype not in set(FIELD_TYPES.values()) | {"nested_field", "custom_url", "custom_phone_number"}:
            raise validation(("type", "It should be one of these values: " + ",".join(sorted(set(FIELD_TYPES.values()))),
                              "invalid_value"))
        name = prefix + _slug(label)
        with self._lock:
            if self.store.find(kind, name=name):
                raise validation(("label", "It should be a unique value", "duplicate_value"), status=409)
            f = self._field_shape(entity, name, label, ftype, False, self.store.count(kind) + 1)
            if body.get("choices"):
                f["choices"] = [c.get("value") if isinstance(c, dict) else c for c in body["choices"]]
            return Response(201, json=self.store.insert(kind, f))

    @route("POST", API + r"/admin/ticket_fields")
    def create_ticket_field(self, request):
        if not self.admin:   # an agent without the admin role (FD-DOC Errors: 403 access_denied)
            raise HttpAbort(403, {"code": "access_denied", "message": "You are not authorized to perform this action."})
        return self._create_field(request, "ticket", "ticket_field", "cf_")

    @route("POST", API + r"/contact_fields")
    def create_contact_field(self, request):
        return self._create_field(request, "contact", "contact_field", "")

    @route("POST", API + r"/company_fields")
    def create_company_field(self, request):
        return self._create_field(request, "company", "company_field", "")

    # --- groups and companies -----------------------------------------------------------------
    @route("GET", API + r"/groups")
    def groups(self, request):
        return self._page(request, self.store.all("group"))

    @route("POST", API + r"/groups")
    def create_group(self, request):
        body, _ = self._body(request)
        if not body.get("name"):
            raise validation(("name", "It should not be blank as this is a mandatory field", "missing_field"))
        with self._lock:
            if any(g["name"].lower() == str(body["name"]).lower() for g in self.store.all("group")):
                raise validation(("name", "It should be a unique value", "duplicate_value"), status=409)
            t = now_iso()
            return Response(201, json=self.store.insert("group", {
                "name": body["name"], "description": body.get("description"), "escalate_to": None,
                "unassigned_for": None, "business_hour_id": None, "group_type": "support_agent_group",
                "created_at": t, "updated_at": t}))

    @route("DELETE", API + r"/groups/(?P<id>\d+)")
    def delete_group(self, request):
        return Response(204) if self.store.delete("group", request.params["id"]) else HttpAbort(404, body=b" ").response

    @route("GET", API + r"/companies")
    def companies(self, request):
        return self._page(request, self.store.all("company"))

    @route("GET", API + r"/companies/(?P<id>\d+)")
    def company_show(self, request):
        return self.store.get("company", request.params["id"]) or HttpAbort(404, body=b" ").response

    @route("POST", API + r"/companies")
    def create_company(self, request):
        body, _ = self._body(request)
        if not body.get("name"):
            raise validation(("name", "It should not be blank as this is a mandatory field", "missing_field"))
        cf = self._check_custom_fields("company_field", body.get("custom_fields"))
        with self._lock:
            if any(c["name"].lower() == str(body["name"]).lower() for c in self.store.all("company")):
                raise validation(("name", "It should be a unique value", "duplicate_value"), status=409)
            t = now_iso()
            return Response(201, json=self.store.insert("company", {
                "name": body["name"], "description": body.get("description"), "note": body.get("note"),
                "domains": list(body.get("domains") or []), "created_at": t, "updated_at": t, "custom_fields": cf,
                "health_score": None, "account_tier": None, "renewal_date": None, "industry": None}))

    @route("PUT", API + r"/companies/(?P<id>\d+)")
    def update_company(self, request):
        body, _ = self._body(request)
        c = self.store.update("company", request.params["id"], {**body, "updated_at": now_iso()})
        return c or HttpAbort(404, body=b" ").response

    @route("DELETE", API + r"/companies/(?P<id>\d+)")
    def delete_company(self, request):
        return Response(204) if self.store.delete("company", request.params["id"]) else HttpAbort(404, body=b" ").response

    # --- contacts -----------------------------------------------------------------------------
    @route("GET", API + r"/contacts")
    def contacts(self, request):
        state = request.arg("state")
        items = [c for c in self.store.all("contact") if bool(c.get("deleted")) == (state == "deleted")]
        if state == "blocked":
            items = [c for c in items if c.get("blocked")]
        for key in ("email", "mobile", "phone", "company_id", "unique_external_id"):
            value = request.arg(key)
            if value is not None:
                if key == "email":
                    items = [c for c in items if value.lower() in
                             [(c.get("email") or "").lower(), *[e.lower() for e in c.get("other_emails") or []]]]
                else:
                    items = [c for c in items if str(c.get(key)) == value]
        since = _time(request.arg("_updated_since"))
        if since:
            items = [c for c in items if _time(c["updated_at"]) >= since]
        return self._page(request, [{k: v for k, v in c.items() if k != "blocked"} for c in items])

    @route("GET", API + r"/contacts/(?P<id>\d+)")
    def contact_show(self, request):
        return self.store.get("contact", request.params["id"]) or HttpAbort(404, body=b" ").response

    def _validate_contact(self, body: dict, uid=None) -> None:
        if not body.get("name"):
            raise validation(("name", "It should not be blank as this is a mandatory field", "missing_field"))
        if not any(body.get(k) for k in ("email", "phone", "mobile", "twitter_id", "unique_external_id")):
            raise validation(("requester_id", "Please fill at least 1 of email, mobile, phone, twitter_id, "
                              "unique_external_id fields", "missing_field"))
        if body.get("email") and "@" not in str(body["email"]):
            raise validation(("email", "It should be in the 'valid email address' format", "invalid_value"))
        for c in self.store.all("contact") + [{"id": a["id"], "email": a["contact"]["email"]} for a in self.store.all("agent")]:
            if c["id"] == uid:
                continue
            if body.get("email") and (c.get("email") or "").lower() == str(body["email"]).lower():
                raise HttpAbort(409, {"description": "Validation failed", "errors": [
                    {"field": "email", "additional_info": {"user_id": c["id"]},
                     "message": f"It should be a unique value", "code": "duplicate_value"}]})
            if body.get("unique_external_id") and c.get("unique_external_id") == body["unique_external_id"]:
                raise HttpAbort(409, {"description": "Validation failed", "errors": [
                    {"field": "unique_external_id", "additional_info": {"user_id": c["id"]},
                     "message": "It should be a unique value", "code": "duplicate_value"}]})
        if body.get("company_id") is not None and not self.store.get("company", body["company_id"]):
            raise validation(("company_id", "There is no company matching the given company_id", "invalid_value"))

    @route("POST", API + r"/contacts")
    def create_contact(self, request):
        body, files = self._body(request)
        with self._lock:
            self._validate_contact(body)
            body["custom_fields"] = self._check_custom_fields("contact_field", body.get("custom_fields"))
            c = self._contact_shape(self.store.next_id("user"), body)
            return Response(201, json=self.store.insert("contact", c))

    @route("PUT", API + r"/contacts/(?P<id>\d+)")
    def update_contact(self, request):
        body, _ = self._body(request)
        cur = self.store.get("contact", request.params["id"])
        if not cur:
            raise HttpAbort(404, body=b" ")
        merged = {**cur, **body}
        self._validate_contact(merged, uid=cur["id"])
        return self.store.update("contact", cur["id"], {**body, "updated_at": now_iso()})

    @route("DELETE", API + r"/contacts/(?P<id>\d+)")
    def delete_contact(self, request):
        # A soft delete, as Freshdesk's: the contact leaves the lists but keeps its e-mail (a new
        # contact with it is refused with 409 duplicate_value).
        c = self.store.update("contact", request.params["id"], {"deleted": True, "updated_at": now_iso()})
        return Response(204) if c else HttpAbort(404, body=b" ").response

    @route("DELETE", API + r"/contacts/(?P<id>\d+)/hard_delete")
    def hard_delete_contact(self, request):
        """Permanently Delete a Contact: only a soft-deleted one, unless `force=true`."""
        c = self.store.get("contact", request.params["id"])
        if not c:
            raise HttpAbort(404, body=b" ")
        if not c.get("deleted") and request.arg("force") != "true":
            raise validation(("id", "Contact must be soft deleted before it can be permanently deleted "
                              "(or pass force=true)", "inconsistent_state"))
        self.store.delete("contact", c["id"])
        return Response(204)

    # --- tickets ------------------------------------------------------------------------------
    @route("GET", API + r"/tickets")
    def tickets(self, request):
        # `filter=spam` / `filter=deleted` list those alone; by default neither is listed
        which = request.arg("filter")
        if which not in (None, "spam", "deleted", "new_and_my_open", "watching"):
            raise validation(("filter", "It should be one of these values: "
                              "'new_and_my_open,watching,spam,deleted'", "invalid_value"))
        items = [t for t in self.store.all("ticket") if not t.get("_archived")
                 and (bool(t.get("spam")) == (which == "spam")) and (bool(t.get("deleted")) == (which == "deleted"))]
        if which in ("new_and_my_open", "watching"):
            # approximations: every open ticket counts as "mine"; the sandbox keeps no watchers
            items = [t for t in items if which == "new_and_my_open" and t["status"] == 2]
        since = request.arg("updated_since")
        if since:
            s = _time(since)
            if s is None:
                raise validation(("updated_since", "It should be in the 'valid date time' format", "invalid_value"))
            items = [t for t in items if _time(t["updated_at"]) >= s]
        else:
            cutoff = datetime.now(timezone.utc) - timedelta(days=30)
            items = [t for t in items if _time(t["created_at"]) >= cutoff]
        for key in ("requester_id", "company_id"):
            if request.arg(key):
                items = [t for t in items if str(t.get(key)) == request.arg(key)]
        if request.arg("email"):
            users = [c["id"] for c in self.store.all("contact") if (c.get("email") or "").lower() == request.arg("email").lower()]
            items = [t for t in items if t["requester_id"] in users]
        order_by = request.arg("order_by", "created_at")
        if order_by not in ("created_at", "due_by", "updated_at", "status"):
            raise validation(("order_by", "It should be one of these values: 'created_at,due_by,updated_at,status'",
                              "invalid_value"))
        order_type = request.arg("order_type", "desc")
        items.sort(key=lambda t: (t.get(order_by) or "", t["id"]), reverse=order_type != "asc")
        include = _includes(request, LIST_EMBEDS)
        out = []
        for t in items:
            shown = self._embed(self._public_ticket(t, listing=True), t, include)
            if "description" in include:
                shown["description"], shown["description_text"] = t["description"], t["description_text"]
            out.append(shown)
        return self._page(request, out, max_page=300)

    def _show(self, t: dict, include: list[str]) -> dict:
        shown = self._embed(self._public_ticket(t), t, include)
        if "conversations" in include:
            convs = sorted(self.store.find("conversation", ticket_id=t["id"]), key=lambda c: (c["created_at"], c["id"]))
            shown["conversations"] = convs[:10]
        return self._absolute(shown)

    def _embed(self, shown: dict, t: dict, include: list[str]) -> dict:
        """The embeds List All Tickets and View a Ticket share: requester, company, stats."""
        if "company" in include:
            c = self.store.get("company", t["company_id"]) if t.get("company_id") is not None else None
            shown["company"] = {"id": c["id"], "name": c.get("name")} if c else {}
        if "requester" in include:
            u = self._user(t["requester_id"])
            if u:
                rec = u[1] if u[0] == "contact" else u[1]["contact"]
                shown["requester"] = {"id": t["requester_id"], "name": rec.get("name"), "email": rec.get("email"),
                                      "mobile": rec.get("mobile"), "phone": rec.get("phone")}
        if "stats" in include:
            shown["stats"] = {"agent_responded_at": None, "requester_responded_at": None, "first_responded_at": None,
                              "status_updated_at": t["updated_at"], "reopened_at": None,
                              "resolved_at": t["updated_at"] if t["status"] in (4, 5) else None,
                              "closed_at": t["updated_at"] if t["status"] == 5 else None, "pending_since": None}
        return shown

    @route("GET", API + r"/tickets/(?P<id>\d+)")
    def ticket_show(self, request):
        return self._show(self._ticket(request.params["id"]), _includes(request, SHOW_EMBEDS))

    @route("GET", API + r"/tickets/archived/(?P<id>\d+)")
    def archived_show(self, request):
        # As documented: the archived ticket with `"archived": true`; the plain show answers 404.
        return {**self._show(self._ticket(request.params["id"], archived=True), []), "archived": True}

    @route("GET", API + r"/tickets/archived/(?P<id>\d+)/conversations")
    def archived_conversations(self, request):
        t = self._ticket(request.params["id"], archived=True)
        convs = sorted(self.store.find("conversation", ticket_id=t["id"]), key=lambda c: (c["created_at"], c["id"]))
        return self._page(request, convs)

    def _validate_ticket(self, body: dict, creating: bool) -> None:
        errors = []
        if creating and not any(body.get(k) for k in ("requester_id", "email", "phone", "twitter_id",
                                                       "facebook_id", "unique_external_id")):
            errors.append(("requester_id", "Please fill at least 1 of requester_id, email, phone, twitter_id, "
                           "facebook_id, unique_external_id fields", "missing_field"))
        if creating and not body.get("subject"):
            errors.append(("subject", "It should not be blank as this is a mandatory field", "missing_field"))
        if creating and body.get("description") in (None, ""):
            errors.append(("description", "It should not be blank as this is a mandatory field", "missing_field"))
        for key, allowed in (("status", {2, 3, 4, 5}), ("priority", {1, 2, 3, 4}),
                             ("source", {1, 2, 3, 5, 6, 7, 9, 10, 11})):
            if key in body and body[key] not in allowed:
                errors.append((key, "It should be one of these values: '" + ",".join(map(str, sorted(allowed))) + "'",
                               "invalid_value"))
        if body.get("requester_id") is not None and not self._user(body["requester_id"]):
            errors.append(("requester_id", "There is no contact matching the given requester_id", "invalid_value"))
        if body.get("responder_id") is not None and not self.store.get("agent", body["responder_id"]):
            errors.append(("responder_id", "There is no agent matching the given responder_id", "invalid_value"))
        if body.get("group_id") is not None and not self.store.get("group", body["group_id"]):
            errors.append(("group_id", "There is no group matching the given group_id", "invalid_value"))
        if body.get("company_id") is not None:
            u = self._user(body.get("requester_id"))
            if not self.store.get("company", body["company_id"]) or (u and u[0] == "contact"
                                                                     and u[1].get("company_id") != body["company_id"]):
                errors.append(("company_id", "The requester does not belong to the specified company", "invalid_value"))
        if body.get("type") is not None:
            choices = next((f.get("choices") for f in self.store.all("ticket_field") if f["name"] == "ticket_type"), [])
            if body["type"] not in choices:
                errors.append(("type", "It should be one of these values: '" + ",".join(choices) + "'", "invalid_value"))
        for key in ("tags", "cc_emails"):
            if key in body and not isinstance(body[key], list):
                errors.append((key, "It should be a/an Array", "datatype_mismatch"))
        known = {"requester_id", "email", "phone", "subject", "description", "status", "priority", "source", "type",
                 "responder_id", "group_id", "company_id", "tags", "cc_emails", "custom_fields", "due_by", "fr_due_by",
                 "email_config_id", "product_id", "parent_id", "name", "unique_external_id", "twitter_id",
                 "facebook_id", "lookup_parameter", "internal_agent_id", "internal_group_id"}
        for key in body:
            if key not in known:
                errors.append((key, "Unexpected/invalid field in request", "invalid_field"))
        if errors:
            raise validation(*errors)

    @route("POST", API + r"/tickets")
    def create_ticket(self, request):
        body, files = self._body(request)
        self._validate_ticket(body, True)
        cf = self._check_custom_fields("ticket_field", body.get("custom_fields"))
        with self._lock:
            atts = self._store_files(files)
            t = self._ticket_shape({**body, "custom_fields": cf}, attachments=atts)
            t = self.store.insert("ticket", t)
        return Response(201, json=self._absolute(self._public_ticket(t)))

    @route("PUT", API + r"/tickets/(?P<id>\d+)")
    def update_ticket(self, request):
        body, files = self._body(request)
        t = self._ticket(request.params["id"])
        self._validate_ticket(body, False)
        changes = {k: v for k, v in body.items() if k != "custom_fields"}
        if "custom_fields" in body:
            changes["custom_fields"] = {**t["custom_fields"], **self._check_custom_fields("ticket_field", body["custom_fields"])}
        if files:
            changes["attachments"] = t["attachments"] + self._store_files(files, self._ticket_bytes(t["id"]))
        changes["updated_at"] = now_iso()
        return self._absolute(self._public_ticket(self.store.update("ticket", t["id"], changes)))

    @route("DELETE", API + r"/tickets/(?P<id>\d+)")
    def delete_ticket(self, request):
        t = self._ticket(request.params["id"])
        self.store.delete("ticket", t["id"])
        return Response(204)

    # --- conversations ------------------------------------------------------------------------
    @route("GET", API + r"/tickets/(?P<id>\d+)/conversations")
    def conversations(self, request):
        t = self._ticket(request.params["id"])
        convs = sorted(self.store.find("conversation", ticket_id=t["id"]), key=lambda c: (c["created_at"], c["id"]))
        return self._page(request, convs)

    def _add_conversation(self, request, kind: str):
        t = self._ticket(request.params["id"])
        body, files = self._body(request)
        errors = []
        if not body.get("body"):
            errors.append(("body", "It should not be blank as this is a mandatory field", "missing_field"))
        if body.get("user_id") is not None and not self._user(body["user_id"]):
            errors.append(("user_id", "There is no contact matching the given user_id", "invalid_value"))
        allowed = {"body", "user_id", "attachments", "notify_emails"} | (
            {"private", "incoming"} if kind == "note" else {"from_email", "cc_emails", "bcc_emails"})
        errors += [(k, "Unexpected/invalid field in request", "invalid_field") for k in body if k not in allowed]
        if errors:
            raise validation(*errors)
        with self._lock:
            atts = self._store_files(files, self._ticket_bytes(t["id"]))
            user = body.get("user_id") or self.me
            if kind == "note":
                private = body.get("private", True)
                c = self._conversation_shape(t["id"], body["body"], user, private=private,
                                             incoming=body.get("incoming", False), source=2, attachments=atts,
                                             to_emails=body.get("notify_emails"))
                for email in body.get("notify_emails") or []:
                    self.notifications.append({"ticket_id": t["id"], "to": email, "why": "note notify_emails"})
            else:
                c = self._conversation_shape(t["id"], body["body"], user, private=False, incoming=False, source=0,
                                             attachments=atts)
                requester = self._user(t["requester_id"])
                email = requester[1].get("email") if requester and requester[0] == "contact" else None
                self.notifications.append({"ticket_id": t["id"], "to": email, "why": "reply"})
            c = self.store.insert("conversation", c)
            self.store.update("ticket", t["id"], {"updated_at": now_iso()})
        return Response(201, json=self._absolute(c))

    @route("POST", API + r"/tickets/(?P<id>\d+)/notes")
    def create_note(self, request):
        return self._add_conversation(request, "note")

    @route("POST", API + r"/tickets/(?P<id>\d+)/reply")
    def create_reply(self, request):
        return self._add_conversation(request, "reply")

    @route("PUT", API + r"/conversations/(?P<id>\d+)")
    def update_conversation(self, request):
        """Update a conversation (FD-DOC): `body` and `attachments` only; a note's `private`
        cannot change (400 invalid_field, as for any field the endpoint does not take)."""
        body, files = self._body(request)
        bad = [(k, "Unexpected/invalid field in request", "invalid_field") for k in body if k not in ("body", "attachments")]
        if bad:
            raise validation(*bad)
        with self._lock:
            c = self.store.get("conversation", request.params["id"])
            if c is None:
                return HttpAbort(404, body=b" ").response
            changes = {"updated_at": now_iso()}
            if body.get("body") is not None:
                changes.update(body=body["body"], body_text=_text(body["body"]))
            if files:
                changes["attachments"] = c["attachments"] + self._store_files(files, self._ticket_bytes(c["ticket_id"]))
            c = self.store.update("conversation", c["id"], changes)
        return self._absolute(c)

    @route("DELETE", API + r"/attachments/(?P<id>\d+)")
    def delete_attachment(self, request):
        """Delete an attachment (FD-DOC): from the ticket or conversation holding it; 204."""
        aid = int(request.params["id"])
        with self._lock:
            for kind in ("ticket", "conversation"):
                for holder in self.store.all(kind):
                    kept = [a for a in holder.get("attachments") or [] if a["id"] != aid]
                    if len(kept) != len(holder.get("attachments") or []):
                        self.store.update(kind, holder["id"], {"attachments": kept})
                        return Response(204)
        return HttpAbort(404, body=b" ").response

    @route("DELETE", API + r"/conversations/(?P<id>\d+)")
    def delete_conversation(self, request):
        return Response(204) if self.store.delete("conversation", request.params["id"]) else HttpAbort(404, body=b" ").response

    # --- satisfaction ratings -----------------------------------------------------------------
    @route("GET", API + r"/surveys/satisfaction_ratings")
    def ratings(self, request):
        items = self.store.all("rating")
        since = _time(request.arg("created_since"))
        if since:
            items = [r for r in items if _time(r["created_at"]) >= since]
        return self._page(request, items)

    @route("GET", API + r"/tickets/(?P<id>\d+)/satisfaction_ratings")
    def ticket_ratings(self, request):
        # "View a ticket's satisfaction ratings": a plain list, paged like the others
        t = self._ticket(request.params["id"])
        return self._page(request, [r for r in self.store.all("rating") if r.get("ticket_id") == t["id"]])

    @route("POST", API + r"/tickets/(?P<id>\d+)/satisfaction_ratings")
    def create_rating(self, request):
        t = self._ticket(request.params["id"])
        body, _ = self._body(request)
        ratings = body.get("ratings") or {}
        if "default_question" not in ratings or ratings["default_question"] not in (103, 102, 101, 100, -101, -102, -103):
            raise validation(("ratings", "It should contain default_question with a valid rating", "invalid_value"))
        r = self._rating_shape(t, t["requester_id"], 3, body.get("feedback"))
        r["ratings"] = {"default_question": ratings["default_question"]}
        return Response(201, json=self.store.insert("rating", r))

    # --- files --------------------------------------------------------------------------------
    @route("GET", r"/sandbox-files/(?P<id>\d+)/original/(?P<name>[^/]+)", auth=False)
    def file(self, request):
        data = self.blobs.get(int(request.params["id"]))
        if data is None:
            return Response(404, body=b"<Error><Code>NoSuchKey</Code></Error>", content_type="application/xml")
        return Response(200, body=data)

    @route("GET", r"/inline/attachment", auth=False)
    def inline(self, request):
        try:
            aid = int(json.loads(base64.urlsafe_b64decode((request.arg("token") or "") + "==").decode())["id"])
        except (ValueError, KeyError, TypeError):
            return Response(404, body=b" ")
        return Response(302, body=b"<html><body>You are being redirected.</body></html>",
                        headers={"Location": f"{self.url}/sandbox-files/{aid}/original/inline"},
                        content_type="text/html; charset=utf-8")


# What `include=` takes (the API reference, "List All Tickets" and "View a Ticket"); another value
# is a 400 naming the allowed ones.
LIST_EMBEDS = ("requester", "stats", "description")
SHOW_EMBEDS = ("conversations", "requester", "company", "stats")


def _includes(request, allowed: tuple[str, ...]) -> list[str]:
    include = [i.strip() for i in (request.arg("include") or "").split(",") if i.strip()]
    bad = [i for i in include if i not in allowed]
    if bad:
        raise validation(("include", f"It should be one of these values: '{','.join(allowed)}'", "invalid_value"))
    return include


def make_sandbox(data=None, port=0, rate_limit=None, faults=None, seed=None, **kw) -> FreshdeskSandbox:
    return FreshdeskSandbox(data=data, port=port, rate_limit=rate_limit, faults=faults, seed=seed, **kw)
