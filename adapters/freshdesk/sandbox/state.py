"""The Freshdesk sandbox's account state: constants, record shapes as Freshdesk returns them,
request parsing, validation helpers and seeding defaults (the routes are in routes.py)."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

from hdmigrate.testing.sandbox import HttpAbort, Request, Response, SandboxServer

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


class FreshdeskState(SandboxServer):
    platform = "freshdesk"
    env = {"FRESHDESK_API_KEY": API_KEY}

    def __init__(self, data=None, port=0, rate_limit=None, faults=None, seed=None, **kw):
        super().__init__(data, port, rate_limit, faults, seed, **kw)
        self.blobs: dict[int, bytes] = {}
        self.notifications: list[dict] = []
        self.automation_rules: dict[int, list[dict]] = {1: [], 3: [], 4: []}
        self.admin = True      # the API key's agent may create fields (False: 403 on /admin/...)
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
        """API credits, as the API reference charges them: List All Tickets 2 more per `include`
        (include=stats costs 3); View a Ticket 1 more per `include` (include=conversations
        "will consume two API calls"); everything else 1."""
        includes = [i for i in (request.arg("include") or "").split(",") if i]
        path = request.path.rstrip("/")
        if includes and path == f"{API}/tickets":
            return 1 + 2 * len(includes)
        if includes and re.fullmatch(API + r"/tickets/\d+", path):
            return 1 + len(includes)
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


def _slug(s: str) -> str:
    import re
    return re.sub(r"[^a-z0-9]+", "_", (s or "").lower()).strip("_") or "field"


def _html(text: str | None) -> str:
    import html
    return "<div>" + html.escape(text or "").replace("\n", "<br>") + "</div>"

