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

PACKAGES = ("hdmigrate", "adapters", "wizard")
SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|REPLACE|WITH)\b", re.I)


def modules(root: Path) -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def role(path: Path) -> str:
    stem = path.stem
    for key in ("sandbox", "mapping", "source", "target", "client"):
        if key in stem or key in path.parent.name:
            return key
    return "other"


def imports_of(name: str, tree: ast.AST, known: set[str]) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: -node.level] if not _is_package(name, known) else name.split(".")[: len(name.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import sub` imports the submodule, not (only) the package's own code
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
            targets = subs if subs and len(subs) == len(node.names) else [base] + subs
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _is_package(name: str, known: set[str]) -> bool:
    return any(other.startswith(name + ".") for other in known)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main(root: Path) -> None:
    mods = modules(root)
    known = set(mods)
    lines, funcs, graph, sql_sites = {}, [], {}, defaultdict(int)
    for name, path in mods.items():
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        lines[name] = text.count("\n")
        graph[name] = imports_of(name, tree, known)
        for node in ast.walk(tree):
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
    core = [n for n in known if n.startswith("hdmigrate") and not n.startswith(("hdmigrate.commands", "hdmigrate.testing"))]
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
