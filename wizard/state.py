"""The wizard's saved progress (wizard.json) and its stop signal."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from hdmigrate.errors import ConfigError, HdmError

STEPS = ("source", "target", "scope", "discover", "mapping", "dry-run", "sample", "migrate", "verify")
STATE_FILE = "wizard.json"
SCRIPTED_TRIES = 5           # refused answers a script may give before the wizard stops (exit 2)


class WizardStopped(HdmError):
    """The wizard stops on purpose (a check the person chose not to fix, a declined migration);
    `exit_code` follows the contract: 0 nothing wrong, 2 configuration, 3 API/authentication."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class WizardState:
    """wizard.json: answers, finished steps, run ids, discovery and the accepted mapping."""

    def __init__(self, workdir: Path):
        self.path = workdir / STATE_FILE
        self.data: dict = {"format": "hdmigrate-wizard", "version": 1, "answers": {}, "done": [],
                           "runs": {}, "mapping": None, "discovery": {}}
        if self.path.exists():
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise ConfigError(f"{self.path}: unreadable ({e}); remove it to start the wizard over") from None
            self.data.update(loaded)

    @property
    def exists(self) -> bool:
        return self.path.exists()

    @property
    def answers(self) -> dict:
        return self.data["answers"]

    @property
    def done(self) -> list[str]:
        return self.data["done"]

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.data["updated_at"] = _now()
        tmp = self.path.with_name(STATE_FILE + ".tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.data, f, indent=2, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, self.path)

    def mark_done(self, step: str) -> None:
        if step not in self.done:
            self.done.append(step)
        self.save()

    def restart_from(self, step: str) -> None:
        later = STEPS[STEPS.index(step):]
        self.data["done"] = [s for s in self.done if s not in later]
        self.save()

    def next_step(self) -> str | None:
        return next((s for s in STEPS if s not in self.done), None)
