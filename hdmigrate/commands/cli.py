"""The command line: parse → plan/store → engine → exit code. Thin by design: everything a command
does is a call into the library, so the wizard, batch and scripts share one engine.

Exit codes (all commands): 0 done; 1 some records failed; 2 usage/plan/configuration error;
3 fatal API or authentication error (resumable); 4 interrupted (resumable); 5 verify differences.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
from functools import wraps
from pathlib import Path

import click

from .. import __version__, registry, workdir_lock
from ..errors import ConfigError, HdmError, StateError
from ..plan import load_plan
from ..printable import json_printable, printable
from ..private_files import write_private_text
from ..report import ConsoleReporter, JsonLinesReporter, collect, render_junit, render_text
from .demo import DEMO_TARGETS

EXIT_USAGE = 2


def _sigterm_to_interrupt(signum, frame):
    raise KeyboardInterrupt


def _stop_when_orphaned(parent_pid: int, every: float = 1.0) -> None:
    """A run started by `hdmigrate batch` interrupts itself (exit 4, resumable) when the batch
    process is gone, even after a kill -9 that gave the batch no chance to stop its children."""
    def watch():
        while os.getppid() == parent_pid:
            time.sleep(every)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="orphan-watch").start()


def handle_errors(fn):
    """One-line messages for every expected error, mapped to the documented exit codes; a bug
    prints a short message too (the traceback only with HDMIGRATE_DEBUG=1)."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except HdmError as e:
            click.echo(printable(f"error: {e}"), err=True)  # vendor error texts can carry ESC
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted; run the same command again to resume", err=True)
            sys.exit(4)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except Exception as e:  # noqa: BLE001 - last line of defence: no traceback for users
            if os.environ.get("HDMIGRATE_DEBUG"):
                traceback.print_exc()
            click.echo(printable(f"error: internal error: {e.__class__.__name__}: {e} "
                                 "(set HDMIGRATE_DEBUG=1 for details)"), err=True)
            sys.exit(3)

    return wrapper


def workdir_options(fn):
    """--workdir DIR or --plan PLAN (the work directory is then found as `run` finds it)."""
    fn = click.option("--plan", "plan_path", type=click.Path(dir_okay=False),
                      help="Find the work directory from this plan.")(fn)
    fn = click.option("--workdir", type=click.Path(file_okay=False), help="The migration's work directory.")(fn)
    return fn


def resolve_workdir(workdir: str | None, plan_path: str | None) -> Path:
    if workdir:
        return Path(workdir).resolve()
    if plan_path:
        return load_plan(plan_path).workdir()
    raise ConfigError("give --workdir DIR or --plan PLAN")


def open_store(workdir: Path, *, lock: bool = False):
    """The work directory's store; `lock=True` for a command that writes into it (`verify` stores
    its report and side archive): it then holds the work directory until the store is closed."""
    from ..store import Store

    if not lock:
        return Store(workdir, create=False)

    class LockedStore(Store):
        def close(self) -> None:
            try:
                super().close()
            finally:
                workdir_lock.release(self.workdir)

    store = LockedStore(workdir, create=False)
    try:
        workdir_lock.acquire(workdir)
    except BaseException:
        Store.close(store)
        raise
    return store


class _Commands(click.Group):
    """Commands that live in their own modules load when asked for, so those modules can import
    this one (and a feature missing from a build simply does not appear)."""

    optional = {"wizard": "wizard.cli", "verify": "hdmigrate.commands.verify", "batch": "hdmigrate.commands.batch",
                "rollback": "hdmigrate.commands.rollback"}

    def _load(self, name: str):
        import importlib

        module = self.optional[name]
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name and module.startswith(e.name):
                return None
            raise
        return getattr(mod, name, None)

    def list_commands(self, ctx):
        names = set(super().list_commands(ctx))
        names |= {n for n in self.optional if n not in names and self._load(n) is not None}
        return sorted(names)

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is None and name in self.optional:
            command = self._load(name)
        return command


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hdmigrate")
def cli():
    """hdmigrate: move a helpdesk's whole history (organizations, contacts, agents, groups,
    tickets with every reply and private note, attachments, custom fields, ratings) from one
    platform to another, resumably and without duplicates.

    Start with `hdmigrate demo` (no credentials, no network) or `hdmigrate wizard`.
    """


