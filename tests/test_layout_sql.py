"""SQL only in the store (issue 15, item 4): every module under hdmigrate/, adapters/ and wizard/
is parsed (ast) and none but hdmigrate/store/ may talk to a database in SQL or through a library.

The rule, per module outside `hdmigrate/store/`:

* no SQL statement string: a string constant (f-string parts included; docstrings excepted) that
  starts with an upper-case statement keyword (SELECT, INSERT, UPDATE, DELETE, REPLACE, CREATE,
  ALTER, DROP, WITH) and names a clause (FROM, INTO, SET, TABLE, INDEX, VALUES, WHERE), or a PRAGMA;
  upper case on purpose: prose such as "Delete an attachment from …" is not SQL;
* no `.execute(`, `.executemany(` or `.executescript(` call, on anything;
* no SQL by library: sqlite-utils table calls on a subscripted handle (`db["t"].insert(…)`,
  `upsert`, `insert_all`, `upsert_all`, `update`, `delete`, `delete_where`, `create`,
  `create_index`, `add_column`, `transform`, `lookup`), `db.table(…)`, `db.query(…)`, and no
  connection of one's own (`sqlite3.connect`, `sqlite_utils.Database`, any import of sqlite_utils).
  `import sqlite3` stays allowed for its exception classes (a report catching `sqlite3.Error`).

A module that needs something from the staging database asks a named `Store` method (or
`StagingReader` for a read-only look at a work directory). In the manner of sqlite-utils'
`test_docs`: the check fails naming each site, file and line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from hdmigrate.testing.layout import modules

ROOT = Path(__file__).resolve().parents[1]
STATEMENT = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|CREATE|ALTER|DROP|WITH)\s")
CLAUSE = re.compile(r"\b(FROM|INTO|SET|TABLE|INDEX|VALUES|WHERE)\b")
PRAGMA = re.compile(r"^\s*PRAGMA\s+\w+")
EXECUTE = {"execute", "executemany", "executescript"}
TABLE_CALLS = {"insert", "upsert", "insert_all", "upsert_all", "update", "delete", "delete_where", "create",
               "create_index", "add_column", "transform", "lookup"}
# handle.table("t") / handle.query(sql): sqlite-utils; receivers named like a database handle
DB_HANDLE = re.compile(r"(^|_)(db|database)$")


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                out.add(id(body[0].value))
    return out


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def sql_sites(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) of every SQL site in one module's tree (see the module doc for the rule)."""
    docs = _docstrings(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            text = node.value
            if (STATEMENT.match(text) and CLAUSE.search(text)) or PRAGMA.match(text):
                found.append((node.lineno, f"SQL string {text.strip()[:60]!r}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr, receiver = node.func.attr, node.func.value
            if attr in EXECUTE:
                found.append((node.lineno, f".{attr}() call"))
            elif attr in TABLE_CALLS and isinstance(receiver, ast.Subscript) \
                    and isinstance(receiver.slice, ast.Constant) and isinstance(receiver.slice.value, str):
                found.append((node.lineno, f'sqlite-utils table call ["{receiver.slice.value}"].{attr}()'))
            elif attr in ("table", "query") and DB_HANDLE.search(_name(receiver)):
                found.append((node.lineno, f"sqlite-utils {_name(receiver)}.{attr}() call"))
            elif attr == "connect" and _name(receiver) == "sqlite3":
                found.append((node.lineno, "sqlite3.connect() (a connection of its own)"))
            elif attr == "Database" and _name(receiver) == "sqlite_utils":
                found.append((node.lineno, "sqlite_utils.Database() (a connection of its own)"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sqlite_utils":
                    found.append((node.lineno, "import sqlite_utils"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlite_utils" \
                and not node.level:
            found.append((node.lineno, f"from {node.module} import …"))
    return sorted(found)


def test_sql_only_in_the_store():
    found = modules(ROOT)
    assert "hdmigrate.store" in found and "hdmigrate.engine" in found   # the walk sees the packages
    outside = []
    for name, module in sorted(found.items()):
        if name == "hdmigrate.store" or name.startswith("hdmigrate.store."):
            continue
        for line, what in sql_sites(module.tree):
            outside.append(f"{module.path.relative_to(ROOT)}:{line}: {what}")
    assert outside == [], "SQL outside hdmigrate/store (add a named Store method):\n  " + "\n  ".join(outside)


def test_the_store_itself_is_found_by_the_same_rule():
    """The detector sees the store's own SQL: the check above is not passing by seeing nothing."""
    found = modules(ROOT)
    store_sites = [s for name, m in found.items() if name.startswith("hdmigrate.store") for s in sql_sites(m.tree)]
    kinds = {what.split(" ")[0] for _line, what in store_sites}
    assert {"SQL", ".execute()", ".executemany()"} <= kinds, kinds
    assert any("sqlite-utils table call" in what for _line, what in store_sites)   # the migrations


def test_the_rule_on_examples():
    code = '''
"""SELECT x FROM y WHERE z: a docstring is prose."""
import sqlite3
import sqlite_utils

def f(store, conn, db, order):
    """Delete an attachment from the ticket holding it (prose, not SQL)."""
    store.conn.execute("SELECT kind FROM id_map WHERE state='done'")
    conn.executemany("INSERT INTO t(a) VALUES (?)", [])
    rows = [r for r in db.query(f"SELECT data FROM records WHERE kind=? {order}")]
    db["id_map"].upsert({"kind": "ticket"}, pk="kind")
    db.table("runs")
    sqlite3.connect(":memory:")
    message = "Update the ticket from the source"
    label = "SELECT"
    try:
        pass
    except sqlite3.Error:
        pass
'''
    sites = sql_sites(ast.parse(code))
    lines = [line for line, _ in sites]
    assert lines == [4, 8, 8, 9, 9, 10, 10, 11, 12, 13], sites
    whats = " | ".join(what for _, what in sites)
    assert "prose" not in whats and "Update the ticket" not in whats
