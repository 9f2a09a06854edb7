"""Adapters are found through the entry-point group `hdmigrate.adapters`; built-ins register the
same way (pyproject.toml), so a third-party package adds a platform without touching the engine."""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points

from .adapter import AdapterSpec
from .errors import ConfigError

GROUP = "hdmigrate.adapters"


@cache
def all_adapters() -> dict[str, AdapterSpec]:
    found: dict[str, AdapterSpec] = {}
    for ep in entry_points(group=GROUP):
        spec = ep.load()
        if not isinstance(spec, AdapterSpec):
            raise ConfigError(f"entry point {ep.name!r} of {GROUP} does not name an AdapterSpec")
        found[spec.name] = spec
    return dict(sorted(found.items()))


def get(name: str) -> AdapterSpec:
    adapters = all_adapters()
    if name not in adapters:
        known = ", ".join(adapters) or "none (is hdmigrate installed? pip install -e .)"
        raise ConfigError(f"unknown adapter {name!r}; registered adapters: {known}")
    return adapters[name]


def web_pages(section: dict):
    """The `WebPages` of a plan section's adapter; None where it declares none or is not installed."""
    try:
        return get(section.get("adapter", "")).web_pages
    except ConfigError:
        return None


def load_object(path: str):
    """Import "module:attribute"."""
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)
