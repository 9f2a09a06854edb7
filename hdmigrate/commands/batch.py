"""`hdmigrate batch PLAN... [--parallel N | --executor dask --scheduler ADDRESS] [--json]`: the
command over hdmigrate/batch.py (the batch) and hdmigrate/executors.py (where its plans run)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..batch import run_batch
from ..errors import ConfigError
from ..executors import EXECUTORS, make_executor
from .cli import handle_errors


@click.command()
@click.argument("plans", metavar="PLAN...", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--parallel", "-p", type=click.IntRange(1, 64), default=1, show_default=True,
              help="How many plans run at the same time (each in its own process; local executor).")
@click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True,
              envvar="HDMIGRATE_EXECUTOR",
              help="Where the plans run: `local` (a process pool on this machine) or `dask` (one task "
                   "per plan on a Dask cluster; pip install 'hdmigrate[dask]'; docs/batch.md). "
                   "Also from $HDMIGRATE_EXECUTOR.")
@click.option("--scheduler", metavar="ADDRESS", envvar="HDMIGRATE_SCHEDULER",
              help="The Dask scheduler, e.g. tls://dask.internal:8786 (also from $HDMIGRATE_SCHEDULER). "
                   "Workers read the plans' *_env secrets from their own environment.")
@click.option("--allow-insecure-scheduler", is_flag=True,
              help="Accept a plain tcp:// scheduler on another machine (refused by default: use tls://).")
@click.option("--retries", type=click.IntRange(0, 20), default=2, show_default=True,
              help="Dask executor: runs again a plan that exited 3 or 4 (resumable), at most this often.")
@click.option("--retry-delay", type=click.FloatRange(0, 3600), default=30.0, show_default=True,
              help="Dask executor: seconds before such a retry.")
@click.option("--json", "as_json", is_flag=True,
              help="Stream JSON events on stdout (each plan's, tagged with `plan`), last a `summary`.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Also write the summary table as CSV here.")
@click.option("--state", "state_dir", type=click.Path(file_okay=False),
              help="Batch state, logs and reports (default: .hdmigrate/batch-<hash of the plan paths>). "
                   "Running the same batch again skips plans that finished and resumes the rest.")
@click.option("--workdirs", "workdirs_root", type=click.Path(file_okay=False),
              help="Put each plan's work directory under DIR/<plan name> (default: as `run` finds it). "
                   "With --executor dask: a directory every worker shares.")
@click.option("--restart", is_flag=True, help="Forget the batch state: run every plan again (a delta run for finished ones).")
@click.option("--dry-run", is_flag=True, help="Dry-run every plan (nothing written).")
@click.option("--since", help="Passed to every run: only records updated since this RFC 3339 time.")
@click.option("--yes", "-y", is_flag=True, help="Accepted for symmetry with `run`; batch never prompts.")
@click.option("--no-html", is_flag=True, help="Do not write an HTML report per plan.")
@handle_errors
def batch(plans, parallel, executor, scheduler, allow_insecure_scheduler, retries, retry_delay, as_json, csv_path,
          state_dir, workdirs_root, restart, dry_run, since, yes, no_html):
    """Run many migrations (one work directory each); one plan's failure never stops the others.

    Prints a summary per plan (records per kind, failures, degradations, duration, and with
    --executor dask the worker) and writes it as JSON and CSV in the state directory. Two plans
    sharing an account (same adapter and URL) never run at once. Exit code: 0 when every plan
    exited 0, else the highest code among the plans.

    \b
    Examples:
      hdmigrate batch clients/*.toml --parallel 4 --csv summary.csv
      hdmigrate batch /shared/clients/*.toml --executor dask --scheduler tls://dask.internal:8786
    """
    if since is not None:   # refused once, before any plan runs (each run would refuse it too)
        from ..plan import parse_since
        try:
            since = parse_since(since, "--since")
        except ConfigError as e:
            raise click.UsageError(str(e)) from None
    paths = [Path(p).expanduser().resolve() for p in plans]
    dupes = {p for p in paths if paths.count(p) > 1}
    if dupes:
        raise click.UsageError(f"plan given more than once: {', '.join(sorted(map(str, dupes)))}")
    if executor == "local" and (scheduler and "HDMIGRATE_SCHEDULER" not in _from_env()):
        raise click.UsageError("--scheduler is for --executor dask")
    runner = make_executor(executor, parallel=parallel, scheduler=scheduler if executor == "dask" else None,
                           allow_insecure_scheduler=allow_insecure_scheduler, retries=retries,
                           retry_delay=retry_delay)
    code = run_batch(paths, runner, state_dir=Path(state_dir).expanduser().resolve() if state_dir else None,
                     workdirs_root=Path(workdirs_root).expanduser().resolve() if workdirs_root else None,
                     as_json=as_json, csv_path=Path(csv_path) if csv_path else None, restart=restart,
                     dry_run=dry_run, since=since, html=not no_html)
    sys.exit(code)


def _from_env() -> set[str]:
    """Which options came from the environment (a scheduler set there for other batches is no
    reason to refuse a local one)."""
    ctx = click.get_current_context()
    return {"HDMIGRATE_SCHEDULER"} if ctx.get_parameter_source("scheduler") == click.core.ParameterSource.ENVIRONMENT else set()
