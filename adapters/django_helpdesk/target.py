"""django-helpdesk 2.6 as a target, with the fidelity its API allows.

Cannot be preserved through the API, always reported as degradations (dry run and load):
ticket and follow-up times (`timestamp_not_preserved`: `created` is ignored, `date` read-only),
follow-up authors (`author_not_preserved`: the API user is the author), a private opening
message (`private_first_message`: "Ticket Opened" is public), agents and assignees (no user
listing, user creation returns no id, staff cannot be made: `value_unmapped`), queues (no queue
endpoint: every ticket goes to the plan's `queue`), Ccs, tags, type and channel, and file names
outside the server's extension allow-list (`attachment_renamed`: ".txt" is appended, bytes kept).

No customer mail: django-helpdesk mails the submitter on ticket creation and on public
follow-ups, so the ticket is created without `submitter_email`, its follow-ups are posted, and the
submitter, status and stamp are set last with a PATCH (which sends nothing).

Idempotency: the ticket custom field `hdmigrate_source_id` (created by an admin, see
docs/real-helpdesks.md) holds `<id>~partial` while follow-ups are written and `<id>` when the
ticket is complete; a partial ticket found on resume is deleted and written again. Without that
field (check() says so once, with what to do) the same stamp goes into the title of the ticket's
opening follow-up ("Ticket Opened [hdm:<id>]", set with PATCH /followups/{id}/), which the
ticket list shows too: resumed runs find their tickets either way.

A file the server refuses (empty, too large, an extension it does not take even as .txt) is left
out with a degradation on the attachment; the ticket and its follow-ups are written.
"""

from __future__ import annotations

from pathlib import Path

from hdmigrate import degradations as codes
from hdmigrate.adapter import Capability, Degradation, Target, WriteResult
from hdmigrate.errors import RecordError
from hdmigrate.stamps import with_prefix

from . import to_canonical, to_vendor, values
from .client import make_client


