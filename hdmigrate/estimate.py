"""How long a migration takes at the accounts' rate budgets, from a dry run (one code for the
wizard and `hdmigrate run --dry-run`).

Requests per budget (a documented heuristic, see docs/wizard.md):
  source      = pages the extraction fetched + one download per attachment, at the source rate;
  target      = per kind, records to write ÷ the target's batch size for that kind (kinds written
                inside another's call cost nothing; every attachment costs one upload), at the
                target rate;
  endpoints   = a target may split its writes over per-endpoint budgets of its own
                (`Target.endpoint_budgets`), each with its documented share of the account.
Rates are each budget's starting rate (the plan's `[run] rate_limit`, else the documented
default); the run then learns the account's real limits from its headers, so the estimate is an
upper bound when the account allows more. Extraction and loading run one after the other, so the
duration is the source budget's minutes plus the slowest target budget's.
"""

from __future__ import annotations

import math

from .http.ratelimit import policy_for


def target_requests(summary: dict, target_cls) -> dict[str, int]:
    """Requests the target needs, per kind written."""
    batch_sizes = getattr(target_cls, "batch_sizes", {}) or {}
    bundles = bool(getattr(target_cls, "bundles_comments", False))
    out: dict[str, int] = {}
    for kind, c in (summary.get("kinds") or {}).items():
        n = c.get("created", 0) + c.get("updated", 0)
        if kind == "comment" and bundles:
            continue
        out[kind] = n if kind == "attachment" else math.ceil(n / max(1, int(batch_sizes.get(kind, 1))))
    return out


def estimate(summary: dict, *, source_pages: int, source_cls, target_cls, rate_limits: dict | None = None) -> dict:
    """Requests, rate and minutes per budget, and the whole run's minutes (None: no budget
    limits anything)."""
    rates = rate_limits or {}
    source_rate = policy_for(rates.get("source"), getattr(source_cls, "default_rate_limit", None)).start
    target_rate = policy_for(rates.get("target"), getattr(target_cls, "default_rate_limit", None)).start
    by_kind = target_requests(summary, target_cls)
    kept = summary.get("original_time_fields") or {}
    creates = bool(getattr(target_cls, "creates_original_time_fields", True))   # else an admin made them
    if kept and creates:
        by_kind["original_time_field"] = len(kept)   # at most one create each, found again later
    attachments = by_kind.get("attachment", 0)
    budgets = {"source": (source_pages + attachments, source_rate),
               "target": (sum(by_kind.values()), target_rate)}
    split = getattr(target_cls, "endpoint_budgets", None)
    if split is not None and target_rate:
        for name, (requests, rate) in split(by_kind, target_rate).items():
            budgets[f"target {name}"] = (requests, rate)
    table = {name: {"requests": n, "rate": rate, "minutes": round(n / rate, 1) if rate else None}
             for name, (n, rate) in budgets.items()}
    target_minutes = [b["minutes"] for name, b in table.items() if name.startswith("target") and b["minutes"] is not None]
    limited = table["source"]["minutes"] is not None or bool(target_minutes)
    minutes = (table["source"]["minutes"] or 0.0) + (max(target_minutes) if target_minutes else 0.0)
    binding = max(table, key=lambda name: table[name]["minutes"] or 0.0) if limited else None
    return {"budgets": table, "binding": binding, "minutes": round(minutes, 1) if limited else None,
            "source_requests": table["source"]["requests"], "target_requests": table["target"]["requests"],
            "source_rate": source_rate, "target_rate": target_rate, "original_time_fields": kept,
            "original_time_fields_created": creates}


def pages_extracted(store, run_id: int) -> int:
    return sum(int((s.get("counts") or {}).get("pages", 0)) for s in store.steps(run_id) if s["step"] == "extract")


def render(est: dict) -> list[str]:
    """The estimate as lines: the total, one per budget, then the fields the target creates."""
    lines = []
    for name, b in est["budgets"].items():
        rate = f"{b['rate']:g}/min" if b["rate"] else "no limit"
        lines.append(f"  {name:<24}{b['requests']:>8} requests at {rate:<12}"
                     + (f"{_duration(b['minutes'])}" if b["minutes"] is not None else "local speed"))
    kept = est.get("original_time_fields") or {}
    if kept and est.get("original_time_fields_created", True) is False:   # the target's admin creates them
        lines.append("Ticket fields the target keeps each ticket's original times in (an admin creates them; "
                     "tickets without them get original_times_not_kept, the log names what is missing): "
                     + ", ".join(f"{name} ({field})" for field, name in kept.items())
                     + "; rename or switch them off in [mapping] original_times")
    elif kept:   # a target that cannot backdate (hdmigrate.cx.kept_fields)
        lines.append("Ticket fields the target creates (once; found again on later runs) to keep each ticket's "
                     "original times: " + ", ".join(f"{name} ({field})" for field, name in kept.items())
                     + "; rename or switch them off in [mapping] original_times")
    if est["minutes"] is None:
        return ["Estimate: no rate limit applies, so it runs at local speed."] + lines
    return [f"Estimate: {_duration(est['minutes'])} at the starting rate limits (binding: {est['binding']}; "
            "the run adopts higher limits the accounts announce)"] + lines


def _duration(minutes: float) -> str:
    if minutes < 1:
        return "under a minute"
    if minutes < 90:
        return f"about {math.ceil(minutes)} minutes"
    return f"about {minutes / 60:.1f} hours"
