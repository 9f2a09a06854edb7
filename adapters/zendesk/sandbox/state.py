"""Zendesk sandbox: the account's state (auth, limits, records, the helpers every route and the
seed use). See __init__.py for what is served."""

from __future__ import annotations

import base64
import html as _html
import secrets as _secrets
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from hdmigrate.testing.sandbox import HttpAbort, Request, Response, SandboxServer


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


class ZendeskState(SandboxServer):
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
        """A record's generated_timestamp (the exports' ordering key): a seeded record's own
        update time (`wanted`; ties are fine, the exports order by stamp and id, and a seeded
        history keeps its order against its comments' event times), a live change strictly
        after every stamp so far."""
        with self._clock_lock:
            if wanted is not None:
                self._last_ts = max(self._last_ts, wanted)
                return wanted
            value = max(int(time.time()), self._last_ts + 1)
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

    @staticmethod
    def _check_ticket(store, body: dict, comments: list[dict]) -> str:
        """The ticket's status, or the 422 Zendesk answers an import it refuses."""
        if not body.get("requester_id") or not store.get("user", body["requester_id"]):
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
            if not store.get("user", c.get("author_id") or body["requester_id"]):
                raise _invalid("comments", f"Author: {c.get('author_id')} is invalid")
        return status

    def _create_ticket(self, body: dict, comments: list[dict], *, seeded: bool = False,
                       archive: bool = False) -> dict:
        """Store a ticket and its comments (import semantics: timestamps and authors kept)."""
        status = self._check_ticket(self.store, body, comments)
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
        tid = self.store.insert("ticket", ticket)["id"]
        self.store.update("ticket", tid, {"url": f"/api/v2/tickets/{tid}.json"})
        for c in comments:
            self._store_comment(tid, c, body["requester_id"], created)
        return self.store.get("ticket", tid)

    def _store_comment(self, tid: int, c: dict, requester: int, created: str) -> None:
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
            "id": cid, "type": "Comment", "author_id": c.get("author_id") or requester,
            "body": text, "html_body": html, "plain_body": text, "public": bool(c.get("public", True)),
            "attachments": c.get("_attachments") or [], "audit_id": cid,
            "via": c.get("via") or {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": _iso(c.get("created_at") or created), "metadata": {"system": {}, "custom": {}},
            "_ticket_id": tid, "_ts": _ts(c.get("created_at") or created)}, id=cid)

    # ------------------------------------------------------------ account

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

