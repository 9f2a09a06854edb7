"""`hdmigrate verify`: the command over `hdmigrate.verify` (registered by cli.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .cli import handle_errors, open_store, resolve_workdir, workdir_options
from ..errors import ConfigError
from ..printable import json_printable, printable
from ..private_files import write_private_text


@click.command()
@workdir_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False),
              help="Also write the findings as JUnit XML (one failing case per record with unexplained differences).")
@click.option("--no-side-archive", is_flag=True, help="Do not (re)write <workdir>/side-archive.")
@click.option("--no-bytes", is_flag=True, help="Trust the target's declared SHA-256 instead of downloading attachments.")
@handle_errors
def verify(workdir, plan_path, as_json, junit_path, no_side_archive, no_bytes):
    """Read the target back and compare it with staging, record by record; CX metrics side by side.

    Exit code 0 when every difference is explained by a recorded degradation (or a capability the
    target does not declare) and every record meant for the target is in it; 1 when nothing is
    unexplained but records the run's report names failed or were rolled back ("25 tickets NOT
    migrated"); 5 on any unexplained difference; 2 on a configuration error.

    Example: hdmigrate verify --workdir work/acme --junit verify.xml
    """
    from .. import verify as verify_lib
    from ..plan import load_plan

    wd = resolve_workdir(workdir, plan_path)
    plan = load_plan(plan_path) if plan_path else None
    if not (wd / "staging.db").exists():
        raise ConfigError(f"no migration in {wd} (no staging.db); run `hdmigrate run PLAN` first")
    store = open_store(wd, lock=True)   # it writes its report and side archive there
    try:
        report = verify_lib.verify(store, plan, log=lambda m: click.echo(printable(m), err=True),
                                   side_archive=not no_side_archive, check_bytes=not no_bytes)
    finally:
        store.close()
    if junit_path:
        write_private_text(junit_path, verify_lib.render_junit(report))
    if as_json:
        click.echo(json_printable(json.dumps(report, indent=2, ensure_ascii=False, default=str)))
    else:
        click.echo(printable(verify_lib.render_text(report)))  # target/source texts: no raw ESC
    sys.exit(report["exit_code"])
