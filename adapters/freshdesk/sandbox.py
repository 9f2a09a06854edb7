"""A loopback emulation of Freshdesk API v2, built to Freshdesk's documents (api-facts.md section 2)
and to the recorded responses in ../shared/vendor-fixtures/freshdesk (same keys and types).

Behaviours emulated:
- Basic auth `api_key:X`; 401 `{"code": "invalid_credentials", "message": ...}` as recorded.
- `page`/`per_page` (default 30, max 100; more is a 400) with `link: <...>; rel="next"` and no
  link on the last page; `GET /tickets` shows only tickets created in the last 30 days unless
  `updated_since` is given, and refuses pages beyond 300; archived tickets are in no list and
  only under `/tickets/archived/{id}`.
- Account limit per minute (`--rate-limit`) with the documented per-endpoint limits beneath it
  (Growth/Pro/Enterprise tables, ratios otherwise): create, update, tickets list, contacts list.
  Every answer has `X-Ratelimit-Total/-Remaining/-Used-CurrentRequest` of the bucket that
  applies (the recorded responses show 40 on /tickets and /contacts where the account had 100);
  `include=` on lists costs 2 extra credits; over the limit: 429 + Retry-After.
- 400 validation errors `{"description": "Validation failed", "errors": [{field, message, code}]}`,
  409 on duplicate contact e-mail / company / group names, 404 with an empty body.
- Multipart `attachments[]` on tickets, notes and replies; all files of one ticket <= 20 MB.
- Notifications: replies e-mail the requester, notes e-mail `notify_emails`; both are counted in
  `sandbox.notifications` so tests can prove a migration sent none.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

from hdmigrate.testing.sandbox import HttpAbort, Request, Response, SandboxServer, route

API = "/api/v2"
API_KEY = "sandbox-freshdesk-key"
MAX_ATTACHMENTS = 20 * 1024 * 1024
PLAN_LIMITS = {200: (80, 80, 20, 20), 400: (160, 160, 100, 100), 700: (280, 280, 200, 200)}
RATIOS = (0.4, 0.4, 0.1, 0.1)

STATUS_CODES = {"new": 2, "open": 2, "pending": 3, "on_hold": 3, "solved": 4, "closed": 5}
PRIORITY_CODES = {"low": 1, "normal": 2, "high": 3, "urgent": 4}
SOURCE_CODES = {"email": 1, "web": 2, "phone": 3, "chat": 7, "social": 6, "messaging": 13, "sms": 3,
                "api": 2, "letter": 2, "in_person": 3, "other": 2}
FIELD_TYPES = {"text": "custom_text", "textarea": "custom_paragraph", "integer": "custom_number",
               "decimal": "custom_decimal", "checkbox": "custom_checkbox", "date": "custom_date",
               "dropdown": "custom_dropdown", "multiselect": "custom_dropdown", "regexp": "custom_text"}
TICKET_TYPES = ["Question", "Incident", "Problem", "Feature Request", "Task"]


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso(value: str | None) -> str:
    if not value:
        return now_iso()
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return now_iso()
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        try:
            t = datetime.strptime(str(value), "%Y-%m-%d")
        except ValueError:
            return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def validation(*errors: tuple[str, str, str], status: int = 400) -> HttpAbort:
    return HttpAbort(status, {"description": "Validation failed",
                              "errors": [{"field": f, "message": msg, "code": code} for f, msg, code in errors]})


def _text(html: str) -> str:
    import re
    return re.sub(r"<[^>]+>", "", html or "").strip()


DEFAULT_TICKET_FIELDS = [
    ("requester", "Search a requester", "default_requester", None),
    ("subject", "Subject", "default_subject", None),
    ("ticket_type", "Type", "default_ticket_type", TICKET_TYPES),
    ("source", "Source", "default_source", {"Email": 1, "Portal": 2, "Phone": 3, "Forum": 4, "Twitter": 5,
                                            "Facebook": 6, "Chat": 7, "MobiHelp": 8, "Feedback Widget": 9,
                                            "Outbound Email": 10, "Ecommerce": 11, "Bot": 12, "Whatsapp": 13}),
    ("status", "Status", "default_status", {"2": ["Open", "Being Processed"], "3": ["Pending", "Awaiting your Reply"],
                                            "4": ["Resolved", "This ticket has been Resolved"],
                                            "5": ["Closed", "This ticket has been Closed"]}),
    ("priority", "Priority", "default_priority", {"Low": 1, "Medium": 2, "High": 3, "Urgent": 4}),
    ("group", "Group", "default_group", {}),
    ("agent", "Agent", "default_agent", {}),
    ("description", "Description", "default_description", None),
    ("company", "Company", "default_company", None),
]
DEFAULT_CONTACT_FIELDS = [("name", "Full name", "default_name"), ("job_title", "Title", "default_job_title"),
                          ("email", "Email", "default_email"), ("phone", "Work phone", "default_phone"),
                          ("mobile", "Mobile phone", "default_mobile"), ("twitter_id", "Twitter", "default_twitter_id"),
                          ("company_name", "Company", "default_company_name"),
                          ("address", "Address", "default_address"), ("time_zone", "Time zone", "default_time_zone"),
                          ("language", "Language", "default_language"), ("tag_names", "Tags", "default_tag_names"),
                          ("description", "About", "default_description")]
DEFAULT_COMPANY_FIELDS = [("name", "Company Name", "default_name"), ("description", "Description", "default_description"),
                          ("note", "Notes", "default_note"), ("domains", "Domains for this company", "default_domains"),
                          ("health_score", "Health score", "default_health_score"),
                          ("account_tier", "Account tier", "default_account_tier"),
                          ("renewal_date", "Renewal date", "default_renewal_date"),
                          ("industry", "Industry", "default_industry")]


class FreshdeskSandbox(SandboxServer):
    platform = "freshdesk"
    env = {"FRESHDESK_API_KEY": API_KEY}

    def __init__(self, data=None, port=0, rate_limit=None, faults=None, seed=None, **kw):
        super().__init__(data, port, rate_limit, faults, seed, **kw)
        self.blobs: dict[int, bytes] = {}
        self.notifications: list[dict] = []
        self.automation_rules: dict[int, list[dict]] = {1: [], 3: [], 4: []}
        self._lock = threading.RLock()
        self._seed_defaults()
        if data is not None:
            self.seed_from_dump(Path(data))

    # --- protocol -----------------------------------------------------------------------------
    @property
    def plan_section(self) -> dict:
        return {"adapter": "freshdesk", "url": self.url, "api_key_env": "FRESHDESK_API_KEY"}

    def authenticate(self, request: Request) -> bool:
        auth = request.headers.get("authorization") or ""
        if not auth.lower().startswith("basic "):
            return False
        try:
            user, _, _ = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == API_KEY

    def unauthorized(self, request: Request) -> Response:
        return Response(401, json={"code": "invalid_credentials",
                                   "message": "You have to be logged in to perform this action."})

    def not_found(self, request: Request) -> Response:
        return Response(404, body=b" ", content_type="application/json; charset=utf-8")

    def endpoint_limits(self, account_per_minute: float) -> dict[str, float]:
        a = int(account_per_minute)
        limits = PLAN_LIMITS.get(a) or tuple(max(1, int(a * r)) for r in RATIOS)
        return dict(zip(("create", "update", "tickets_list", "contacts_list"), limits))

    def classify(self, request: Request) -> str | None:
        path = request.path.rstrip("/")
        if request.method == "POST":
            return "create"
        if request.method == "PUT":
            return "update"
        if request.method == "GET" and path == f"{API}/tickets":
            return "tickets_list"
        if request.method == "GET" and path == f"{API}/contacts":
            return "contacts_list"
        return None

    def request_cost(self, request: Request) -> int:
        include = request.arg("include")
        if include and request.path.rstrip("/") == f"{API}/tickets":
            return 1 + 2 * len([i for i in include.split(",") if i])
        return 1

    def rate_limit_headers(self, request: Request, usage) -> dict[str, str]:
        shown = usage[-1]   # the per-endpoint bucket when one applies, as Freshdesk reports it
        return {"X-Ratelimit-Total": str(shown.limit), "X-Ratelimit-Remaining": str(shown.remaining),
                "X-Ratelimit-Used-CurrentRequest": str(self.request_cost(request))}

    def too_many_requests(self, request: Request, retry_after: int, bucket: str) -> Response:
        return Response(429, json={"message": f"You have exceeded the limit of requests per minute ({bucket})"})

    def server_error(self, request: Request, status: int) -> Response:
        return Response(status, json={"code": "internal_error", "message": "We're sorry, but something went wrong."})

    # --- seeding ------------------------------------------------------------------------------
    def preseed(self, *, contacts=(), companies=(), groups=()) -> dict[str, list[dict]]:
        """Records the account holds before a migration (a live customer, a "Billing" group), as
        given: contacts take Create Contact fields (`tags`, `name`, `email`, ...), companies and
        groups at least a `name`. Returns the stored records (with their ids)."""
        out: dict[str, list[dict]] = {"contact": [], "company": [], "group": []}
        t = now_iso()
        with self._lock:
            for body in companies:
                out["company"].append(self.store.insert("company", {
                    "name": body["name"], "description": body.get("description"), "note": None,
                    "domains": list(body.get("domains") or []), "created_at": t, "updated_at": t,
                    "custom_fields": dict(body.get("custom_fields") or {}), "health_score": None,
                    "account_tier": None, "renewal_date": None, "industry": None}))
            for body in groups:
                out["group"].append(self.store.insert("group", {
                    "name": body["name"], "description": body.get("description"), "escalate_to": None,
                    "unassigned_for": None, "business_hour_id": None, "group_type": "support_agent_group",
                    "created_at": t, "updated_at": t}))
            for body in contacts:
                self._validate_contact(body)
                out["contact"].append(self.store.insert("contact", self._contact_shape(
                    self.store.next_id("user"), body, created=t)))
        return out

    def _seed_defaults(self) -> None:
        for i, (name, label, ftype, choices) in enumerate(DEFAULT_TICKET_FIELDS, 1):
            f = self._field_shape("ticket", name, label, ftype, True, i)
            if choices is not None:
                f["choices"] = choices
            self.store.insert("ticket_field", f)
        for i, (name, label, ftype) in enumerate(DEFAULT_CONTACT_FIELDS, 1):
            self.store.insert("contact_field", self._field_shape("contact", name, label, ftype, True, i))
        for i, (name, label, ftype) in enumerate(DEFAULT_COMPANY_FIELDS, 1):
            self.store.insert("company_field", self._field_shape("company", name, label, ftype, True, i))
        admin = self._agent_shape(self.store.next_id("user"), "Sandbox Admin", "admin@sandbox.invalid", [])
        self.store.insert("agent", admin)
        self.me = admin["id"]

    def _field_shape(self, entity, name, label, ftype, default, position) -> dict:
        f = {"id": self.store.next_id("field"), "name": name, "label": label, "position": position,
             "required_for_agents": name in ("requester", "subject", "status", "priority", "name"),
             "type": ftype, "default": default, "created_at": now_iso(), "updated_at": now_iso()}
        if entity == "ticket":
            f.update(description=label, required_for_closure=False, customers_can_edit=False,
                     label_for_customers=label, required_for_customers=False, displayed_to_customers=False)
        elif entity == "contact":
            f.update(editable_in_signup=False, customers_can_edit=False, label_for_customers=label,
                     required_for_customers=False, displayed_for_customers=False)
        return f

    def _agent_shape(self, uid, name, email, group_ids, active=True, created=None) -> dict:
        t = _iso(created)
        return {"available": False, "occasional": False, "id": uid, "ticket_scope": 1, "signature": None,
                "group_ids": group_ids, "role_ids": [1], "skill_ids": [], "available_since": None,
                "contact": {"active": active, "email": email, "job_title": None, "language": "en",
                            "mobile": None, "name": name, "phone": None, "time_zone": "UTC",
                            "created_at": t, "updated_at": t, "last_login_at": None},
                "created_at": t, "updated_at": t, "last_active_at": None, "type": "support_agent"}

    def _contact_shape(self, uid, body: dict, created=None, updated=None) -> dict:
        return {"active": True, "address": body.get("address"), "description": body.get("description"),
                "email": body.get("email"), "id": uid, "job_title": body.get("job_title"),
                "language": body.get("language") or "en", "mobile": body.get("mobile"),
                "name": body.get("name"), "phone": body.get("phone"), "time_zone": body.get("time_zone") or "UTC",
                "twitter_id": body.get("twitter_id"), "custom_fields": dict(body.get("custom_fields") or {}),
                "facebook_id": None, "created_at": _iso(created), "updated_at": _iso(updated or created),
                "csat_rating": None, "preferred_source": None, "company_id": body.get("company_id"),
                "other_emails": list(body.get("other_emails") or []), "tags": list(body.get("tags") or []),
                "unique_external_id": body.get("unique_external_id"), "deleted": False}

    def seed_from_dump(self, root: Path) -> list[dict]:
        """Seed from a jsonl dump. Every record is seeded or named on stderr with the reason;
        returns the records left out (`seed_skipped`)."""
        from hdmigrate.canonical_dump import blob_path, iter_records

        users: dict[str, int] = {}
        ids: dict[tuple[str, str], int] = {}
        for rec in iter_records(root, "custom_field"):
            entity = rec.get("entity")
            kind = {"ticket": "ticket_field", "contact": "contact_field", "organization": "company_field"}.get(entity)
            if not kind:
                self.seed_skip("custom_field", rec.get("id"), f"Freshdesk has no custom fields of {entity!r} records")
                continue
            name = ("cf_" if entity == "ticket" else "") + _slug(str(rec.get("key")))
            f = self._field_shape(entity, name, rec.get("title") or str(rec.get("key")),
                                  FIELD_TYPES.get(rec.get("type"), "custom_text"), False, 100 + self.store.count(kind))
            if rec.get("options"):
                f["choices"] = [str(o.get("value")) for o in rec["options"]]
            self.store.insert(kind, f)
        for rec in iter_records(root, "group"):
            g = self.store.insert("group", {"name": rec["name"], "description": rec.get("description"),
                                            "escalate_to": None, "unassigned_for": None, "business_hour_id": None,
                                            "group_type": "support_agent_group",
                                            "created_at": _iso(rec.get("created_at")), "updated_at": _iso(rec.get("updated_at"))})
            ids[("group", rec["id"])] = g["id"]
        for rec in iter_records(root, "organization"):
            c = self.store.insert("company", {"name": rec["name"], "description": rec.get("notes"), "note": None,
                                              "domains": list(rec.get("domains") or []),
                                              "created_at": _iso(rec.get("created_at")),
                                              "updated_at": _iso(rec.get("updated_at")),
                                              "custom_fields": {_slug(k): v for k, v in (rec.get("custom_fields") or {}).items()},
                                              "health_score": None, "account_tier": None, "renewal_date": None,
                                              "industry": None})
            ids[("organization", rec["id"])] = c["id"]

        def ref(kind: str, rid, table: str, value):
            """The sandbox id of a reference, saying so when the dump lacks its target."""
            found = ids.get((table, value)) if table != "user" else users.get(value)
            if value and found is None:
                self.seed_change(kind, rid, f"{table} {value} is not in the dump")
            return found

        for rec in iter_records(root, "agent"):
            uid = self.store.next_id("user")
            a = self._agent_shape(uid, rec["name"], rec.get("email"),
                                  [g for g in (ref("agent", rec["id"], "group", g) for g in rec.get("group_ids") or [])
                                   if g is not None],
                                  rec.get("active", True), rec.get("created_at"))
            self.store.insert("agent", a)
            users[rec["id"]] = uid
        for rec in iter_records(root, "contact"):
            uid = self.store.next_id("user")
            phones = rec.get("phones") or []
            body = {"name": rec.get("name"), "email": rec.get("email"), "other_emails": rec.get("emails"),
                    "phone": phones[0] if phones else None, "mobile": phones[1] if len(phones) > 1 else None,
                    "description": rec.get("notes"), "tags": rec.get("tags"),
                    "company_id": ref("contact", rec["id"], "organization", rec.get("organization_id")),
                    "custom_fields": {_slug(k): v for k, v in (rec.get("custom_fields") or {}).items()}}
            c = self._contact_shape(uid, body, rec.get("created_at"), rec.get("updated_at"))
            c["deleted"] = rec.get("active") is False
            self.store.insert("contact", c)
            users[rec["id"]] = uid
        ticket_ids = {rec["id"] for rec in iter_records(root, "ticket")}
        comments: dict[str, list[dict]] = {}
        for rec in iter_records(root, "comment"):
            if rec.get("ticket_id") not in ticket_ids:
                self.seed_skip("comment", rec.get("id"), f"its ticket {rec.get('ticket_id')} is not in the dump")
                continue
            comments.setdefault(rec["ticket_id"], []).append(rec)
        comment_ids = {c["id"] for cs in comments.values() for c in cs}
        atts: dict[str, list[dict]] = {}
        for rec in iter_records(root, "attachment"):
            if rec.get("comment_id") not in comment_ids:
                self.seed_skip("attachment", rec.get("id"), f"its comment {rec.get('comment_id')} is not seeded")
                continue
            atts.setdefault(rec["comment_id"], []).append(rec)

        def files_of(comment):
            out = []
            by_id = {a["id"]: a for a in atts.get(comment["id"], [])}
            for aid in comment.get("attachment_ids") or []:
                if aid not in by_id:
                    self.seed_change("comment", comment["id"], f"attachment {aid} is not in the dump")
            order = [aid for aid in comment.get("attachment_ids") or [] if aid in by_id]
            for aid in order + [aid for aid in by_id if aid not in order]:
                a = by_id[aid]
                data = self.seed_blob(a, lambda sha: blob_path(root, sha).read_bytes())
                if data is None:
                    continue
                out.append(self._attachment(a.get("file_name") or "file", a.get("content_type"), data,
                                            a.get("created_at")))
            return out

        seeded: dict[str, int] = {}      # dump ticket id -> sandbox ticket id
        ratings = list(iter_records(root, "satisfaction_rating"))
        for rec in iter_records(root, "ticket"):
            cs = sorted(comments.get(rec["id"], []), key=lambda c: c.get("created_at") or "")
            first = cs[0] if cs else None
            requester = users.get(rec.get("requester_id"))
            if requester is None:
                self.seed_skip("ticket", rec["id"], f"requester {rec.get('requester_id')} is not in the dump")
                why = f"its ticket {rec['id']} was not seeded"
                for c in cs:
                    self.seed_skip("comment", c["id"], why)
                    for a in atts.get(c["id"], []):
                        self.seed_skip("attachment", a.get("id"), why)
                continue
            tid = int(rec["id"]) if str(rec["id"]).isdigit() else None
            t = self._ticket_shape({
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
                attachments=files_of(first) if first else [], id=tid)
            if (rec.get("extra") or {}).get("archived"):
                t["_archived"] = True
            t = self.store.insert("ticket", t)
            seeded[rec["id"]] = t["id"]
            for c in cs[1:]:
                author = users.get(c.get("author_id"))
                if author is None:
                    self.seed_change("comment", c["id"], f"author {c.get('author_id')} is not in the dump: "
                                                         "seeded as the requester's")
                self.store.insert("conversation", self._conversation_shape(
                    t["id"], c.get("body_html") or _html(c.get("body_text")), author or requester,
                    private=not c.get("public", True), incoming=c.get("author_kind") == "contact",
                    source=2 if not c.get("public", True) else (1 if c.get("author_kind") == "contact" else 0),
                    created=c.get("created_at"), attachments=files_of(c)))
        for rec in ratings:
            t = self.store.get("ticket", seeded[rec["ticket_id"]]) if rec.get("ticket_id") in seeded else None
            if t is None:
                self.seed_skip("satisfaction_rating", rec.get("id"), f"its ticket {rec.get('ticket_id')} "
                               + ("was not seeded" if rec.get("ticket_id") in ticket_ids else "is not in the dump"))
                continue
            user = users.get(rec.get("contact_id"))
            if rec.get("contact_id") and user is None:
                self.seed_change("satisfaction_rating", rec.get("id"),
                                 f"contact {rec['contact_id']} is not in the dump: seeded as the requester's")
            self.store.insert("rating", self._rating_shape(t, user or t["requester_id"], rec.get("score"),
                                                           rec.get("comment"), rec.get("created_at"),
                                                           scale=rec.get("scale")))
        return self.seed_done()

    # --- shapes -------------------------------------------------------------------------------
    def _attachment(self, name, ctype, data: bytes, created=None) -> dict:
        aid = self.store.next_id("attachment")
        self.blobs[aid] = data
        t = _iso(created)
        a = {"id": aid, "name": name, "content_type": ctype or "application/octet-stream", "size": len(data),
             "created_at": t, "updated_at": t, "attachment_url": self._file_url(aid, name)}
        if (ctype or "").startswith("image/"):
            a["thumb_url"] = self._file_url(aid, name)
        return a

    def _file_url(self, aid: int, name: str) -> str:
        # The real ones are pre-signed S3 URLs on another host; here: a path on the sandbox,
        # resolved against the sandbox URL when it is served.
        sig = hashlib.sha256(f"{aid}".encode()).hexdigest()[:16]
        return f"/sandbox-files/{aid}/original/{_slug(name)}?X-Amz-Expires=300&X-Amz-Signature={sig}"

    def _ticket_shape(self, body: dict, created=None, updated=None, attachments=(), id=None) -> dict:
        desc = body.get("description") or ""
        t = {"cc_emails": list(body.get("cc_emails") or []), "fwd_emails": [], "reply_cc_emails": list(body.get("cc_emails") or []),
             "ticket_cc_emails": list(body.get("cc_emails") or []), "fr_escalated": False, "spam": False,
             "email_config_id": None, "group_id": body.get("group_id"), "priority": int(body.get("priority") or 1),
             "requester_id": body.get("requester_id"), "responder_id": body.get("responder_id"),
             "source": int(body.get("source") or 2), "company_id": body.get("company_id"),
             "status": int(body.get("status") or 2), "subject": body.get("subject"), "association_type": None,
             "support_email": None, "to_emails": None, "product_id": None, "type": body.get("type"),
             "due_by": _iso(body.get("due_by") or (datetime.now(timezone.utc) + timedelta(days=3)).isoformat()),
             "fr_due_by": _iso((datetime.now(timezone.utc) + timedelta(days=1)).isoformat()),
             "is_escalated": False, "description": desc, "description_text": _text(desc),
             "custom_fields": dict(body.get("custom_fields") or {}), "created_at": _iso(created),
             "updated_at": _iso(updated or created), "tags": list(body.get("tags") or []),
             "attachments": list(attachments), "source_additional_info": None}
        if id is not None:
            t["id"] = id
        return t

    def _conversation_shape(self, ticket_id, body, user_id, *, private, incoming, source, created=None,
                            attachments=(), to_emails=None) -> dict:
        return {"body": body or "", "body_text": _text(body), "incoming": bool(incoming), "private": bool(private),
                "user_id": user_id, "support_email": None, "source": source, "category": 2 if source == 2 else 3,
                "to_emails": to_emails or [], "from_email": None, "cc_emails": [], "bcc_emails": None,
                "email_failure_count": None, "outgoing_failures": None, "created_at": _iso(created),
                "updated_at": _iso(created), "attachments": list(attachments), "auto_response": False,
                "ticket_id": ticket_id, "source_additional_info": None}

    def _rating_shape(self, ticket, user_id, score, feedback, created=None, scale=None) -> dict:
        try:
            five = float(score)
            if scale == "0-10":     # onto Freshdesk's five answers: 0-1 -> 1, ..., 9-10 -> 5
                five = 1 + five * 4 / 10
            value = {1: -103, 2: -101, 3: 100, 4: 101, 5: 103}[max(1, min(5, round(five)))]
        except (TypeError, ValueError):
            value = 103 if str(score).lower() == "good" else -103
        t = _iso(created)
        return {"survey_id": 1, "user_id": user_id, "agent_id": ticket.get("responder_id"), "feedback": feedback,
                "group_id": ticket.get("group_id"), "ticket_id": ticket["id"], "created_at": t, "updated_at": t,
                "ratings": {"default_question": value}}

    @staticmethod
    def _public_ticket(t: dict, listing: bool = False) -> dict:
        out = {k: v for k, v in t.items() if not k.startswith("_")}
        if listing:
            for k in ("description", "description_text", "attachments", "source_additional_info"):
                out.pop(k, None)
            out["associated_tickets_count"] = None
        return out

    def _absolute(self, obj):
        """attachment_url paths -> absolute URLs of this sandbox."""
        if isinstance(obj, list):
            return [self._absolute(x) for x in obj]
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                if k in ("attachment_url", "thumb_url") and isinstance(v, str) and v.startswith("/"):
                    v = self.url + v
                out[k] = self._absolute(v) if isinstance(v, (dict, list)) else v
            return out
        return obj

    # --- helpers ------------------------------------------------------------------------------
    def _page(self, request: Request, items: list, max_page: int | None = None) -> Response:
        try:
            page = int(request.arg("page", "1"))
            per_page = int(request.arg("per_page", "30"))
        except ValueError:
            raise validation(("page", "It should be a/an Positive Integer", "datatype_mismatch"))
        if per_page > 100 or per_page < 1:
            raise validation(("per_page", "It should be a Number between 1 and 100", "invalid_value"))
        if page < 1:
            raise validation(("page", "It should be a/an Positive Integer", "datatype_mismatch"))
        if max_page and page > max_page:
            raise validation(("page", f"You cannot access pages beyond {max_page}", "invalid_value"))
        chunk = items[(page - 1) * per_page: page * per_page]
        headers = {}
        more = len(items) > page * per_page and not (max_page and page >= max_page)
        if more:
            query = {k: v[0] for k, v in request.query.items()}
            query["page"] = str(page + 1)
            headers["link"] = f'<{self.url}{request.path}?{urlencode(query)}>; rel="next"'
        return Response(200, json=self._absolute(chunk), headers=headers)

    def _body(self, request: Request) -> tuple[dict, list]:
        """JSON or multipart body -> (fields, files); form spellings `key[]` and `custom_fields[k]`."""
        if request.content_type == "multipart/form-data":
            body: dict = {}
            for name, values in request.form.items():
                if name.endswith("[]"):
                    body.setdefault(name[:-2], []).extend(values)
                elif name.startswith("custom_fields[") and name.endswith("]"):
                    body.setdefault("custom_fields", {})[name[14:-1]] = values[-1]
                else:
                    body[name] = values[-1]
            for k in ("requester_id", "status", "priority", "source", "responder_id", "group_id", "company_id", "user_id"):
                if k in body:
                    try:
                        body[k] = int(body[k])
                    except (TypeError, ValueError):
                        raise validation((k, "It should be a/an Positive Integer", "datatype_mismatch"))
            for k in ("private", "incoming"):
                if k in body:
                    body[k] = str(body[k]).lower() == "true"
            files = [p for p in request.files if p.name == "attachments[]"]
            bad = [p for p in request.files if p.name != "attachments[]"]
            if bad:
                raise validation((bad[0].name or "attachments", "Unexpected/invalid field in request", "invalid_field"))
            return body, files
        if request.content_type not in ("application/json", ""):
            raise HttpAbort(415, {"code": "invalid_content_type",
                                  "message": "Content-Type header should have application/json"})
        body = request.json
        if not isinstance(body, dict):
            raise validation(("body", "Request body has invalid json format", "invalid_json"))
        return body, []

    def _user(self, uid) -> tuple[str, dict] | None:
        if uid is None:
            return None
        a = self.store.get("agent", uid)
        if a:
            return "agent", a
        c = self.store.get("contact", uid)
        return ("contact", c) if c else None

    def _check_custom_fields(self, kind: str, values: dict | None) -> dict:
        fields = {f["name"]: f for f in self.store.all(kind)}
        out = {}
        for k, v in (values or {}).items():
            f = fields.get(k)
            if not f or f.get("default"):
                raise validation((k, "Unexpected/invalid field in request", "invalid_field"))
            ftype = f["type"]
            if v is not None:
                if ftype == "custom_number":
                    try:
                        v = int(v)
                    except (TypeError, ValueError):
                        raise validation((k, "Value set is of type String.It should be a/an Integer", "datatype_mismatch"))
                elif ftype == "custom_checkbox":
                    if isinstance(v, str):
                        v = v.lower() == "true"
                    elif not isinstance(v, bool):
                        raise validation((k, "It should be a/an Boolean", "datatype_mismatch"))
                elif ftype == "custom_dropdown" and isinstance(f.get("choices"), list) and v not in f["choices"]:
                    raise validation((k, "It should be one of these values: '" + ",".join(map(str, f["choices"])) + "'",
                                      "invalid_value"))
                elif ftype == "custom_date" and _time(v) is None:
                    raise validation((k, "It should be in the 'yyyy-mm-dd' format", "invalid_value"))
            out[k] = v
        return out

    def _store_files(self, files, existing: int = 0) -> list[dict]:
        total = existing + sum(len(p.data) for p in files)
        if total > MAX_ATTACHMENTS:
            raise validation(("attachments", "The cumulative size of attachments cannot exceed 20MB", "invalid_value"))
        for p in files:
            if not p.data:
                raise validation(("attachments", "It should not be blank as this is a mandatory field",
                                  "missing_field"))
        return [self._attachment(p.filename or "file", p.content_type, p.data) for p in files]

    def _ticket_bytes(self, tid) -> int:
        t = self.store.get("ticket", tid) or {}
        total = sum(a["size"] for a in t.get("attachments") or [])
        for c in self.store.find("conversation", ticket_id=int(tid)):
            total += sum(a["size"] for a in c.get("attachments") or [])
        return total

    def _ticket(self, tid, archived=False) -> dict:
        t = self.store.get("ticket", tid)
        if t is None or bool(t.get("_archived")) != archived:
            raise HttpAbort(404, body=b" ")
        return t

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
        items = [t for t in self.store.all("ticket") if not t.get("_archived")]
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
        include = [i for i in (request.arg("include") or "").split(",") if i]
        out = []
        for t in items:
            shown = self._public_ticket(t, listing=True)
            if "description" in include:
                shown["description"], shown["description_text"] = t["description"], t["description_text"]
            out.append(shown)
        return self._page(request, out, max_page=300)

    def _show(self, t: dict, include: list[str]) -> dict:
        shown = self._public_ticket(t)
        if "conversations" in include:
            convs = sorted(self.store.find("conversation", ticket_id=t["id"]), key=lambda c: (c["created_at"], c["id"]))
            shown["conversations"] = convs[:10]
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
        return self._absolute(shown)

    @route("GET", API + r"/tickets/(?P<id>\d+)")
    def ticket_show(self, request):
        include = [i for i in (request.arg("include") or "").split(",") if i]
        return self._show(self._ticket(request.params["id"]), include)

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


def _slug(s: str) -> str:
    import re
    return re.sub(r"[^a-z0-9]+", "_", (s or "").lower()).strip("_") or "field"


def _html(text: str | None) -> str:
    import html
    return "<div>" + html.escape(text or "").replace("\n", "<br>") + "</div>"


def make_sandbox(data=None, port=0, rate_limit=None, faults=None, seed=None, **kw) -> FreshdeskSandbox:
    return FreshdeskSandbox(data=data, port=port, rate_limit=rate_limit, faults=faults, seed=seed, **kw)
