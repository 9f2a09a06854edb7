"""How the wizard talks to a person, or to a script.

The flow (`wizard.flow`) never calls click or input() itself: it asks an IO object. Every question
has a stable key (`source.adapter`, `scope.kinds`, `mapping.accept` …) so scripts and tests answer
by key, and a person sees the prompt text.

- `ClickIO`     the real terminal: click prompts, secrets typed hidden.
- `ScriptedIO`  answers from a dict (a list value answers the same key several times, in order);
                a missing answer takes the question's default, or fails when there is none. It can
                raise KeyboardInterrupt at a chosen step (at its start, or after N engine events
                in it) so tests interrupt the wizard exactly where a person could.

Secrets are asked with `secret()`; an IO never stores them, and the flow only puts them into the
process environment.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from hdmigrate.errors import ConfigError
from hdmigrate.printable import printable
from hdmigrate.report import ConsoleReporter, Reporter


class WizardIO:
    """The interface the flow uses. Subclasses implement ask/secret/confirm/say."""

    interactive = False

    def ask(self, key: str, prompt: str, default: str | None = None,
            choices: Sequence[str] | None = None) -> str:
        raise NotImplementedError

    def secret(self, key: str, prompt: str) -> str:
        raise NotImplementedError

    def confirm(self, key: str, prompt: str, default: bool = True) -> bool:
        raise NotImplementedError

    def say(self, text: str = "") -> None:
        raise NotImplementedError

    def step(self, name: str, title: str) -> None:
        """Called when a step starts."""
        self.say(f"\n== {title} ==")

    def reporter(self) -> Reporter:
        """The reporter an engine run of this wizard uses (progress, ETA)."""
        return Reporter()


def _interruptible(fn):
    """click turns Ctrl-C and end-of-input (a closed terminal) at a prompt into Abort; the wizard
    treats both as an interruption: answers so far are kept and the next run continues."""

    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except click.exceptions.Abort:
            raise KeyboardInterrupt from None

    return wrapper


class ClickIO(WizardIO):
    interactive = True

    def __init__(self, out=None):
        self.out = out

    @_interruptible
    def ask(self, key, prompt, default=None, choices=None):
        kind = click.Choice(list(choices)) if choices else str
        value = click.prompt(prompt, default=default if default not in (None,) else None, type=kind,
                             show_choices=bool(choices), show_default=default not in (None, ""))
        return str(value).strip()

    @_interruptible
    def secret(self, key, prompt):
        while True:
            value = click.prompt(prompt, hide_input=True, default="", show_default=False)
            if value:
                return value
            click.echo("  (nothing typed; try again)")

    @_interruptible
    def confirm(self, key, prompt, default=True):
        return click.confirm(prompt, default=default)

    def say(self, text=""):
        click.echo(printable(text), file=self.out)  # names and subjects come from the source

    def reporter(self):
        return ConsoleReporter()


class ScriptExhausted(ConfigError):
    """A scripted run reached a question it has no answer for (and the question has no default)."""


class ScriptedIO(WizardIO):
    """Answers by key. `interrupt_at=STEP` raises KeyboardInterrupt when STEP starts, or, with
    `interrupt_after=N`, at the N-th engine event inside that step (mid-run)."""

    def __init__(self, answers: dict | None = None, *, secrets: dict | None = None,
                 interrupt_at: str | None = None, interrupt_after: int = 0, echo: bool = False,
                 forward=None):
        self.answers = {k: (list(v) if isinstance(v, list) else v) for k, v in (answers or {}).items()}
        self.secrets = dict(secrets or {})
        self.interrupt_at = interrupt_at
        self.interrupt_after = interrupt_after
        self.echo = echo
        self.forward = forward      # a Reporter class engine events are also shown with
        self.lines: list[str] = []
        self.asked: list[str] = []
        self.steps: list[str] = []
        self.current: str | None = None
        self.events_in_step = 0
        self.interrupted = False

    # answers
    def _take(self, key: str, store: dict):
        if key not in store:
            return None, False
        value = store[key]
        if isinstance(value, list):
            if not value:
                return None, False
            value = value.pop(0) if len(value) > 1 else value[0]
        return value, True

    def ask(self, key, prompt, default=None, choices=None):
        self.asked.append(key)
        value, found = self._take(key, self.answers)
        if not found:
            if default is None:
                raise ScriptExhausted(f"no answer for {key!r} ({prompt}) and no default")
            value = default
        value = "" if value is None else str(value)
        if choices and value not in choices:
            raise ScriptExhausted(f"answer {value!r} for {key!r} is not one of {', '.join(choices)}")
        self._log(f"{prompt} {value}")
        return value

    def secret(self, key, prompt):
        self.asked.append(key)
        value, found = self._take(key, self.secrets)
        if not found or not value:
            raise ScriptExhausted(f"no secret scripted for {key!r} ({prompt})")
        self._log(f"{prompt} ********")
        return str(value)

    def confirm(self, key, prompt, default=True):
        self.asked.append(key)
        value, found = self._take(key, self.answers)
        if not found:
            value = default
        if isinstance(value, str):
            value = value.strip().lower() in ("y", "yes", "true", "1")
        self._log(f"{prompt} {'yes' if value else 'no'}")
        return bool(value)

    def say(self, text=""):
        self._log(text)

    def _log(self, text: str) -> None:
        text = printable(text)
        self.lines.append(text)
        if self.echo:
            print(text, file=sys.stderr)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    # interruption
    def step(self, name, title):
        self.current = name
        self.events_in_step = 0
        self.steps.append(name)
        self.say(f"\n== {title} ==")
        if name == self.interrupt_at and self.interrupt_after == 0 and not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt

    def event(self, name: str, fields: dict) -> None:
        self.events_in_step += 1
        if (self.current == self.interrupt_at and self.interrupt_after
                and self.events_in_step >= self.interrupt_after and not self.interrupted):
            self.interrupted = True
            raise KeyboardInterrupt

    def reporter(self):
        return _EventHook(self, self.forward() if self.forward else None)


class _EventHook(Reporter):
    """Forwards engine events to a ScriptedIO (which may raise KeyboardInterrupt from them), and
    to a display reporter when one is given."""

    def __init__(self, io: ScriptedIO, display: Reporter | None = None):
        self.io = io
        self.display = display

    def event(self, name, **fields):
        if self.display is not None:
            self.display.event(name, **fields)
        self.io.event(name, fields)

    def message(self, text):
        if self.display is not None:
            self.display.message(text)
        else:
            self.io.say(text)

    def close(self):
        if self.display is not None:
            self.display.close()
