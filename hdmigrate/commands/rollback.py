"""`hdmigrate rollback`: the click face of hdmigrate.rollback."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import workdir_lock
from ..errors import ConfigError
from ..plan import load_plan
from ..printable import printable
from ..rollback import find_plan, rollback_run
from ..store import Store
from .cli import handle_errors


@click.command()
@click.option("--workdir", type=click.Path(file_okay=False), help="The migration's work directory.")
@click.option("--plan", "plan_path", type=click.Path(dir_okay=False),
              help="The plan of that migration (found in or above the work directory when omitted).")
@click.option("--run", "run_id", type=int, help="The run to undo (default: the last run that wrote).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (implied when stdin is not a terminal).")
def rollback(workdir, plan_path, run_id, yes):
    """Remove from the target exactly what one run created (from the id map), newest kinds first.

    Where the target's API cannot delete, the records are tagged if the adapter can, else the
    command says so and changes nothing.

    Example: hdmigrate rollback --workdir hdmigrate-wizard --run 3
    """
    handle_errors(_rollback)(workdir, plan_path, run_id, yes)


def _rollback(workdir, plan_path, run_id, yes):
    if plan_path:
        plan = load_plan(plan_path)
        wd = Path(workdir).resolve() if workdir else plan.workdir()
    elif workdir:
        wd = Path(workdir).resolve()
        found = find_plan(wd)
        if found is None:
            raise ConfigError(f"cannot find the plan of {wd}; give --plan PLAN")
        plan = load_plan(found)
    else:
        raise ConfigError("give --workdir DIR or --plan PLAN")
    with workdir_lock.hold(wd):   # before the question: a busy work directory stops at once
        _rollback_locked(plan, wd, run_id, yes)


def _rollback_locked(plan, wd, run_id, yes):
    store = Store(wd, create=False)
    try:
        if run_id is None:
            runs = [r for r in store.runs()
                    if not r["dry_run"] and any(True for _ in store.done_entries(r["id"], matched=False))]
            run_id = runs[-1]["id"] if runs else None
        n = len(list(store.done_entries(run_id, matched=False))) if run_id is not None else 0
    finally:
        store.close()
    if run_id is None or n == 0:
        click.echo(f"nothing to roll back in {wd}" + (f" for run {run_id}" if run_id else ""), err=True)
        sys.exit(2)
    where = plan.target.get("url") or plan.target.get("path") or ""
    interactive = sys.stdin.isatty() and not yes
    if interactive and not click.confirm(
            f"Remove the {n} records run {run_id} created from the {plan.target['adapter']} target {where}?",
            default=False, err=True):
        click.echo("nothing done", err=True)
        sys.exit(0)
    result = rollback_run(plan, wd, run_id, say=lambda m: click.echo(printable(m), err=True))
    verb = "tagged" if result["tagged"] else "removed"
    click.echo(f"run {run_id}: {result['deleted']} records {verb}, {result['with_parent']} went with their "
               f"parent, {result['failed']} failed, {len(result['left'])} left in the target, "
               f"{result['kept_matched']} matched records kept", err=True)
    sys.exit(1 if result["failed"] else 0)
