"""`hdmigrate demo`: a complete migration with no credentials and no network.

It generates the project's own sample helpdesk (multilingual, with real-world text defects,
attachments and inline images), starts two local sandboxes on loopback — a Zendesk account seeded
with that sample as the SOURCE and an empty account of the chosen TARGET (`--target`: Freshdesk by
default, or Help Scout; `jsonl` writes a dump instead) — and runs the
wizard's own flow non-interactively (`wizard.flow.Wizard` with scripted answers): connection
checks, discovery, mapping proposals, dry run with the fidelity report, the migration and the
verification. Then it prints where to look, and how many e-mails the target sandbox counted
(what a write without the platform's import flag would have sent; a migration sends none).

When a sandbox is not available in this version (or fails to start), that side falls back to the
`jsonl` dump adapter and the demo says so. The sandboxes keep their data in memory, so each demo
run with a sandbox target starts from a fresh staging database; with a jsonl target, running the
demo again is a delta run over the same work directory and creates nothing twice.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import click

from .. import registry
from ..private_files import write_private_text
from ..report import collect, render_text
from ..store import Store

DEMO_TARGETS = ("freshdesk", "helpscout", "jsonl")   # `hdmigrate demo --target`: sandboxes, or a dump
LOOPBACK_RATE = 100_000   # requests per minute: the sandboxes are local, nothing to be polite to
STATE_NAMES = ("wizard.json", "plan.toml", "staging.db", "staging.db-wal", "staging.db-shm",
               "blobs", "side-archive", "freshdesk-ticket-ids.json")


def _start_sandbox(platform: str, data: Path | None, say):
    """A started sandbox of `platform`, or None (with the reason said) when it is not available."""
    try:
        spec = registry.get(platform)
        if not spec.sandbox:
            say(f"  the {platform} adapter has no sandbox in this version")
            return None
        box = registry.load_object(spec.sandbox)(data=data, port=0, rate_limit=LOOPBACK_RATE,
                                                 faults=None, seed=None)
        box.start()
        return box
    except Exception as e:  # noqa: BLE001 - the demo falls back to jsonl for that side and says why
        say(f"  the {platform} sandbox could not start ({e.__class__.__name__}: {e})")
        return None


def _reset(workdir: Path) -> None:
    for name in STATE_NAMES:
        p = workdir / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def run_demo(workdir: Path, *, tickets: int = 60, as_json: bool = False, target: str = "freshdesk") -> int:
    """The `hdmigrate demo` command's body; returns the exit code."""
    return demo(workdir, tickets=tickets, as_json=as_json, target=target)["exit_code"]


def demo(workdir: Path, *, tickets: int = 60, as_json: bool = False, use_sandboxes: bool = True,
         say=None, target: str = "freshdesk") -> dict:
    """Run the demo; returns {"exit_code", "workdir", "source", "target", "verify", "summary",
    "emails_sent"} (`emails_sent`: counted by the target sandbox, None without one).
    `target` is one of DEMO_TARGETS; `use_sandboxes=False` runs jsonl → jsonl (what the demo
    falls back to without sandboxes)."""
    from ..testing.sample import write_dump

    say = say or (lambda m: click.echo(m, err=True))
    if target not in DEMO_TARGETS:
        raise click.BadParameter(f"{target!r}: the demo's targets are {', '.join(DEMO_TARGETS)}", param_hint="--target")
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    say(f"hdmigrate demo in {workdir}")
    dump = workdir / "source-dump"
    if not (dump / "manifest.json").exists():
        say(f"Generating the sample helpdesk ({tickets} tickets, multilingual, with attachments) …")
        write_dump(dump, tickets=tickets)

    answers: dict = {"sample.tickets": "0", "options.tag_migrated": "hdmigrate-demo"}
    zd = fd = None
    if use_sandboxes:
        say("Starting the local sandboxes (loopback only, no network, no credentials of yours) …")
        zd = _start_sandbox("zendesk", dump, say)
        fd = _start_sandbox(target, None, say) if target != "jsonl" else None
    try:
        say(f"  source: {_source_answers(zd, dump, answers)}")
        say(f"  target: {_target_answers(fd, workdir, answers)}")
        outcome = _run_wizard(workdir, answers, as_json, say)
        emails = _emails_counted(fd)
    finally:
        for box in (zd, fd):
            try:
                if box is not None:
                    box.stop()
            except Exception:  # noqa: BLE001 - stopping a local server must not hide the outcome
                pass
    if "summary" not in outcome:
        return outcome
    _where_to_look(workdir, dump, zd, fd, say)
    if emails is not None:
        say(f"E-mails the {fd.platform} sandbox counted (a migration must send none): {emails}")
    say(f"Demo finished with exit code {outcome['exit_code']}.")
    return {**outcome, "workdir": str(workdir), "source": answers["source.adapter"],
            "target": answers["target.adapter"], "emails_sent": emails}


