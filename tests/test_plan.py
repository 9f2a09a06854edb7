import pytest

from hdmigrate.errors import ConfigError
from hdmigrate.plan import load_plan


def write(tmp_path, text, name="p.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


BASE = '[source]\nadapter = "jsonl"\npath = "in"\n[target]\nadapter = "jsonl"\npath = "out"\n'


def test_relative_paths_and_default_workdir(tmp_path):
    plan = load_plan(write(tmp_path, BASE, "acme.toml"))
    assert plan.source["path"] == str(tmp_path / "in")
    assert plan.workdir() == tmp_path / ".hdmigrate" / "acme"
    assert plan.workdir(tmp_path / "x") == tmp_path / "x"


def test_run_workdir_from_plan(tmp_path):
    plan = load_plan(write(tmp_path, BASE + '[run]\nworkdir = "work/acme"\n'))
    assert plan.workdir() == tmp_path / "work" / "acme"


@pytest.mark.parametrize("text,needle", [
    ("[source\nadapter=1", "not valid TOML"),
    ('[source]\nadapter = "nope"\n[target]\nadapter = "jsonl"\npath = "o"\n', "unknown adapter 'nope'"),
    ('[source]\nadapter = "jsonl"\npath = "i"\n', "'target' is a required property"),
    (BASE + "[options]\nsample = -1\n", "options.sample"),
    (BASE + "[bogus]\nx = 1\n", "Additional properties"),
    (BASE + "[options]\nrepair_txt = true\n", "options: Additional properties"),
    (BASE + '[scope]\nsince = "yesterday"\n', "[scope] since: 'yesterday' is not a valid time"),
    (BASE + '[scope]\nsince = "2024-13-45"\n', "[scope] since: '2024-13-45' is not a valid time"),
    (BASE + '[scope]\nuntil = "2024-05-01T10:00:00"\n', "has no time zone"),
    ('[source]\nadapter = "jsonl"\n[target]\nadapter = "jsonl"\npath = "o"\n', "[source]"),
    (BASE.replace('path = "in"', 'path = "in"\ntoken = "abc"'), "secrets do not belong in a plan"),
])
def test_bad_plans_are_one_line_config_errors(tmp_path, text, needle):
    with pytest.raises(ConfigError) as e:
        load_plan(write(tmp_path, text))
    assert needle in str(e.value)
    assert "\n" not in str(e.value)


def test_missing_plan_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_plan(tmp_path / "nope.toml")


def test_secrets_come_from_the_environment(tmp_path, monkeypatch):
    from hdmigrate.plan import resolve_secrets
    section = {"adapter": "x", "token_env": "HDM_TEST_TOKEN", "email_env": "HDM_TEST_EMAIL"}
    monkeypatch.setenv("HDM_TEST_TOKEN", "t0ken")
    monkeypatch.delenv("HDM_TEST_EMAIL", raising=False)
    with pytest.raises(ConfigError, match="HDM_TEST_EMAIL is not set"):
        resolve_secrets(section, "[source]")
    monkeypatch.setenv("HDM_TEST_EMAIL", "a@b.c")
    assert resolve_secrets(section, "[source]") == {"token": "t0ken", "email": "a@b.c"}


def test_include_merges_under_the_plan(tmp_path):
    write(tmp_path, '[mapping.status]\npending = "open"\nnew = "open"\n[options]\ntag_migrated = "house"\n', "house.toml")
    plan = load_plan(write(tmp_path, BASE + '[mapping.status]\nnew = "new"\n[run]\ninclude = ["house.toml"]\n'))
    assert plan.mapping["status"] == {"pending": "open", "new": "new"}
    assert plan.options["tag_migrated"] == "house"


def test_identity_depends_on_where_adapters_point(tmp_path):
    a = load_plan(write(tmp_path, BASE, "a.toml"))
    b = load_plan(write(tmp_path, BASE.replace('"out"', '"elsewhere"'), "b.toml"))
    assert a.identity() != b.identity()


@pytest.mark.parametrize("given,stored", [
    ("2024-05-01", "2024-05-01T00:00:00Z"),
    ("2024-05-01T10:00:00+02:00", "2024-05-01T08:00:00Z"),
    ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
])
def test_scope_times_are_stored_as_rfc3339_utc(tmp_path, given, stored):
    plan = load_plan(write(tmp_path, BASE + f'[scope]\nsince = "{given}"\n'))
    assert plan.scope["since"] == stored
