"""The dry run's fidelity report and the estimate of requests and duration.

Fidelity, per kind, from the dry run's summary and the store: records that will arrive as they
are, records that will arrive degraded (each named with its degradation codes), records that will
fail (each named with its reason).

Estimate (a documented heuristic, see docs/wizard.md):
  target requests = per kind, records to write ÷ the target's batch size for that kind (1 when it
                    writes one by one); kinds written inside another's call (a bundling target's
                    comments) cost nothing; every attachment costs one upload;
  source requests = pages the extraction fetched + one download per attachment;
  duration        = source requests ÷ source rate + target requests ÷ target rate (per minute:
                    `[run] rate_limit`, else the adapter's documented default; no limit → local
                    speed, shown as "under a minute" for small runs).
"""

from __future__ import annotations

import math
from collections import defaultdict


def fidelity(summary: dict, failures: list[dict], degradations: list[dict], limit: int = 10) -> dict:
    kinds = summary.get("kinds") or {}
    failed_by = defaultdict(list)
    for f in failures:
        failed_by[f["kind"]].append(f)
    degraded_by: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for d in degradations:
        degraded_by[d["kind"]][d["id"]].append(d["code"])
    out = {}
    for kind in list(kinds) + [k for k in failed_by if k not in kinds]:
        c = kinds.get(kind, {})
        degraded = len(degraded_by.get(kind, {}))
        written = c.get("created", 0) + c.get("updated", 0)
        out[kind] = {
            "arrive": max(0, written - degraded),
            "degrade": degraded,
            "fail": len(failed_by.get(kind, [])),
            "unchanged": c.get("unchanged", 0),
            "degraded_records": [f"{kind} {rid}: {', '.join(sorted(set(codes)))}"
                                 for rid, codes in sorted(degraded_by.get(kind, {}).items())[:limit]],
            "failed_records": [f"{kind} {f['id']}: {f['reason']}" for f in failed_by.get(kind, [])[:limit]],
        }
    return out


def estimate(summary: dict, *, source_pages: int, target_cls, source_rate: float | None,
             target_rate: float | None) -> dict:
    kinds = summary.get("kinds") or {}
    batch_sizes = getattr(target_cls, "batch_sizes", {}) or {}
    bundles = bool(getattr(target_cls, "bundles_comments", False))
    target_requests = 0
    attachments = 0
    for kind, c in kinds.items():
        n = c.get("created", 0) + c.get("updated", 0)
        if kind == "attachment":
            attachments = n
            target_requests += n
            continue
        if bundles and kind == "comment":
            continue
        batch = max(1, int(batch_sizes.get(kind, 1)))
        target_requests += math.ceil(n / batch)
    source_requests = source_pages + attachments
    minutes = 0.0
    limited = False
    if source_rate:
        minutes += source_requests / source_rate
        limited = True
    if target_rate:
        minutes += target_requests / target_rate
        limited = True
    return {"source_requests": source_requests, "target_requests": target_requests,
            "source_rate": source_rate, "target_rate": target_rate,
            "minutes": round(minutes, 1) if limited else None}


def render_fidelity(fid: dict) -> list[str]:
    lines = [f"{'kind':<22}{'will arrive':>12}{'will degrade':>14}{'will fail':>11}{'unchanged':>11}"]
    for kind, f in fid.items():
        lines.append(f"{kind:<22}{f['arrive']:>12}{f['degrade']:>14}{f['fail']:>11}{f['unchanged']:>11}")
    for kind, f in fid.items():
        for line in f["failed_records"]:
            lines.append(f"  will fail:    {line}")
        extra = f["fail"] - len(f["failed_records"])
        if extra > 0:
            lines.append(f"  will fail:    … {extra} more {kind} records (see `hdmigrate report`)")
    for kind, f in fid.items():
        for line in f["degraded_records"]:
            lines.append(f"  will degrade: {line}")
        extra = f["degrade"] - len(f["degraded_records"])
        if extra > 0:
            lines.append(f"  will degrade: … {extra} more {kind} records (see `hdmigrate report`)")
    return lines


def render_estimate(est: dict) -> str:
    def rate(r):
        return f"{r:g}/min" if r else "no limit"
    text = (f"Estimate: about {est['source_requests']} source requests ({rate(est['source_rate'])}) and "
            f"{est['target_requests']} target requests ({rate(est['target_rate'])})")
    if est["minutes"] is None:
        return text + "; no rate limit applies, so it runs at local speed."
    m = est["minutes"]
    if m < 1:
        return text + "; under a minute at those rate limits."
    if m < 90:
        return text + f"; about {math.ceil(m)} minutes at those rate limits."
    return text + f"; about {m / 60:.1f} hours at those rate limits."
