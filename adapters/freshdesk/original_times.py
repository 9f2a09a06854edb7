"""Freshdesk target: a ticket's original times in ticket fields of their own (a mixin of FreshdeskTarget).

Freshdesk cannot backdate (api-facts.md section 2), so every ticket would report its migration
time as created, first replied and resolved. The original created time, the first public reply by
an agent (computed by `hdmigrate.cx.original_times`, the rule verify measures by) and the solved
time are written on every ticket into custom ticket fields, named by
`cx.original_time_fields(plan [mapping] original_times)` (renamed, or switched off with `false`).

- Type: single-line text (`custom_text`) holding RFC 3339 in UTC: `custom_date` keeps only
  `YYYY-MM-DD` (api-facts.md, Custom fields), and the time of day is what first reply times need.
- Created once per account through `POST /api/v2/admin/ticket_fields` (label = the field name, so
  Freshdesk names it `cf_<name>`), hidden from customers; found again by name or label on every
  later run (and remembered in the work directory's field map), never created twice.
- An account that refuses creating fields (403: no admin rights; or a 400, e.g. the plan's field
  limit) or holds a field of that name of another type writes the tickets all the same: each
  names the loss (`original_times_not_kept`) and the log says it once.
"""

from __future__ import annotations

import threading

from hdmigrate import cx
from hdmigrate import degradations as codes
from hdmigrate.adapter import Degradation
from hdmigrate.errors import RecordRejected

from .to_vendor import slug

FIELD_TYPE = "custom_text"
TEXT_TYPES = frozenset({"custom_text", "custom_paragraph"})


def field_body(name: str) -> dict:
    """The create body of one field keeping an original time."""
    return {"label": name, "label_for_customers": name, "type": FIELD_TYPE,
            "customers_can_edit": False, "displayed_to_customers": False}


class OriginalTimes:
    """The fields' lifecycle (find, create once) and the values written on each ticket."""

    keeps_original_times = True    # read generically by hdmigrate.cx.kept_fields (dry run, docs)

    _ot_lock = threading.Lock()

    def _original_time_state(self) -> tuple[dict[str, str], dict[str, str]]:
        """(canonical field -> Freshdesk field name, canonical field -> why it is not kept), the
        fields found or created on first use in this run."""
        state = getattr(self, "_ot_state", None)
        if state is not None:
            return state
        with self._ot_lock:
            state = getattr(self, "_ot_state", None)
            if state is None:
                state = self._ot_state = self._ensure_original_time_fields()
        return state

    def _ensure_original_time_fields(self) -> tuple[dict[str, str], dict[str, str]]:
        kept: dict[str, str] = {}
        refused: dict[str, str] = {}
        wanted = cx.original_time_fields(self.ctx.mapping)
        if not wanted:
            return kept, refused
        self._fields.pop("ticket", None)   # what an earlier run (or another lane) created: look again
        for field, name in wanted.items():
            found = self._find_original_time_field(name)
            reason = None
            if found is None:
                found, reason = self._create_original_time_field(name)
            if found is None:
                refused[field] = reason or f"the ticket field {name!r} could not be created nor found"
            elif found.get("type") not in TEXT_TYPES:
                refused[field] = (f"the account's ticket field {found['name']!r} is a {found.get('type')} field, "
                                  "not text; name another in [mapping] original_times")
            else:
                kept[field] = found["name"]
                self._remember("original_time", name, found["name"])
        if refused:
            self.ctx.log("freshdesk: the original ticket times are not kept in ticket fields ("
                         + "; ".join(sorted(set(refused.values())))
                         + "): those tickets report their migration times (original_times_not_kept)")
        return kept, refused

    def _create_original_time_field(self, name: str) -> tuple[dict | None, str | None]:
        """(the field, None) once created or found meanwhile, else (None, why not)."""
        try:
            r = self.client.request("POST", "admin/ticket_fields", json=field_body(name), allow=(403, 409))
        except RecordRejected as e:   # 400: e.g. a duplicate label, or the plan's field limit
            self._fields.pop("ticket", None)
            found = self._find_original_time_field(name)
            return (found, None) if found else (None, f"Freshdesk refused creating the ticket field {name!r}: {e}")
        if r.status_code == 403:
            return None, (f"Freshdesk refused creating the ticket field {name!r} (403: the API key's agent "
                          "needs admin rights)")
        if r.status_code == 409:   # created meanwhile (a lost answer, a parallel run)
            self._fields.pop("ticket", None)
            return self._find_original_time_field(name), None
        created = r.json()
        self._fields.setdefault("ticket", {})[created["name"]] = created
        return created, None

    def _find_original_time_field(self, name: str) -> dict | None:
        fields = self.fields("ticket")
        remembered = self._field_map.get(f"original_time:{name}")
        for cand in (remembered, "cf_" + slug(name), name):
            if cand and cand in fields and not fields[cand].get("default"):
                return fields[cand]
        for f in fields.values():
            if not f.get("default") and (f.get("label") or "").lower() == name.lower():
                return f
        return None

    def _original_time_values(self, record: dict, ctx, degr: list) -> dict:
        """The Freshdesk custom field values keeping this ticket's original times; what cannot
        be kept is one degradation of the ticket."""
        wanted = cx.original_time_fields(self.ctx.mapping)
        if not wanted:
            return {}
        rid = str(record["id"])
        thread = ctx.comments(rid) if hasattr(ctx, "comments") else []
        authors = {str(c.get("author_id")) for c in thread if c.get("author_id") is not None}
        agents = {a for a in authors if ctx.record("agent", a) is not None}
        # the source's own times (not fields an earlier migration kept: names=None reads those too)
        times = cx.original_times(record, thread, agents)
        kept, refused = self._original_time_state()
        lost = sorted({refused[f] for f in times if f in refused})
        if lost:
            degr.append(Degradation("ticket", rid, "original_times", codes.ORIGINAL_TIMES_NOT_KEPT,
                                    "; ".join(lost) + ": the original times stay in the origin line only"))
        return {kept[f]: cx.format_time(t) for f, t in times.items() if f in kept}
