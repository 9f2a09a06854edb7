"""Help Scout target: I/O only (bodies and degradations come from to_vendor.py).

- Customers are matched by e-mail and never modified when they exist; users are invited people
  (the API cannot create them): agents are matched by e-mail, others are written as the app's
  user and said so. Groups go to the plan's mailbox; custom fields map to the mailbox's fields.
- A ticket is a conversation created with `imported: true` (no e-mail, no notification, its
  `createdAt` kept) holding the opening comment as its first thread; every later comment is an
  imported thread of its type (customer, reply, note, chat, phone) with its `createdAt` and
  author, files inline as base64.
- The stamp is the conversation tag `hdm-<ticket id>`: Help Scout tags are searchable
  (`GET /v2/conversations?tag=`), shown to agents and kept by merges; a custom field would need
  a field defined in every mailbox first. Comments are found again by (time, type, text), which
  imported threads keep exactly.
- Target ids are spelled as the source reads them back (`c17` customer, `u17` user, `o5`, `m3`,
  `f104`; `<conversation>:<thread>` for comments), so `verify` pairs records without guessing.
- After a conversation is written its threads are read back; a time, author or privacy that did
  not stick is reported for the record it concerns.
"""

from __future__ import annotations

from hdmigrate import degradations as codes
from hdmigrate import stamps, times
from hdmigrate.adapter import Capability, Target, WriteResult
from hdmigrate.degradations import Degradation
from hdmigrate.errors import ConfigError, RecordError, RecordRejected

from . import to_vendor
from .client import HelpScoutClient
from .to_vendor import Account

UNWRITTEN = "none:"      # target id of a record Help Scout has no place for (delete() skips it)
THREAD_TYPES = {"customer": "customer", "reply": "message", "notes": "note", "chats": "chat", "phones": "phone"}


