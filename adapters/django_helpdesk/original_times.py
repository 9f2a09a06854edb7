"""django-helpdesk target: a ticket's original times in ticket custom fields (a mixin of
DjangoHelpdeskTarget).

django-helpdesk cannot backdate (`created` is ignored, a follow-up's `date` is read-only), so
each ticket's original created time, first public reply by an agent (computed by
`hdmigrate.cx.original_times`, the rule verify measures by) and solved time go into ticket custom
fields named by `cx.original_time_fields(plan [mapping] original_times)` (renamed, or switched off
with `false`), as RFC 3339 in UTC (`cx.format_time`), in the PATCH that finishes the ticket.

- Not created by this tool: the API has no custom field endpoint. An admin creates them
  (`CustomField(name=..., data_type='varchar', max_length=40, staff_only=True)`, see
  docs/verify.md); the server's fields are read by check() from the OPTIONS answer (else from the
  first ticket created), where they appear as `custom_<name>`.
- Where any is missing, every ticket is written all the same with `original_times_not_kept`
  naming them, and the log says once which fields to create. The dry run makes the same call.
"""

from __future__ import annotations

from hdmigrate import cx
from hdmigrate import degradations as codes
from hdmigrate.adapter import Degradation, Mapped


class OriginalTimes:
    """The values written on each ticket, into the fields the server has."""

    keeps_original_times = True            # read generically by hdmigrate.cx.kept_fields (dry run, docs)
    creates_original_time_fields = False   # an admin creates them (no custom field endpoint)

    def _missing_time_fields(self) -> list[str]:
        """The wanted field names the server has no custom field for ([] while the server's
        fields are unknown: the write learns them from the first ticket it creates)."""
        fields = self.account.ticket_fields
        if fields is None:
            return []
        return [name for name in cx.original_time_fields(self.ctx.mapping).values() if name not in fields]

    def _say_missing_time_fields(self) -> None:
        missing = self._missing_time_fields()
        if not missing or getattr(self, "_told_no_time_fields", False):
            return
        self._told_no_time_fields = True
        self.ctx.log(f"django_helpdesk: no ticket custom field {', '.join(missing)}: the original ticket times "
                     "are not kept: the tickets report their migration times (original_times_not_kept on every ticket). To "
                     "keep them, have an admin create each (CustomField, data_type varchar, max_length 40, staff "
                     "only; docs/verify.md) before the run, or rename or switch them off in [mapping] original_times")

    def _original_time_values(self, record: dict, comments: list[dict], ctx) -> Mapped:
        """({"custom_<name>": RFC 3339 time}, degradations) of one ticket."""
        wanted = cx.original_time_fields(self.ctx.mapping)
        fields = self.account.ticket_fields
        if not wanted or fields is None:
            return Mapped({})
        authors = {str(c.get("author_id")) for c in comments if c.get("author_id") is not None}
        lookup = getattr(ctx, "record", None)   # else agents are known by the comments' author_kind
        agents = {a for a in authors if lookup is not None and lookup("agent", a) is not None}
        # the source's own times (names=None: fields an earlier migration kept are read too)
        times = cx.original_times(record, comments, agents)
        body = {f"custom_{name}": cx.format_time(times[field]) for field, name in wanted.items()
                if name in fields and field in times}
        missing = self._missing_time_fields()
        if not missing or not times:
            return Mapped(body)
        self._say_missing_time_fields()
        return Mapped(body, [Degradation(
            "ticket", str(record["id"]), "original_times", codes.ORIGINAL_TIMES_NOT_KEPT,
            f"no ticket custom field {', '.join(missing)} in django-helpdesk: the ticket reports its migration "
            "times")])
