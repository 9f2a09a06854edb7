"""Request Tracker 5 as a target (REST2).

What is kept: queues, users (agents privileged, contacts unprivileged), tickets with requestors,
Ccs, owner, status, priority, custom field values, public correspondence and private comments with
their files. `Created` and `Creator` are sent on create, then read back: RT's security releases
(5.0.3+dfsg-3~deb12u7 and later) treat them as immutable and drop them silently, so a ticket whose
time or creator did not stick gets `timestamp_not_preserved` / `author_not_preserved`, and until a
ticket of this run proves that the server keeps `Created`, the opening message starts with a
visible origin line naming the original time. Comments cannot be backdated (`timestamp_not_preserved`). Comment authors are kept by posting as
each author: with `act_as_created_users = true`, users this migration creates get a random
password that lives only in memory, and their comments are posted with it; everyone else's
comments are posted as the API user (`author_not_preserved`).

No customer mail: a ticket is created without watchers and owner, its history is written, its
final status set, and only then are requestors, Ccs and owner added (RT's default scrips notify on
create, correspond and resolve, never on adding a watcher).

Idempotency: every ticket refers to the link `urn:hdmigrate:<stamp>` (no admin step needed), and
where an RT admin has applied the custom field `hdmigrate-source-id` (STAMP_CF) it carries the
stamp there too. The stamp is `<id>~partial` while the history is being written and `<id>` once the
ticket is complete. A resumed write continues a partial ticket after the comments already posted,
so a kill at any moment leaves neither a duplicate ticket nor a duplicate comment.

Attachments RT refuses (0-byte files) are left out with `attachment_empty`; a file refused for
another reason is left out with `attachment_rejected`; the ticket and its comments are written.
"""

from __future__ import annotations

import base64
import secrets as secrets_mod
from pathlib import Path

from hdmigrate import degradations as codes
from hdmigrate import stamps
from hdmigrate.adapter import Capability, Degradation, Target, WriteResult
from hdmigrate.errors import ConfigError, FatalApiError, RecordError, RecordRejected, TransientApiError

from . import to_vendor, values
from .client import make_client, pages

CREATED_MARK = "created by hdmigrate"   # in the Comments field of users this tool creates


