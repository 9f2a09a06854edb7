"""The owner's top-level layout resolves inside this distribution; the schemas are valid JSON
Schema and express the field names of canonical-model.md."""

import importlib
from pathlib import Path

import jsonschema
import pytest

import schemas
from hdmigrate.canonical import KINDS, validation_error

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["hdmigrate", "adapters", "schemas", "wizard"])
def test_top_level_packages_resolve_inside_this_repo(name):
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve().is_relative_to(REPO)


@pytest.mark.parametrize("kind", list(KINDS) + ["plan"])
def test_schema_is_valid_json_schema(kind):
    schema = schemas.load(kind)
    jsonschema.Draft202012Validator.check_schema(schema)


REQUIRED = {
    "custom_field": {"entity", "key", "type"},
    "organization": {"name"},
    "group": {"name"},
    "agent": {"name", "email"},
    "contact": {"name"},
    "ticket": {"subject", "status", "requester_id"},
    "comment": {"ticket_id", "author_id", "public"},
    "attachment": {"comment_id", "file_name", "content_type", "size", "sha256"},
    "satisfaction_rating": {"ticket_id", "score"},
}


@pytest.mark.parametrize("kind", KINDS)
def test_required_fields_match_the_canonical_model(kind):
    assert set(schemas.load(kind)["required"]) == REQUIRED[kind] | {"id"}


def test_enumerations_are_the_contracts():
    ticket = schemas.load("ticket")["properties"]
    assert ticket["status"]["enum"] == ["new", "open", "pending", "on_hold", "solved", "closed"]
    assert set(ticket["priority"]["enum"]) == {"low", "normal", "high", "urgent", None}
    channel = schemas.load("ticket")["$defs"]["channel"]["enum"]
    assert {"email", "web", "phone", "chat", "sms", "social", "messaging", "api", "letter", "in_person", "other"} <= set(channel)


@pytest.mark.parametrize("kind,record,field", [
    ("ticket", {"id": "1", "subject": "s", "status": "open"}, "requester_id"),
    ("ticket", {"id": "1", "subject": "s", "status": "hold", "requester_id": "c1"}, "status"),
    ("comment", {"id": "1", "ticket_id": "t", "author_id": "a", "public": True}, "body_html"),
    ("comment", {"id": "1", "ticket_id": "t", "author_id": "a", "public": "yes", "body_text": "x"}, "public"),
    ("contact", {"id": "1", "name": "n", "created_at": "2020-01-01 10:00:00"}, "created_at"),
    ("attachment", {"id": "1", "comment_id": "c", "file_name": "f", "content_type": "x", "size": 1, "sha256": "XYZ"}, "sha256"),
])
def test_validation_names_the_field(kind, record, field):
    problem = validation_error(kind, record)
    assert problem is not None and problem[0] == field, problem


def test_naive_times_are_refused_and_offsets_accepted():
    base = {"id": "1", "name": "n"}
    assert validation_error("contact", {**base, "created_at": "2020-01-01T10:00:00"})
    assert validation_error("contact", {**base, "created_at": "2020-01-01T10:00:00+02:00"}) is None
    assert validation_error("contact", {**base, "created_at": "2020-01-01T10:00:00.123Z"}) is None


def test_unknown_fields_are_kept_valid():
    assert validation_error("group", {"id": "g", "name": "n", "vendor_specific": {"x": [1]}}) is None
