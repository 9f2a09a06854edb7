"""The layout shows the architecture, and this test keeps it so (issue 15): the library core
never imports click, the wizard, the commands, the test machinery or any adapter; adapters never
import the faces; no import cycles. Lazy imports inside functions count: they are still
dependencies."""

from __future__ import annotations

from pathlib import Path

import pytest

from hdmigrate.testing.layout import cycles, modules

REPO = Path(__file__).resolve().parents[1]
MODULES = modules(REPO)
FACES = ("hdmigrate.commands", "wizard")
CORE = sorted(n for n in MODULES if n.split(".")[0] == "hdmigrate"
              and not n.startswith(("hdmigrate.commands", "hdmigrate.testing", "hdmigrate.__main__")))


def _imports(name: str, *prefixes: str) -> list[str]:
    return sorted(t for t in MODULES[name].imports if any(t == p or t.startswith(p + ".") for p in prefixes))


@pytest.mark.parametrize("name", CORE)
def test_the_core_imports_no_face_no_adapter_no_test_machinery(name):
    found = _imports(name, "click", "rich.prompt", "adapters", "hdmigrate.testing", *FACES)
    assert not found, f"{name} imports {found}: the core is a library the faces and adapters use"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("adapters")))
def test_adapters_import_no_face(name):
    found = _imports(name, "click", *FACES)
    assert not found, f"{name} imports {found}"
    if not name.split(".")[-1].startswith("sandbox") and ".sandbox" not in name:
        machinery = _imports(name, "hdmigrate.testing")
        assert not machinery, f"{name} imports test machinery {machinery} (only sandboxes may)"


def test_click_lives_only_in_the_faces():
    users = sorted(n for n, m in MODULES.items() if "click" in m.imports)
    assert users and all(n.startswith(FACES) for n in users), users


def test_no_import_cycles():
    graph = {n: {t for t in m.imports if t in MODULES} for n, m in MODULES.items()}
    assert cycles(graph) == []


def test_the_rule_sees_a_violation():
    # the rule is not vacuous: the commands do import click, and the core imports the store
    assert "click" in MODULES["hdmigrate.commands.cli"].imports
    assert "hdmigrate.store" in MODULES["hdmigrate.rollback"].imports
