"""Selection: which staged records a run loads ([options] sample, [scope] tags and until)."""

from __future__ import annotations

from collections import defaultdict

from ..canonical import KINDS, references
from ..times import parse as parse_time
from .common import TICKET_PARTS, _after


class SelectStep:
    """Mixed into Engine: `_select`."""

    def _select(self) -> dict[str, set[str] | None] | None:
        """With `[options] sample = N` or `[scope] tags`, only those tickets and everything they
        reference are loaded; with `[scope] until`, only tickets last updated (else created) up
        to that time, with their comments, files and ratings, and every other record; otherwise
        everything staged. A kind mapped to None is selected whole."""
        sample = int(self.plan.options.get("sample") or 0)
        tags = set(self.plan.scope.get("tags") or [])
        until = parse_time(self.plan.scope["until"]) if self.plan.scope.get("until") else None
        if not sample and not tags and until is None:
            return None
        sel: dict[str, set[str]] = defaultdict(set)
        chosen = 0
        for ticket, _ in self.store.iter_records("ticket"):
            if tags and not tags & set(ticket.get("tags") or []):
                continue
            if until is not None and _after(ticket, until):
                continue
            sel["ticket"].add(ticket["id"])
            chosen += 1
            if sample and chosen >= sample:
                break

        def add_ref(kind, record):
            for ref, sid in references(kind, record):
                for k in ref.kinds:
                    if self.store.has_record(k, str(sid)):
                        sel[k].add(str(sid))
                        if k == "contact":
                            c = self.store.record("contact", str(sid))
                            if c and c.get("organization_id"):
                                sel["organization"].add(str(c["organization_id"]))
                        break

        for tid in list(sel["ticket"]):
            add_ref("ticket", self.store.record("ticket", tid))
            for c in self.store.records_by_parent("comment", tid):
                sel["comment"].add(c["id"])
                add_ref("comment", c)
                for a in self.store.records_by_parent("attachment", c["id"]):
                    sel["attachment"].add(a["id"])
            for r in self.store.records_by_parent("satisfaction_rating", tid):
                sel["satisfaction_rating"].add(r["id"])
                add_ref("satisfaction_rating", r)
        for aid in list(sel["agent"]):
            for gid in (self.store.record("agent", aid) or {}).get("group_ids") or []:
                sel["group"].add(str(gid))
        for cf, _ in self.store.iter_records("custom_field"):
            sel["custom_field"].add(cf["id"])
        if not sample and not tags:   # `until` alone narrows tickets only: the rest comes whole
            for kind in KINDS:
                if kind not in TICKET_PARTS:
                    sel[kind] = None
        return dict(sel)
