"""Zendesk target: delta-run updates of tickets and comments (Update Ticket, make_private)."""

from __future__ import annotations


from hdmigrate import degradations as codes
from hdmigrate.adapter import Degradation, LoadContext, WriteResult
from hdmigrate.errors import RecordError

from . import to_vendor
from .values import _next, _plain


class TicketUpdates:
    """Mixin of ZendeskTarget: `update` and its comment step."""

    def update(self, kind: str, target_id: str, record: dict, ctx: LoadContext) -> WriteResult:
        """A changed ticket: status, priority, type, subject, tags and custom fields through Update
        Ticket (comments and history stay as imported). Zendesk refuses to change a closed ticket:
        that is reported (value_unmapped on the changed fields), not retried. A changed comment:
        see _update_comment."""
        if kind == "comment":
            return self._update_comment(target_id, record, ctx)
        if kind != "ticket":
            raise NotImplementedError(f"the zendesk target does not update {kind} records")
        body = to_vendor.ticket(record, self._mapping(ctx), to_vendor.TicketRefs(field_ids=self._ticket_field_ids(record, ctx)),
                                tag_migrated=self._opt(ctx, "tag_migrated")).body
        change = {k: body[k] for k in ("status", "priority", "type", "subject", "tags", "custom_fields") if k in body}
        r = self.client.request("PUT", f"/api/v2/tickets/{target_id}", json={"ticket": change}, allow=(422,))
        if r.status_code == 422:
            return WriteResult(target_id, degradations=[Degradation(
                "ticket", str(record["id"]), "", codes.VALUE_UNMAPPED,
                f"Zendesk does not change a closed ticket; the source's change is not applied: {r.text[:200]}")])
        return WriteResult(target_id)

    def _update_comment(self, target_id: str, record: dict, ctx: LoadContext) -> WriteResult:
        """Zendesk keeps a comment's text and files as imported; only public -> private can change
        (PUT .../comments/{id}/make_private, ZD-OAS MakeTicketCommentPrivate). A comment made private
        in the source is made private here, or fails; the rest is reported as not applied."""
        rid = str(record["id"])
        ticket, _, position = str(target_id).partition(":")
        if not ticket.isdigit() or not position.isdigit():
            raise RecordError(f"comment {rid}: target id {target_id!r} names no Zendesk comment",
                              kind="comment", id=rid)
        comments: list[dict] = []
        for body in self.client.paginate_next_url(f"/api/v2/tickets/{ticket}/comments", next_url=_next):
            comments += (body or {}).get("comments") or []
        if int(position) >= len(comments):
            raise RecordError(f"comment {rid}: ticket {ticket} holds {len(comments)} comments, not #{position}",
                              kind="comment", id=rid)
        held = comments[int(position)]
        degraded: list[Degradation] = []
        if record.get("public") is not True and held.get("public") is not False:
            r = self.client.request("PUT", f"/api/v2/tickets/{ticket}/comments/{held['id']}/make_private",
                                    allow=(400, 403, 404, 422))
            if r.status_code >= 400:
                raise RecordError(f"comment {rid} is private in the source, and Zendesk refused to make comment "
                                  f"{held['id']} of ticket {ticket} private ({r.status_code}: {r.text[:200]}); "
                                  "it is still public there", kind="comment", id=rid, field="public")
        elif record.get("public") is True and held.get("public") is False:
            degraded.append(Degradation("comment", rid, "public", codes.UPDATE_NOT_APPLIED,
                                        "public in the source now; Zendesk cannot make a private comment "
                                        "public, so it stays private"))
        if _plain(record.get("body_html") or record.get("body_text")) != _plain(held.get("html_body") or held.get("body")):
            degraded.append(Degradation("comment", rid, "body_html", codes.UPDATE_NOT_APPLIED,
                                        "the text changed in the source; Zendesk does not edit a comment's "
                                        "text after it is written"))
        for attachment, _path in ctx.attachments(record):
            if ctx.target_id("attachment", attachment["id"]) is None:
                degraded.append(Degradation("attachment", str(attachment["id"]), "", codes.UPDATE_NOT_APPLIED,
                                            f"added in the source to comment {rid}; Zendesk cannot add a file to "
                                            "a written comment (the file stays in staging)"))
        return WriteResult(target_id, degradations=degraded)