@cli.command()
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False))
@click.option("--workdir", type=click.Path(file_okay=False), help="Work directory (default: [run] workdir, else .hdmigrate/<plan stem>).")
@click.option("--dry-run", is_flag=True, help="Do everything up to the write; report what would be created, degraded or fail.")
@click.option("--since", help="Only records updated since this RFC 3339 time (wins over [scope] since).")
@click.option("--json", "as_json", is_flag=True, help="Stream JSON events, one per line, on stdout.")
@click.option("--yes", "-y", is_flag=True, help="Never prompt (implied when stdin is not a terminal).")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="Also write failed records as JUnit XML.")
@handle_errors
def run(plan_path, workdir, dry_run, since, as_json, yes, junit_path):
    """Run (or resume) the migration PLAN describes.

    Running the same command again after an interruption resumes it without repeating a write;
    running it again after it finished performs a delta run.

    Example: hdmigrate run acme.toml --dry-run
    """
    from ..engine import Engine

    plan = load_plan(plan_path)
    wd = plan.workdir(workdir)
    interactive = sys.stdin.isatty() and not yes and not as_json
    if interactive and not dry_run and not _confirm_real_run(plan):
        click.echo("nothing done", err=True)
        sys.exit(0)
    reporter = JsonLinesReporter() if as_json else ConsoleReporter()
    signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
    if os.environ.get("HDMIGRATE_BATCH_PID", "").isdigit():
        _stop_when_orphaned(int(os.environ["HDMIGRATE_BATCH_PID"]))
    engine = Engine(plan, wd, reporter)
    try:
        summary = engine.run(dry_run=dry_run, since=since)
        if junit_path:
            write_private_text(junit_path, render_junit(collect(engine.store, summary["run_id"])))
    finally:
        reporter.close()
        engine.store.close()
    if not as_json:
        _print_summary(summary)
        if summary.get("dry_run") and summary.get("run_id") is not None:
            _print_estimate(plan, wd, summary)
    sys.exit(summary["exit_code"])


def _print_estimate(plan, wd, summary: dict) -> None:
    """The wizard's estimate, from the same code, per budget."""
    from .. import estimate
    from ..store import Store
    store = Store(wd, create=False)
    try:
        pages = estimate.pages_extracted(store, summary["run_id"])
    finally:
        store.close()
    est = estimate.estimate(summary, source_pages=pages, source_cls=plan.spec("source").source,
                            target_cls=plan.spec("target").target, rate_limits=plan.run.get("rate_limit"))
    for line in estimate.render(est):
        click.echo(line, err=True)


def _confirm_real_run(plan) -> bool:
    target = plan.target
    where = target.get("url") or target.get("path") or ""
    return click.confirm(f"Write to the {target['adapter']} target {where}?", default=True, err=True)


def _print_summary(summary: dict) -> None:
    kinds = summary.get("kinds") or {}
    head = "dry run (nothing written)" if summary.get("dry_run") else "migration"
    click.echo(f"\n{head} — work directory {summary.get('workdir')}", err=True)
    if kinds:
        cols = ("created", "matched", "updated", "unchanged", "failed", "degraded")
        label = {"created": "would create" if summary.get("dry_run") else "created"}
        click.echo(f"{'kind':<22}" + "".join(f"{label.get(c, c):>13}" for c in cols), err=True)
        for kind, c in kinds.items():
            click.echo(f"{kind:<22}" + "".join(f"{c.get(k, 0):>13}" for k in cols), err=True)
    code = summary.get("exit_code")
    if code == 1:
        click.echo("some records failed: see `hdmigrate report`", err=True)


@cli.command()
@workdir_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@handle_errors
def status(workdir, plan_path, as_json):
    """Where a migration stands: runs, steps, counts per kind and state."""
    store = open_store(resolve_workdir(workdir, plan_path))
    try:
        run = store.last_run()
        doc = {
            "workdir": str(store.workdir),
            "run": run and {k: run[k] for k in ("id", "status", "dry_run", "started_at", "finished_at", "exit_code")},
            "steps": store.steps(run["id"]) if run else [],
            "staged": store.count_records(),
            "id_map": store.id_map_counts(),
        }
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    if not run:
        click.echo("no run yet")
        return
    click.echo(f"run {run['id']} ({'dry run' if run['dry_run'] else 'migration'}): {run['status']}"
               + (f", exit code {run['exit_code']}" if run["exit_code"] is not None else ""))
    for step in doc["steps"]:
        click.echo(f"  {step['step']:<10} {step['status']}")
    click.echo(f"{'kind':<22}{'staged':>9}{'done':>9}{'pending':>9}{'failed':>9}")
    for kind, n in sorted(doc["staged"].items()):
        states = doc["id_map"].get(kind, {})
        click.echo(f"{kind:<22}{n:>9}{states.get('done', 0):>9}{states.get('pending', 0):>9}{states.get('failed', 0):>9}")


@cli.command()
@workdir_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit", "html", "csv"]), default="text",
              show_default=True, help="csv: the source's history per month (continuity), or with --ids the id map.")
@click.option("--ids", is_flag=True, help="With --format csv: old id → new id of every record (the id map).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@click.option("--run", "run_id", type=click.IntRange(min=1), metavar="N",
              help="Show run N (ids: `hdmigrate status`, or the report's list of runs).")
