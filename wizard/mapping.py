"""Mapping proposals: what the source holds (from the staged canonical records) against what the
target offers (from its `discover()`), as reviewable tables the plan's `[mapping.*]` keeps.

- agents are matched by email, Unicode-normalised (NFKC) and case-folded;
- custom fields are matched by name (key or title, slugged) and, where both sides say, by type;
  unmatched ones are created in the target where it can (CREATE_CUSTOM_FIELDS), else kept in the
  record's `extra` and reported as degraded;
- statuses, priorities, types and channels: the canonical values the tickets use, each proposed
  to the target's option whose label matches; with no match the target adapter's own default
  mapping applies (and nothing is written to the plan for it);
- groups by normalised name.

`discover()` results differ between adapters (lists of names, dicts of code → label, per-entity
dicts, or nothing at all); every reader here tolerates all of them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field

from hdmigrate.adapter import Capability

ENUM_FIELDS = (("status", "statuses"), ("priority", "priorities"), ("type", "types"),
               ("channel", "channels"))


def norm(value) -> str:
    return unicodedata.normalize("NFKC", str(value)).strip().casefold()


def slug(value) -> str:
    s = re.sub(r"[^\w]+", "_", norm(value)).strip("_")
    return s[3:] if s.startswith("cf_") else s


@dataclass
class Proposals:
    enums: dict[str, list[dict]] = field(default_factory=dict)   # field -> [{value, count, target}]
    agents: list[dict] = field(default_factory=list)             # [{id, name, email, target, how}]
    fields: list[dict] = field(default_factory=list)             # [{entity, key, title, type, target, action}]
    groups: list[dict] = field(default_factory=list)             # [{name, target}]

    def to_plan_mapping(self) -> dict:
        """The plan's [mapping.*] tables for these proposals (only entries that say something)."""
        out: dict = {}
        for name, rows in self.enums.items():
            table = {r["value"]: r["target"] for r in rows if r.get("target") not in (None, "")}
            if table:
                out[name] = table
        users = {a["email"]: a["target"] for a in self.agents if a.get("target") and a.get("email")}
        if users:
            out["users"] = users
        fields: dict = {}
        for f in self.fields:
            if f.get("target"):
                fields.setdefault(f["entity"], {})[f["key"]] = f["target"]
        if fields:
            out["fields"] = fields
        groups = {g["name"]: g["target"] for g in self.groups if g.get("target")}
        if groups:
            out["group"] = groups
        return out


# -- reading discover() results ---------------------------------------------------------------
def _names(value) -> list[str]:
    """Names from a discover() entry: a list of strings or dicts, or a dict code -> label."""
    if not value:
        return []
    if isinstance(value, dict):
        return [str(v[0] if isinstance(v, list) and v else v) for v in value.values() if v]
    out = []
    for item in value:
        if isinstance(item, dict):
            item = item.get("email") or item.get("name") or item.get("title") or item.get("key")
        if item:
            out.append(str(item))
    return out


def _options(value) -> list[tuple[str, str]]:
    """(value to put in the plan, label to match) pairs of a discovered enumeration."""
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


def _target_fields(value) -> list[dict]:
    """[{entity or None, name, type or None}] from a discover() "fields" entry."""
    out: list[dict] = []
    if not value:
        return out
    if isinstance(value, dict):
        for entity, items in value.items():
            for item in items or []:
                if isinstance(item, dict):
                    out.append({"entity": item.get("entity", entity), "name": str(item.get("key") or item.get("name")),
                                "title": item.get("title"), "type": item.get("type")})
                else:
                    out.append({"entity": entity, "name": str(item), "title": None, "type": None})
        return out
    for item in value:
        if isinstance(item, dict):
            out.append({"entity": item.get("entity"), "name": str(item.get("key") or item.get("name") or item.get("title")),
                        "title": item.get("title"), "type": item.get("type")})
        elif item:
            out.append({"entity": None, "name": str(item), "title": None, "type": None})
    return out


# -- proposals ----------------------------------------------------------------------------------
def agent_table(source_agents: list[dict], target_agents) -> list[dict]:
    """Source agents matched to the target's by email (NFKC + casefold)."""
    by_norm: dict[str, str] = {}
    for email in _names(target_agents):
        by_norm.setdefault(norm(email), email)
    rows = []
    for agent in source_agents:
        email = agent.get("email")
        target = by_norm.get(norm(email)) if email else None
        how = "none"
        if target is not None:
            how = "exact" if target == email else "normalised"
        rows.append({"id": agent.get("id"), "name": agent.get("name"), "email": email,
                     "target": target, "how": how})
    return rows


