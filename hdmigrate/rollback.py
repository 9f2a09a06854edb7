"""`hdmigrate rollback`: remove from the target exactly what one run created.

What a run created is read from the id map (rows in state `done` whose `run_id` is that run and
that the tool created, not matched), so nothing the target held before, and nothing another run
wrote, is touched: a person, company or group the run found in the target (by e-mail or name) and
adopted is kept and reported ("kept: N matched records that existed before the migration").
Records are deleted in
reverse load order (ratings, attachments and comments before their tickets, tickets before the
contacts and organizations they reference) through `Target.delete(kind, target_id)`. Rows of
records written inside another's call (a Zendesk import's comments, a comment's attachments) carry
a composite target id and go with their parent; the adapter's `delete` skips what it cannot
address on its own. A kind the target's API cannot delete (its `delete` raises
NotImplementedError, e.g. Freshdesk custom fields) is reported as left in the target, keeps its
`done` row (a later run reuses it, a later rollback reports it again) and is not counted removed.

A target without the DELETE capability is not touched: if its adapter offers
`tag_rolled_back(kind, target_id, tag)` the records are tagged instead; otherwise the command says
so and exits 2. Each deleted record's id-map row is set to state `rolled_back`, so a later run
writes it again cleanly (the engine writes every row that is not `done`).

Exit codes: 0 all removed (matched records kept, records the API cannot delete reported); 1 some
deletions failed (named); 2 nothing to do / cannot (usage,
plan, no DELETE); 3 fatal API error (run it again to continue); 4 interrupted (run it again).
"""

from __future__ import annotations

from pathlib import Path


from .adapter import Capability
from .canonical import LOAD_ORDER
from .errors import ConfigError, FatalApiError, HdmError, StateError
from .plan import Plan, load_plan
from .store import ROLLED_BACK, Store, now  # noqa: F401 - ROLLED_BACK: the state Store.mark_rolled_back writes
from . import workdir_lock


def find_plan(workdir: Path) -> Path | None:
    """The plan file whose work directory is `workdir`: the one the engine recorded in staging
    state `plan` when it still exists, else a plan in or above the work directory (the wizard's
    plan.toml lives in it; `hdmigrate run` plans sit above .hdmigrate/<stem>)."""
    workdir = workdir.resolve()
    candidates: list[Path] = []
    for d in (workdir, workdir.parent, workdir.parent.parent, workdir.parent.parent.parent):
        if d.is_dir():
            candidates += sorted(d.glob("*.toml"))
    store = Store(workdir, create=False)
    try:
        identities = {r["plan_identity"] for r in store.runs()}
        recorded = (store.get_state("plan") or {}).get("path")
    finally:
        store.close()
    if recorded and Path(recorded).is_file():
        candidates.insert(0, Path(recorded))
    for path in candidates:
        try:
            plan = load_plan(path)
        except HdmError:
            continue
        if plan.workdir() == workdir and plan.identity() in identities:
            return path
    return None


def created_by(store: Store, run_id: int) -> list[tuple[str, str, str]]:
    """(kind, source id, target id) a run created (not what it matched), in reverse load order."""
    order = {k: i for i, k in enumerate(LOAD_ORDER)}
    rows = list(store.done_entries(run_id, matched=False))
    rows.sort(key=lambda r: (-order.get(r[0], -1), r[1]))
    return rows


def _is_composite(target_id: str) -> bool:
    return "#" in str(target_id)


def rollback_run(plan: Plan, workdir: Path, run_id: int | None = None, *, say=lambda m: None) -> dict:
    """Delete (or tag) what run `run_id` (default: the last real run) created. Returns counts and
    the run id; raises ConfigError/StateError when it cannot (WorkdirBusy while another process
    holds the work directory), FatalApiError to stop."""
    with workdir_lock.hold(workdir):
        return _rollback_run(plan, workdir, run_id, say=say)


