"""Reading the target back through its own adapter's source side."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

from ..adapter import Source
from ..errors import ConfigError, FatalApiError
from ..plan import Plan
from ..store import Store

from .rules import Finding


@dataclasses.dataclass(slots=True)     # one per record read back
class TargetRecord:
    kind: str
    record: dict | None     # as read back (target ids); None once compared (`translated` stays)
    source_id: str | None = None
    translated: dict | None = None
    actual_sha: str | None = None      # SHA-256 of the bytes read back (attachments)
    fetch_error: str | None = None
    spooled: tuple[int, int] | None = None   # (offset, length) of its bodies in the verify spool

def target_source(plan: Plan, workdir: Path, log: Callable[[str], None] = lambda m: None) -> Source:
    """The source side of the target's adapter, built from the plan's [target] section."""
    spec = plan.spec("target")
    if spec.source is None:
        raise ConfigError(f"the {spec.name} adapter has no source side: verify cannot read the target back")
    ctx = plan.adapter_context("target", workdir, log)
    return spec.source(ctx)

def read_back(source: Source, findings: list[Finding]) -> Iterator[tuple[str, dict]]:
    """Every canonical record the target holds. A payload that cannot be mapped is a finding
    (`unreadable`), not a crash; a fatal API error stops verify (exit 3)."""
    source.check()
    for stream in source.streams():
        for page in source.fetch(stream):
            for raw_id, payload in page.items:
                try:
                    produced = list(source.to_canonical(stream, payload))
                except FatalApiError:
                    raise
                except Exception as e:  # noqa: BLE001 - reported per record
                    findings.append(Finding(stream, str(raw_id), "(record)", "unreadable",
                                            detail=f"cannot read back: {str(e)[:300]}"))
                    continue
                yield from produced

def _scope(store: Store, plan: Plan) -> tuple[set[str] | None, dict[str, set[str]] | None]:
    """The kinds and records the run meant to write: `[scope] kinds` and the sample / tag
    selection, decided the way the engine decides them (staged records outside it are not lost)."""
    from ..engine import Engine
    engine = Engine(plan, store.workdir, store=store)
    try:
        kinds = set(engine._kinds_to_load(None)) if plan.scope.get("kinds") else None
        selection = engine._select()
    except (AttributeError, TypeError):  # an engine that decides otherwise: everything staged counts
        return None, None
    if kinds is not None and "comment" in kinds:
        kinds.add("attachment")
    return kinds, selection
