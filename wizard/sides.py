"""The wizard's source and target steps."""

from __future__ import annotations

from pathlib import Path

from hdmigrate import registry
from hdmigrate.errors import ConfigError
from hdmigrate.plan import env_name_problem

from . import checks
from .mapping import CLEAR
from .state import SCRIPTED_TRIES, WizardStopped


class SideSteps:
    """Mixed into Wizard: the source and target steps (adapter, URL, credentials by variable name)."""

    # -- steps 1 and 2: the two sides -----------------------------------------------------------
    def step_source(self) -> None:
        self._side("source")

    def step_target(self) -> None:
        self._side("target")

    def _side(self, role: str) -> None:
        tries = 0
        while True:
            tries += 1
            spec, section = self._ask_side(role)
            self.io.say(f"Checking the {role} connection …")
            failure = checks.check_side(spec, role, section, self.workdir, log=self.io.say,
                                        rate_limit=self._rate(role))
            if failure is None:
                self.io.say(f"The {role} ({spec.name}) answered: connection, credentials and rights are fine.")
                return
            self.io.say(failure.message(role, spec.name))
            if (not self.io.interactive and tries >= SCRIPTED_TRIES) or \
                    not self.confirm(f"{role}.retry", "Change the settings and try again?", True):
                raise WizardStopped(f"{role} connection check failed: {failure.cause}",
                                    exit_code=2 if failure.cause in (checks.CONFIG, checks.BAD_URL) else 3)
            self._offer_retype(role, section, failure.cause == checks.BAD_TOKEN)

    def _ask_side(self, role: str):
        adapters = registry.all_adapters()
        names = [n for n, s in adapters.items() if (s.source if role == "source" else s.target)]
        adapter = self.ask(f"{role}.adapter", f"{role.capitalize()} platform", "jsonl", names)
        spec = adapters[adapter]
        schema = spec.config_schema or {}
        props = schema.get("properties") or {}
        section: dict = {"adapter": adapter}
        for key in [k for k in schema.get("required", []) if k != "adapter"]:
            desc = (props.get(key) or {}).get("description") or key
            if key.endswith("_env"):
                section[key] = self._secret(role, adapter, key[: -len("_env")])
            elif key == "path":
                value = self.ask(f"{role}.path", f"{role.capitalize()} directory ({desc})",
                                 str(self.workdir / f"{role}-dump") if role == "target" else None)
                section[key] = str(Path(value).expanduser().resolve())
            else:
                section[key] = self.ask(f"{role}.{key}", f"{role.capitalize()} {key} ({desc})")
        for key in _offered(schema):     # optional settings the adapter offers (Enter keeps the default)
            default = str(props[key].get("default", ""))
            value = self.ask(f"{role}.{key}", f"{role.capitalize()} {key} ({props[key].get('description') or key}; "
                             f"'{CLEAR}' or empty: the adapter's default)", default, clearable=True).strip()
            if value:
                section[key] = value
        return spec, section

    def _secret(self, role: str, adapter: str, name: str) -> str:
        """Ask which environment variable holds a credential; when it is not set, have the secret
        typed hidden and put it into this process's environment only. Returns the variable name."""
        other = "target" if role == "source" else "source"
        default = f"{adapter}_{name}".upper()
        if self.state.answers.get(f"{other}.adapter") == adapter:
            default = f"{adapter}_{role}_{name}".upper()
        var = self._ask_env_name(f"{role}.{name}_env",
                                 f"Environment variable holding the {role} {name} (if it is not set you type "
                                 "the value hidden; it is kept in memory only)", default)
        if not self.env.get(var) or var in self.retype:
            value = self.io.secret(f"{role}.{name}", f"{role.capitalize()} {name} (typed hidden, never written to disk)")
            self.env[var] = value
            self.typed.add(var)
            self.retype.discard(var)
        return var

    def _offer_retype(self, role: str, section: dict, likely: bool) -> None:
        """After a failed check: secrets typed in this session can be typed again (a mistyped
        token is otherwise kept in the environment and sent on every retry)."""
        typed = [v for k, v in section.items() if k.endswith("_env") and v in self.typed]
        if typed and self.io.confirm(f"{role}.retype", "Type the hidden value(s) again?", likely):
            self.retype.update(typed)

    def _ask_env_name(self, key: str, prompt: str, default: str, attempts: int = 5) -> str:
        """The name of an environment variable; a pasted token (or anything that is not a name) is
        refused and asked again, and never saved as an answer, so it reaches no plan or report."""
        previous = self.state.answers.get(key)
        if previous is not None and env_name_problem(previous):
            previous = None   # a value saved by an older version is not offered again
        for _ in range(attempts):
            value = self.io.ask(key, prompt, previous if previous is not None else default)
            problem = env_name_problem(value)
            if problem is None:
                self.state.answers[key] = value
                self.state.save()
                return value
            self.io.say(f"  That {problem}; give the NAME of the variable (e.g. {default}), "
                        "the value itself is asked for separately, hidden.")
        raise ConfigError(f"{key}: no valid environment variable name given")

    def _rate(self, role: str):
        """The plan's [run] rate_limit for one side (None: the adapter's documented default)."""
        run = (self.state.data.get("plan_overrides") or {}).get("run") or {}
        return (run.get("rate_limit") or {}).get(role)

    def _section(self, role: str) -> dict:
        a = self.state.answers
        adapter = a[f"{role}.adapter"]
        spec = registry.get(adapter)
        section = {"adapter": adapter}
        for key in [k for k in (spec.config_schema or {}).get("required", []) if k != "adapter"]:
            if key.endswith("_env"):
                var = a.get(f"{role}.{key}")
                if var and env_name_problem(var):   # saved before names were checked: ask again
                    var = self._secret(role, adapter, key[: -len("_env")])
                if var and not self.env.get(var):
                    self.io.say(f"The {role} {key[:-4]} (variable {var}) is not in this session's environment.")
                    self.env[var] = self.io.secret(f"{role}.{key[:-4]}",
                                                   f"{role.capitalize()} {key[:-4]} (typed hidden, never written to disk)")
                section[key] = var
            elif key == "path":
                section[key] = str(Path(a[f"{role}.path"]).expanduser().resolve())
            else:
                section[key] = a.get(f"{role}.{key}")
        for key in _offered(spec.config_schema or {}):
            if (a.get(f"{role}.{key}") or "").strip():
                section[key] = a[f"{role}.{key}"].strip()
        return section


WIZARD_ASKS = "x-wizard-asks"    # schema annotation: an optional string setting the wizard asks too


def _offered(schema: dict) -> list[str]:
    """The optional settings the wizard asks too: those the adapter's schema marks with
    `"x-wizard-asks": true` (e.g. an API URL a sandbox replaces, a target mailbox); the others
    stay for the plan file. The answer is a string; empty leaves the setting out."""
    required = set(schema.get("required") or [])
    return [k for k, p in (schema.get("properties") or {}).items()
            if k not in required and isinstance(p, dict) and p.get(WIZARD_ASKS) is True and not k.endswith("_env")]
