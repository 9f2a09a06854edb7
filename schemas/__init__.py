"""JSON Schema files of the canonical kinds and of the plan file: the source of truth."""

import json
from functools import cache
from pathlib import Path

DIR = Path(__file__).parent


@cache
def load(name: str) -> dict:
    """The schema `name` (a kind such as "ticket", or "plan")."""
    return json.loads((DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