def _emails_counted(box) -> int | None:
    """E-mails and notifications a target sandbox recorded (None: no sandbox, or it counts none)."""
    if box is None:
        return None
    if isinstance(getattr(box, "emails_sent", None), int):
        return box.emails_sent
    sent = getattr(box, "notifications", None)
    return len(sent) if isinstance(sent, list) else None


def _source_answers(zd, dump: Path, answers: dict) -> str:
    """The wizard's source answers: the Zendesk sandbox, else the dump itself. Returns a label."""
    if zd is None:
        answers.update({"source.adapter": "jsonl", "source.path": str(dump)})
        return f"jsonl dump {dump} (Zendesk sandbox unavailable)"
    os.environ.update(zd.env)     # the sandbox's own throwaway credentials, this process only
    answers.update({"source.adapter": "zendesk", "source.url": zd.url})
    answers.update({f"source.{k}": v for k, v in zd.plan_section.items() if k.endswith("_env")})
    return f"Zendesk sandbox at {zd.url}, seeded with {dump}"


def _target_answers(fd, workdir: Path, answers: dict) -> str:
    """The wizard's target answers: the target sandbox, else a jsonl dump. Returns a label."""
    if fd is not None:
        os.environ.update(fd.env)
        answers.update({"target.adapter": fd.platform, "target.url": fd.url})
        answers.update({f"target.{k}": v for k, v in fd.plan_section.items() if k.endswith("_env")})
        _reset(workdir)   # a fresh target account: start from a fresh staging database
        return f"{fd.platform} sandbox at {fd.url} (in memory: gone when the demo ends)"
    answers.update({"target.adapter": "jsonl", "target.path": str(workdir / "target-dump")})
    if (workdir / "wizard.json").exists():
        state = json.loads((workdir / "wizard.json").read_text(encoding="utf-8"))
        if state.get("answers", {}).get("target.adapter") != "jsonl":
            _reset(workdir)
    return f"jsonl dump {workdir / 'target-dump'}"


def _run_wizard(workdir: Path, answers: dict, as_json: bool, say) -> dict:
    """The wizard, answered by `answers`; then the reports beside the work directory."""
    from wizard.flow import Wizard, WizardStopped
    from wizard.io import ScriptedIO

    from ..report import ConsoleReporter, JsonLinesReporter
    io = ScriptedIO(answers, echo=not as_json, forward=(JsonLinesReporter if as_json else ConsoleReporter))
    restart = "source" if (workdir / "wizard.json").exists() else None
    wiz = Wizard(workdir, io, restart_from=restart, resume=True,
                 plan_overrides={"run": {"rate_limit": {"source": LOOPBACK_RATE, "target": LOOPBACK_RATE}}})
    try:
        code = wiz.run()
    except WizardStopped as e:
        say(f"demo stopped: {e}")
        return {"exit_code": e.exit_code, "workdir": str(workdir)}
    store = Store(workdir)
    try:
        doc = collect(store)
        verify_report = store.get_state("verify_report")
    finally:
        store.close()
    write_private_text(workdir / "report.txt", render_text(doc) + "\n")
    write_private_text(workdir / "report.json", json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
    return {"exit_code": code, "verify": verify_report, "summary": wiz.summaries.get("migrate")}


def _where_to_look(workdir: Path, dump: Path, zd, fd, say) -> None:
    say("\nWhere to look:")
    say(f"  plan              {workdir / 'plan.toml'}")
    say(f"  source dump       {dump}")
    if fd is None:
        say(f"  migrated dump     {workdir / 'target-dump'}")
    say(f"  staging database  {workdir / 'staging.db'}")
    say(f"  report            {workdir / 'report.txt'}  (and report.json; `hdmigrate report --workdir {workdir}`)")
    if (workdir / "side-archive").exists():
        say(f"  side archive      {workdir / 'side-archive'}")
    if fd is None and zd is None:
        say(f"Repeat it in CI:   hdmigrate run {workdir / 'plan.toml'} --yes --json")
    else:
        say("The sandboxes stopped with the demo; against real accounts the same plan runs with "
            "`hdmigrate run PLAN --yes` (start sandboxes yourself with `hdmigrate sandbox zendesk --data DUMP`).")
