"""The values a target accepts for an enumerated field, from its `discover()`: one reading for
the wizard (which offers them) and the engine (which refuses a plan mapping to anything else)."""

from __future__ import annotations

import re

# plan [mapping.<field>] -> the discover() key listing the target's values
ENUM_FIELDS = (("status", "statuses"), ("priority", "priorities"), ("type", "types"),
               ("channel", "channels"))


def options(value) -> list[tuple[str, str]]:
    """(value to put in the plan, label to match) pairs of a discovered enumeration: a dict
    code -> label (or [label, …]), or a list of strings or dicts."""
    if not value:
        return []
    if isinstance(value, dict):
        return [(str(code), str(label[0] if isinstance(label, list) and label else label))
                for code, label in value.items() if label]
    out = []
    for item in value:
        if isinstance(item, dict):
            v = item.get("value") or item.get("name") or item.get("id")
            label = item.get("label") or item.get("name") or v
            if v is not None:
                out.append((str(v), str(label)))
        elif item is not None:
            out.append((str(item), str(item)))
    return out


def _norm(value) -> str:
    return re.sub(r"\s+", " ", str(value)).strip().casefold()


def mapping_problems(mapping: dict, discovery: dict) -> list[str]:
    """Every `[mapping.<field>] canonical = value` whose value the target does not list (by code
    or label), as one line each. Fields the target lists nothing for are not checked here."""
    problems = []
    for field, key in ENUM_FIELDS:
        listed = options((discovery or {}).get(key))
        rows = (mapping or {}).get(field) or {}
        if not listed or not isinstance(rows, dict):
            continue
        accepted = {_norm(code) for code, _ in listed} | {_norm(label) for _, label in listed}
        for canonical, value in rows.items():
            if _norm(value) not in accepted:
                shown = ", ".join(f"{c} ({l})" if c != l else c for c, l in listed[:12])
                problems.append(f"[mapping.{field}] {canonical} = {value!r}: not a {field} the target accepts "
                                f"(one of {shown}{', …' if len(listed) > 12 else ''})")
    return problems
