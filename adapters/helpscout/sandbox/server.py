"""The Help Scout sandbox server: Mailbox API 2.0 on loopback, built to Help Scout's documents
(developer.helpscout.com/mailbox-api/, api-facts.md §3), not to this package's adapter.

- auth: `POST /v2/oauth2/token` (client credentials, form-encoded) gives a bearer token that
  lasts `token_ttl` seconds (7200, as the recorded answers; not confirmed); a refused app id or
  secret answers 400 as recorded; `expire_tokens()` revokes them all, so the client's refresh on
  401 can be tested;
- limits: the account's per-minute budget (`--rate-limit`), writes counting 2, headers
  `X-RateLimit-Limit-Minute` / `X-RateLimit-Remaining-Minute`, 429 with
  `X-RateLimit-Retry-After`; at most 100 threads per conversation (412 above), files up to
  10 MB (413);
- threads: `imported: true` keeps `createdAt` and sends nothing; without it `createdAt` is
  refused, a customer thread re-opens the conversation and notifies the team, a reply e-mails
  the customer: `emails_sent` counts them (tests assert 0);
- errors: `{"logRef", "message", "_embedded": {"errors": [...]}}`.
"""

from __future__ import annotations

import base64
import secrets as _secrets
import threading
from typing import Any

from hdmigrate.testing.sandbox import Request, Response, SandboxServer, route

from . import hal
from .limits import now, _instant
from .seed import seed_from_dump
from .writes import add_files, add_thread, create_conversation, field_values, patch_conversation

APP_ID = "sandbox-helpscout-app-id"
APP_SECRET = "sandbox-helpscout-app-secret-0123456789"
OWNER_EMAIL = "owner@sandbox.helpscout.test"
ENDPOINT_TYPES = {"customer": "customer", "reply": "message", "notes": "note", "chats": "chat", "phones": "phone"}

