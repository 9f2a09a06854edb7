"""The dry run's fidelity report (the estimate of requests and duration: hdmigrate/estimate.py).

Fidelity, per kind, from the dry run's summary and the store: records that will arrive as they
are, records that will arrive degraded (each named with its degradation codes), records that will
fail (each named with its reason).
"""

from __future__ import annotations

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