class HelpScoutTarget(Target):
    name = "helpscout"
    capabilities = frozenset({Capability.PRESERVE_TIMESTAMPS, Capability.PRESERVE_AUTHORS,
                              Capability.PRESERVE_CHANNEL, Capability.PRIVATE_NOTES, Capability.ATTACHMENTS,
                              Capability.CUSTOM_FIELDS, Capability.EXTERNAL_ID_LOOKUP,
                              Capability.SUPPRESS_NOTIFICATIONS, Capability.UPDATE, Capability.DELETE})
    default_rate_limit = 200.0
    updatable_kinds = frozenset({"ticket"})
    stamp_places = frozenset({"tags"})

    def __init__(self, ctx):
        super().__init__(ctx)
        self._client: HelpScoutClient | None = None
        self._account: Account | None = None
        self._convs: dict[tuple[str, int], str] = {}     # (ticket source id, part) -> conversation id
        self._threads: dict[str, list[dict]] = {}        # conversation id -> its threads as read back

    @property
    def client(self) -> HelpScoutClient:
        if self._client is None:
            self._client = HelpScoutClient(self.ctx)
        return self._client

    # ---- the account
    def check(self) -> None:
        self.account()

    def account(self) -> Account:
        if self._account is None:
            self._account = self._read_account()
        return self._account

    def _read_account(self) -> Account:
        wanted = self.ctx.config.get("mailbox")
        boxes = self.client.all("/v2/mailboxes", "mailboxes")
        if wanted in (None, ""):
            if len(boxes) != 1:
                raise ConfigError(f"helpscout target: set `mailbox` (id or name); the account has "
                                  f"{', '.join(repr(b.get('name')) for b in boxes) or 'no mailboxes'}")
            box = boxes[0]
        else:
            box = next((b for b in boxes if str(wanted) in (str(b["id"]), b.get("name"))), None)
            if box is None:
                raise ConfigError(f"helpscout target: no mailbox {wanted!r}; the account has "
                                  f"{', '.join(repr(b.get('name')) for b in boxes) or 'none'}")
        users = {str(u.get("email") or "").lower(): int(u["id"]) for u in self.client.all("/v2/users", "users")}
        me = self.client.get_json("/v2/users/me") or {}
        return Account(int(box["id"]), box.get("name") or str(box["id"]),
                       self.client.all(f"/v2/mailboxes/{box['id']}/fields", "fields"), users, me.get("id"))

    def discover(self) -> dict:
        a = self.account()
        return {"statuses": {"active": "Active", "pending": "Pending", "closed": "Closed"},
                "channels": {"email": "Email", "chat": "Chat", "phone": "Phone"},
                "groups": [a.mailbox_name], "agents": sorted(a.users),
                "fields": [f.get("name") for f in a.fields]}

    @classmethod
    def person_effect(cls, kind: str, record: dict) -> str | None:
        return "contact" if kind == "contact" else None

    # ---- pure: what the record loses (same calls as write)
    def degradations(self, kind: str, record: dict, ctx) -> list[Degradation]:
        a = self.account()
        if kind == "contact":
            return to_vendor.customer(record)[1]
        if kind == "agent":
            return to_vendor.agent(record, a)[1]
        if kind == "organization":
            return to_vendor.organization(record)[1]
        if kind == "group":
            return to_vendor.group(record, a)
        if kind == "custom_field":
            return to_vendor.custom_field(record, a)[1]
        if kind == "satisfaction_rating":
            return to_vendor.rating(record)
        if kind == "ticket":
            return self._conversation_body(record, ctx, None)[1]
        if kind == "comment":
            files = [(att, None) for att, _ in ctx.attachments(record)]     # declared, not read
            return self._thread_body(record, ctx, files, None, opening=self._position(record, ctx) % to_vendor.MAX_THREADS == 0)[2]
        if kind == "attachment":
            return to_vendor.attachment_degradations(record)
        return []

    def _conversation_body(self, ticket: dict, ctx, customer_id):
        comments = ctx.comments(ticket["id"])
        assignee = ctx.record("agent", ticket["assignee_id"]) if ticket.get("assignee_id") else None
        group = ctx.record("group", ticket["group_id"]) if ticket.get("group_id") else None
        body, degr = to_vendor.conversation(ticket, comments, self.account(), customer_id=customer_id,
                                            assignee_email=(assignee or {}).get("email"),
                                            group_name=(group or {}).get("name"))
        if not comments:
            degr.append(Degradation("ticket", ticket["id"], "comments", codes.ACCOUNT_DEFAULT_APPLIED,
                                    "no comments: Help Scout needs a first thread, a note says so"))
        rid = ticket.get("requester_id")
        if rid and ctx.record("contact", rid) is None and ctx.record("agent", rid) is not None:
            degr.append(Degradation("ticket", ticket["id"], "requester_id", codes.AUTHOR_NOT_PRESERVED,
                                    f"requested by agent {rid}: a Help Scout conversation needs a customer, so "
                                    "it is the customer with the agent's e-mail (found, or created for it)"))
        return body, degr

    def _thread_body(self, comment: dict, ctx, files, customer_id, *, opening: bool):
        person = ctx.person(comment.get("author_id"))
        if person and person[0] == "agent":
            agent = ctx.record("agent", comment["author_id"]) or {}
            author = ("agent", self.account().users.get(str(agent.get("email") or "").lower()))
        elif person:
            author = ("contact", _int(person[1]))
        else:
            author = ("agent", None)
        return to_vendor.thread(comment, files, self.account(), author=author, customer_id=customer_id,
                                opening=opening)

    @staticmethod
    def _position(comment: dict, ctx) -> int:
        ids = [c["id"] for c in ctx.comments(comment["ticket_id"])]
        return ids.index(comment["id"]) if comment["id"] in ids else 0

    # ---- writes
    def write(self, kind: str, record: dict, ctx) -> WriteResult:
        found = self._matched(kind, record)
        if found is not None:
            return found
        if kind == "contact":
            org = _int(ctx.target_id("organization", record.get("organization_id")))
            body, _ = to_vendor.customer(record, org)
            return WriteResult("c" + self.client.create("/v2/customers", body))
        if kind == "organization":
            body, _ = to_vendor.organization(record)
            return WriteResult("o" + self.client.create("/v2/organizations", body))
        if kind == "ticket":
            return self._write_ticket(record, ctx)
        if kind == "comment":
            return self._write_comment(record, ctx)
        raise RecordError(f"helpscout: {kind} records are written with their comment", kind=kind, id=record.get("id"))

    def _matched(self, kind: str, record: dict) -> WriteResult | None:
        """People, groups, fields and ratings: the account's own, or nothing to write."""
        rid = str(record["id"])
        a = self.account()
        if kind == "contact":
            for email in dict.fromkeys(e for e in [record.get("email"), *(record.get("emails") or [])] if e):
                cid = self._customer_by_email(email)
                if cid:
                    return WriteResult(f"c{cid}", matched=True)
            return None
        if kind == "organization":
            oid = self._organization_by_name(record.get("name"))
            return WriteResult(f"o{oid}", matched=True) if oid else None
        if kind == "agent":
            uid, _ = to_vendor.agent(record, a)
            return WriteResult(f"u{uid}", matched=True) if uid is not None else WriteResult(UNWRITTEN + rid)
        if kind == "group":
            return WriteResult(f"m{a.mailbox_id}", matched=True)
        if kind == "custom_field":
            fid, _ = to_vendor.custom_field(record, a)
            return WriteResult(f"f{fid}", matched=True) if fid is not None else WriteResult(UNWRITTEN + rid)
        if kind == "satisfaction_rating":
            return WriteResult(UNWRITTEN + rid)     # listed by degradations(); delete() skips it
        return None

    def _customer_by_email(self, email: str | None) -> int | None:
        if not email:
            return None
        items = self.client.all("/v2/customers", "customers", {"query": f'(email:"{email}")'})
        wanted = email.lower()
        for c in items:
            mails = [e.get("value", "").lower() for e in (c.get("_embedded") or {}).get("emails") or []]
            if wanted in mails or str(c.get("email") or "").lower() == wanted:
                return int(c["id"])
        return None

    def _organization_by_name(self, name: str | None) -> int | None:
        for o in self.client.all("/v2/organizations", "organizations", {"query": name}) if name else []:
            if str(o.get("name") or "").casefold() == name.casefold():
                return int(o["id"])
        return None

    def _customer_of(self, ticket: dict, ctx) -> int:
        person = ctx.person(ticket.get("requester_id"))
        if person and person[0] == "contact":
            return _int(person[1])
        agent = ctx.record("agent", ticket.get("requester_id")) or {}
        if not agent.get("email"):
            raise RecordError(f"ticket {ticket['id']}: its requester has no Help Scout customer",
                              kind="ticket", id=ticket["id"], field="requester_id")
        found = self._customer_by_email(agent["email"])
        if found:
            return found
        first, last = to_vendor.split_name(agent.get("name") or "")
        return int(self.client.create("/v2/customers", {"firstName": first, "lastName": last,
                                                        "emails": [{"type": "work", "value": agent["email"]}]}))

    def _write_ticket(self, ticket: dict, ctx) -> WriteResult:
        customer_id = self._customer_of(ticket, ctx)
        body, _ = self._conversation_body(ticket, ctx, customer_id)
        comments = ctx.comments(ticket["id"])
        first = comments[0] if comments else None
        body["threads"] = [self._opening_thread(first, ctx, customer_id)]
        conv, file_degr = self._create_conversation(body, ctx.attachments(first) if first else [])
        self._convs[(ticket["id"], 0)] = conv
        return WriteResult(conv, degradations=file_degr + self._read_back(conv, [first] if first else [], None, ctx))

    def _opening_thread(self, first: dict | None, ctx, customer_id: int) -> dict:
        if first is None:
            return {"type": "note", "text": "(no messages in the source)", "user": self.account().me,
                    "imported": True}
        _, body, _ = self._thread_body(first, ctx, ctx.attachments(first), customer_id, opening=True)
        return body

    def _write_comment(self, comment: dict, ctx) -> WriteResult:
        tid = comment["ticket_id"]
        position = self._position(comment, ctx)
        part = to_vendor.part_of(position)
        if position == 0:
            return WriteResult(self._opening_id(self._conversation(tid, 0, ctx), comment))
        customer_id = self._ticket_customer(tid, ctx)
        files = ctx.attachments(comment)
        if position % to_vendor.MAX_THREADS == 0:     # opens continuation conversation `part`
            conv, file_degr = self._create_continuation(comment, part, files, customer_id, ctx)
            thread_id = self._opening_id(conv, comment).partition(":")[2]
        else:
            conv = self._conversation(tid, part, ctx)
            endpoint, body, _ = self._thread_body(comment, ctx, files, customer_id, opening=False)
            thread_id, file_degr = self._post_thread(f"/v2/conversations/{conv}/{endpoint}", body, files, conv)
            self._threads.pop(conv, None)
        degr = self._read_back_if_last(conv, comment, str(thread_id), position, ctx)
        return WriteResult(f"{conv}:{thread_id}", degradations=file_degr + degr)

    # A thread's files travel inline as base64. Mailbox API 2.0 states no request size cap (v1
    # had 100 kB, 256 kB for a create: 413), so when Help Scout answers 413 to a write that
    # carries files, the write goes again without them and each file follows through Upload
    # Attachment (POST /v2/conversations/{id}/threads/{thread}/attachments); a file that is
    # refused alone is declared attachment_too_large (kept in staging and the side archive).
    def _post_thread(self, path: str, body: dict, files, conv: str) -> tuple[str, list[Degradation]]:
        try:
            return self.client.create(path, body), []
        except RecordRejected as e:
            if e.status != 413 or not body.get("attachments"):
                raise
        thread_id = self.client.create(path, {k: v for k, v in body.items() if k != "attachments"})
        return thread_id, self._upload_files(conv, thread_id, body["attachments"], files)

    def _create_conversation(self, body: dict, files) -> tuple[str, list[Degradation]]:
        """POST /v2/conversations; on a 413 with files in its opening thread, see _post_thread."""
        sent = body["threads"][0].get("attachments")
        try:
            return self.client.create("/v2/conversations", body), []
        except RecordRejected as e:
            if e.status != 413 or not sent:
                raise
        bare = {**body, "threads": [{k: v for k, v in body["threads"][0].items() if k != "attachments"}]}
        conv = self.client.create("/v2/conversations", bare)
        opening = self._threads_of(conv)[0]["id"]
        self._threads.pop(conv, None)
        return conv, self._upload_files(conv, opening, sent, files)

    def _upload_files(self, conv: str, thread_id, sent: list[dict], files) -> list[Degradation]:
        sendable = [att for att, path in files if path is not None and int(att.get("size") or 0) <= to_vendor.MAX_FILE_BYTES]
        out = []
        for att, item in zip(sendable, sent):
            try:
                self.client.request("POST", f"/v2/conversations/{conv}/threads/{thread_id}/attachments",
                                    json=item, idempotent=False)
            except RecordRejected as e:
                if e.status != 413:
                    raise
                out.append(Degradation("attachment", att["id"], "size", codes.ATTACHMENT_TOO_LARGE,
                                       f"Help Scout refused the file's upload as too large (HTTP 413): left out of "
                                       "the thread, kept in staging and the side archive"))
        return out

    def _create_continuation(self, comment, part, files, customer_id, ctx) -> str:
        ticket = ctx.record("ticket", comment["ticket_id"])
        base, _ = self._conversation_body(ticket, ctx, customer_id)
        body = to_vendor.continuation(ticket, part, base)
        _, thread, _ = self._thread_body(comment, ctx, files, customer_id, opening=True)
        body["threads"] = [thread]
        conv, file_degr = self._create_conversation(body, files)
        self._convs[(ticket["id"], part)] = conv
        return conv, file_degr

    def _ticket_customer(self, ticket_id: str, ctx) -> int | None:
        ticket = ctx.record("ticket", ticket_id) or {}
        person = ctx.person(ticket.get("requester_id"))
        if person and person[0] == "contact":
            return _int(person[1])
        conv = self._conversation(ticket_id, 0, ctx)
        found = self.client.get_json(f"/v2/conversations/{conv}") or {}
        return ((found.get("primaryCustomer") or {}).get("id"))

    def _conversation(self, ticket_id: str, part: int, ctx) -> str:
        key = (ticket_id, part)
        if key not in self._convs:
            found = ctx.target_id("ticket", ticket_id) if part == 0 else self._by_tag(_part_tag(ticket_id, part))
            if not found:
                raise RecordError(f"comment of ticket {ticket_id}: its conversation (part {part + 1}) is not in "
                                  "Help Scout", kind="comment", field="ticket_id")
            self._convs[key] = str(found)
        return self._convs[key]

    def _threads_of(self, conv: str) -> list[dict]:
        if conv not in self._threads:
            items = self.client.all(f"/v2/conversations/{conv}/threads", "threads")
            self._threads[conv] = sorted((t for t in items if t.get("type") in THREAD_TYPES.values()),
                                         key=lambda t: (t.get("createdAt") or "", t.get("id") or 0))
        return self._threads[conv]

    def _opening_id(self, conv: str, comment: dict) -> str:
        threads = self._threads_of(conv)
        if not threads:
            raise RecordError(f"comment {comment['id']}: conversation {conv} has no thread", kind="comment",
                              id=comment["id"])
        return f"{conv}:{threads[0]['id']}"

    # ---- read-back
    def _read_back_if_last(self, conv: str, comment: dict, thread_id: str, position: int, ctx) -> list[Degradation]:
        """After the last comment of a conversation: its threads compared with what was sent."""
        comments = ctx.comments(comment["ticket_id"])
        last = position == len(comments) - 1 or (position + 1) % to_vendor.MAX_THREADS == 0
        if not last:
            return []
        start = position - position % to_vendor.MAX_THREADS
        written = {comment["id"]: thread_id}
        for earlier in comments[start:position]:
            tid = ctx.target_id("comment", earlier["id"])
            if tid and ":" in str(tid):
                written[earlier["id"]] = str(tid).partition(":")[2]
        self._threads.pop(conv, None)
        return self._read_back(conv, [c for c in comments[start:position + 1] if c["id"] in written], written, ctx)

    def _read_back(self, conv: str, comments: list[dict], written: dict[str, str] | None, ctx) -> list[Degradation]:
        """Compare threads with what was sent: times, authors, privacy. `written` pairs comment ids
        with thread ids (None: the opening thread, the conversation's earliest)."""
        threads = self._threads_of(conv)
        by_id = {str(t["id"]): t for t in threads}
        out: list[Degradation] = []
        for comment in comments:
            thread = threads[0] if written is None else by_id.get(written.get(comment["id"], ""))
            if thread is not None:
                out += _thread_differences(comment, thread, self._expected_author(comment, ctx))
        return out

    def _expected_author(self, comment: dict, ctx) -> int | None:
        """The author id the thread should read back (None: not checked, e.g. the app's user)."""
        person = ctx.person(comment.get("author_id"))
        if not person:
            return None
        if person[0] == "contact":
            return _int(person[1]) if comment.get("public") is True else None
        agent = ctx.record("agent", comment["author_id"]) or {}
        return self.account().users.get(str(agent.get("email") or "").lower())

    # ---- found again
    def find_existing(self, kind: str, record: dict, ctx):
        if kind == "ticket":
            found = self._by_tag(stamps.kindless(record["id"]))
            if found:
                self._convs[(record["id"], 0)] = found
            return found
        if kind == "comment":
            return self._find_comment(record, ctx)
        return self._matched(kind, record)

    def _by_tag(self, tag: str) -> str | None:
        for c in self.client.all("/v2/conversations", "conversations", {"tag": tag, "status": "all"}):
            if tag in [t.get("tag") if isinstance(t, dict) else t for t in c.get("tags") or []]:
                return str(c["id"])
        return None

    def _find_comment(self, comment: dict, ctx) -> str | None:
        position = self._position(comment, ctx)
        try:
            conv = self._conversation(comment["ticket_id"], to_vendor.part_of(position), ctx)
        except RecordError:
            return None
        self._threads.pop(conv, None)
        if position % to_vendor.MAX_THREADS == 0:
            return self._opening_id(conv, comment) if self._threads_of(conv) else None
        _, body, _ = self._thread_body(comment, ctx, [], None, opening=False)
        for t in self._threads_of(conv):
            if t.get("body") == body["text"] and _same_time(t.get("createdAt"), body.get("createdAt")):
                return f"{conv}:{t['id']}"
        return None

    # ---- delta runs and rollback
    def update(self, kind: str, target_id: str, record: dict, ctx) -> WriteResult:
        if kind != "ticket":
            raise NotImplementedError(f"the helpscout target does not update {kind} records")
        body, degr = self._conversation_body(record, ctx, None)
        path = f"/v2/conversations/{target_id}"
        self.client.request("PATCH", path, json={"op": "replace", "path": "/subject", "value": body["subject"]})
        self.client.request("PATCH", path, json={"op": "replace", "path": "/status", "value": body["status"]})
        self.client.request("PUT", f"{path}/tags", json={"tags": body["tags"]})
        if body["fields"]:
            self.client.request("PUT", f"{path}/fields", json={"fields": body["fields"]})
        return WriteResult(target_id, degradations=degr)

    def delete(self, kind: str, target_id: str) -> None:
        if kind in ("comment", "attachment") or str(target_id).startswith(UNWRITTEN):
            return      # threads and files go with their conversation
        if kind != "ticket":
            raise NotImplementedError(f"the helpscout target does not delete {kind} records; remove them in Help Scout")
        self.client.request("DELETE", f"/v2/conversations/{target_id}", allow=(404,))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _thread_differences(comment: dict, thread: dict, author: int | None) -> list[Degradation]:
    rid = comment["id"]
    out = []
    if comment.get("created_at") and not _same_time(thread.get("createdAt"), comment["created_at"]):
        out.append(Degradation("comment", rid, "created_at", codes.TIMESTAMP_NOT_PRESERVED,
                               f"Help Scout reads back {thread.get('createdAt')}"))
    private = comment.get("public") is not True
    if private and thread.get("type") != "note":
        out.append(Degradation("comment", rid, "public", codes.PRIVACY_NOT_PRESERVED,
                               f"written as a note, reads back as a {thread.get('type')} thread: make it private by hand"))
    by = (thread.get("createdBy") or {}).get("id")
    if author is not None and by is not None and int(by) != int(author):
        out.append(Degradation("comment", rid, "author_id", codes.AUTHOR_NOT_PRESERVED,
                               f"Help Scout reads back author {by}, written as {author}"))
    return out


def _same_time(a, b) -> bool:
    """Equal to the second (Help Scout keeps whole seconds)."""
    if a is None or b is None:
        return False
    x, y = times.parse(times.to_rfc3339(a)), times.parse(times.to_rfc3339(b))
    return x is not None and y is not None and x.replace(microsecond=0) == y.replace(microsecond=0)


def _part_tag(ticket_id: str, part: int) -> str:
    return f"{stamps.kindless(ticket_id)}-part{part + 1}"


def _int(value) -> int | None:
    """The Help Scout id of an id-map target id (`c17` customer, `u17` user, `o5`, `m3`, `f104`)."""
    try:
        return int(str(value).lstrip("cuomf"))
    except (TypeError, ValueError):
        return None
