"""`hdmigrate demo`: a complete migration with no credentials and no network.

It generates the project's own sample helpdesk (multilingual, with real-world text defects,
attachments and inline images), writes a plan, runs the dry run, the migration and the check,
then prints where to look. Running it again resumes or re-runs without duplicating anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import tomli_w

from .engine import Engine
from .plan import load_plan
from .report import ConsoleReporter, JsonLinesReporter, collect, render_text


def prepare(workdir: Path, tickets: int) -> Path:
    """Generate the sample dump (once) and write the demo plan; returns the plan's path."""
    from .sample import write_dump

    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "source-dump"
    if not (source / "manifest.json").exists():
        write_dump(source, tickets=tickets)
    plan_path = workdir / "demo-plan.toml"
    plan = {
        "source": {"adapter": "jsonl", "path": "source-dump"},
        "target": {"adapter": "jsonl", "path": "target-dump"},
        "options": {"tag_migrated": "hdmigrate-demo"},
        "run": {"workdir": "state"},
    }
    plan_path.write_text("# Written by `hdmigrate demo`; run it again with: hdmigrate run demo-plan.toml\n"
                         + tomli_w.dumps(plan), encoding="utf-8")
    return plan_path


def run_demo(workdir: Path, *, tickets: int = 60, as_json: bool = False) -> int:
    workdir = workdir.resolve()
    say = (lambda m: click.echo(m, err=True))
    say(f"hdmigrate demo in {workdir}")
    plan_path = prepare(workdir, tickets)
    plan = load_plan(plan_path)
    state = plan.workdir()
    for dry_run in (True, False):
        say("\n== dry run: nothing is written ==" if dry_run else "\n== migration ==")
        reporter = JsonLinesReporter() if as_json else ConsoleReporter()
        engine = Engine(plan, state, reporter)
        try:
            summary = engine.run(dry_run=dry_run)
        finally:
            reporter.close()
            engine.store.close()
        if not as_json:
            _table(summary)
        if summary["exit_code"] not in (0, 1):
            return summary["exit_code"]
    from .store import Store

    store = Store(state)
    try:
        doc = collect(store)
        (workdir / "report.txt").write_text(render_text(doc) + "\n", encoding="utf-8")
        (workdir / "report.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        checked = store.get_state("internal_verify") or {}
    finally:
        store.close()
    missing = sum(v.get("missing", 0) for v in checked.values())
    say("\n== verification (staging against the id map) ==")
    for kind, v in checked.items():
        say(f"  {kind:<20} staged {v['staged']:>6}  written {v['done']:>6}  failed {v['failed']:>4}  missing {v['missing']:>3}")
    say(f"\n{'Nothing missing.' if not missing else f'{missing} records missing!'}")
    say("Where to look:")
    say(f"  plan              {plan_path}")
    say(f"  source dump       {workdir / 'source-dump'}")
    say(f"  migrated dump     {workdir / 'target-dump'}")
    say(f"  staging database  {state / 'staging.db'}")
    say(f"  report            {workdir / 'report.txt'}  (and report.json; `hdmigrate report --workdir {state}`)")
    say(f"Repeat it in CI:   hdmigrate run {plan_path} --yes --json")
    return summary["exit_code"] if not missing else 1


def _table(summary: dict) -> None:
    kinds = summary.get("kinds") or {}
    verb = "would create" if summary.get("dry_run") else "created"
    click.echo(f"{'kind':<22}{verb:>13}{'unchanged':>11}{'failed':>8}{'degraded':>10}", err=True)
    for kind, c in kinds.items():
        click.echo(f"{kind:<22}{c['created']:>13}{c['unchanged']:>11}{c['failed']:>8}{c['degraded']:>10}", err=True)
