"""One line per CX metric that differs between source and target, saying why (verify's table)."""

from __future__ import annotations

from collections import Counter

from .. import cx
from ..adapter import Capability

# metric -> (canonical field it is measured by, the kind whose findings explain it)
_MIXES = {"channel_mix": ("channel", "ticket"), "status_mix": ("status", "ticket"),
          "csat": ("score", "satisfaction_rating")}
_TIMES = {"first_reply_time": "first_reply_at", "resolution_time": "solved_at"}


def metric_notes(v, source: dict, target: dict) -> dict[str, str]:
    """metric -> why it differs, for every metric that does (`v`: the Verifier)."""
    notes: dict[str, str] = {}
    for metric, field in _TIMES.items():
        if source[metric] != target[metric]:
            notes[metric] = _time_note(v, field)
    if source["tickets"] != target["tickets"] or source["comments"] != target["comments"]:
        notes["tickets"] = "records missing or extra in the target: see the counts above"
    for metric, (field, kind) in _MIXES.items():
        if source[metric] == target[metric]:
            continue
        codes = Counter(f.code for f in v.findings
                        if f.kind == kind and f.field.split(".", 1)[0] == field and f.explained and f.code)
        if metric == "csat" and source.get("csat_percent") == target.get("csat_percent"):
            notes[metric] = ("written on the target's own rating scale (csat_scale_changed); on the common "
                             "0–100 scale they agree")
        elif codes:
            notes[metric] = "the target holds these values otherwise: " + ", ".join(
                f"{n} × {code}" for code, n in codes.most_common())
        else:
            notes[metric] = f"see the {kind} findings on {field}"
    return notes


def _time_note(v, field: str) -> str:
    if Capability.PRESERVE_TIMESTAMPS in v.target_caps:
        return "the target keeps the original times; the tickets whose times differ are named in the findings"
    not_kept = [d for ds in v.degradations.values() for d in ds if d["code"] == "original_times_not_kept"]
    if not_kept:
        return (f"{len(not_kept)} tickets keep no original times (original_times_not_kept: "
                f"{not_kept[0]['detail'] or 'the target refused the fields'}); they are measured by the migration's times")
    if not getattr(v.target_cls, "keeps_original_times", False):
        return (f"the {v.target_name} target cannot backdate and keeps no original times: it is measured by the "
                "migration's own times")
    if field not in v.original_time_fields or "created_at" not in v.original_time_fields:
        off = sorted(set(cx.ORIGINAL_TIME_FIELDS) - set(v.original_time_fields))
        return (f"[mapping] original_times switches off {', '.join(off)}: the target is measured by the "
                "migration's own times there")
    return (f"tickets whose kept {field} differs or is missing are named in the findings "
            f"(custom_fields.{v.original_time_fields[field]})")
