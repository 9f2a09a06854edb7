"""CX metrics, computed one way for both sides of a migration (verify, the HTML report, the
continuity section): first reply time, resolution time, CSAT on one common scale, channel mix,
status mix — for the whole history and per month.

A target that cannot backdate keeps a ticket's original times in fields of its own (see
`ORIGINAL_TIME_FIELDS`); a read-back ticket carrying them is measured by them, so source and
target agree where the data allows.
"""

from __future__ import annotations

import statistics
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timezone

from .times import parse

# Canonical ticket field -> the name of the target field that keeps it where the target cannot
# backdate (the plan's [mapping] original_times may rename or switch them off).
ORIGINAL_TIME_FIELDS = {"created_at": "hdm_original_created_at",
                        "first_reply_at": "hdm_original_first_reply_at",
                        "solved_at": "hdm_original_solved_at"}

# Every rating scale as 0–100, so CSAT compares across platforms (Zendesk good/bad, Freshdesk 1–5 …).
_SCALES = {"good_bad": {"good": 100.0, "bad": 0.0, "offered": None},
           "1-5": lambda s: (float(s) - 1) * 25.0,
           "0-10": lambda s: float(s) * 10.0}


def original_time_fields(mapping: dict | None) -> dict[str, str]:
    """The plan's `[mapping] original_times` over the defaults: a field renamed, or switched off
    with `false`."""
    chosen = dict(ORIGINAL_TIME_FIELDS)
    for field, name in ((mapping or {}).get("original_times") or {}).items():
        if name is False or name == "":
            chosen.pop(field, None)
        elif isinstance(name, str):
            chosen[field] = name
    return chosen


def csat_percent(scale: str | None, score) -> float | None:
    """A rating on the common 0–100 scale; None when it is not a rating (offered, unknown)."""
    rule = _SCALES.get(scale or "")
    try:
        value = rule.get(str(score)) if isinstance(rule, dict) else rule(score) if rule else None
    except (TypeError, ValueError):
        return None
    return None if value is None or not 0.0 <= value <= 100.0 else value


def original_time(ticket: dict, field: str, names: dict[str, str] | None = None) -> datetime | None:
    """A ticket's original `field` time: the target field that keeps it, else the field itself."""
    name = (ORIGINAL_TIME_FIELDS if names is None else names).get(field)
    kept = (ticket.get("custom_fields") or {}).get(name) if name else None
    return parse(kept) or parse(ticket.get(field))


def keeps_original_times(ticket: dict, names: dict[str, str] | None = None) -> bool:
    """Does this (read-back) ticket carry the field keeping its original created time? Then its
    other kept fields are the whole truth: a first reply it does not keep means there was none
    (the target's own comments are all written at migration time and prove nothing)."""
    name = (ORIGINAL_TIME_FIELDS if names is None else names).get("created_at")
    return bool(name) and parse((ticket.get("custom_fields") or {}).get(name)) is not None


def format_time(value: datetime) -> str:
    """A kept original time as written into a target field: RFC 3339 in UTC (`…Z`), to the
    microsecond when the source had it, so text fields sort and compare as times."""
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


_UNDATED = datetime.min.replace(tzinfo=timezone.utc)   # comments without a time sort first


def _in_order(thread: Iterable[dict]) -> list[dict]:
    return sorted(thread, key=lambda c: (parse(c.get("created_at")) or _UNDATED, str(c.get("id"))))


def _stats(values) -> dict:
    if not values:
        return {"n": 0, "median_s": None, "mean_s": None}
    return {"n": len(values), "median_s": round(statistics.median(values), 1),
            "mean_s": round(statistics.fmean(values), 1)}


def _threads(comments: Iterable[dict]) -> dict[str, list[dict]]:
    by_ticket: dict[str, list[dict]] = defaultdict(list)
    for c in comments:
        by_ticket[str(c.get("ticket_id"))].append(c)
    return {tid: _in_order(thread) for tid, thread in by_ticket.items()}


def original_times(ticket: dict, thread: list[dict], agent_ids: set[str],
                   names: dict[str, str] | None = None) -> dict[str, datetime]:
    """A ticket's original times, canonical field -> time: `created_at` (else its first
    comment's), `first_reply_at` (the first public comment by an agent after the opening
    message, at or after the opening) and `solved_at`; absent ones left out. The one rule:
    verify's metrics measure by it, and a target that cannot backdate writes what it returns."""
    thread = _in_order(thread)
    opened = original_time(ticket, "created_at", names) or (parse(thread[0].get("created_at")) if thread else None)
    if opened is None:
        return {}
    out = {"created_at": opened}
    first = original_time(ticket, "first_reply_at", names)
    if first is None and not keeps_original_times(ticket, names):
        for c in thread[1:]:
            is_agent = c.get("author_kind") == "agent" or str(c.get("author_id")) in agent_ids
            when = parse(c.get("created_at"))
            if c.get("public") and is_agent and when is not None and when >= opened:
                first = when
                break
    if first is not None:
        out["first_reply_at"] = first
    solved = original_time(ticket, "solved_at", names)
    if solved is not None:
        out["solved_at"] = solved
    return out


