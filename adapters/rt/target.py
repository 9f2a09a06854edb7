"""Request Tracker 5 as a target (REST2).

What is kept: queues, users (agents privileged, contacts unprivileged), tickets with requestors,
Ccs, owner, status, priority, custom field values, public correspondence and private comments with
their files. The bodies and their degradations come from to_vendor.py, one function per kind: the
dry run (`degradations()`) and the write make the same call. Queues, users and fields RT already
holds are matched (`matched_existing`), looked up read-only, so the dry run says so too.

`Created` and `Creator` are sent on create, then read back: RT's security releases
(5.0.3+dfsg-3~deb12u7 and later) treat them as immutable and drop them silently. `check()` reads
the server's version (GET /rt): for a version whose behaviour is known (to_vendor.keeps_create_fields)
the losses are declared before the write, in the dry run too (`timestamp_not_preserved`,
`author_not_preserved` on the ticket and its opening message); for any other version they are
learned from the first ticket read back. Until the server is known to keep `Created`, the opening
message starts with a visible origin line naming the original time. Comments cannot be backdated
(`timestamp_not_preserved`). The original created, first reply and solved times go into ticket
custom fields an admin applied to the queue (original_times.py), so reports can measure history.
Comment authors are kept by posting as each author: with
`act_as_created_users = true`, users this migration creates get a random password that lives only
in memory, and their comments are posted with it; everyone else's comments are posted as the API
user (`author_not_preserved`).

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
from hdmigrate.adapter import Capability, Degradation, Mapped, Target, WriteResult, is_opening
from hdmigrate.errors import ConfigError, FatalApiError, RecordError, RecordRejected, TransientApiError

from . import to_vendor, values
from .client import make_client, pages
from .original_times import OriginalTimes

CREATED_MARK = to_vendor.CREATED_MARK   # in the Comments field of users this tool creates
LOOKED_UP = frozenset({"group", "agent", "contact", "custom_field"})   # RT may hold them already
_UNSEEN = object()
USER_LISTING_MAX = 2000   # RT users listed once up to this many; above, each person is searched for


class RtTarget(OriginalTimes, Target):
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
        self.stamp_prefix = ctx.config.get("stamp_prefix", "")
        self.default_queue = ctx.config.get("queue", "General")
        # What this server keeps: from its version (check()), else learned by reading back the
        # tickets of this run.
        self.server = to_vendor.Server(act_as=bool(ctx.config.get("act_as_created_users", False)),
                                       api_user=ctx.config.get("api_user", "root"))
        self.version: str | None = None
        self._passwords: dict[str, str] = {}      # never written anywhere
        self._user_clients: dict = {}
        self._queue_cfs: dict[str, set[str]] = {}
        self._queue_ids: dict[str, str] = {}
        # (kind, source id) -> the RT name/id of a record RT already holds (None: it holds none),
        # looked up read-only by degradations() and taken by the write that follows.
        self._held: dict[tuple[str, str], str | None] = {}
        # casefolded name -> id of every queue / ticket custom field RT holds, listed once per run
        # (one or two requests instead of one per record); what this run creates is added.
        self._listed: dict[str, dict[str, str]] = {}

    # ---- helpers
    def check(self) -> None:
        info = self.http.get_json("rt") or {}
        self.version = info.get("Version") if isinstance(info, dict) else None
        keeps = to_vendor.keeps_create_fields(self.version)
        if keeps is not None:     # a version whose behaviour is known: the dry run can say it up front
            self.server.keeps_created = self.server.keeps_creator = keeps

    def _stamp(self, record: dict) -> str:
        return stamps.with_prefix(str(record["id"]), self.stamp_prefix)

    def _cfs_of_queue(self, queue: str | None) -> set[str]:
        if queue is None:      # a queue this run would create: REST2 cannot apply fields to it
            return set()
        if queue not in self._queue_cfs:
            names = set()
            for chunk in pages(self.http, "GET", f"queue/{queue}/customfields", {"fields": "Name"}):
                names |= {cf.get("Name") for cf in chunk}
            self._queue_cfs[queue] = names
        return self._queue_cfs[queue]

    def _queue_id(self, name: str) -> str:
        if name not in self._queue_ids:
            self._queue_ids[name] = str(self.http.get_json(f"queue/{name}")["id"])
        return self._queue_ids[name]

    def _find_ticket(self, stamp: str) -> str | None:
        """By the stamp link; then by the stamp custom field (tickets of earlier versions)."""
        quoted = stamp.replace("\\", "\\\\").replace("'", "\\'")
        queries = [f"RefersTo = '{stamps.link(quoted)}'"]
        if values.STAMP_CF.casefold() in self._listing("custom_field"):   # else no ticket can hold it
            queries.append(f"CF.{{{values.STAMP_CF}}} = '{quoted}'")
        for query in queries:
            data = self.http.get_json("tickets", params={"query": query, "per_page": 2, "orderby": "id"})
            items = (data or {}).get("items") or []
            if items:
                return str(items[0]["id"])
        return None

    def _user_client(self, name: str | None):
        if not (self.server.act_as and name and name in self._passwords):
            return None
        if name not in self._user_clients:
            self._user_clients[name] = make_client(self.ctx, auth=(name, self._passwords[name]))
        return self._user_clients[name]

    def _person_name(self, ctx, pid: str | None) -> str | None:
        """The RT user name of a person; in a dry run, the name of the user RT already holds for
        it (looked up, read-only), else the engine's placeholder for one this run would create."""
        found = ctx.person(pid) if pid else None
        if not found:
            return None
        if getattr(ctx, "dry_run", False):
            record = ctx.record(found[0], pid)
            held = self._held_record(found[0], record) if record else None
            return held or found[1]
        return found[1]

    def _queue_of(self, record: dict, ctx) -> str | None:
        """The queue a ticket goes to (None in a dry run: a queue this run would create)."""
        gid = record.get("group_id")
        if not gid:
            return self._queue_id(self.default_queue)
        if getattr(ctx, "dry_run", False):
            group = ctx.record("group", gid)
            return self._held_record("group", group) if group else self._queue_id(self.default_queue)
        return ctx.target_id("group", gid) or self._queue_id(self.default_queue)

    def _files(self, ctx, comment: dict | None) -> list[tuple[dict, Path]]:
        return list(ctx.attachments(comment)) if comment else []

    def _sendable(self, files, degr: list[Degradation]) -> list[tuple[dict, Path]]:
        """RT refuses 0-byte files (and with them the whole message): leave them out, named."""
        out = []
        for att, path in files:
            if to_vendor.empty_file(att) or Path(path).stat().st_size == 0:
                degr.append(Degradation("attachment", str(att["id"]), "size", codes.ATTACHMENT_EMPTY,
                                        to_vendor.EMPTY_DETAIL))
            else:
                out.append((att, path))
        return out

    def _attachment_json(self, files) -> list[dict]:
        return [{"FileName": self.file_name(rec), "FileType": rec.get("content_type") or "application/octet-stream",
                 "FileContent": base64.b64encode(Path(path).read_bytes()).decode("ascii")}
                for rec, path in files]

    # ---- mapping: the same call for the dry run (degradations) and the write
    def degradations(self, kind: str, record: dict, ctx) -> list[Degradation]:
        if kind in LOOKED_UP:
            held = self._held_record(kind, record)
            if held:
                return [to_vendor.matched(kind, record["id"], held)]
        try:
            return self._mapped(kind, record, ctx).degradations
        except RecordError:
            return []    # e.g. a time that does not parse: the write fails the record, naming it

    def _mapped(self, kind: str, record: dict, ctx) -> Mapped:
        if kind == "ticket":
            return self._ticket_mapped(record, list(ctx.comments(str(record["id"]))), ctx)[0]
        if kind == "comment":
            return to_vendor.comment(record, first=is_opening(record, ctx), server=self.server)
        if kind in ("agent", "contact"):
            return to_vendor.user(kind, record)
        simple = {"group": to_vendor.queue, "custom_field": to_vendor.custom_field, "attachment": to_vendor.attachment,
                  "organization": to_vendor.organization, "satisfaction_rating": to_vendor.satisfaction_rating}
        return simple[kind](record) if kind in simple else Mapped(None)

    def _ticket_mapped(self, record: dict, comments: list[dict], ctx) -> tuple[Mapped, str | None, set[str]]:
        first = comments[0] if comments else {}
        queue = self._queue_of(record, ctx)
        queue_cfs = self._cfs_of_queue(queue)
        creator = self._person_name(ctx, record.get("creator_id") or first.get("author_id") or record.get("requester_id"))
        mapped = to_vendor.ticket(record, comments, queue=queue, queue_cfs=queue_cfs, stamp=self._stamp(record),
                                  creator=creator, server=self.server,
                                  field_names=(ctx.mapping.get("fields", {}).get("ticket", {}) or {}))
        kept, lost = self._original_time_values(record, comments, ctx, queue, queue_cfs)   # original_times.py
        if kept or lost:
            mapped = Mapped({**mapped.body, "CustomFields": {**mapped.body["CustomFields"], **kept}},
                            mapped.degradations + lost)
        return mapped, queue, queue_cfs

    # ---- lookups (read-only)
    def _held_record(self, kind: str, record: dict) -> str | None:
        """What RT already holds for this queue, user or field (looked up once, read-only)."""
        key = (kind, str(record.get("id")))
        if key not in self._held:
            self._held[key] = self._look_up(kind, record)
        return self._held[key]

    def _look_up(self, kind: str, record: dict, *, fresh: bool = False) -> str | None:
        """What RT holds for this record. Queues and fields are taken from the listing read once
        (`fresh`: asked one by one, for a write that may have been lost before it was recorded)."""
        if kind == "group":
            found = None if fresh else self._listing("group").get(str(record["name"]).casefold())
            if found is None:      # not listed (a disabled queue, or one made since): asked by name
                r = self.http.request("GET", f"queue/{record['name']}", allow=(404,))
                found = str(r.json()["id"]) if r.status_code == 200 else None
            return found
        if kind in ("agent", "contact"):
            users = None if fresh else self._user_listing()
            return self._find_user(kind, record) if users is None else _listed_user(users, kind, record)
        if kind == "custom_field":
            if to_vendor.custom_field(record).body is None:
                return None        # not a ticket field: RT gets none (to_vendor.custom_field)
            if not fresh:
                return self._listing("custom_field").get(str(record["key"]).casefold())
            data = self.http._json(self.http.request(
                "POST", "customfields", json=[{"field": "Name", "value": record["key"]},
                                              {"field": "LookupType", "value": to_vendor.TICKET_CF}]))
            items = (data or {}).get("items") or []
            return str(items[0]["id"]) if items else None
        return None

    def _user_listing(self) -> dict | None:
        """Every RT user (disabled ones too) by casefolded address and name, listed once where RT
        holds at most USER_LISTING_MAX users (a page of 100 per request instead of a search per
        person); None where it holds more: then each person is searched for."""
        if "user" not in self._listed:
            total = (self.http.get_json("users", params={"per_page": 1, "find_disabled_rows": 1}) or {}).get("total")
            if total is None or int(total) > USER_LISTING_MAX:
                self._listed["user"] = None
            else:
                users = {"email": {}, "name": {}}
                for chunk in pages(self.http, "GET", "users", {"fields": "Name,EmailAddress,Comments",
                                                               "find_disabled_rows": 1, "orderby": "id"}):
                    for item in chunk:
                        _index_user(users, item)
                self._listed["user"] = users
        return self._listed["user"]

    def _listing(self, kind: str) -> dict[str, str]:
        if kind not in self._listed:
            if kind == "group":
                chunks = pages(self.http, "GET", "queues/all", {"fields": "Name"})
            else:
                chunks = pages(self.http, "POST", "customfields", {"fields": "Name"},
                               body=[{"field": "LookupType", "value": to_vendor.TICKET_CF}])
            self._listed[kind] = {str(item.get("Name")).casefold(): str(item["id"]) for chunk in chunks
                                  for item in chunk if item.get("Name")}
        return self._listed[kind]

    def find_existing(self, kind: str, record: dict, ctx) -> str | None:
        if kind in LOOKED_UP:
            found = self._held[(kind, str(record.get("id")))] = self._look_up(kind, record, fresh=True)
            if found and kind in ("agent", "contact"):
                self._renew_password(found)
            return found
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
            generated = to_vendor.generated_name(kind, record)
            r = self.http.request("GET", f"user/{generated}", allow=(404,))
            if r.status_code == 200 and (r.json().get("Comments") or "").endswith(to_vendor.created_from(kind, record)):
                name = r.json()["Name"]
        return name

    def _renew_password(self, name: str) -> None:
        """A user created by an earlier (interrupted) run of this tool gets a fresh password, so its
        comments can still be posted as it (a write: never in a dry run). REST2 in RT 5.0.3 answers
        500 to a password change; where it works, use it."""
        if not self.server.act_as or name in self._passwords:
            return
        user = self.http.get_json(f"user/{name}")
        if CREATED_MARK in (user.get("Comments") or ""):
            password = secrets_mod.token_urlsafe(24)
            self.http.secrets = tuple(self.http.secrets) + (password,)
            r = self.http.request("PUT", f"user/{name}", json={"Password": password}, allow=(400, 500))
            if r.status_code < 300:
                self._passwords[name] = password

    # ---- writes
    def write(self, kind: str, record: dict, ctx) -> WriteResult:
        if kind in LOOKED_UP:
            # Queues, users and fields may already exist in the target (General, root, a
            # colleague's account): match them instead of failing on "already exists". The look-up
            # degradations() just made is taken; a write without one (a retry) looks up afresh.
            found = self._held.pop((kind, str(record.get("id"))), _UNSEEN)
            if found is _UNSEEN:
                found = self._look_up(kind, record, fresh=True)
            if found:
                if kind in ("agent", "contact"):
                    self._renew_password(found)
                return WriteResult(found, matched=True)   # the target's own: never updated nor deleted
        if kind == "group":
            r = self.http.request("POST", "queue", idempotent=False, json=to_vendor.queue(record).body)
            made = str(r.json()["id"])
            self._listing("group")[str(record["name"]).casefold()] = made
            return WriteResult(made)
        if kind in ("agent", "contact"):
            return self._write_user(kind, record)
        if kind == "custom_field":
            return self._write_custom_field(record)
        if kind == "ticket":
            return self._write_ticket(record, ctx)
        if kind in ("comment", "attachment"):
            raise RecordError(f"rt: {kind} records are written with their ticket", kind=kind, id=record.get("id"))
        return WriteResult(f"none:{record.get('id')}", degradations=self._mapped(kind, record, ctx).degradations)

    def _write_user(self, kind: str, record: dict) -> WriteResult:
        mapped = to_vendor.user(kind, record)
        body, email, name = dict(mapped.body), record.get("email") or None, mapped.body["Name"]
        password = None
        if self.server.act_as:
            password = secrets_mod.token_urlsafe(24)
            body["Password"] = password
            self.http.secrets = tuple(self.http.secrets) + (password,)
        r = self.http.request("POST", "user", idempotent=False, json=body, allow=(400, 409))
        if r.status_code in (400, 409):
            # The name is taken by someone else: fall back to the email, then to a generated name.
            body["Name"] = email if email and name != email else to_vendor.generated_name(kind, record)
            r = self.http.request("POST", "user", idempotent=False, json=body)
        made = str(r.json()["id"])
        if password:
            self._passwords[made] = password
        if self._listed.get("user"):
            _index_user(self._listed["user"], {**body, "Name": made})
        return WriteResult(made, degradations=mapped.degradations)

    def _write_custom_field(self, record: dict) -> WriteResult:
        mapped = to_vendor.custom_field(record)
        if mapped.body is None:    # not a ticket field: nothing RT could hold its values in
            return WriteResult(f"none:{record['id']}", degradations=mapped.degradations)
        r = self.http.request("POST", "customfield", idempotent=False, json=mapped.body)
        cf_id = str(r.json()["id"])
        self._listing("custom_field")[str(record["key"]).casefold()] = cf_id
        for option in to_vendor.field_options(record):
            self.http.request("POST", f"customfield/{cf_id}/value", idempotent=False, json=option, allow=(400, 404))
        return WriteResult(cf_id, degradations=mapped.degradations)

    def _write_ticket(self, record: dict, ctx) -> WriteResult:
        stamp = self._stamp(record)
        comments = list(ctx.comments(str(record["id"])))
        mapped, queue, queue_cfs = self._ticket_mapped(record, comments, ctx)
        degr: list[Degradation] = list(mapped.degradations)
        tid = self._find_ticket(stamps.with_prefix(stamp, partial=True))
        posted = 0
        if tid is not None:
            history = [t for chunk in pages(self.http, "GET", f"ticket/{tid}/history", {"fields": "Type"})
                       for t in chunk]
            posted = sum(1 for t in history if t.get("Type") in ("Correspond", "Comment"))
            self._read_back(tid, record, comments, degr, mapped.body)
        else:
            tid = self._create_ticket(record, comments, mapped.body, stamp, ctx, degr)
        children = {}
        for index, comment in enumerate(comments):
            children[("comment", str(comment["id"]))] = f"{tid}#{index}"
            for att, _ in self._files(ctx, comment):
                children[("attachment", str(att["id"]))] = f"{tid}#{index}"
        for comment in comments[1 + posted:]:
            self._write_comment(tid, comment, ctx, degr)
        self._finish_ticket(tid, record, ctx, stamp, queue_cfs)
        return WriteResult(tid, children=children, degradations=degr)

    def _create_ticket(self, record, comments, body: dict, stamp, ctx, degr) -> str:
        body = dict(body)
        first = comments[0] if comments else None
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
        self._read_back(tid, record, comments, degr, body)
        return tid

    def _read_back(self, tid: str, record: dict, comments: list[dict], degr: list[Degradation], sent: dict) -> None:
        """Never assume the server kept what was sent (`sent`: the create body, mapped again for a
        resumed partial ticket): read Created and Creator back. What the mapping predicted is in
        `degr` already; a loss it did not predict is added, and the server's behaviour learned."""
        rid = str(record["id"])
        created = record.get("created_at") or (comments[0] if comments else {}).get("created_at")
        sent_created, sent_creator = sent.get("Created"), sent.get("Creator")
        ticket = self.http.get_json(f"ticket/{tid}")
        if sent_created:
            predicted = self.server.keeps_created is not True
            kept = to_vendor.same_time(sent_created, ticket.get("Created"))
            if self.server.keeps_created is None or not kept:
                self.server.keeps_created = kept
            if not kept and not predicted:
                degr.append(Degradation("ticket", rid, "created_at", codes.TIMESTAMP_NOT_PRESERVED,
                                        to_vendor.created_detail(created)))
        if sent_creator and sent_creator != self.server.api_user:
            predicted = self.server.keeps_creator is False
            got = values.ref_id(ticket.get("Creator"))
            kept = got == sent_creator
            if self.server.keeps_creator is None or not kept:
                self.server.keeps_creator = kept
            if not kept and not predicted:
                ticket_detail, opening_detail = to_vendor.creator_details(sent_creator, got)
                degr.append(Degradation("ticket", rid, "creator_id", codes.AUTHOR_NOT_PRESERVED, ticket_detail))
                if comments:
                    degr.append(Degradation("comment", str(comments[0]["id"]), "author_id",
                                            codes.AUTHOR_NOT_PRESERVED, opening_detail))

    def _write_comment(self, tid: str, comment: dict, ctx, degr) -> None:
        cid = str(comment["id"])
        mapped = to_vendor.comment(comment, first=False, server=self.server)
        degr += mapped.degradations
        path = f"ticket/{tid}/{'correspond' if comment.get('public', True) else 'comment'}"
        body = dict(mapped.body)
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
        names = lambda pids: [n for n in (self._person_name(ctx, p) for p in pids) if n]  # noqa: E731
        for body in to_vendor.finish(record, owner=self._person_name(ctx, record.get("assignee_id")),
                                     requestors=names([record.get("requester_id"),
                                                       *(extra.get("additional_requester_ids") or [])]),
                                     ccs=names(record.get("cc_ids") or []), admin_ccs=names(extra.get("admin_cc_ids") or []),
                                     stamp=stamp, queue_cfs=queue_cfs):
            self.http.request("PUT", f"ticket/{tid}", json=body)

    def count(self, kind: str) -> int | None:
        if kind == "ticket":
            return (self.http.get_json("tickets", params={"query": "id > 0", "per_page": 1}) or {}).get("total")
        return None

    def close(self) -> None:
        for client in [self.http, *self._user_clients.values()]:
            client.close()


def _index_user(users: dict, item: dict) -> None:
    """Add one RT user ({"Name", "EmailAddress", "Comments"}) to a listing; the first by id wins."""
    entry = {"Name": str(item.get("Name")), "EmailAddress": item.get("EmailAddress") or None,
             "Comments": item.get("Comments") or ""}
    if entry["EmailAddress"]:
        users["email"].setdefault(entry["EmailAddress"].casefold(), entry)
    users["name"].setdefault(entry["Name"].casefold(), entry)


def _listed_user(users: dict, kind: str, record: dict) -> str | None:
    """RtTarget._find_user over a listing: by address; by the source's RT name with the same
    address; without an address, by the generated name whose Comments say which record it is."""
    email, extra = record.get("email") or None, record.get("extra") or {}
    if email and email.casefold() in users["email"]:
        return users["email"][email.casefold()]["Name"]
    named = users["name"].get(str(extra.get("rt_name") or "").casefold())
    if named and named["EmailAddress"] == email:
        return named["Name"]
    if not email:
        generated = users["name"].get(to_vendor.generated_name(kind, record).casefold())
        if generated and generated["Comments"].endswith(to_vendor.created_from(kind, record)):
            return generated["Name"]
    return None