class RtTarget(Target):
    name = "rt"
    stamp_places = frozenset({"stamp"})   # where verify reads this target's stamp
    capabilities = frozenset({Capability.PRIVATE_NOTES, Capability.ATTACHMENTS, Capability.CUSTOM_FIELDS,
                              Capability.EXTERNAL_ID_LOOKUP})
    bundles_comments = True
    updatable_kinds = frozenset()   # no update(): delta runs report changed records as not updated

    def __init__(self, ctx):
        super().__init__(ctx)
        token = ctx.secrets.get("token")
        if not token:
            raise ConfigError("rt: no API token (set token_env in the plan and export that variable)")
        self.http = make_client(ctx, token=token)
        self.act_as = bool(ctx.config.get("act_as_created_users", False))
        self.api_user = ctx.config.get("api_user", "root")
        self.stamp_prefix = ctx.config.get("stamp_prefix", "")
        self.default_queue = ctx.config.get("queue", "General")
        self._passwords: dict[str, str] = {}      # never written anywhere
        self._user_clients: dict = {}
        self._queue_cfs: dict[str, set[str]] = {}
        # What this server kept, learned by reading back the tickets of this run (None: unknown).
        self.keeps_created: bool | None = None

    # ---- helpers
    def check(self) -> None:
        self.http.get_json("rt")

    def _stamp(self, record: dict) -> str:
        return stamps.with_prefix(str(record["id"]), self.stamp_prefix)

    def _cfs_of_queue(self, queue: str) -> set[str]:
        if queue not in self._queue_cfs:
            names = set()
            for chunk in pages(self.http, "GET", f"queue/{queue}/customfields", {"fields": "Name"}):
                names |= {cf.get("Name") for cf in chunk}
            self._queue_cfs[queue] = names
        return self._queue_cfs[queue]

    def _queue_id(self, name: str) -> str:
        return str(self.http.get_json(f"queue/{name}")["id"])

    def _find_ticket(self, stamp: str) -> str | None:
        """By the stamp link; then by the stamp custom field (tickets of earlier versions)."""
        quoted = stamp.replace("\\", "\\\\").replace("'", "\\'")
        for query in (f"RefersTo = '{stamps.link(quoted)}'", f"CF.{{{values.STAMP_CF}}} = '{quoted}'"):
            data = self.http.get_json("tickets", params={"query": query, "per_page": 2, "orderby": "id"})
            items = (data or {}).get("items") or []
            if items:
                return str(items[0]["id"])
        return None

    def _user_client(self, name: str | None):
        if not (self.act_as and name and name in self._passwords):
            return None
        if name not in self._user_clients:
            self._user_clients[name] = make_client(self.ctx, auth=(name, self._passwords[name]))
        return self._user_clients[name]

    def _person_name(self, ctx, pid: str | None) -> str | None:
        found = ctx.person(pid) if pid else None
        return found[1] if found else None

    @staticmethod
    def _body(comment: dict | None) -> tuple[str, str]:
        if not comment:
            return "", "text/plain"
        if isinstance(comment.get("body_text"), str):
            return comment["body_text"], "text/plain"
        return comment.get("body_html") or "", "text/html"

    @staticmethod
    def _files(ctx, comment: dict | None) -> list[tuple[dict, Path]]:
        return list(ctx.attachments(comment)) if comment else []

    @staticmethod
    def _empty(att: dict) -> bool:
        return att.get("size") == 0

    def _sendable(self, files, degr: list[Degradation]) -> list[tuple[dict, Path]]:
        """RT refuses 0-byte files (and with them the whole message): leave them out, named."""
        out = []
        for att, path in files:
            if self._empty(att) or Path(path).stat().st_size == 0:
                degr.append(Degradation("attachment", str(att["id"]), "size", codes.ATTACHMENT_EMPTY,
                                        "RT refuses 0-byte files; left out, the message is written without it"))
            else:
                out.append((att, path))
        return out

    def _attachment_json(self, files) -> list[dict]:
        return [{"FileName": self.file_name(rec), "FileType": rec.get("content_type") or "application/octet-stream",
                 "FileContent": base64.b64encode(Path(path).read_bytes()).decode("ascii")}
                for rec, path in files]

    # ---- degradations (pure)
    def degradations(self, kind: str, record: dict, ctx) -> list[Degradation]:
        out: list[Degradation] = []
        rid = str(record.get("id"))
        if kind == "ticket":
            if record.get("created_at") and self.keeps_created is not True:
                out.append(Degradation(kind, rid, "created_at", codes.TIMESTAMP_NOT_PRESERVED,
                                       self._created_detail(record["created_at"])))
            for field in ("type", "tags", "organization_id", "channel"):
                if record.get(field):
                    code = codes.CHANNEL_NOT_PRESERVED if field == "channel" else codes.VALUE_UNMAPPED
                    out.append(Degradation(kind, rid, field, code, f"RT tickets have no {field}"))
        elif kind == "organization":
            out.append(Degradation(kind, rid, "", codes.VALUE_UNMAPPED, "RT has no organizations (users keep a name)"))
        elif kind == "satisfaction_rating":
            out.append(Degradation(kind, rid, "", codes.CSAT_NOT_WRITABLE, "RT has no satisfaction ratings"))
        elif kind == "attachment" and self._empty(record):
            out.append(Degradation(kind, rid, "size", codes.ATTACHMENT_EMPTY,
                                   "RT refuses 0-byte files; left out, the message is written without it"))
        elif kind == "attachment" and record.get("inline"):
            out.append(Degradation(kind, rid, "inline", codes.INLINE_IMAGE_DETACHED, "kept as a regular attachment"))
        elif kind == "comment":
            first = False
            try:
                siblings = ctx.comments(record["ticket_id"])
                first = bool(siblings) and str(siblings[0].get("id")) == rid
            except Exception:  # noqa: BLE001 - dry runs may not offer siblings
                pass
            out.append(Degradation(kind, rid, "created_at", codes.TIMESTAMP_NOT_PRESERVED,
                                   "REST2 dates every transaction at load time" +
                                   ("; the ticket's Created keeps the original time" if first and self.keeps_created
                                    else "; the original time is in the opening message's origin line" if first
                                    else "")))
            if record.get("channel"):
                out.append(Degradation(kind, rid, "channel", codes.CHANNEL_NOT_PRESERVED, "RT has no channel"))
            if first:
                pass   # the opening message's author is the ticket's Creator, which RT keeps
            elif not self.act_as:
                out.append(Degradation(kind, rid, "author_id", codes.AUTHOR_NOT_PRESERVED,
                                       "posted as the API user (act_as_created_users is off)"))
            elif not record.get("public") and record.get("author_kind") != "agent":
                out.append(Degradation(kind, rid, "author_id", codes.AUTHOR_NOT_PRESERVED,
                                       "contacts lack CommentOnTicket; private note posted as the API user"))
        return out

    @staticmethod
    def _created_detail(original: str) -> str:
        return (f"RT did not keep Created (REST2 of current RT releases treats it as immutable); original "
                f"{original} is in the opening message's origin line")

    # ---- lookups
    def find_existing(self, kind: str, record: dict, ctx) -> str | None:
        if kind == "group":
            r = self.http.request("GET", f"queue/{record['name']}", allow=(404,))
            return str(r.json()["id"]) if r.status_code == 200 else None
        if kind in ("agent", "contact"):
            return self._find_user(kind, record)
        if kind == "custom_field":
            data = self.http._json(self.http.request(
                "POST", "customfields", json=[{"field": "Name", "value": record["key"]},
                                              {"field": "LookupType", "value": "RT::Queue-RT::Ticket"}]))
            items = (data or {}).get("items") or []
            return str(items[0]["id"]) if items else None
        if kind == "ticket":
            return self._find_ticket(self._stamp(record))
        return None

    def _find_user(self, kind: str, record: dict) -> str | None:
        name = None
        if record.get("email"):
            # Disabled users too: a source's inactive agent was written disabled, and RT refuses a
            # second user with the same address ("Email address in use").
            data = self.http._json(self.http.request(
                "POST", "users", params={"fields": "Name,Comments", "find_disabled_rows": 1},
                json=[{"field": "EmailAddress", "value": record["email"]}]))
            items = (data or {}).get("items") or []
            if items:
                name = items[0]["Name"]
        if name is None and (record.get("extra") or {}).get("rt_name"):
            r = self.http.request("GET", f"user/{record['extra']['rt_name']}", allow=(404,))
            if r.status_code == 200 and (r.json().get("EmailAddress") or None) == (record.get("email") or None):
                name = r.json()["Name"]
        if name is None and not record.get("email"):
            # Without an address the user was created under a generated name, its Comments
            # saying which record it is (lost staging, a resumed run): found again by both.
            generated = _generated_name(kind, record)
            r = self.http.request("GET", f"user/{generated}", allow=(404,))
            if r.status_code == 200 and (r.json().get("Comments") or "").endswith(_created_from(kind, record)):
                name = r.json()["Name"]
        if name and self.act_as and name not in self._passwords:
            user = self.http.get_json(f"user/{name}")
            if CREATED_MARK in (user.get("Comments") or ""):
                # Created by an earlier (interrupted) run of this tool: give it a fresh password.
                # REST2 in RT 5.0.3 answers 500 to a password change; where it works, use it.
                password = secrets_mod.token_urlsafe(24)
                self.http.secrets = tuple(self.http.secrets) + (password,)
                r = self.http.request("PUT", f"user/{name}", json={"Password": password}, allow=(400, 500))
                if r.status_code < 300:
                    self._passwords[name] = password
        return name

    # ---- writes
    def write(self, kind: str, record: dict, ctx) -> WriteResult:
        if kind in ("group", "agent", "contact", "custom_field"):
            # Queues, users and fields may already exist in the target (General, root, a
            # colleague's account): match them instead of failing on "already exists".
            found = self.find_existing(kind, record, ctx)
            if found:
                return WriteResult(found, matched=True)   # the target's own: never updated nor deleted
        if kind == "group":
            r = self.http.request("POST", "queue", idempotent=False, json={"Name": record["name"],
                                                         "Description": record.get("description") or ""})
            return WriteResult(str(r.json()["id"]))
        if kind in ("agent", "contact"):
            return self._write_user(kind, record)
        if kind == "custom_field":
            return self._write_custom_field(record)
        if kind == "ticket":
            return self._write_ticket(record, ctx)
        if kind in ("comment", "attachment"):
            raise RecordError(f"rt: {kind} records are written with their ticket", kind=kind, id=record.get("id"))
        return WriteResult(f"none:{record.get('id')}")   # listed by degradations()

    def _write_user(self, kind: str, record: dict) -> WriteResult:
        extra = record.get("extra") or {}
        email = record.get("email") or None
        name = extra.get("rt_name") or email or _generated_name(kind, record)
        body = {"Name": name, "RealName": record.get("name") or "", "Privileged": 1 if kind == "agent" else 0,
                "Comments": f"{CREATED_MARK}{_created_from(kind, record)}"}
        if email:
            body["EmailAddress"] = email
        if extra.get("organization"):
            body["Organization"] = extra["organization"]
        if record.get("active") is False:
            body["Disabled"] = 1
        password = None
        if self.act_as:
            password = secrets_mod.token_urlsafe(24)
            body["Password"] = password
            self.http.secrets = tuple(self.http.secrets) + (password,)
        r = self.http.request("POST", "user", idempotent=False, json=body, allow=(400, 409))
        if r.status_code in (400, 409):
            # The name is taken by someone else: fall back to the email, then to a generated name.
            body["Name"] = email if email and name != email else _generated_name(kind, record)
            r = self.http.request("POST", "user", idempotent=False, json=body)
        made = str(r.json()["id"])
        if password:
            self._passwords[made] = password
        return WriteResult(made)

    def _write_custom_field(self, record: dict) -> WriteResult:
        rt_type = to_vendor.CF_TYPES_TO_RT.get(record.get("type"), "Freeform")
        body = {"Name": record["key"], "Type": rt_type, "LookupType": "RT::Queue-RT::Ticket",
                "MaxValues": 0 if record.get("type") == "multiselect" else 1,
                "Description": record.get("title") or ""}
        r = self.http.request("POST", "customfield", idempotent=False, json=body)
        cf_id = str(r.json()["id"])
        for option in record.get("options") or []:
            self.http.request("POST", f"customfield/{cf_id}/value", idempotent=False, json={"Name": str(option.get("value"))},
                              allow=(400, 404))
        return WriteResult(cf_id, degradations=[Degradation(
            "custom_field", str(record["id"]), "entity", codes.VALUE_UNMAPPED,
            "created, but REST2 (RT 5.0.3) cannot apply a custom field to queues; "
            "values are kept only where an RT admin has applied it")])

    def _post(self, client, path: str, body: dict):
        return client.request("POST", path, idempotent=False, json=body)

    def _write_ticket(self, record: dict, ctx) -> WriteResult:
        rid = str(record["id"])
        stamp = self._stamp(record)
        degr: list[Degradation] = []
        comments = list(ctx.comments(rid))
        queue = ctx.target_id("group", record.get("group_id")) if record.get("group_id") else None
        queue = queue or self._queue_id(self.default_queue)
        queue_cfs = self._cfs_of_queue(queue)

        tid = self._find_ticket(stamps.with_prefix(stamp, partial=True))
        posted = 0
        if tid is not None:
            history = [t for chunk in pages(self.http, "GET", f"ticket/{tid}/history", {"fields": "Type"})
                       for t in chunk]
            posted = sum(1 for t in history if t.get("Type") in ("Correspond", "Comment"))
            self._read_back(tid, record, comments, ctx, degr)
        else:
            tid = self._create_ticket(record, comments, queue, queue_cfs, stamp, ctx, degr)
        children = {}
        for index, comment in enumerate(comments):
            children[("comment", str(comment["id"]))] = f"{tid}#{index}"
            for att, _ in self._files(ctx, comment):
                children[("attachment", str(att["id"]))] = f"{tid}#{index}"
        for comment in comments[1 + posted:]:
            self._write_comment(tid, comment, ctx, degr)
        self._finish_ticket(tid, record, ctx, stamp, queue_cfs)
        return WriteResult(tid, children=children, degradations=degr)

    def _create_ticket(self, record, comments, queue, queue_cfs, stamp, ctx, degr) -> str:
        rid = str(record["id"])
        first = comments[0] if comments else None
        content, ctype = self._body(first)
        extra = record.get("extra") or {}
        created = record.get("created_at") or (first or {}).get("created_at")
        if created and self.keeps_created is not True:
            # Until this server has shown that it keeps Created, the original time stays visible.
            content = to_vendor.origin_line(created, ctype) + content
        body = {"Queue": queue, "Subject": record.get("subject") or "", "Status": "new",
                "Content": content, "ContentType": ctype,
                "RefersTo": stamps.link(stamps.with_prefix(stamp, partial=True)), "CustomFields": {}}
        if values.STAMP_CF in queue_cfs:
            body["CustomFields"][values.STAMP_CF] = stamps.with_prefix(stamp, partial=True)
        if created:
            body["Created"] = to_vendor.sql_time(created)
        creator = self._person_name(ctx, record.get("creator_id") or (first or {}).get("author_id")
                                    or record.get("requester_id"))
        if creator:
            body["Creator"] = creator
        if isinstance(extra.get("source_priority"), int):
            body["Priority"] = extra["source_priority"]
        elif record.get("priority") in to_vendor.PRIORITY_TO_RT:
            body["Priority"] = to_vendor.PRIORITY_TO_RT[record["priority"]]
        if record.get("due_at"):
            body["Due"] = to_vendor.sql_time(record["due_at"])
        for key, value in (record.get("custom_fields") or {}).items():
            target_key = (ctx.mapping.get("fields", {}).get("ticket", {}) or {}).get(key, key)
            if target_key in queue_cfs:
                body["CustomFields"][target_key] = value
            else:
                degr.append(Degradation("ticket", rid, f"custom_fields.{key}", codes.VALUE_UNMAPPED,
                                        f"custom field {target_key!r} is not applied to queue {queue}"))
        if first and not first.get("public", True):
            degr.append(Degradation("comment", str(first["id"]), "public", codes.PRIVATE_FIRST_MESSAGE,
                                    "RT's opening message (Create) is always part of the public history"))
        files = self._sendable(self._files(ctx, first), degr)
        if files:
            body["Attachments"] = self._attachment_json(files)
        try:
            r = self.http.request("POST", "ticket", idempotent=False, json=body)
        except (RecordRejected, TransientApiError) as e:
            if not files:
                raise
            # A write may have happened before the failure: never create the ticket twice.
            existing = self._find_ticket(stamps.with_prefix(stamp, partial=True))
            if existing:
                return existing
            body.pop("Attachments")
            for att, _ in files:
                degr.append(Degradation("attachment", str(att["id"]), "file_name", codes.ATTACHMENT_REJECTED,
                                        f"RT refused the file: {e}"))
            r = self.http.request("POST", "ticket", idempotent=False, json=body)
        tid = str(r.json()["id"])
        self._read_back(tid, record, comments, ctx, degr, sent_created=body.get("Created"),
                        sent_creator=body.get("Creator"))
        return tid

    def _read_back(self, tid: str, record: dict, comments: list[dict], ctx, degr: list[Degradation], *,
                   sent_created: str | None = None, sent_creator: str | None = None) -> None:
        """Never assume the server kept what was sent: read Created and Creator back."""
        rid = str(record["id"])
        created = record.get("created_at") or (comments[0] if comments else {}).get("created_at")
        if sent_created is None:            # a resumed partial ticket: compare with what would be sent
            sent_created = to_vendor.sql_time(created) if created else None
            first = comments[0] if comments else {}
            sent_creator = self._person_name(ctx, record.get("creator_id") or first.get("author_id")
                                             or record.get("requester_id"))
        ticket = self.http.get_json(f"ticket/{tid}")
        predicted = self.keeps_created is not True
        if sent_created:
            kept = to_vendor.same_time(sent_created, ticket.get("Created"))
            if self.keeps_created is None or not kept:
                self.keeps_created = kept
            if not kept and not predicted:
                degr.append(Degradation("ticket", rid, "created_at", codes.TIMESTAMP_NOT_PRESERVED,
                                        self._created_detail(created)))
        if sent_creator and values.ref_id(ticket.get("Creator")) != sent_creator:
            got = values.ref_id(ticket.get("Creator"))
            degr.append(Degradation("ticket", rid, "creator_id", codes.AUTHOR_NOT_PRESERVED,
                                    f"RT did not keep Creator {sent_creator!r} (REST2 treats it as immutable); "
                                    f"the ticket is created by {got!r}"))
            if comments:
                degr.append(Degradation("comment", str(comments[0]["id"]), "author_id", codes.AUTHOR_NOT_PRESERVED,
                                        f"the opening message is authored by the ticket's creator {got!r}, "
                                        f"not {sent_creator!r}"))

    def _write_comment(self, tid: str, comment: dict, ctx, degr) -> None:
        cid = str(comment["id"])
        content, ctype = self._body(comment)
        path = f"ticket/{tid}/{'correspond' if comment.get('public', True) else 'comment'}"
        body = {"Content": content, "ContentType": ctype}
        files = self._sendable(self._files(ctx, comment), degr)
        if files:
            body["Attachments"] = self._attachment_json(files)
        author = self._person_name(ctx, comment.get("author_id"))
        client = self._user_client(author)
        if client is not None:
            try:
                client.request("POST", path, idempotent=False, json=body)
                return
            except FatalApiError as e:
                if e.status not in (401, 403):
                    raise
                if comment.get("public", True) or comment.get("author_kind") == "agent":
                    degr.append(Degradation("comment", cid, "author_id", codes.AUTHOR_NOT_PRESERVED,
                                            f"RT refused to post as {author} (HTTP {e.status}); posted as the API user"))
        try:
            self.http.request("POST", path, idempotent=False, json=body)
        except (RecordRejected, TransientApiError) as e:
            if not files:
                raise
            body.pop("Attachments")
            for att, _ in files:
                degr.append(Degradation("attachment", str(att["id"]), "file_name", codes.ATTACHMENT_REJECTED,
                                        f"RT refused the file: {e}"))
            self.http.request("POST", path, idempotent=False, json=body)

    def _finish_ticket(self, tid: str, record: dict, ctx, stamp: str, queue_cfs: set[str]) -> None:
        extra = record.get("extra") or {}
        status = extra.get("source_status") if extra.get("source_status") in values.STATUS_TO_CANONICAL \
            and values.STATUS_TO_CANONICAL[extra["source_status"]] == record.get("status") \
            else to_vendor.STATUS_TO_RT.get(record.get("status"), "open")
        first = {"Status": status}
        owner = self._person_name(ctx, record.get("assignee_id"))
        if owner:
            first["Owner"] = owner
        self.http.request("PUT", f"ticket/{tid}", json=first)
        requestors = [self._person_name(ctx, p) for p in [record.get("requester_id")]
                      + list(extra.get("additional_requester_ids") or [])]
        second = {"Requestor": [n for n in requestors if n],
                  "Cc": [n for n in (self._person_name(ctx, p) for p in record.get("cc_ids") or []) if n]}
        if values.STAMP_CF in queue_cfs:
            second["CustomFields"] = {values.STAMP_CF: stamp}
        admin_cc = [n for n in (self._person_name(ctx, p) for p in extra.get("admin_cc_ids") or []) if n]
        if admin_cc:
            second["AdminCc"] = admin_cc
        self.http.request("PUT", f"ticket/{tid}", json=second)
        # Last: the complete stamp (a ticket found by it is never written again).
        self.http.request("PUT", f"ticket/{tid}", json={"AddRefersTo": stamps.link(stamp),
                                                        "DeleteRefersTo": stamps.link(stamps.with_prefix(stamp, partial=True))})

    def count(self, kind: str) -> int | None:
        if kind == "ticket":
            return (self.http.get_json("tickets", params={"query": "id > 0", "per_page": 1}) or {}).get("total")
        return None

    def close(self) -> None:
        for client in [self.http, *self._user_clients.values()]:
            client.close()


def _generated_name(kind: str, record: dict) -> str:
    """The RT user name of a person without an address (or whose name is taken)."""
    return f"hdm-{kind}-{record['id']}"


def _created_from(kind: str, record: dict) -> str:
    """The end of the Comments of a user this tool created: which record it is."""
    return f" from {kind} {record['id']}"
