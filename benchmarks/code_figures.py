"""Code-shape figures for the layout issue: lines per adapter split by role, largest modules and
functions, import cycles between modules, SQL sites outside the store.

    python benchmarks/code_figures.py [ROOT]      # ROOT defaults to the checkout holding this file
"""

from __future__ import annotations

import ast
import re
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hdmigrate.testing.layout import cycles, modules  # noqa: E402

# A statement, not a word: "DELETE" alone is an HTTP method, "Update a conversation" a docstring.
SQL = re.compile(r"^\s*(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
                 r"CREATE\s+(TABLE|INDEX|UNIQUE|VIEW|TRIGGER)|ALTER\s+TABLE|DROP\s+(TABLE|INDEX)|REPLACE\s+INTO|"
                 r"WITH\s+\w+\s+AS)\b", re.I | re.S)


def role(path: Path) -> str:
    stem = path.stem
    for key in ("sandbox", "mapping", "to_canonical", "to_vendor", "source", "target", "client"):
        if key in stem or key in path.parent.name:
            return "mapping" if key.startswith("to_") else key
    return "other"


def main(root: Path) -> None:
    found = modules(root)
    known = set(found)
    mods = {name: m.path for name, m in found.items()}
    lines = {name: m.lines for name, m in found.items()}
    graph = {name: {t for t in m.imports if t in known} for name, m in found.items()}
    funcs, sql_sites = [], defaultdict(int)
    for name, m in found.items():
        for node in ast.walk(m.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                funcs.append((node.end_lineno - node.lineno + 1, f"{name}:{node.name}"))
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value) \
                    and re.search(r"\b(FROM|INTO|SET|TABLE|VALUES|WHERE)\b", node.value, re.I):
                sql_sites[name] += 1
            if isinstance(node, ast.Attribute) and node.attr in ("execute", "executemany", "executescript"):
                sql_sites[name] += 1
    print("## lines per adapter by role")
    per = defaultdict(lambda: defaultdict(int))
    for name, path in mods.items():
        if name.startswith("adapters.") and name.count(".") >= 1:
            per[name.split(".")[1]][role(path)] += lines[name]
    roles = ("client", "source", "mapping", "target", "sandbox", "other")
    print("| adapter | " + " | ".join(roles) + " | total | without sandbox |")
    for adapter, by in sorted(per.items()):
        total = sum(by.values())
        print(f"| {adapter} | " + " | ".join(str(by.get(r, 0)) for r in roles) + f" | {total} | {total - by.get('sandbox', 0)} |")
    print("\n## largest modules")
    for name, n in sorted(lines.items(), key=lambda kv: -kv[1])[:12]:
        print(f"{n:6d}  {name}")
    print(f"modules over 600 lines: {sum(1 for n in lines.values() if n > 600)}")
    print("\n## largest functions")
    for n, name in sorted(funcs, reverse=True)[:12]:
        print(f"{n:6d}  {name}")
    print(f"functions over 60 lines: {sum(1 for n, _ in funcs if n > 60)}")
    print("\n## import cycles (strongly connected module groups)")
    found = cycles(graph)
    for comp in found:
        print("  " + " ↔ ".join(comp))
    print(f"cycles: {len(found)}")
    core = [n for n in known if n.startswith("hdmigrate") and not n.startswith(("hdmigrate.commands", "hdmigrate.testing", "hdmigrate.__main__"))]
    bad = sorted(f"{n} → {t}" for n in core for t in graph[n]
                 if t.startswith(("adapters", "wizard", "hdmigrate.commands", "hdmigrate.testing")))
    print("\n## core imports of adapters / wizard / commands / testing")
    for line in bad:
        print("  " + line)
    print(f"count: {len(bad)}")
    print("\n## SQL sites (SQL strings and execute calls) outside the store")
    outside = {n: c for n, c in sql_sites.items() if not n.startswith("hdmigrate.store")}
    for name, c in sorted(outside.items()):
        print(f"{c:4d}  {name}")
    print(f"modules: {len(outside)}, sites: {sum(outside.values())}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
