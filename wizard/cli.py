"""`hdmigrate wizard`: the click face of the wizard (registered by hdmigrate.commands.cli)."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import click

from hdmigrate.errors import ConfigError

from .flow import STEPS, Wizard, WizardStopped
from .io import ClickIO, ScriptedIO


def _load_answers(path: str) -> dict:
    p = Path(path)
    try:
        if p.suffix == ".toml":
            with open(p, "rb") as f:
                data = tomllib.load(f)
        else:
            data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"--answers {path}: cannot read ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--answers {path}: expected an object of question key → answer")
    bad = [k for k in data if any(w in k.lower() for w in ("token", "password", "api_key", "secret"))
           and not k.endswith("_env")]
    if bad:
        raise ConfigError(f"--answers {path}: secrets do not belong in an answers file ({', '.join(bad)}); "
                          "name environment variables with the *_env keys")
    return data


@click.command()
@click.option("--workdir", type=click.Path(file_okay=False), default="hdmigrate-wizard", show_default=True,
              help="Where the wizard keeps its answers, the plan and the staging database.")
@click.option("--restart-from", "restart_from", type=click.Choice(STEPS),
              help="Go back to this step (later steps run again; earlier answers are the defaults).")
@click.option("--answers", "answers_path", type=click.Path(dir_okay=False, exists=True),
              help="Answer the questions from this JSON or TOML file (question key → answer); "
                   "unanswered questions take their defaults; never prompts.")
def wizard(workdir, restart_from, answers_path):
    """The step-by-step wizard: source, target, scope, discovery, mapping, dry run, sample,
    migration, verification. It writes a plan (PLAN.toml in the work directory) and drives the same
    engine as `hdmigrate run`. Stopped at any point (Ctrl-C, closed terminal, reboot), it continues
    where it stopped when run again in the same work directory.

    Example: hdmigrate wizard --workdir acme-migration
    """
    from hdmigrate.commands.cli import handle_errors

    handle_errors(_wizard)(workdir, restart_from, answers_path)


def _wizard(workdir, restart_from, answers_path):
    if answers_path:
        io = ScriptedIO(_load_answers(answers_path), echo=True)
    elif not sys.stdin.isatty():
        raise ConfigError("the wizard asks questions: run it in a terminal, or give --answers FILE "
                          "(or use `hdmigrate run PLAN` for unattended runs)")
    else:
        io = ClickIO()
    wiz = Wizard(Path(workdir), io, restart_from=restart_from)
    try:
        code = wiz.run()
    except WizardStopped as e:
        click.echo(("" if e.exit_code == 0 else "stopped: ") + str(e), err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted; your answers are kept. Continue with: hdmigrate wizard --workdir {wiz.workdir}",
                   err=True)
        sys.exit(4)
    sys.exit(code)