def ticket_times(ticket: dict, thread: list[dict], agent_ids: set[str],
                 names: dict[str, str] | None = None) -> tuple[datetime | None, float | None, float | None]:
    """(opened, first reply seconds, resolution seconds) of one ticket."""
    times = original_times(ticket, thread, agent_ids, names)
    opened = times.get("created_at")
    if opened is None:
        return None, None, None
    first, solved = times.get("first_reply_at"), times.get("solved_at")
    reply = (first - opened).total_seconds() if first is not None and first >= opened else None
    resolution = (solved - opened).total_seconds() if solved is not None and solved >= opened else None
    return opened, reply, resolution


def kept_fields(target_cls, mapping: dict | None) -> dict[str, str]:
    """The ticket fields a target keeps original times in (canonical field -> field name): none
    for a target that backdates or declares no such fields (`Target.keeps_original_times`)."""
    return original_time_fields(mapping) if getattr(target_cls, "keeps_original_times", False) else {}


class MetricsSum:
    """`metrics` of records added one ticket at a time (with its thread), so a caller that reads
    them ticket by ticket measures any number in flat memory: per ticket, two numbers at most."""

    def __init__(self, agent_ids: set[str], names: dict[str, str] | None = None):
        self.agent_ids, self.names = agent_ids, names
        self.tickets = self.comments = 0
        self.first_reply, self.resolution, self.scores = array("d"), array("d"), array("d")
        self.csat: Counter = Counter()
        self.channels: Counter = Counter()
        self.statuses: Counter = Counter()

    def add_ticket(self, ticket: dict, thread: list[dict]) -> None:
        """A ticket and its comments (any order); the comments are counted by `add_comments`."""
        self.tickets += 1
        _, reply, resolved = ticket_times(ticket, thread, self.agent_ids, self.names)
        if reply is not None:
            self.first_reply.append(reply)
        if resolved is not None:
            self.resolution.append(resolved)
        self.channels[str(ticket.get("channel"))] += 1
        self.statuses[str(ticket.get("status"))] += 1

    def add_comments(self, n: int) -> None:
        self.comments += n

    def add_rating(self, rating: dict) -> None:
        self.csat[f"{rating.get('scale') or '?'}:{rating.get('score')}"] += 1
        percent = csat_percent(rating.get("scale"), rating.get("score"))
        if percent is not None:
            self.scores.append(percent)

    def result(self) -> dict:
        return {
            "tickets": self.tickets,
            "comments": self.comments,
            "first_reply_time": _stats(self.first_reply),
            "resolution_time": _stats(self.resolution),
            "csat": dict(sorted(self.csat.items())),
            "csat_percent": round(statistics.fmean(self.scores), 1) if self.scores else None,
            "channel_mix": dict(sorted(self.channels.items())),
            "status_mix": dict(sorted(self.statuses.items())),
        }


def metrics(tickets: list[dict], comments: list[dict], ratings: list[dict], agent_ids: set[str],
            names: dict[str, str] | None = None) -> dict:
    """First reply time, resolution time, CSAT (distribution and mean on 0–100), channel and
    status mix of a set of canonical records."""
    threads = _threads(comments)
    total = MetricsSum(agent_ids, names)
    for t in tickets:
        total.add_ticket(t, threads.get(str(t["id"]), []))
    total.add_comments(len(comments))
    for r in ratings:
        total.add_rating(r)
    return total.result()


def monthly(tickets: list[dict], comments: list[dict], ratings: list[dict], agent_ids: set[str],
            names: dict[str, str] | None = None) -> list[dict]:
    """The history per month a ticket was opened (UTC): tickets, first reply and resolution
    medians, CSAT on 0–100, channel mix — what a dashboard owner stitches to the new system's."""
    threads = _threads(comments)
    rated = defaultdict(list)
    for r in ratings:
        p = csat_percent(r.get("scale"), r.get("score"))
        if p is not None:
            rated[str(r.get("ticket_id"))].append(p)
    months: dict[str, dict] = {}
    for t in tickets:
        opened, reply, resolved = ticket_times(t, threads.get(str(t["id"]), []), agent_ids, names)
        if opened is None:
            continue
        m = months.setdefault(opened.strftime("%Y-%m"), {"reply": [], "resolution": [], "csat": [],
                                                         "channels": Counter(), "tickets": 0})
        m["tickets"] += 1
        m["channels"][str(t.get("channel"))] += 1
        m["csat"] += rated.get(str(t["id"]), [])
        if reply is not None:
            m["reply"].append(reply)
        if resolved is not None:
            m["resolution"].append(resolved)
    return [{"month": month, "tickets": m["tickets"],
             "first_reply_median_s": round(statistics.median(m["reply"]), 1) if m["reply"] else None,
             "resolution_median_s": round(statistics.median(m["resolution"]), 1) if m["resolution"] else None,
             "csat_percent": round(statistics.fmean(m["csat"]), 1) if m["csat"] else None,
             "ratings": len(m["csat"]), "channel_mix": dict(sorted(m["channels"].items()))}
            for month, m in sorted(months.items())]