@handle_errors
def report(workdir, plan_path, fmt, ids, output, run_id):
    """The outcome of the migration (the newest run that was not a dry run; a later dry run does
    not hide it): counts, failures (each record named with its reason), degradations, the other
    runs, and all migration runs (first and delta runs) added up; after `verify`, its findings too.
    --run N shows another run, a dry run for instance. `--format csv` gives the history per month
    for the people who own the dashboards, `--format csv --ids` the id map (old id and page → new id
    and page)."""
    if ids and fmt != "csv":
        raise ConfigError("--ids goes with --format csv")
    wd = resolve_workdir(workdir, plan_path)
    store = open_store(wd)
    try:
        doc = collect(store, run_id)
        id_rows = store.id_map_rows() if ids else None
        stored_plan = (store.get_state("plan") or {}).get("data") if ids else None
    finally:
        store.close()
    if fmt == "csv":
        from ..continuity_csv import history_csv, ids_csv, page_finder
        text = (ids_csv(id_rows, page_finder(stored_plan, "source"), page_finder(stored_plan, "target")) if ids
                else history_csv(Path(wd) / "staging.db"))
    elif fmt == "json":
        text = json.dumps(doc, indent=2, ensure_ascii=False)
    elif fmt == "junit":
        text = render_junit(doc)
    elif fmt == "html":
        try:
            from ..html_report import render_html
        except ImportError:
            raise ConfigError("the html format is not available in this version") from None
        text = render_html(doc)
    else:
        text = render_text(doc)
    if output:
        write_private_text(output, text + ("" if text.endswith("\n") else "\n"))  # names customers: 0600
    else:
        click.echo(json_printable(text) if fmt == "json" else printable(text))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@handle_errors
def adapters(as_json):
    """The registered adapters (entry-point group hdmigrate.adapters) and their capabilities."""
    infos = [spec.info() for spec in registry.all_adapters().values()]
    if as_json:
        click.echo(json.dumps(infos, indent=2))
        return
    for info in infos:
        sides = "/".join(s for s in ("source", "target") if info[s])
        click.echo(f"{info['name']:<18} {sides:<14} {info['description']}")
        for side in ("source", "target"):
            caps = info["capabilities"][side]
            if caps:
                click.echo(f"{'':<18}   {side}: {', '.join(caps)}")


@cli.command()
@click.argument("platform")
@click.option("--port", type=int, default=0, show_default=True, help="0 picks a free port.")
@click.option("--data", type=click.Path(file_okay=False, exists=True), help="Seed from this jsonl dump directory.")
@click.option("--rate-limit", type=float, help="Account limit in requests per minute.")
@click.option("--faults", help="Injected faults, e.g. 5xx=0.1,429=0.05,drop=0.02,slow=0.05:2s,job_fail=0.1")
@click.option("--seed", type=int, help="Makes injected faults repeatable.")
@handle_errors
def sandbox(platform, port, data, rate_limit, faults, seed):
    """Start a local emulation of PLATFORM's API on loopback, in the foreground, seeded from a
    jsonl dump (so any dump can be replayed as that platform's account). Ctrl-C stops it."""
    spec = registry.get(platform)
    if not spec.sandbox:
        with_sandbox = [n for n, s in registry.all_adapters().items() if s.sandbox]
        raise ConfigError(f"adapter {platform!r} has no sandbox; sandboxes: {', '.join(with_sandbox) or 'none'}")
    make = registry.load_object(spec.sandbox)
    box = make(data=Path(data) if data else None, port=port, rate_limit=rate_limit, faults=faults, seed=seed)
    box.start()
    click.echo(f"{platform} sandbox listening on {box.url}")
    click.echo("credentials (set these in the environment of `hdmigrate run`):")
    for name, value in box.env.items():
        click.echo(f"  export {name}={value}")
    click.echo("plan section:")
    for key, value in box.plan_section.items():
        click.echo(f"  {key} = {json.dumps(value)}")
    click.echo("Ctrl-C to stop.")
    try:
        signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()


@cli.command()
@click.option("--workdir", type=click.Path(file_okay=False), default="hdmigrate-demo", show_default=True)
@click.option("--tickets", type=int, default=60, show_default=True, help="Size of the generated sample account.")
@click.option("--json", "as_json", is_flag=True, help="Stream JSON events instead of progress bars.")
@click.option("--target", type=click.Choice(DEMO_TARGETS), default="freshdesk",
              show_default=True, help="The target: a local sandbox of that platform, or a jsonl dump.")
@handle_errors
def demo(workdir, tickets, as_json, target):
    """The built-in default: a complete migration that needs no credentials and no network.

    Generates the project's own multilingual sample helpdesk (German, English, CJK, with the
    defects real data has), starts a local Zendesk sandbox seeded with it and a local sandbox of
    the --target platform, runs a dry run, the migration and the verification, and prints where
    to look and how many e-mails the target sandbox counted (none).
    """
    from .demo import run_demo

    code = run_demo(Path(workdir), tickets=tickets, as_json=as_json, target=target)
    sys.exit(code)


def main():
    from hdmigrate import allocator
    allocator.settle()          # before any thread starts: memory stays flat over long runs
    cli(prog_name="hdmigrate")


if __name__ == "__main__":
    main()
