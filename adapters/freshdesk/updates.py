"""Freshdesk target: delta-run updates and rollback deletes (a mixin of FreshdeskTarget).

Update a conversation takes only `body` and `attachments` (FD-DOC); a comment made private in the
source is written again as a private note and the public one deleted; the description, always
public in Freshdesk, moves into a private note. Contacts this tool created are deleted for good.
"""

from __future__ import annotations

from hdmigrate import degradations as codes
from hdmigrate import stamps
from hdmigrate.adapter import Degradation, WriteResult
from hdmigrate.errors import RecordError

from . import to_vendor
from .to_vendor import PRIVATE_OPENING


class Updates:
    """update() and delete() of FreshdeskTarget (uses its client, account lookups and writes)."""

    # --- delta runs and rollback ----------------------------------------------------------------
    def update(self, kind: str, target_id: str, record: dict, ctx) -> WriteResult:
        degr: list = []
        if kind == "ticket":
            mapped = to_vendor.ticket(record, ctx, self.account()).body
            body = {k: mapped[k] for k in ("status", "priority", "tags", "subject", "type") if k in mapped}
            cf = self._custom_fields("ticket", record.get("custom_fields"), degr, "ticket", str(record["id"]), ctx)
            cf.update(self._original_time_values(record, ctx, degr))   # e.g. solved since the last run
            if cf:
                body["custom_fields"] = cf
            self.client.put_json(f"tickets/{target_id}", body)
        elif kind == "contact":
            body = self._contact_body(record, ctx, degr)
            body.pop("unique_external_id", None)
            self.client.put_json(f"contacts/{target_id}", body)
        elif kind == "organization":
            self.client.put_json(f"companies/{target_id}", to_vendor.organization(record, ctx).body)
        elif kind == "comment":
            return self._update_comment(target_id, record, ctx)
        else:
            raise NotImplementedError(f"the freshdesk target does not update {kind} records")
        return WriteResult(target_id, degradations=degr)

    def _update_comment(self, target_id: str, record: dict, ctx) -> WriteResult:
        """Update a conversation takes only `body` and `attachments` (FD-DOC): the text and new
        files are written in place. A note made private in the source is written again as a
        private note and the public one deleted (its origin line keeps the original time); the
        description, always public in Freshdesk: see _private_description."""
        rid = str(record["id"])
        ticket = ctx.target_id("ticket", record.get("ticket_id"))
        if not ticket:
            raise RecordError(f"comment {rid}: ticket not in Freshdesk", kind="comment", id=rid, field="ticket_id")
        private = record.get("public") is not True
        send, skipped = self._attachment_plan(record, ctx)
        new_ids = {str(a["id"]) for a, _ in ctx.attachments(record) if ctx.target_id("attachment", a["id"]) is None}
        new_send = [s for s in send if str(s[3]["id"]) in new_ids]
        degr = [Degradation("attachment", str(a["id"]), "size", code, detail)
                for a, _, code, detail in skipped if str(a["id"]) in new_ids and code != codes.INLINE_IMAGE_DETACHED]
        if str(target_id).endswith(":description"):
            if private:
                return self._private_description(record, ctx, ticket)
            body = {"description": to_vendor.origin_line(record, ctx, ctx.record("ticket", record["ticket_id"]))
                    + to_vendor.body_html(record, ctx)}
            r = (self.client.post_multipart(f"tickets/{ticket}", body, self._files(new_send), method="PUT")
                 if new_send else self.client.put_json(f"tickets/{ticket}", body))
            added = (r.json().get("attachments") or [])[-len(new_send):] if new_send else []
            return WriteResult(target_id, children=file_ids(new_send, added), degradations=degr)
        conversations = self.client.all(f"tickets/{ticket}/conversations")
        held = next((c for c in conversations if str(c.get("id")) == str(target_id)), None)
        if held is None:
            raise RecordError(f"comment {rid}: note {target_id} is no longer in Freshdesk ticket {ticket}",
                              kind="comment", id=rid)
        if private and held.get("private") is not True:
            return self._rewrite_private(record, ctx, held, conversations)
        if not private and held.get("private") is True:
            degr.append(Degradation("comment", rid, "public", codes.UPDATE_NOT_APPLIED,
                                    "public in the source now; Freshdesk cannot make a private note public, so it "
                                    "stays private"))
        body = {"body": to_vendor.origin_line(record, ctx) + to_vendor.body_html(record, ctx)}
        path = f"conversations/{target_id}"
        r = (self.client.post_multipart(path, body, self._files(new_send), method="PUT")
             if new_send else self.client.put_json(path, body))
        added = (r.json().get("attachments") or [])[-len(new_send):] if new_send else []
        return WriteResult(target_id, children=file_ids(new_send, added), degradations=degr)

    def _private_description(self, record: dict, ctx, ticket: str) -> WriteResult:
        """The opening message made private. Freshdesk shows a ticket's description to the
        requester, so its text moves into a private note (written first, or the one an interrupted
        run wrote), the description becomes the placeholder a private opening message gets on a
        first write, and the description's files are deleted (DELETE /attachments/{id}). A step
        that fails fails the record, saying what is still public."""
        rid = str(record["id"])
        marker = stamps.origin_mark(rid)
        copy = next((c for c in self.client.all(f"tickets/{ticket}/conversations")
                     if c.get("private") is True and marker in (c.get("body") or "")), None)
        result = WriteResult(str(copy["id"])) if copy else self._write_comment(record, ctx)
        try:
            self.client.put_json(f"tickets/{ticket}", {"description": to_vendor.origin_line(
                record, ctx, ctx.record("ticket", record["ticket_id"])) + PRIVATE_OPENING})
            for a in (self.client.get_json(f"tickets/{ticket}") or {}).get("attachments") or []:
                self.client.delete(f"attachments/{a['id']}")
        except Exception as e:  # noqa: BLE001 - named in the failure; the next run tries again
            raise RecordError(f"comment {rid} is private in the source now: written as private note "
                              f"{result.target_id}, but the description of ticket {ticket} (or one of its files) "
                              f"could not be replaced ({e}); it is still public", kind="comment", id=rid,
                              field="public") from e
        return result

    def _rewrite_private(self, record: dict, ctx, held: dict, conversations: list[dict]) -> WriteResult:
        """The private copy first (or the one an interrupted run already wrote: same stamp, private),
        then the public note goes. If it cannot be deleted the record fails, naming it."""
        rid = str(record["id"])
        marker = stamps.origin_mark(rid)
        copy = next((c for c in conversations if c.get("private") is True and c.get("id") != held.get("id")
                     and marker in (c.get("body") or "")), None)
        result = WriteResult(str(copy["id"])) if copy else self._write_comment(record, ctx)
        try:
            self.client.delete(f"conversations/{held['id']}")
        except Exception as e:  # noqa: BLE001 - named in the failure; the next run deletes it again
            raise RecordError(f"comment {rid} is private in the source now: written again as private note "
                              f"{result.target_id}, but the public note {held['id']} could not be deleted ({e}); "
                              "it is still public", kind="comment", id=rid, field="public") from e
        return result

    def delete(self, kind: str, target_id: str) -> None:
        path = {"ticket": "tickets", "contact": "contacts", "organization": "companies", "group": "groups",
                "comment": "conversations", "agent": None}.get(kind, None)
        if kind == "agent":
            if self._real_agent(target_id):
                return   # matched an existing agent; never ours to delete
            path = "contacts"
        if kind == "custom_field":
            raise NotImplementedError("this target does not delete custom fields; remove it in Freshdesk's admin")
        if path is None or ":" in str(target_id):
            return
        if path == "contacts":
            # For good: a soft-deleted contact keeps its e-mail, so the next run could not create
            # it again (409, and the contact lists no longer show it to match).
            self.client.request("DELETE", f"contacts/{target_id}/hard_delete", params={"force": "true"},
                                allow=(404,))
            return
        self.client.delete(f"{path}/{target_id}")


def file_ids(send, added: list[dict]) -> dict:
    return {("attachment", str(att["id"])): str(a.get("id")) for (_, _, _, att), a in zip(send, added)}