class DjangoHelpdeskTarget(Target):
    name = "django_helpdesk"
    stamp_places = frozenset({"stamp"})   # where verify reads this target's stamp
    capabilities = frozenset({Capability.PRIVATE_NOTES, Capability.ATTACHMENTS, Capability.CUSTOM_FIELDS,
                              Capability.EXTERNAL_ID_LOOKUP, Capability.DELETE})
    bundles_comments = True
    updatable_kinds = frozenset()   # no update(): delta runs report changed records as not updated

    def __init__(self, ctx):
        super().__init__(ctx)
        self.http = make_client(ctx)
        self.queue = int(ctx.config.get("queue", 1))
        self.validate_types = bool(ctx.config.get("validate_attachment_types", True))
        self.stamp_prefix = ctx.config.get("stamp_prefix", "")
        self._stamps: dict[str, str] | None = None
        self._has_stamp_field: bool | None = None
        self._told_no_field = False

    def check(self) -> None:
        self.http.get_json("")
        r = self.http.request("OPTIONS", "tickets/", allow=(403, 405))
        if r.status_code < 300:    # DRF metadata: the fields a ticket create takes, custom ones included
            fields = (((r.json() or {}).get("actions") or {}).get("POST") or {})
            if fields:
                self._has_stamp_field = f"custom_{values.STAMP_FIELD}" in fields
                if not self._has_stamp_field:
                    self._say_no_field()

    def _say_no_field(self) -> None:
        if not self._told_no_field:
            self._told_no_field = True
            self.ctx.log(f"django_helpdesk: no ticket custom field {values.STAMP_FIELD}; migrated tickets are "
                         "stamped in the title of their opening follow-up instead (\"Ticket Opened [hdm:<id>]\"). "
                         f"To keep titles untouched, have an admin create the custom field {values.STAMP_FIELD} "
                         "(type varchar, staff only; docs/real-helpdesks.md) before the run")

    # ---- degradations (pure)
    @classmethod
    def person_effect(cls, kind: str, record: dict) -> str | None:
        # the API cannot create staff users (see degradations): an agent is not created
        return None if kind == "agent" else kind

    def degradations(self, kind: str, record: dict, ctx) -> list[Degradation]:
        rid = str(record.get("id"))
        out: list[Degradation] = []

        def add(field, code, detail):
            out.append(Degradation(kind, rid, field, code, detail))

        if kind in ("agent", "contact"):
            if kind == "agent":
                add("", codes.VALUE_UNMAPPED, "the API cannot list users, create staff or return new user ids; "
                                          "agents are not created")
        elif kind == "group":
            add("", codes.VALUE_UNMAPPED, f"no queue endpoint: tickets go to queue {self.queue}")
        elif kind == "custom_field":
            add("", codes.VALUE_UNMAPPED, "custom fields cannot be created through the API")
        elif kind == "organization":
            add("", codes.VALUE_UNMAPPED, "django-helpdesk has no organizations")
        elif kind == "satisfaction_rating":
            add("", codes.CSAT_NOT_WRITABLE, "django-helpdesk has no satisfaction ratings")
        elif kind == "ticket":
            if record.get("created_at"):
                add("created_at", codes.TIMESTAMP_NOT_PRESERVED, "`created` is ignored on create")
            if record.get("assignee_id"):
                add("assignee_id", codes.VALUE_UNMAPPED, "agents cannot be resolved to user ids through the API")
            if record.get("group_id"):
                add("group_id", codes.VALUE_UNMAPPED, f"all tickets go to queue {self.queue}")
            if record.get("status") in ("pending", "on_hold", "new"):
                add("status", codes.VALUE_UNMAPPED, f"{record['status']} becomes Open")
            for field in ("cc_ids", "tags", "type", "organization_id"):
                if record.get(field):
                    add(field, codes.VALUE_UNMAPPED, f"django-helpdesk's API has no {field}")
            if record.get("channel"):
                add("channel", codes.CHANNEL_NOT_PRESERVED, "no channel")
        elif kind == "comment":
            if record.get("created_at"):
                add("created_at", codes.TIMESTAMP_NOT_PRESERVED, "follow-up `date` is read-only")
            add("author_id", codes.AUTHOR_NOT_PRESERVED, "follow-ups are authored by the API user")
            if record.get("channel"):
                add("channel", codes.CHANNEL_NOT_PRESERVED, "no channel")
            if not isinstance(record.get("body_text"), str) and record.get("body_html"):
                add("body_html", codes.VALUE_UNMAPPED, "HTML stored as the follow-up's plain text")
            try:
                siblings = ctx.comments(record["ticket_id"])
            except Exception:  # noqa: BLE001
                siblings = []
            if siblings and str(siblings[0].get("id")) == rid and not record.get("public", True):
                add("public", codes.PRIVATE_FIRST_MESSAGE, "the opening follow-up is always public")
        elif kind == "attachment":
            if record.get("size") == 0:
                add("size", codes.ATTACHMENT_EMPTY, "django-helpdesk refuses empty files; left out")
            if record.get("inline"):
                add("inline", codes.INLINE_IMAGE_DETACHED, "kept as a regular follow-up attachment")
            if self.validate_types and not to_vendor.extension_allowed(record.get("file_name") or ""):
                add("file_name", codes.ATTACHMENT_RENAMED,
                    "extension not in the server's allow-list: uploaded as <name>.txt, bytes unchanged")
        return out

    # ---- lookups
    def _load_stamps(self) -> dict[str, str]:
        if self._stamps is None:
            stamps: dict[str, str] = {}
            page = 1
            while True:
                r = self.http.request("GET", "tickets/", params={"page": page, "page_size": 500}, allow=(404,))
                if r.status_code == 404:
                    break
                data = r.json()
                for t in data.get("results", []):
                    if f"custom_{values.STAMP_FIELD}" in t:
                        self._has_stamp_field = True
                        if t[f"custom_{values.STAMP_FIELD}"]:
                            stamps[t[f"custom_{values.STAMP_FIELD}"]] = str(t["id"])
                    marked = to_canonical.title_stamp(t)
                    if marked:
                        stamps.setdefault(marked, str(t["id"]))
                if not data.get("next"):
                    break
                page += 1
            self._stamps = stamps
        return self._stamps

    def find_existing(self, kind: str, record: dict, ctx) -> str | None:
        if kind == "ticket":
            return self._load_stamps().get(with_prefix(str(record["id"]), self.stamp_prefix))
        if kind in ("agent", "contact"):
            return WriteResult(record["email"], matched=True) if record.get("email") else None
        if kind == "group":
            return WriteResult(str(self.queue), matched=True)
        return None

    # ---- writes
    def write(self, kind: str, record: dict, ctx) -> WriteResult:
        if kind in ("agent", "contact"):
            # Contacts are plain submitter addresses; agents cannot be made staff or found by id.
            # Nothing is created: an address is the target's own (matched), kept by rollback.
            email = record.get("email")
            return WriteResult(email, matched=True) if email else WriteResult(f"none:{record['id']}")
        if kind == "group":
            return WriteResult(str(self.queue), matched=True)     # the plan's existing queue
        if kind == "custom_field":
            return WriteResult(f"custom_{record['key']}", matched=True)   # fields the server has
        if kind == "ticket":
            return self._write_ticket(record, ctx)
        if kind in ("comment", "attachment"):
            raise RecordError(f"django_helpdesk: {kind} records are written with their ticket",
                              kind=kind, id=record.get("id"))
        # organizations, satisfaction ratings: nothing to write them to (listed by degradations())
        return WriteResult(f"none:{record['id']}")

    def _upload(self, followup_id: int, att: dict, path: Path, degr: list) -> bool:
        """Upload one file to a follow-up. A file the server refuses (empty, too large, a type it
        does not take) is left out with a degradation on the attachment: the ticket and its
        follow-ups are written all the same. True when the file is in django-helpdesk."""
        aid, name = str(att["id"]), self.file_name(att)   # safe name; the engine records a rename
        safe = name
        data = Path(path).read_bytes()
        if not data:   # Django's FileField refuses it: "The submitted file is empty."
            degr.append(Degradation("attachment", aid, "size", codes.ATTACHMENT_EMPTY,
                                    "django-helpdesk refuses empty files; left out"))
            return False
        ctype = att.get("content_type") or "application/octet-stream"
        if self.validate_types and not to_vendor.extension_allowed(name):
            name = name + ".txt"
        r = self._post_file(followup_id, name, data, ctype)
        if r.status_code == 400 and "extension" in r.text and name == safe:
            name = name + ".txt"
            degr.append(Degradation("attachment", aid, "file_name", codes.ATTACHMENT_RENAMED,
                                    f"server refused the extension; uploaded as {name}"))
            r = self._post_file(followup_id, name, data, ctype)
        if r.status_code < 300:
            return True
        answer = " ".join(r.text.split())[:200]
        if r.status_code == 413:
            degr.append(Degradation("attachment", aid, "size", codes.ATTACHMENT_TOO_LARGE,
                                    f"{len(data)} bytes: django-helpdesk answered 413; left out"))
        elif "empty" in answer.lower():
            degr.append(Degradation("attachment", aid, "size", codes.ATTACHMENT_EMPTY,
                                    f"django-helpdesk refused the file ({answer}); left out"))
        else:
            degr.append(Degradation("attachment", aid, "file_name", codes.ATTACHMENT_REJECTED,
                                    f"django-helpdesk refused the file ({r.status_code}: {answer}); left out, "
                                    "the bytes stay in staging"))
        return False

    def _post_file(self, followup_id: int, name: str, data: bytes, ctype: str):
        return self.http.request("POST", "followups-attachments/", idempotent=False, data={"followup": str(followup_id)},
                                 files={"file": (name, data, ctype)}, allow=(400, 413, 415))

    def _mark_opening(self, followup: dict, stamp: str) -> None:
        self.http.request("PATCH", f"followups/{followup['id']}/",
                          json={"title": to_vendor.stamped_title(followup.get("title"), stamp)})

    @staticmethod
    def _text(comment: dict | None) -> str:
        if not comment:
            return ""
        body = comment.get("body_text")
        return body if isinstance(body, str) else (comment.get("body_html") or "")

    def _write_ticket(self, record: dict, ctx) -> WriteResult:
        rid = str(record["id"])
        stamp = with_prefix(rid, self.stamp_prefix)
        stamps = self._load_stamps()
        partial = stamps.get(with_prefix(stamp, partial=True))
        if partial:
            self.http.request("DELETE", f"tickets/{partial}/", allow=(404,))
            stamps.pop(with_prefix(stamp, partial=True), None)
        comments = list(ctx.comments(rid))
        degr: list[Degradation] = []
        first = comments[0] if comments else None
        body = {"queue": self.queue, "title": record.get("subject") or "", "description": self._text(first),
                "priority": to_vendor.PRIORITY_TO_HD.get(record.get("priority"), 3), "status": 1}
        if self._has_stamp_field is not False:
            body[f"custom_{values.STAMP_FIELD}"] = with_prefix(stamp, partial=True)
        r = self.http.request("POST", "tickets/", idempotent=False, json=body)
        created = r.json()
        tid = str(created["id"])
        followups = created.get("followup_set") or []
        if f"custom_{values.STAMP_FIELD}" in created:
            self._has_stamp_field = True
            stamps[with_prefix(stamp, partial=True)] = tid
        else:
            self._has_stamp_field = False
            self._say_no_field()
            if followups:   # before anything else is written: a crash from here on is found on resume
                self._mark_opening(followups[0], with_prefix(stamp, partial=True))
                stamps[with_prefix(stamp, partial=True)] = tid
        children = {}
        for index, comment in enumerate(comments):
            if index == 0 and followups:
                fid = followups[0]["id"]
            else:
                fr = self.http.request("POST", "followups/", idempotent=False, json={
                    "ticket": int(tid), "comment": self._text(comment), "public": comment.get("public") is True})
                fid = fr.json()["id"]
            children[("comment", str(comment["id"]))] = str(fid)
            for att, path in ctx.attachments(comment):
                if self._upload(fid, att, path, degr):
                    children[("attachment", str(att["id"]))] = str(fid)
        final = {"status": to_vendor.STATUS_TO_HD.get(record.get("status"), 1)}
        requester = ctx.person(record.get("requester_id"))
        email = (ctx.record(requester[0], record["requester_id"]) or {}).get("email") if requester else None
        if email:
            final["submitter_email"] = email
        if record.get("due_at"):
            final["due_date"] = record["due_at"]
        if (record.get("extra") or {}).get("resolution"):
            final["resolution"] = record["extra"]["resolution"]
        if self._has_stamp_field:
            final[f"custom_{values.STAMP_FIELD}"] = stamp
        for key, value in (record.get("custom_fields") or {}).items():
            if f"custom_{key}" in created:
                final[f"custom_{key}"] = value
            else:
                degr.append(Degradation("ticket", rid, f"custom_fields.{key}", codes.VALUE_UNMAPPED,
                                        f"no custom field {key!r} in django-helpdesk"))
        self.http.request("PATCH", f"tickets/{tid}/", json=final)
        if not self._has_stamp_field and followups:
            self._mark_opening(followups[0], stamp)
        if self._has_stamp_field or followups:
            stamps.pop(with_prefix(stamp, partial=True), None)
            stamps[stamp] = tid
        return WriteResult(tid, children=children, degradations=degr)

    def delete(self, kind: str, target_id: str) -> None:
        if kind == "ticket":
            self.http.request("DELETE", f"tickets/{target_id}/", allow=(404,))

    def count(self, kind: str) -> int | None:
        if kind == "ticket":
            return (self.http.get_json("tickets/", params={"page_size": 1}) or {}).get("count")
        return None

    def close(self) -> None:
        self.http.close()