def field_table(source_fields: list[dict], target_fields, can_create: bool) -> list[dict]:
    targets = _target_fields(target_fields)
    rows = []
    for f in source_fields:
        entity, key, title, ftype = f.get("entity"), str(f.get("key")), f.get("title"), f.get("type")
        wanted = {slug(key)} | ({slug(title)} if title else set())
        match = None
        for t in targets:
            if t["entity"] not in (None, entity):
                continue
            names = {slug(t["name"])} | ({slug(t["title"])} if t.get("title") else set())
            if not wanted & names:
                continue
            if ftype and t.get("type") and t["type"] != ftype:
                continue
            match = t["name"]
            break
        action = "map" if match else ("create" if can_create else "keep in extra (degraded)")
        rows.append({"entity": entity, "key": key, "title": title, "type": ftype, "target": match,
                     "action": action})
    return rows


def enum_table(values: dict[str, int], options) -> list[dict]:
    opts = _options(options)
    rows = []
    for value, count in sorted(values.items(), key=lambda kv: (-kv[1], kv[0])):
        target = None
        for code, label in opts:
            if norm(label).replace(" ", "_") == norm(value) or norm(code) == norm(value):
                target = code
                break
        rows.append({"value": value, "count": count, "target": target})
    return rows


def group_table(source_groups: list[str], target_groups) -> list[dict]:
    by_norm = {norm(n): n for n in _names(target_groups)}
    return [{"name": g, "target": by_norm.get(norm(g))} for g in source_groups]


def propose(store, source_discovery: dict, target_discovery: dict, target_caps) -> Proposals:
    """Proposals from the staged source records and the target's discovery."""
    conn = store.conn
    p = Proposals()
    for name, plural in ENUM_FIELDS:
        values = {}
        for value, n in conn.execute(
                f"SELECT json_extract(data, '$.{name}') v, count(*) FROM records WHERE kind='ticket' "
                "AND v IS NOT NULL GROUP BY v"):
            values[str(value)] = n
        if values:
            p.enums[name] = enum_table(values, (target_discovery or {}).get(plural))
    agents = [json.loads(d) for (d,) in conn.execute("SELECT data FROM records WHERE kind='agent' ORDER BY id")]
    p.agents = agent_table(agents, (target_discovery or {}).get("agents"))
    fields = [json.loads(d) for (d,) in conn.execute("SELECT data FROM records WHERE kind='custom_field' ORDER BY id")]
    can_create = Capability.CREATE_CUSTOM_FIELDS in (target_caps or ())
    p.fields = field_table(fields, (target_discovery or {}).get("fields"), can_create)
    groups = [json.loads(d).get("name") for (d,) in conn.execute("SELECT data FROM records WHERE kind='group' ORDER BY id")]
    p.groups = group_table([g for g in groups if g], (target_discovery or {}).get("groups"))
    return p


def render(p: Proposals, limit: int = 40) -> list[str]:
    """The proposal tables as text lines (what the person reviews)."""
    lines: list[str] = []
    for name, rows in p.enums.items():
        lines.append(f"{name}:")
        for r in rows:
            lines.append(f"  {r['value']:<16} ({r['count']:>4} tickets) → {r['target'] or '(adapter default)'}")
    if p.agents:
        matched = sum(1 for a in p.agents if a["target"])
        lines.append(f"agents matched by email (NFKC, case-folded): {matched} of {len(p.agents)}")
        for a in p.agents[:limit]:
            mark = {"exact": "=", "normalised": "≈", "none": "+"}[a["how"]]
            lines.append(f"  {mark} {a['email'] or '(no email)':<36} → {a['target'] or 'new agent'}")
        if len(p.agents) > limit:
            lines.append(f"  … {len(p.agents) - limit} more")
    if p.fields:
        lines.append("custom fields (by name and type):")
        for f in p.fields[:limit]:
            lines.append(f"  {f['entity']}.{f['key']:<24} {f['type'] or '':<10} → "
                         f"{f['target'] or ''} [{f['action']}]")
        if len(p.fields) > limit:
            lines.append(f"  … {len(p.fields) - limit} more")
    if p.groups:
        lines.append("groups (by name):")
        for g in p.groups[:limit]:
            lines.append(f"  {g['name']:<30} → {g['target'] or 'new group'}")
    return lines
