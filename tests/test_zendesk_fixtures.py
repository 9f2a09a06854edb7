"""Mapping tests over every recorded real Zendesk response in ../shared/vendor-fixtures/zendesk.

The fixtures are read in place (their licences forbid copying them). Every file must load; every
Zendesk object found in a response body (tickets, users, organizations, groups, fields, comments,
ticket events) must map to canonical records that validate, or fail with a RecordError that the
test reports as an odd case, never with any other exception.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path

import pytest
import yaml

from adapters.zendesk import to_canonical
from adapters.zendesk.source import ZendeskSource
from hdmigrate.adapter import AdapterContext
from hdmigrate.canonical import validation_error
from hdmigrate.errors import RecordError


# ------------------------------------------------------------------ loading the recordings

def _decode(body: dict | str | None, headers: dict) -> str:
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    if body.get("base64_string"):
        raw = base64.b64decode(body["base64_string"])
        enc = headers.get("Content-Encoding") or headers.get("content-encoding") or []
        if isinstance(enc, str):
            enc = [enc]
        if "gzip" in [e.lower() for e in enc] or raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return raw.decode("utf-8", "replace")
    return body.get("string") or ""


class _CassetteLoader(yaml.SafeLoader):
    """VCR YAML cassettes hold binary bodies as `!binary` (base64, often gzip)."""


def _binary(loader, node):
    raw = base64.b64decode(loader.construct_scalar(node))
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8", "replace")


_CassetteLoader.add_constructor("!binary", _binary)


def _interactions(path: Path) -> list[tuple[str, str, int | None, str]]:
    """(method, uri, status, response text) of a cassette, or ("", "", None, text) for a body."""
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yml", ".yaml"):
        data = yaml.load(text, Loader=_CassetteLoader)
    else:
        data = json.loads(text)
    if not (isinstance(data, dict) and "http_interactions" in data):
        return [("", "", None, text)]
    out = []
    for i in data["http_interactions"]:
        req, resp = i.get("request") or {}, i.get("response") or {}
        status = resp.get("status")
        code = status.get("code") if isinstance(status, dict) else status
        out.append((str(req.get("method", "")).upper(), req.get("uri", ""), code,
                    _decode(resp.get("body"), resp.get("headers") or {})))
    return out


SINGULAR = {"ticket": "tickets", "user": "users", "organization": "organizations", "group": "groups",
            "ticket_field": "ticket_fields", "user_field": "user_fields",
            "organization_field": "organization_fields", "comment": "comments"}
SPEC_FILES = {"ticket.json": "tickets", "user.json": "users", "organization.json": "organizations",
              "group.json": "groups", "ticket_field.json": "ticket_fields",
              "user_field.json": "user_fields", "organization_field.json": "organization_fields",
              "comment.json": "comments", "suspended_ticket.json": None}


def _objects(body, uri: str, file_name: str):
    """(collection, object, ticket id for comments) for every Zendesk object in a body."""
    if isinstance(body, dict) and file_name in SPEC_FILES and "id" in body:
        if SPEC_FILES[file_name]:
            yield SPEC_FILES[file_name], body, 1
        return
    if not isinstance(body, dict):
        return
    m = re.search(r"tickets_(\d+)_comments|tickets/(\d+)/comments", uri + " " + file_name)
    ticket_id = int(next(g for g in m.groups() if g)) if m else None
    for key, value in body.items():
        coll = SINGULAR.get(key, key)
        items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        if coll in ("tickets", "users", "organizations", "groups", "ticket_fields", "user_fields",
                    "organization_fields", "comments", "ticket_events", "audits"):
            for item in items:
                if isinstance(item, dict):
                    yield coll, item, ticket_id


def _canonical(source: ZendeskSource, coll: str, obj: dict, ticket_id):
    if coll == "comments":
        payload = {**obj, "ticket_id": obj.get("ticket_id", ticket_id)}
        return list(source.to_canonical("ticket_events", payload))
    if coll in ("ticket_events", "audits"):
        out = []
        for child in obj.get("child_events") or obj.get("events") or []:
            if child.get("event_type") == "Comment" or child.get("type") == "Comment":
                payload = {**child, "ticket_id": obj.get("ticket_id")}
                payload.setdefault("created_at", obj.get("created_at"))
                out += list(source.to_canonical("ticket_events", payload))
        return out
    return list(source.to_canonical(coll, obj))


def _fixture_files(shared_dir: Path) -> list[Path]:
    root = shared_dir / "vendor-fixtures" / "zendesk"
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_every_zendesk_fixture_maps(shared_dir):
    files = _fixture_files(shared_dir)
    assert len(files) > 150, "expected the ~200 recorded Zendesk files"
    source = ZendeskSource(AdapterContext(config={"url": "https://x.zendesk.com"}))
    counts: dict[str, int] = {}
    odd: list[str] = []
    channels: dict[str, int] = {}
    for path in files:
        for method, uri, status, text in _interactions(path):
            if not text.strip():
                continue
            try:
                body = json.loads(text)
            except ValueError:
                odd.append(f"{path.name}: {method} {status}: non-JSON body {text[:60]!r}")
                continue
            if isinstance(status, int) and status >= 400:
                odd.append(f"{path.name}: {method} {status}: {text[:100]}")
                continue
            for coll, obj, ticket_id in _objects(body, uri, path.name):
                try:
                    pairs = _canonical(source, coll, obj, ticket_id)
                except RecordError as e:
                    odd.append(f"{path.name}: {coll} {obj.get('id')}: {e}")
                    continue
                for kind, record in pairs:
                    if kind == "attachment":   # the engine hashes the downloaded bytes
                        assert "sha256" not in record and record["extra"].get("content_url")
                        record = {**record, "sha256": "0" * 64}
                    problem = validation_error(kind, record)
                    assert problem is None, f"{path.name}: {kind} {record.get('id')}: {problem}"
                    counts[kind] = counts.get(kind, 0) + 1
                    if kind == "ticket":
                        channels[str(record["extra"].get("source_channel"))] = record["channel"]
    print("\nmapped:", counts)
    print("via channels seen:", channels)
    print(f"odd cases ({len(odd)}):")
    for line in odd:
        print("  ", line)
    for kind in ("ticket", "comment", "contact", "agent", "organization", "group", "custom_field",
                 "attachment"):
        assert counts.get(kind, 0) > 0, f"no {kind} mapped from the fixtures"
    assert counts["ticket"] > 100
    # the deleted ticket 73 of the Zammad extract is skipped and reported, not migrated
    assert "73" in source.report["deleted_tickets"]
    named = source.describe()["deleted_tickets"]      # the run summary's source_info: the report
    assert "73" in named["ids"] and "deleted in the source, not migrated" in named["summary"]


def test_deleted_and_suspended_users_kept_and_flagged(shared_dir):
    path = shared_dir / "vendor-fixtures/zendesk/zenpy/betamax/TestUserCreateUpdateDelete.test_single_object_deletion-delete-single.json"
    users = []
    for _, _, status, text in _interactions(path):
        if text.strip() and status and status < 300:
            body = json.loads(text)
            if "user" in body:
                users.append(body["user"])
    deleted = [u for u in users if u.get("active") is False]
    assert deleted, "the recording holds a deleted user"
    kind, record = to_canonical.user(deleted[0])
    assert record["active"] is False and record["extra"]["deleted"] is True


def test_incremental_ticket_extract_maps_enumerations(shared_dir):
    path = shared_dir / "vendor-fixtures/zendesk/zammad-import-cassettes/zendesk_import.yml-extracts/incremental_tickets_start_time_1.SUBSET.json"
    body = json.loads(path.read_text())
    tickets = {str(t["id"]): t for t in body["tickets"]}
    record = to_canonical.ticket(tickets["1"])
    assert record["number"] == "1" and record["requester_id"].startswith("u")
    assert to_canonical.ticket(tickets["73"]) is None      # status "deleted"
    for raw in tickets.values():
        rec = to_canonical.ticket(raw)
        if rec:
            assert rec["status"] in ("new", "open", "pending", "on_hold", "solved", "closed")
            assert rec["created_at"].endswith("Z") or "+" in rec["created_at"]


def test_bad_credentials_answer_is_detected(shared_dir):
    """Zendesk answers bad credentials with 200 and an anonymous user (recorded by Zammad)."""
    path = shared_dir / "vendor-fixtures/zendesk/zammad-import-cassettes/import_zendesk_fields_validation_invalid_credentials.yml"
    bodies = [json.loads(t) for _, uri, _, t in _interactions(path) if "users/me" in uri and t.strip()]
    assert bodies and bodies[0]["user"]["id"] is None
    import httpx
    import respx

    from adapters.zendesk.client import check_account
    from hdmigrate.errors import FatalApiError
    from hdmigrate.http import HttpClient
    with respx.mock(base_url="https://bad.zendesk.com") as mock:
        mock.get("/api/v2/users/me").mock(return_value=httpx.Response(200, json=bodies[0]))
        client = HttpClient("https://bad.zendesk.com", auth=("a@b.c/token", "t"), rate_limit=None)
        with pytest.raises(FatalApiError, match="anonymous"):
            check_account(client)
