"""Degradation codes: one documented list, used as named constants, nothing recorded outside it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from hdmigrate import degradations as codes
from hdmigrate.degradations import Degradation

REPO = Path(__file__).resolve().parents[1]


def test_the_docs_table_lists_exactly_the_constants():
    table = (REPO / "docs" / "degradations.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", table, re.M))
    assert documented == set(codes.DOCUMENTED)


def test_every_contract_code_is_a_constant(shared_dir):
    model = (shared_dir / "design" / "canonical-model.md").read_text(encoding="utf-8")
    section = model.split("## Degradations", 1)[1].split("\n## ", 1)[0]
    contract = set(re.findall(r"`([a-z]+(?:_[a-z]+)+)`", section))
    assert contract and contract <= set(codes.DOCUMENTED), contract - set(codes.DOCUMENTED)


def test_an_undocumented_code_is_refused_when_recorded():
    with pytest.raises(ValueError, match="undocumented degradation code 'timestamp_lost'"):
        Degradation("ticket", "t1", "created_at", "timestamp_lost")
    assert Degradation("ticket", "t1", "created_at", codes.TIMESTAMP_NOT_PRESERVED).code == "timestamp_not_preserved"


def _literal_codes(tree: ast.AST):
    """String literals passed as a Degradation's code (4th argument or code=)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Degradation":
            arg = node.args[3] if len(node.args) > 3 else next((k.value for k in node.keywords if k.arg == "code"), None)
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                yield node.lineno, arg.value


def test_code_writes_codes_as_constants_not_strings():
    found = []
    for package in ("hdmigrate", "adapters", "wizard"):
        for path in sorted((REPO / package).rglob("*.py")):
            for line, code in _literal_codes(ast.parse(path.read_text(encoding="utf-8"))):
                found.append(f"{path.relative_to(REPO)}:{line}: {code!r}")
    assert not found, "use hdmigrate.degradations constants:\n" + "\n".join(found)
