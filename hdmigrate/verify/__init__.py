"""`hdmigrate verify`: read the target back and compare it with staging, record by record.

The target is read through the *source* side of the target's own adapter, built from the plan's
[target] section (architecture.md, "Reading back"), so both sides are compared in canonical form.
Target ids are mapped back to source ids through the id map (reverse lookup); records the id map
cannot place directly (a target that returns no id for a comment written inside its ticket) are
paired by position within their parent. Then, per record:

- missing      written according to the id map, absent from the target;
- duplicate    two target records that are the same source record;
- unrecorded   in the target, recognisably ours (same id / our stamp), but the id map does not
               say it was written;
- differs      a field differs: timestamps to the second, authors, public/private, tags, custom
               fields, channel, attachment SHA-256 (of the bytes read back), bodies (where a
               target rewrites HTML, the normalised comparison decides and the difference is kept);
- per ticket   number of comments, public/private split, attachment hashes.

A difference is *explained* when a degradation recorded for that record covers the field, when the
target adapter does not declare the capability (e.g. no PRESERVE_TIMESTAMPS), or when the plan's
mapping changed the value on purpose. Anything else is unexplained and makes `verify` exit 5.
Private → public is never explained by a capability, only by a recorded `private_first_message`.

CX metrics (first reply time, resolution time, CSAT distribution, channel mix, status mix) are
computed over the migrated records on both sides and shown side by side.

The result is stored in staging (`state.verify_report`), so `hdmigrate report` shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError
from ..plan import Plan
from ..store import Store

from .render import headline, render_junit, render_text
from .rules import CODE_FIELDS, EXIT_DIFFERENCES, EXIT_NOT_MIGRATED, Finding
from .verifier import Verifier

__all__ = ["verify", "stored_plan", "Verifier", "Finding", "render_text", "render_junit", "headline",
           "CODE_FIELDS", "EXIT_DIFFERENCES", "EXIT_NOT_MIGRATED"]


def stored_plan(store: Store) -> Plan:
    """The plan the last run used (the engine keeps it in staging state `plan`)."""
    from ..plan import plan_from_dict
    saved = store.get_state("plan")
    if not saved:
        raise ConfigError(f"{store.workdir}: no plan recorded in staging (run `hdmigrate run PLAN` "
                          "first, or give --plan PLAN)")
    data = dict(saved["data"])
    if isinstance(data.get("run"), dict):
        data["run"] = {k: v for k, v in data["run"].items() if k != "include"}  # already merged
    return plan_from_dict(data, Path(saved.get("base_dir") or store.workdir),
                          Path(saved["path"]) if saved.get("path") else None)

def verify(store: Store, plan: Plan | None = None, *, log: Callable[[str], None] = lambda m: None,
           side_archive: bool = True, check_bytes: bool = True) -> dict:
    """Read the target back, compare, compute metrics, write the side archive, store the report."""
    plan = plan or stored_plan(store)
    run = store.last_run(dry_run=False)
    if run is None:
        raise ConfigError(f"{store.workdir}: no migration run yet; nothing to verify")
    verifier = Verifier(store, plan, store.workdir, log, check_bytes=check_bytes)
    report = verifier.run()
    report["run_id"] = run["id"]
    report["run_status"] = run["status"]
    if run["status"] != "completed":
        report["warning"] = f"the last run is {run['status']}: resume it before a cutover"
    if side_archive:
        from ..side_archive import write_side_archive
        # every finding, not the report's first MAX_STORED_FINDINGS
        report["side_archive"] = write_side_archive(
            store, plan, report, findings=((f.kind, f.id, f.code) for f in verifier.findings))
    store.set_state("verify_report", report)
    return report