class HelpScoutSandbox(SandboxServer):
    platform = "helpscout"
    env = {"HELPSCOUT_APP_ID": APP_ID, "HELPSCOUT_APP_SECRET": APP_SECRET}

    def __init__(self, data: Any = None, port: int = 0, rate_limit: float | None = None,
                 faults: Any = None, seed: int | None = None, **kw: Any):
        super().__init__(data, port, rate_limit, faults, seed, **kw)
        # expires_in: 7200 in the recorded v2 token answers (helpscoutv2-node fixtures); a 2022
        # recording of the client-credentials flow shows 172800. Not confirmed either way: the
        # adapter does not rely on it (it fetches a new token on a 401).
        self.token_ttl = 7200.0
        self.tokens: dict[str, float] = {}          # token -> expiry (clock)
        self.token_max_uses: int | None = None      # tests: a token expires after this many calls
        self._token_uses: dict[str, int] = {}
        self.token_requests = 0
        # Request size caps (bytes) for tests; None by default: the v2 documents state none. Legacy
        # v1 capped requests at 100 kB, 256 kB for a conversation create, 10 MB for an attachment
        # upload, answering 413 (help-desk-api overview).
        self.max_request_bytes: int | None = None
        self.max_create_bytes: int | None = None
        self.emails_sent = 0                        # e-mails and notifications writes without `imported` cause
        self.emails: list[dict] = []
        self._lock = threading.RLock()
        self._threads_of: dict[int, list[int]] = {}
        self._tag_ids: dict[str, int] = {}
        self.owner = self.add_user("Sandbox Owner", OWNER_EMAIL, role="owner")
        self.mailbox = self.store.insert("mailbox", {"name": "Support", "slug": "support",
                                                     "email": "support@sandbox.helpscout.test",
                                                     "createdAt": now(), "updatedAt": now()})
        if data is not None:
                seed_from_dump(self, data)

    # ------------------------------------------------------------ protocol and hooks
    @property
    def plan_section(self) -> dict:
        # No `mailbox`: a source reads every mailbox; a target of a one-mailbox account needs none.
        return {"adapter": "helpscout", "url": self.url, "app_id_env": "HELPSCOUT_APP_ID",
                "app_secret_env": "HELPSCOUT_APP_SECRET"}

    def authenticate(self, request: Request) -> bool:
        header = request.headers.get("authorization") or ""
        token = header[7:] if header.lower().startswith("bearer ") else ""
        expiry = self.tokens.get(token)
        if expiry is None or self.clock() >= expiry:
            return False
        with self._lock:
            self._token_uses[token] = used = self._token_uses.get(token, 0) + 1
        if self.token_max_uses is not None and used > self.token_max_uses:
            self.tokens.pop(token, None)
            return False
        return True

    def unauthorized(self, request: Request) -> Response:
        return Response(401, json={"error": "invalid_token", "error_description": "The access token is "
                                   "invalid or has expired", "logRef": _secrets.token_hex(8)},
                        headers={"WWW-Authenticate": 'Bearer realm="helpscout", error="invalid_token"'})

    def request_cost(self, request: Request) -> int:
        if request.route is not None and request.route.name == "token":
            # Not in the stored documents either way (the rate-limiting page speaks of API requests);
            # the sandbox leaves the OAuth2 endpoint out of the account's budget.
            return 0
        return 2 if request.method in ("POST", "PUT", "PATCH", "DELETE") else 1   # writes count double

    def rate_limit_headers(self, request, usage) -> dict[str, str]:
        account = usage[0]
        return {"X-RateLimit-Limit-Minute": str(account.limit),
                "X-RateLimit-Remaining-Minute": str(account.remaining)}

    def too_many_requests(self, request: Request, retry_after: int, bucket: str) -> Response:
        return Response(429, json={"logRef": _secrets.token_hex(8), "message": "Rate limit exceeded"},
                        headers={"X-RateLimit-Retry-After": str(retry_after)})

    def not_found(self, request: Request) -> Response:
        return Response(404, json={"logRef": _secrets.token_hex(8), "message": "Resource not found"})

    def expire_tokens(self) -> None:
        """Revoke every token (as after its expires_in): the next call answers 401."""
        self.tokens.clear()

    # ------------------------------------------------------------ people (also for seeding)
    def add_user(self, name: str, email: str, role: str = "user") -> dict:
        first, _, last = name.partition(" ")
        return self.store.insert("user", {"firstName": first, "lastName": last, "email": email, "role": role,
                                          "type": "user", "timezone": "UTC", "createdAt": now(), "updatedAt": now()})

    def people(self, kind: str, pid) -> dict | None:
        return None if pid is None else self.store.get(kind, pid, copy=False)

    def base(self) -> str:
        return self.url

    # ------------------------------------------------------------ auth and account
    @route("POST", r"/v2/oauth2/token", auth=False)
    def token(self, request: Request):
        form = {k: v[-1] for k, v in request.form.items()}
        self.token_requests += 1
        # A refused app id or secret answers as the recorded v2 token failure does
        # (vendor-fixtures/helpscout/helpscoutv2-node/fixures/token/create_token_failure_response.json):
        # 400 {"status": 400, "message": "<id> is not a valid API Key"} -- not a 401.
        if form.get("grant_type") != "client_credentials":
            return Response(400, json={"status": 400,
                                       "message": f"{form.get('grant_type')!r} is not a supported grant type"})
        if form.get("client_id") != APP_ID or form.get("client_secret") != APP_SECRET:
            return Response(400, json={"status": 400, "message": f"{form.get('client_id')} is not a valid API Key"})
        token = _secrets.token_hex(16)
        self.tokens[token] = self.clock() + self.token_ttl
        return {"token_type": "bearer", "access_token": token, "expires_in": int(self.token_ttl)}

    @route("GET", r"/v2/users/me")
    def me(self, request: Request):
        return {**self.owner, "_links": {"self": {"href": f"{self.base()}/v2/users/{self.owner['id']}"}}}

    @route("GET", r"/v2/users")
    def users(self, request: Request):
        return hal.page(request, self.base(), "users", self.store.all("user"))

    @route("GET", r"/v2/users/(?P<id>\d+)")
    def user(self, request: Request):
        return self.store.get("user", request.params["id"]) or _raise(hal.not_found("user"))

    @route("GET", r"/v2/mailboxes")
    def mailboxes(self, request: Request):
        return hal.page(request, self.base(), "mailboxes", self.store.all("mailbox"))

    @route("GET", r"/v2/mailboxes/(?P<id>\d+)")
    def show_mailbox(self, request: Request):
        return self.store.get("mailbox", request.params["id"]) or _raise(hal.not_found("mailbox"))

    @route("GET", r"/v2/mailboxes/(?P<id>\d+)/fields")
    def fields(self, request: Request):
        found = [{k: v for k, v in f.items() if not k.startswith("_")}
                 for f in self.store.find("field", _mailbox=int(request.params["id"]))]
        return hal.page(request, self.base(), "fields", found)

    # ------------------------------------------------------------ customers and organizations
    @route("GET", r"/v2/customers")
    def customers(self, request: Request):
        items = self.store.all("customer", copy=False)
        query = request.arg("query") or ""
        if query.startswith("(email:"):
            wanted = query[len("(email:"):].strip(')"').lower()
            items = [c for c in items if wanted in [e["value"].lower() for e in c.get("emails") or []]]
        return hal.page(request, self.base(), "customers", items, render=lambda c: hal.customer_out(c, self.base()))

    @route("GET", r"/v2/customers/(?P<id>\d+)")
    def show_customer(self, request: Request):
        c = self.store.get("customer", request.params["id"]) or _raise(hal.not_found("customer"))
        return hal.customer_out(c, self.base())

    @route("POST", r"/v2/customers")
    def create_customer(self, request: Request):
        body = _json(request)
        if not (body.get("firstName") or body.get("emails")):
            raise hal.bad_request("firstName", "a customer needs a first name or an e-mail")
        for fld in ("firstName", "lastName"):
            if len(body.get(fld) or "") > 40:
                raise hal.bad_request(fld, "size must be between 0 and 40", body[fld])
        made = self.insert_customer(body)
        return _created(f"{self.base()}/v2/customers/{made['id']}", made["id"])

    def insert_customer(self, body: dict, stamp: dict | None = None) -> dict:
        emails = [{"id": self.store.next_id("email"), "type": e.get("type", "work"), "value": e["value"]}
                  for e in body.get("emails") or [] if e.get("value")]
        phones = [{"id": self.store.next_id("phone"), "type": p.get("type", "work"), "value": p["value"]}
                  for p in body.get("phones") or [] if p.get("value")]
        return self.store.insert("customer", {
            "firstName": body.get("firstName") or "", "lastName": body.get("lastName") or "",
            "background": body.get("background"), "organizationId": body.get("organizationId"),
            "emails": emails, "phones": phones, "createdAt": (stamp or {}).get("createdAt") or now(),
            "updatedAt": (stamp or {}).get("updatedAt") or now()})

    @route("GET", r"/v2/organizations")
    def organizations(self, request: Request):
        items = self.store.all("organization")
        if request.arg("query"):
            items = [o for o in items if request.arg("query").casefold() in o["name"].casefold()]
        return hal.page(request, self.base(), "organizations", items)

    @route("POST", r"/v2/organizations")
    def create_organization(self, request: Request):
        body = _json(request)
        if not body.get("name"):
            raise hal.bad_request("name", "may not be empty")
        made = self.store.insert("organization", {"name": body["name"], "domains": body.get("domains") or [],
                                                  "description": body.get("description"),
                                                  "createdAt": now(), "updatedAt": now()})
        return _created(f"{self.base()}/v2/organizations/{made['id']}", made["id"])

    # ------------------------------------------------------------ conversations
    @route("GET", r"/v2/conversations")
    def conversations(self, request: Request):
        embed = request.arg("embed") == "threads"
        return hal.page(request, self.base(), "conversations", self._filtered(request), hal.CONVERSATIONS_PER_PAGE,
                        render=lambda c: self.render(c, embed))

    def _filtered(self, request: Request) -> list[dict]:
        status = request.arg("status") or "active"      # Help Scout lists active ones unless asked
        items = self.store.all("conversation", copy=False)
        if status != "all":
            items = [c for c in items if c["status"] in status.split(",")]
        if request.arg("tag"):
            wanted = set(request.arg("tag").split(","))
            items = [c for c in items if wanted & set(c.get("tags") or [])]
        if request.arg("mailbox"):
            boxes = {int(m) for m in request.arg("mailbox").split(",") if m.isdigit()}
            items = [c for c in items if c["mailboxId"] in boxes]
        if request.arg("modifiedSince"):
            since = _instant(request.arg("modifiedSince"), "modifiedSince")
            items = [c for c in items if _instant(c["_modified"], "_modified") >= since]
        field = {"createdAt": "createdAt", "modifiedAt": "_modified", "number": "number"}.get(
            request.arg("sortField") or "createdAt", "createdAt")
        return sorted(items, key=lambda c: (c.get(field) or "", c["id"]), reverse=request.arg("sortOrder") == "desc")

    def render(self, c: dict, embed: bool) -> dict:
        threads = self.thread_list(c["id"]) if embed else None
        return hal.conversation_out(c, self.people, self._tag_ids, self.base(), threads)

    def thread_list(self, conv_id: int) -> list[dict]:
        out = []
        for tid in reversed(self._threads_of.get(int(conv_id), [])):     # newest first, as Help Scout
            t = self.store.get("thread", tid, copy=False)
            files = self.store.find("attachment", copy=False, _thread=t["id"])
            out.append(hal.thread_out(t, self.people, files, self.base()))
        return out

    @route("GET", r"/v2/conversations/(?P<id>\d+)")
    def show_conversation(self, request: Request):
        return self.render(self.conversation(request.params["id"]), request.arg("embed") == "threads")

    @route("GET", r"/v2/conversations/(?P<id>\d+)/threads")
    def threads(self, request: Request):
        self.conversation(request.params["id"])
        return hal.page(request, self.base(), "threads", self.thread_list(int(request.params["id"])))

    def conversation(self, cid) -> dict:
        return self.store.get("conversation", cid, copy=False) or _raise(hal.not_found("conversation"))

    def _size_cap(self, request: Request, cap: int | None) -> None:
        if cap is not None and len(request.body or b"") > cap:
            raise hal.error(413, f"Request entity too large: {len(request.body)} bytes, at most {cap}")

    @route("POST", r"/v2/conversations")
    def create_conversation(self, request: Request):
        self._size_cap(request, self.max_create_bytes)
        made = create_conversation(self, _json(request))
        return _created(f"{self.base()}/v2/conversations/{made}", made)

    @route("POST", r"/v2/conversations/(?P<id>\d+)/(?P<kind>customer|reply|notes|chats|phones)")
    def create_thread(self, request: Request):
        self._size_cap(request, self.max_request_bytes)
        conv = self.conversation(request.params["id"])
        made = add_thread(self, conv, ENDPOINT_TYPES[request.params["kind"]], _json(request))
        return _created(f"{self.base()}/v2/conversations/{conv['id']}/threads/{made}", made)

    @route("POST", r"/v2/conversations/(?P<id>\d+)/threads/(?P<tid>\d+)/attachments")
    def upload(self, request: Request):
        conv = self.conversation(request.params["id"])
        t = self.store.get("thread", request.params["tid"], copy=False)
        if t is None or t["_conv"] != conv["id"]:
            raise hal.not_found("thread")
        made = add_files(self, conv["id"], t["id"], [_json(request)])
        return _created(f"{self.base()}/v2/conversations/{conv['id']}/attachments/{made[0]}", made[0])

    @route("GET", r"/v2/conversations/(?P<id>\d+)/attachments/(?P<aid>\d+)/data")
    def attachment_data(self, request: Request):
        a = self.store.get("attachment", request.params["aid"], copy=False)
        if a is None or a["_conv"] != int(request.params["id"]):
            raise hal.not_found("attachment")
        return {"id": a["id"], "data": base64.b64encode(a["_data"]).decode("ascii")}

    @route("PATCH", r"/v2/conversations/(?P<id>\d+)")
    def patch(self, request: Request):
        patch_conversation(self, self.conversation(request.params["id"]), _json(request))
        return Response(204)

    @route("PUT", r"/v2/conversations/(?P<id>\d+)/tags")
    def put_tags(self, request: Request):
        conv = self.conversation(request.params["id"])
        tags = _json(request).get("tags")
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise hal.bad_request("tags", "must be a list of strings", tags)
        self.touch(conv, tags=self.tag_names(tags))
        return Response(204)

    @route("PUT", r"/v2/conversations/(?P<id>\d+)/fields")
    def put_fields(self, request: Request):
        conv = self.conversation(request.params["id"])
        self.touch(conv, fields=field_values(self, conv["mailboxId"], _json(request).get("fields")))
        return Response(204)

    @route("DELETE", r"/v2/conversations/(?P<id>\d+)")
    def delete_conversation(self, request: Request):
        conv = self.conversation(request.params["id"])
        for tid in self._threads_of.pop(conv["id"], []):
            self.store.delete("thread", tid)
            for a in self.store.find("attachment", _thread=tid):
                self.store.delete("attachment", a["id"])
        self.store.delete("conversation", conv["id"])
        return Response(204)

    # ------------------------------------------------------------ shared by writes and seeding
    def tag_names(self, tags: list[str]) -> list[str]:
        out = []
        for tag in tags:
            name = tag.strip().lower()       # Help Scout keeps tags lower-case
            self._tag_ids.setdefault(name, len(self._tag_ids) + 1)
            out.append(name)
        return list(dict.fromkeys(out))

    def touch(self, conv: dict, **changes) -> None:
        self.store.update("conversation", conv["id"], {**changes, "_modified": now(), "userUpdatedAt": now()})

    def link_thread(self, conv_id: int, thread_id: int) -> None:
        with self._lock:
            self._threads_of.setdefault(int(conv_id), []).append(int(thread_id))

    def thread_count(self, conv_id: int) -> int:
        return len(self._threads_of.get(int(conv_id), []))

    def send_email(self, conv_id: int, thread_type: str, why: str) -> None:
        with self._lock:
            self.emails_sent += 1
            self.emails.append({"conversation": conv_id, "thread": thread_type, "why": why})

    # ------------------------------------------------------------ read-backs for tests
    def conversations_held(self) -> list[dict]:
        return self.store.all("conversation")

    def threads_held(self, conv_id) -> list[dict]:
        return [self.store.get("thread", t) for t in self._threads_of.get(int(conv_id), [])]


def _json(request: Request) -> dict:
    try:
        body = request.json
    except Exception:  # noqa: BLE001 - any unreadable body is the client's error
        raise hal.error(400, "Bad request: the body is not JSON") from None
    if not isinstance(body, dict):
        raise hal.error(400, "Bad request: the body must be a JSON object")
    return body


def _created(location: str, rid) -> Response:
    return Response(201, body=b"", headers={"Location": location, "Resource-ID": str(rid)})


def _raise(error):
    raise error
