"""RT target: a ticket's original times in ticket custom fields (a mixin of RtTarget).

RT cannot backdate here: the security releases (5.0.3+dfsg-3~deb12u7 and later) drop `Created`
and `Creator` on create, and no transaction can be backdated through REST2. So each ticket's
original created time, first public reply by an agent (computed by `hdmigrate.cx.original_times`,
the rule verify measures by) and solved time go into ticket custom fields named by
`cx.original_time_fields(plan [mapping] original_times)` (renamed, or switched off with `false`),
as RFC 3339 in UTC (`cx.format_time`), sent with the ticket's create body.

- Type: Freeform, one value (`MaxValues` 1), lookup type `RT::Queue-RT::Ticket`.
- Not created by this tool: REST2 (RT 5.0.3) can create a custom field but cannot apply it to a
  queue (docs/real-helpdesks.md), and RT drops values of a field not applied to the ticket's
  queue silently. An RT admin creates the fields and applies them to the queues the migration
  writes to (docs/verify.md says how); the fields applied to each queue are read once per run
  (`queue/{id}/customfields`, matched by name, case-insensitive).
- A ticket whose queue lacks any of them is written all the same with `original_times_not_kept`
  naming the missing fields; the log says once per queue which fields to create. The dry run
  makes the same call (same degradations), so it says it too.
"""

from __future__ import annotations

from hdmigrate import cx
from hdmigrate import degradations as codes
from hdmigrate.adapter import Degradation


def missing_detail(names: list[str], queue: str | None) -> str:
    where = f"queue {queue}" if queue else "the queue this run creates (REST2 cannot apply fields to it)"
    return (f"no ticket custom field {', '.join(names)} (Freeform, one value) applied to {where}: "
            "the original times stay in the origin line only")


class OriginalTimes:
    """The values written on each ticket and the fields they go to."""

    keeps_original_times = True            # read generically by hdmigrate.cx.kept_fields (dry run, docs)
    creates_original_time_fields = False   # an RT admin creates and applies them (REST2 cannot apply)

    def _original_time_values(self, record: dict, comments: list[dict], ctx, queue: str | None,
                              queue_cfs: set[str]) -> tuple[dict, list[Degradation]]:
        """({RT custom field name: RFC 3339 time}, degradations) of one ticket: the fields applied
        to its queue get their values; a field missing there is one `original_times_not_kept`."""
        wanted = cx.original_time_fields(self.ctx.mapping)
        if not wanted:
            return {}, []
        authors = {str(c.get("author_id")) for c in comments if c.get("author_id") is not None}
        lookup = getattr(ctx, "record", None)   # else agents are known by the comments' author_kind
        agents = {a for a in authors if lookup is not None and lookup("agent", a) is not None}
        # the source's own times (names=None: fields an earlier migration kept are read too)
        times = cx.original_times(record, comments, agents)
        applied = {name.casefold(): name for name in queue_cfs if name}
        out, missing = {}, []
        for field, name in wanted.items():
            if name.casefold() not in applied:
                missing.append(name)
            elif field in times:
                out[applied[name.casefold()]] = cx.format_time(times[field])
        if not missing or not times:
            return out, []
        self._say_missing_fields(missing, queue)
        return out, [Degradation("ticket", str(record["id"]), "original_times", codes.ORIGINAL_TIMES_NOT_KEPT,
                                 missing_detail(missing, queue))]

    def _say_missing_fields(self, missing: list[str], queue: str | None) -> None:
        told = self.__dict__.setdefault("_ot_told", set())
        key = (queue, tuple(missing))
        if key in told:
            return
        told.add(key)
        self.ctx.log(f"rt: the ticket custom fields {', '.join(missing)} are not applied to "
                     f"{'queue ' + queue if queue else 'a queue this run creates'}: those tickets keep their original "
                     "times only in the origin line (original_times_not_kept). To keep them, have an RT admin create "
                     "each as a ticket custom field (Admin > Custom Fields > Create: type 'Enter one value', applies "
                     "to Tickets) and apply it to the queue (Applies to), then run again; see docs/verify.md")
