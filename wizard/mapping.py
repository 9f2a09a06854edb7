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

Every row says what will happen: a target value with its label (`4 (Resolved)`), the value the
adapter writes by default when the row maps nothing (`defaults` of the target's discovery), and for
agents the effect (existing agent, created as agent, created as contact with the tickets left
unassigned — the target adapter's `person_effect()` says which). Edits accept only values the
target offers (`choose`), by value or label.

`discover()` results differ between adapters (lists of names, dicts of code → label, per-entity
dicts, or nothing at all); every reader here tolerates all of them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from hdmigrate.adapter import Capability
from hdmigrate.canonical import CHANNELS, PRIORITIES, TICKET_STATUSES, TICKET_TYPES
from hdmigrate.target_values import ENUM_FIELDS, options as discovered_options

CANONICAL_VALUES = {"status": TICKET_STATUSES, "priority": PRIORITIES, "type": TICKET_TYPES,
                    "channel": CHANNELS}
CLEAR = "-"          # the answer that drops a row back to the adapter's default


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
    options: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # field -> [(value, label)]
    defaults: dict[str, dict] = field(default_factory=dict)     # field -> {canonical: written value}
    target_agents: list[str] | None = None                      # None: the target lists none
    target_fields: list[dict] = field(default_factory=list)
    can_create_fields: bool = False

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
def agent_table(source_agents: list[dict], target_agents, assigned: dict | None = None,
                person_effect=None) -> list[dict]:
    """Source agents matched to the target's by email (NFKC + casefold). `assigned`: tickets per
    agent id; `person_effect(kind, record)`: what the target creates for an unmatched agent."""
    by_norm: dict[str, str] = {}
    for email in _names(target_agents):
        by_norm.setdefault(norm(email), email)
    rows = []
    for agent in source_agents:
        email = agent.get("email")
        target = by_norm.get(norm(email)) if email else None
        rows.append({"id": agent.get("id"), "name": agent.get("name"), "email": email,
                     "target": target, "how": _how(email, target),
                     "tickets": (assigned or {}).get(str(agent.get("id")), 0),
                     "if_new": person_effect("agent", agent) if person_effect else "agent",
                     "listed": target_agents is not None})
    return rows


def _how(email, target) -> str:
    if target is None:
        return "none"
    if target == email:
        return "exact"
    return "normalised" if email and norm(target) == norm(email) else "mapped"


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
    opts = discovered_options(options)
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


def options_for(name: str, target_discovery: dict) -> list[tuple[str, str]]:
    """(value, label) pairs the target accepts for an enumeration. A target that describes nothing
    (no discovery at all) is taken to hold canonical values; one that describes its mapping but
    lists no values for this field takes none (only its default applies)."""
    d = target_discovery or {}
    listed = d.get(dict(ENUM_FIELDS)[name])
    if listed:
        return discovered_options(listed)
    if d.get("defaults"):
        return []
    return [(v, v) for v in CANONICAL_VALUES[name]]


def propose(store, source_discovery: dict, target_discovery: dict, target_caps,
            person_effect=None) -> Proposals:
    """Proposals from the staged source records and the target's discovery. `person_effect` is
    the target class's (see hdmigrate.adapter.Target.person_effect)."""
    tgt = target_discovery or {}
    p = Proposals()
    p.defaults = {k: dict(v) for k, v in (tgt.get("defaults") or {}).items() if isinstance(v, dict)}
    for name, plural in ENUM_FIELDS:
        values = {}
        for value, n in store.ticket_value_counts(name):
            values[str(value)] = n
        if values:
            p.options[name] = options_for(name, tgt)
            p.enums[name] = enum_table(values, tgt.get(plural))
    assigned = dict(store.ticket_value_counts("assignee_id"))
    agents = list(store.staged_json("agent", ordered=True))
    p.target_agents = _names(tgt.get("agents")) if "agents" in tgt else None
    p.agents = agent_table(agents, tgt.get("agents"), {str(k): n for k, n in assigned.items()}, person_effect)
    fields = list(store.staged_json("custom_field", ordered=True))
    p.can_create_fields = Capability.CREATE_CUSTOM_FIELDS in (target_caps or ())
    p.target_fields = _target_fields(tgt.get("fields"))
    p.fields = field_table(fields, tgt.get("fields"), p.can_create_fields)
    groups = [g.get("name") for g in store.staged_json("group", ordered=True)]
    p.groups = group_table([g for g in groups if g], tgt.get("groups"))
    return p


# -- what each row will do ----------------------------------------------------------------------
def label_of(p: Proposals, name: str, value) -> str:
    """`4 (Resolved)`: a target value with its label, when the label says more than the value."""
    for code, label in p.options.get(name, []):
        if code == str(value):
            return code if norm(label) == norm(code) else f"{code} ({label})"
    return str(value)


def enum_outcome(p: Proposals, name: str, row: dict) -> str:
    if row.get("target") not in (None, ""):
        return label_of(p, name, row["target"])
    table = p.defaults.get(name)
    if table is None or row["value"] not in table:
        return "(adapter default; the target adapter does not say which value)"
    written = table[row["value"]]
    if written is None:
        return f"not written (adapter default: the target has no such {name})"
    return f"{label_of(p, name, written)} (adapter default)"


def agent_effect(row: dict) -> str:
    if row.get("target"):
        if not row.get("listed", True):
            return "written as this e-mail (the target lists no agents to check it against)"
        return "existing agent, assignments kept"
    n = row.get("tickets", 0)
    unassigned = f"; {n} ticket{'s' if n != 1 else ''} left unassigned" if n else ""
    if row.get("if_new") == "agent":
        return "created as agent"
    if row.get("if_new") == "contact":
        return "created as contact" + unassigned
    return "not created" + unassigned


# -- edits: only what the target accepts ----------------------------------------------------------
def _listing(values: list[str], limit: int = 12) -> str:
    shown = ", ".join(values[:limit])
    return shown + (f", … ({len(values) - limit} more)" if len(values) > limit else "")


def choose_enum(p: Proposals, name: str, answer: str) -> tuple[str | None, str | None]:
    """(the value for the plan, None) — None value: the adapter's default — or (None, why refused).
    An answer may be a value or a label the target offers (`4`, `Resolved`, `4 (Resolved)`)."""
    a = (answer or "").strip()
    if a in ("", CLEAR):
        return None, None
    opts = p.options.get(name, [])
    bare = re.sub(r"\s*\(.*\)$", "", a)
    for code, label in opts:
        if norm(a) in (norm(code), norm(label)) or norm(bare) == norm(code) \
                or norm(a).replace(" ", "_") == norm(label).replace(" ", "_"):
            return code, None
    if not opts:
        return None, (f"the target offers no {name} values to map to; only '{CLEAR}' "
                      "(the adapter's default) is possible")
    return None, (f"{a!r} is not a {name} the target accepts; give one of "
                  f"{_listing([label_of(p, name, c) for c, _ in opts])} or '{CLEAR}' for the adapter's default")


def choose_user(p: Proposals, answer: str) -> tuple[str | None, str | None]:
    a = (answer or "").strip()
    if a in ("", CLEAR):
        return None, None
    if p.target_agents is None:     # nothing to check against: an e-mail address is all we can ask
        if re.fullmatch(r"[^@\s]+@[^@\s]+", a):
            return a, None
        return None, f"{a!r} is not an e-mail address; give the target agent's e-mail or '{CLEAR}'"
    for email in p.target_agents:
        if norm(email) == norm(a):
            return email, None
    if not p.target_agents:
        return None, f"the target has no agents to map to; only '{CLEAR}' (created as the target does) is possible"
    return None, (f"{a!r} is not an agent of the target; give one of {_listing(p.target_agents)} "
                  f"or '{CLEAR}'")


def choose_field(p: Proposals, row: dict, answer: str) -> tuple[str | None, str | None]:
    a = (answer or "").strip()
    if a in ("", CLEAR):
        return None, None
    names = [t["name"] for t in p.target_fields if t.get("entity") in (None, row.get("entity"))]
    for n in names:
        if n == a or slug(n) == slug(a):
            return n, None
    if not names:
        return None, f"the target lists no {row.get('entity')} fields to map to; only '{CLEAR}' is possible"
    return None, f"{a!r} is not a {row.get('entity')} field of the target; give one of {_listing(names)} or '{CLEAR}'"


def set_agent(row: dict, target: str | None) -> None:
    row["target"] = target
    row["how"] = _how(row.get("email"), target)


def set_field(p: Proposals, row: dict, target: str | None) -> None:
    row["target"] = target
    row["action"] = "map" if target else ("create" if p.can_create_fields else "keep in extra (degraded)")


# -- saved edits ----------------------------------------------------------------------------------
def row_keys(p: Proposals) -> list[str]:
    """The key of every row shown (as the wizard's answers name them)."""
    keys = [f"{name}.{r['value']}" for name, rows in p.enums.items() for r in rows]
    keys += [f"users.{a['email']}" for a in p.agents if a.get("email")]
    keys += [f"fields.{f['entity']}.{f['key']}" for f in p.fields]
    keys += [f"group.{g['name']}" for g in p.groups]
    return keys


def apply_saved(p: Proposals, saved: dict, reviewed: list[str] | None) -> None:
    """Put the mapping the person accepted before back into the rows (a restart from `mapping`
    shows the saved edits, not the fresh proposals). Rows that were not shown then keep the
    proposal; `reviewed` None (saved by an older version) treats every row as shown."""
    seen = None if reviewed is None else set(reviewed)

    def was_shown(key):
        return seen is None or key in seen

    for name, rows in p.enums.items():
        for r in rows:
            if was_shown(f"{name}.{r['value']}"):
                r["target"] = (saved.get(name) or {}).get(r["value"])
    for a in p.agents:
        if a.get("email") and was_shown(f"users.{a['email']}"):
            set_agent(a, (saved.get("users") or {}).get(a["email"]))
    for f in p.fields:
        if was_shown(f"fields.{f['entity']}.{f['key']}"):
            set_field(p, f, ((saved.get("fields") or {}).get(f["entity"]) or {}).get(f["key"]))
    for g in p.groups:
        if was_shown(f"group.{g['name']}"):
            g["target"] = (saved.get("group") or {}).get(g["name"])


def render(p: Proposals, limit: int = 40) -> list[str]:
    """The proposal tables as text lines (what the person reviews)."""
    lines: list[str] = []
    for name, rows in p.enums.items():
        lines.append(f"{name}:")
        for r in rows:
            lines.append(f"  {r['value']:<16} ({r['count']:>4} tickets) → {enum_outcome(p, name, r)}")
    if p.agents:
        matched = sum(1 for a in p.agents if a["target"])
        lines.append(f"agents matched by email (NFKC, case-folded): {matched} of {len(p.agents)}")
        for a in p.agents[:limit]:
            mark = {"exact": "=", "normalised": "≈", "mapped": "→", "none": "+"}[a["how"]]
            onto = f"{a['target']}: " if a["target"] else ""
            lines.append(f"  {mark} {a['email'] or '(no email)'} → {onto}{agent_effect(a)}")
        if len(p.agents) > limit:
            lines.append(f"  … {len(p.agents) - limit} more")
        lost = [a for a in p.agents if not a["target"] and a.get("if_new") != "agent"]
        unassigned = sum(a.get("tickets", 0) for a in lost)
        if lost:
            lines.append(f"  {len(lost)} agent(s) not created as agents in the target; {unassigned} ticket(s) "
                         "left unassigned — map them to existing agents to keep assignments")
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