def _rollback_run(plan: Plan, workdir: Path, run_id: int | None, *, say) -> dict:
    store = Store(workdir, create=False)
    target = None
    try:
        run_id = _chosen_run(store, plan, workdir, run_id)
        rows = created_by(store, run_id)
        kept = _matched_by_kind(store, run_id)
        spec = plan.spec("target")
        target = spec.target(plan.adapter_context("target", workdir, say))
        can_delete = Capability.DELETE in target.capabilities
        tagger = getattr(target, "tag_rolled_back", None)
        if not can_delete and tagger is None:
            raise ConfigError(f"the {spec.name} target cannot delete records (no DELETE capability) "
                              f"and offers no tagging; the {len(rows)} records run {run_id} created are "
                              + (f"stamped {plan.options['tag_migrated']!r}" if plan.options.get("tag_migrated")
                                 else "listed by `hdmigrate report`") + "; remove them by hand")
        remove = target.delete if can_delete else (lambda kind, tid: tagger(kind, tid, "hdmigrate-rolled-back"))
        done = _remove_rows(store, rows, remove, spec.name)
        try:
            target.finish()
        except NotImplementedError:
            pass
        done.update(kept_matched=kept, tagged=not can_delete)
        store.set_state(f"rollback:{run_id}", {"time": now(), "deleted": done["deleted"], "failed": done["failed"],
                                               "with_parent": done["with_parent"], "tagged": not can_delete,
                                               "kept_matched": kept, "left": done["left"]})
        _tell(done, say)
        return {"run_id": run_id, "deleted": done["deleted"], "failed": done["failed"],
                "with_parent": done["with_parent"], "total": len(rows), "tagged": not can_delete,
                "failures": done["failures"], "kept_matched": sum(kept.values()), "left": done["left"]}
    finally:
        if target is not None:
            try:
                target.close()
            except Exception:  # noqa: BLE001
                pass
        store.close()


def _chosen_run(store: Store, plan: Plan, workdir: Path, run_id: int | None) -> int:
    """The run to roll back (default: the last real run that wrote something), checked."""
    if run_id is None:
        runs = [r for r in store.runs() if not r["dry_run"]]
        runs = [r for r in runs if any(True for _ in store.done_entries(r["id"], matched=False))]
        if not runs:
            raise StateError(f"{workdir}: no run has written anything to roll back")
        run_id = runs[-1]["id"]
    run = store.run(run_id)
    if run is None:
        raise ConfigError(f"{workdir}: there is no run {run_id}")
    if run["dry_run"]:
        raise ConfigError(f"run {run_id} was a dry run: it wrote nothing")
    if run["plan_identity"] != plan.identity():
        raise ConfigError(f"run {run_id} wrote to another target than this plan's")
    return run_id


def _remove_rows(store: Store, rows, remove, target_name: str) -> dict:
    """Delete (or tag) each created record, marking its id-map row rolled back as it goes."""
    deleted = failed = skipped = 0
    failures: list[str] = []
    left: list[str] = []          # created, but the target's API cannot delete that kind
    for kind, sid, tid in rows:
        if _is_composite(tid):
            skipped += 1          # written inside its parent's call; goes with the parent
            _mark(store, kind, sid)
            continue
        try:
            remove(kind, tid)
        except FatalApiError:
            raise
        except NotImplementedError as e:
            left.append(f"{kind} {sid} (target {tid}): {str(e) or f'the {target_name} target cannot delete {kind} records'}")
            continue
        except HdmError as e:
            failed += 1
            failures.append(f"{kind} {sid} (target {tid}): {e}")
            continue
        _mark(store, kind, sid)
        deleted += 1
    return {"deleted": deleted, "failed": failed, "with_parent": skipped, "failures": failures, "left": left}


def _tell(done: dict, say) -> None:
    kept = done["kept_matched"]
    n_kept = sum(kept.values())
    for line in done["failures"]:
        say(f"  not removed: {line}")
    for line in done["left"]:
        say(f"  left in the target (remove it by hand): {line}")
    if n_kept:
        say(f"  kept: {n_kept} matched records that existed before the migration ("
            + ", ".join(f"{n} {k}" for k, n in sorted(kept.items())) + ")")


def _matched_by_kind(store: Store, run_id: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for kind, _sid, _tid in store.done_entries(run_id, matched=True):
        out[kind] = out.get(kind, 0) + 1
    return out


def _mark(store: Store, kind: str, sid: str) -> None:
    store.mark_rolled_back(kind, sid)
