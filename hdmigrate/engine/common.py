"""What every step of the engine shares: the step names, count keys, kind groups and small helpers."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import degradations as codes
from ..adapter import Degradation
from ..times import parse as parse_time
from ..errors import HdmError


STEPS = ("check", "extract", "normalize", "load", "verify")
# Kinds whose records of one ticket must be written in order: they share the ticket's lane.
ORDERED_KINDS = ("comment", "satisfaction_rating")
# Kinds loaded by one lane whatever `[run] workers` says: a few dozen records, and targets keep
# account-wide caches of them (field lists, a field-map file) that parallel creates would race on.
SERIAL_KINDS = ("custom_field",)
_UNREFERENCED = frozenset({"comment", "attachment", "satisfaction_rating"})
# matched: found in the target (a live person, group or company) and adopted, never changed by us
COUNT_KEYS = ("created", "matched", "updated", "unchanged", "failed", "degraded")
DEFAULT_MAX_ATTACHMENT_BYTES = 512 * 1024 * 1024


class WrittenIds:
    """Written records' target ids, so references resolve without SQL in the common case (the
    id map is the truth: a miss is looked up there and, by the engine's thread, remembered
    again). Bounded, the oldest forgotten first: tickets (only the chunk being loaded, and the few
    linked from newer bodies, are asked for again) apart from people, groups and organizations
    (referenced by every ticket, so kept by the tens of thousands: a miss costs an indexed SQLite
    read or two, on every comment by that person). Only the engine's thread writes it; the lanes
    read it (`get` is safe beside the writes, a walk would not be)."""

    def __init__(self, most: int = 50_000, tickets: int = 4_000):
        self._most, self._tickets_most = most, tickets
        self._other: dict[tuple[str, str], str] = {}     # insertion order: the oldest first
        self._tickets: dict[str, str] = {}
    def get(self, key: tuple[str, str]) -> str | None:
        if key[0] == "ticket":
            return self._tickets.get(key[1])
        return self._other.get(key)

    def __contains__(self, key: tuple[str, str]) -> bool:
        return self.get(key) is not None

    def remember(self, kind: str, id: str, target_id: str) -> None:
        if kind == "ticket":
            self._tickets.pop(id, None)
            self._tickets[id] = target_id
            while len(self._tickets) > self._tickets_most:
                del self._tickets[next(iter(self._tickets))]
            return
        self._other.pop((kind, id), None)
        self._other[(kind, id)] = target_id
        while len(self._other) > self._most:
            del self._other[next(iter(self._other))]

    def __len__(self) -> int:
        return len(self._other) + len(self._tickets)


class Interrupted(HdmError):
    exit_code = 4


@dataclass
class Counts:
    kinds: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, kind: str, key: str, n: int = 1) -> None:
        bucket = self.kinds.setdefault(kind, dict.fromkeys(COUNT_KEYS, 0))
        bucket[key] += n


def _matched_note(kind: str, rid: str) -> Degradation:
    """A record the target already held: reported, and it explains every difference verify finds."""
    return Degradation(kind, str(rid), "", codes.MATCHED_EXISTING,
                       f"the target already had this {kind} (same e-mail or name): adopted as it is, its "
                       "values kept; never updated by delta runs nor deleted by rollback")


def _short(e: BaseException) -> str:
    text = str(e) or e.__class__.__name__
    return text.replace("\n", " ")[:500]


# Kinds that hang on a ticket: what a time window of tickets narrows.
TICKET_PARTS = frozenset({"ticket", "comment", "attachment", "satisfaction_rating"})


def _after(ticket: dict, until) -> bool:
    stamp = parse_time(ticket.get("updated_at") or ticket.get("created_at"))
    return stamp is not None and stamp > until
