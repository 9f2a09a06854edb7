"""django-helpdesk 2.6 as a target, with the fidelity its API allows.

The bodies and their degradations come from to_vendor.py, one function per kind: the dry run
(`degradations()`) and the write make the same call. Nothing but tickets, follow-ups and files is
created: a person's address, the plan's queue and the server's custom fields are the target's own
(`matched_existing`, said in the dry run too). The server's ticket custom fields are read by
check() (the API's OPTIONS answer), so the dry run names the values that have no field.

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

The original created, first reply and solved times go into ticket custom fields an admin created
for them (original_times.py), so reports on django-helpdesk can measure the history.

A file the server refuses (empty, too large, an extension it does not take even as .txt) is left
out with a degradation on the attachment; the ticket and its follow-ups are written.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hdmigrate import degradations as codes
from hdmigrate.adapter import Capability, Degradation, Mapped, Target, WriteResult, is_opening
from hdmigrate.errors import RecordError
from hdmigrate.stamps import with_prefix

from . import to_canonical, to_vendor, values
from .client import make_client
from .original_times import OriginalTimes


class DjangoHelpdeskTarget(OriginalTimes, Target):
    name = "django_helpdesk"
    stamp_places = frozenset({"stamp"})   # where verify reads this target's stamp
    capabilities = frozenset({Capability.PRIVATE_NOTES, Capability.ATTACHMENTS, Capability.CUSTOM_FIELDS,
                              Capability.EXTERNAL_ID_LOOKUP, Capability.DELETE})
    bundles_comments = True
    updatable_kinds = frozenset()   # no update(): delta runs report changed records as not updated

    def __init__(self, ctx):
        super().__init__(ctx)
        self.http = make_client(ctx)
        self.account = to_vendor.Account(queue=int(ctx.config.get("queue", 1)),
                                         validate_types=bool(ctx.config.get("validate_attachment_types", True)))
        self.stamp_prefix = ctx.config.get("stamp_prefix", "")
        self._stamps: dict[str, str] | None = None
        self._has_stamp_field: bool | None = None
        self._told_no_field = False

    @property
    def queue(self) -> int:
        return self.account.queue

    def check(self) -> None:
        self.http.get_json("")
        r = self.http.request("OPTIONS", "tickets/", allow=(403, 405))
        if r.status_code < 300:    # DRF metadata: the fields a ticket create takes, custom ones included
            fields = (((r.json() or {}).get("actions") or {}).get("POST") or {})
            if fields:
                self._learn_fields(fields)
                if not self._has_stamp_field:
                    self._say_no_field()
                self._say_missing_time_fields()    # original_times.py

    def _learn_fields(self, names) -> None:
        """The server's ticket custom fields, from the OPTIONS answer or a created ticket's keys."""
        custom = frozenset(str(n)[len("custom_"):] for n in names if str(n).startswith("custom_"))
        self.account = replace(self.account, ticket_fields=custom)
        self._has_stamp_field = values.STAMP_FIELD in custom

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
        return self._mapped(kind, record, ctx).degradations

    def _mapped(self, kind: str, record: dict, ctx) -> Mapped:
        """The one mapping call of a record, for the dry run and the write alike."""
        if kind in ("agent", "contact"):
            return to_vendor.person(kind, record)
        if kind == "group":
            return to_vendor.group(record, self.account)
        if kind == "ticket":
            comments = list(ctx.comments(str(record["id"])))
            mapped = to_vendor.ticket(record, comments[0] if comments else None, self.account)
            kept = self._original_time_values(record, comments, ctx)   # original_times.py
            return Mapped(mapped.body, mapped.degradations + kept.degradations)
        if kind == "comment":
            return to_vendor.comment(record, first=is_opening(record, ctx))
        if kind == "attachment":
            return to_vendor.attachment(record, self.account)
        simple = {"custom_field": to_vendor.custom_field, "organization": to_vendor.organization,
                  "satisfaction_rating": to_vendor.satisfaction_rating}
        return simple[kind](record) if kind in simple else Mapped(None)

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
        if kind == "ticket":
            return self._write_ticket(record, ctx)
        if kind in ("comment", "attachment"):
            raise RecordError(f"django_helpdesk: {kind} records are written with their ticket",
                              kind=kind, id=record.get("id"))
        # Nothing else is created (see to_vendor): an address, the plan's queue and the server's
        # fields are the target's own (matched), kept by rollback; organizations and satisfaction
        # ratings have no place (listed by degradations()).
        mapped = self._mapped(kind, record, ctx)
        target_id = {"group": str(self.queue), "custom_field": f"custom_{record.get('key')}"}.get(
            kind, (mapped.body or {}).get("email"))
        if target_id:
            return WriteResult(target_id, matched=True)
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
        name = to_vendor.upload_name(name, self.account)   # a rename declared by to_vendor.attachment
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

    def _write_ticket(self, record: dict, ctx) -> WriteResult:
        rid = str(record["id"])
        stamp = with_prefix(rid, self.stamp_prefix)
        partial_stamp = with_prefix(stamp, partial=True)
        stamps = self._load_stamps()
        partial = stamps.get(partial_stamp)
        if partial:
            self.http.request("DELETE", f"tickets/{partial}/", allow=(404,))
            stamps.pop(partial_stamp, None)
        comments = list(ctx.comments(rid))
        mapped = to_vendor.ticket(record, comments[0] if comments else None, self.account)
        degr: list[Degradation] = list(mapped.degradations)
        body = dict(mapped.body)
        if self._has_stamp_field is not False:
            body[f"custom_{values.STAMP_FIELD}"] = partial_stamp
        created = self.http.request("POST", "tickets/", idempotent=False, json=body).json()
        tid = str(created["id"])
        followups = created.get("followup_set") or []
        if self.account.ticket_fields is None:    # OPTIONS did not say: the created ticket does
            self._learn_fields(created)
        if f"custom_{values.STAMP_FIELD}" in created:
            self._has_stamp_field = True
            stamps[partial_stamp] = tid
        else:
            self._has_stamp_field = False
            self._say_no_field()
            if followups:   # before anything else is written: a crash from here on is found on resume
                self._mark_opening(followups[0], partial_stamp)
                stamps[partial_stamp] = tid
        children = self._write_followups(tid, comments, followups[0]["id"] if followups else None, ctx, degr)
        custom = to_vendor.custom_values(record, self.account.ticket_fields or frozenset())
        kept = self._original_time_values(record, comments, ctx)   # the original times (original_times.py)
        degr += custom.degradations + kept.degradations
        requester = ctx.person(record.get("requester_id"))
        email = (ctx.record(requester[0], record["requester_id"]) or {}).get("email") if requester else None
        self.http.request("PATCH", f"tickets/{tid}/", json=to_vendor.final(
            record, submitter_email=email, stamp=stamp if self._has_stamp_field else None, values={**custom.body, **kept.body}))
        if not self._has_stamp_field and followups:
            self._mark_opening(followups[0], stamp)
        if self._has_stamp_field or followups:
            stamps.pop(partial_stamp, None)
            stamps[stamp] = tid
        return WriteResult(tid, children=children, degradations=degr)

    def _write_followups(self, tid: str, comments: list[dict], opening_id, ctx, degr: list) -> dict:
        """Every comment as a follow-up (the first is the ticket's opening one, `opening_id`), with
        its files; returns the target ids of what was written."""
        children = {}
        for index, comment in enumerate(comments):
            mapped = to_vendor.comment(comment, first=index == 0)
            degr += mapped.degradations
            if index == 0 and opening_id is not None:
                fid = opening_id
            else:
                fid = self.http.request("POST", "followups/", idempotent=False,
                                        json={"ticket": int(tid), **mapped.body}).json()["id"]
            children[("comment", str(comment["id"]))] = str(fid)
            for att, path in ctx.attachments(comment):
                degr += to_vendor.attachment(att, self.account).degradations
                if self._upload(fid, att, path, degr):
                    children[("attachment", str(att["id"]))] = str(fid)
        return children

    def delete(self, kind: str, target_id: str) -> None:
        if kind == "ticket":
            self.http.request("DELETE", f"tickets/{target_id}/", allow=(404,))

    def count(self, kind: str) -> int | None:
        if kind == "ticket":
            return (self.http.get_json("tickets/", params={"page_size": 1}) or {}).get("count")
        return None

    def close(self) -> None:
        self.http.close()
