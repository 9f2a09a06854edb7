"""Plan files (TOML): load, merge includes, validate, resolve paths and secrets.

A plan names environment variables, never secrets: every key ending in `_env` inside [source] or
[target] is the name of a variable whose value the adapter receives in `ctx.secrets` under the key
without `_env` (token_env -> secrets["token"]). Values are read at run time and never written.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import jsonschema

import schemas

from .adapter import AdapterContext, AdapterSpec
from .errors import ConfigError
from .http.ratelimit import policy_for
from . import registry

PATH_KEYS = ("path",)


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: plan file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read ({e})") from None


@dataclass
class Plan:
    data: dict
    path: Path | None = None
    base_dir: Path = field(default_factory=Path.cwd)

    @property
    def source(self) -> dict:
        return self.data["source"]

    @property
    def target(self) -> dict:
        return self.data["target"]

    @property
    def scope(self) -> dict:
        return self.data.get("scope", {})

    @property
    def mapping(self) -> dict:
        return self.data.get("mapping", {})

    @property
    def options(self) -> dict:
        return self.data.get("options", {})

    @property
    def run(self) -> dict:
        return self.data.get("run", {})

    def workdir(self, override: str | Path | None = None) -> Path:
        """--workdir wins; else [run] workdir; else .hdmigrate/<plan stem> beside the plan."""
        if override:
            return Path(override).expanduser().resolve()
        if self.run.get("workdir"):
            return (self.base_dir / Path(self.run["workdir"]).expanduser()).resolve()
        stem = self.path.stem if self.path else "plan"
        return (self.base_dir / ".hdmigrate" / stem).resolve()

    def identity(self) -> str:
        """What makes two runs the same migration: the adapters and where they point."""
        def side(s: dict) -> dict:
            return {k: s.get(k) for k in ("adapter", "url", "path") if s.get(k) is not None}
        text = json.dumps({"source": side(self.source), "target": side(self.target)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def spec(self, role: str) -> AdapterSpec:
        section = self.data[role]
        spec = registry.get(section["adapter"])
        if role == "source" and spec.source is None:
            raise ConfigError(f"adapter {spec.name!r} cannot be a source")
        if role == "target" and spec.target is None:
            raise ConfigError(f"adapter {spec.name!r} cannot be a target")
        return spec

    def adapter_context(self, role: str, workdir: Path | None = None, log=None) -> AdapterContext:
        section = self.data[role]
        secrets = resolve_secrets(section, f"[{role}]")
        side = getattr(self.spec(role), role)   # the Source or Target class: its documented default
        rate = policy_for((self.run.get("rate_limit") or {}).get(role), getattr(side, "default_rate_limit", None))
        return AdapterContext(
            config={k: v for k, v in section.items()}, secrets=secrets, options=dict(self.options),
            mapping=copy.deepcopy(self.mapping), workdir=workdir, rate_limit=rate,
            workers=int(self.run.get("workers", 1)), log=log or (lambda m: None), role=role)

    def to_toml(self) -> str:
        import tomli_w
        return tomli_w.dumps(self.data)


def resolve_secrets(section: dict, where: str) -> dict:
    secrets = {}
    for key, name in section.items():
        if not key.endswith("_env"):
            continue
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where} {key} must name an environment variable")
        value = os.environ.get(name)
        if value is None or value == "":
            raise ConfigError(f"{where} {key}: environment variable {name} is not set")
        secrets[key[: -len("_env")]] = value
    return secrets


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def env_name_problem(value) -> str | None:
    """Why `value` cannot be the name of an environment variable (None when it can). A pasted
    token is refused: a name is [A-Za-z_][A-Za-z0-9_]*, and letters mixed with digits without an
    underscore, long or in both cases, look like a credential rather than a name."""
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        return "is not an environment variable name (letters, digits and _, not starting with a digit)"
    has_digit = any(c.isdigit() for c in value)
    mixed_case = any(c.islower() for c in value) and any(c.isupper() for c in value)
    if len(value) > 64 or ("_" not in value and has_digit and (len(value) >= 12 or mixed_case)):
        return "looks like a secret, not the name of the variable holding it"
    return None


def _check_no_inline_secrets(section: dict, where: str) -> None:
    for key in section:
        if key in ("token", "api_key", "password", "secret", "email_password", "api_token"):
            raise ConfigError(f"{where} {key}: secrets do not belong in a plan; use {key}_env = \"NAME_OF_ENV_VAR\"")
        if key.endswith("_env") and (problem := env_name_problem(section[key])):
            # the value itself is not repeated: it may be the secret
            raise ConfigError(f"{where} {key}: the value {problem}; give the name, e.g. {key.upper()}")


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})?")
TIME_FORMS = "an RFC 3339 time such as 2024-05-01T00:00:00Z (offset or Z required) or a date such as 2024-05-01"


def parse_since(value, where: str) -> str:
    """The one parser of `--since` and `[scope] since / until`: an RFC 3339 time with Z or an offset,
    or an ISO date (midnight UTC), as an RFC 3339 UTC string every source understands. Anything
    else ("yesterday", 2024-13-45, a time without a zone) is a configuration error, because a
    value a source cannot read silently migrated nothing."""
    text = value.strip() if isinstance(value, str) else None
    try:
        if text and _DATE.fullmatch(text):
            dt = datetime.combine(date.fromisoformat(text), datetime.min.time(), timezone.utc)
        elif text and _DATETIME.fullmatch(text):
            dt = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
            if dt.tzinfo is None:
                raise ConfigError(f"{where}: {value!r} has no time zone; add Z or an offset such as +02:00")
        else:
            raise ValueError("unknown form")
    except ValueError:
        raise ConfigError(f"{where}: {str(value)[:60]!r} is not a valid time; give {TIME_FORMS}") from None
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def validate_plan(data: dict, where: str) -> None:
    try:
        jsonschema.validate(data, schemas.load("plan"))
    except jsonschema.ValidationError as e:
        path = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        raise ConfigError(f"{where}: invalid plan at {path}: {e.message}") from None
    for role in ("source", "target"):
        _check_no_inline_secrets(data[role], f"{where} [{role}]")
        spec = registry.get(data[role]["adapter"])
        try:
            jsonschema.validate(data[role], spec.config_schema)
        except jsonschema.ValidationError as e:
            key = ".".join(str(p) for p in e.absolute_path) or "(table)"
            raise ConfigError(f"{where} [{role}] {key}: {e.message} (adapter {spec.name})") from None
    for key in ("since", "until"):
        if key in (data.get("scope") or {}):
            data["scope"][key] = parse_since(data["scope"][key], f"{where}: [scope] {key}")


def _with_includes(data: dict, base_dir: Path, where: str, chain: tuple[Path, ...]) -> dict:
    """`[run] include`: templates merged in order, each under the next, all under `data` (a later
    file overrides an earlier one key by key; tables merge, other values are replaced). An
    included file may include others (paths relative to that file); cycles are refused."""
    includes = (data.get("run") or {}).get("include") or []
    if not isinstance(includes, list) or not all(isinstance(i, str) and i for i in includes):
        raise ConfigError(f"{where}: [run] include must be a list of file paths")
    merged: dict = {}
    for inc in includes:
        inc_path = (base_dir / Path(inc).expanduser()).resolve()
        if inc_path in chain:
            raise ConfigError(f"{where}: [run] include {inc!r} includes itself (cycle)")
        if not inc_path.is_file():
            raise ConfigError(f"{where}: [run] include {inc!r}: {inc_path} not found")
        included = _with_includes(_read_toml(inc_path), inc_path.parent, str(inc_path), chain + (inc_path,))
        included.get("run", {}).pop("include", None)
        merged = _merge(merged, included)
    return _merge(merged, data)


def plan_from_dict(data: dict, base_dir: Path | None = None, path: Path | None = None) -> Plan:
    base_dir = Path(base_dir or Path.cwd()).resolve()
    where = str(path) if path else "plan"
    data = _with_includes(data, base_dir, where, (path.resolve(),) if path else ())
    validate_plan(data, where)
    for role in ("source", "target"):
        for key in PATH_KEYS:
            if isinstance(data[role].get(key), str):
                data[role][key] = str((base_dir / Path(data[role][key]).expanduser()).resolve())
    return Plan(data=data, path=path, base_dir=base_dir)


def load_plan(path: str | Path) -> Plan:
    path = Path(path).expanduser().resolve()
    data = _read_toml(path)
    return plan_from_dict(data, path.parent, path)
