"""Requests the zendesk adapter sends and responses its sandbox returns, checked against Zendesk's
own OpenAPI document (../shared/api-specs/zendesk/support-oas.yaml), in tests only.

Known inaccuracies of the document that are waived here, each by name (every other rule stays
strict):
- W1 nullable: fields Zendesk really returns as null (recorded in ../shared/vendor-fixtures) are
  declared without `nullable`; only the property names in NULLABLE_WAIVED may be null.
- W2 readOnly: `created_at` / `updated_at` are read-only in the schemas the Ticket Import API
  reuses, yet setting them is that endpoint's purpose; jsonschema does not enforce readOnly.
- W3 ticket events: the document types `ticket_events` items as TicketMetricEventBaseObject (the
  metric-events schema); the events export is therefore checked only at the top level.
- W4 `type: null` inside oneOf (an OpenAPI 3.1 form) is read as JSON Schema's "null".
- W6 JobStatusResultObject is a `oneOf` of Create/Update/Failed results that overlap (a real
  create result `{id, index, action, status, success}` matches two of them); read as `anyOf`.
- W7 FailedResult requires `id`, but a failed create has no id: `id` is not required there.
- W5 the bare `=` YAML scalar (~line 34905) is read as a string.
"""

from __future__ import annotations

import base64
import copy
import json

import httpx
import jsonschema
import pytest
import yaml

from adapters.zendesk import to_vendor
from adapters.zendesk.client import JobWatcher, make_client
from adapters.zendesk.sandbox import EMAIL, TOKEN, make_sandbox
from hdmigrate.adapter import AdapterContext
from hdmigrate.testing.sample import write_dump

NULLABLE_WAIVED = {"priority", "type", "assignee_id", "group_id", "organization_id", "due_at",
                   "external_id", "problem_id", "forum_topic_id", "recipient", "audit_id",
                   "ticket_form_id", "satisfaction_rating", "custom_role_id", "role_type",
                   "default_group_id", "last_login_at", "signature", "photo", "phone",
                   "shared_phone_number", "ticket_restriction", "width", "height", "message",
                   "results", "value", "raw_subject", "description", "email", "time_zone",
                   "iana_time_zone", "details", "notes", "url", "before_cursor", "before_url",
                   "after_cursor", "after_url", "next_page", "solved_at"}


@pytest.fixture(scope="module")
def oas(shared_dir):
    class Loader(yaml.SafeLoader):
        pass
    Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))  # W5
    with open(shared_dir / "api-specs/zendesk/support-oas.yaml", encoding="utf-8") as f:
        spec = yaml.load(f, Loader=Loader)
    schemas = _to_json_schema(spec["components"]["schemas"])
    result = schemas["JobStatusResultObject"]
    result["anyOf"] = result.pop("oneOf")                                                      # W6
    schemas["FailedResult"]["required"] = [r for r in schemas["FailedResult"]["required"] if r != "id"]  # W7
    return {"components": {"schemas": schemas}, "paths": spec["paths"]}


def _to_json_schema(node, name=None):
    """OpenAPI 3.0 schema -> JSON Schema: nullable, W1, W4."""
    if isinstance(node, list):
        return [_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {k: _to_json_schema(v, k) for k, v in value.items()}
        elif key in ("example", "examples"):
            continue
        else:
            out[key] = _to_json_schema(value)
    if out.get("type") is None and "type" in node and node["type"] is None:
        out["type"] = "null"                                                  # W4
    nullable = out.pop("nullable", False) or name in NULLABLE_WAIVED          # W1
    if nullable:
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _validate(oas, schema_name, instance):
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": oas["components"]}
    jsonschema.Draft4Validator(root).validate(instance)


def _response_schema(oas, path, method, status="200"):
    op = oas["paths"][path][method]
    return op["responses"][status]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    dump = tmp_path_factory.mktemp("zd") / "dump"
    write_dump(dump, tickets=15, comments_per_ticket=3, attachments=6, seed=5)
    sb = make_sandbox(data=dump, rate_limit=700).start()
    yield sb
    sb.stop()


def _get(sb, path, **params):
    auth = "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
    r = httpx.get(sb.url + path, params=params, headers={"Authorization": auth})
    assert r.status_code == 200, r.text
    assert "X-Rate-Limit" in r.headers and "X-Rate-Limit-Remaining" in r.headers
    return r.json()


@pytest.mark.parametrize("path,api_path,params", [
    ("/api/v2/incremental/tickets/cursor", "/api/v2/incremental/tickets/cursor", {"start_time": 0}),
    ("/api/v2/incremental/users/cursor", "/api/v2/incremental/users/cursor", {"start_time": 0}),
    ("/api/v2/incremental/organizations", "/api/v2/incremental/organizations", {"start_time": 0}),
    ("/api/v2/groups", "/api/v2/groups", {}),
    ("/api/v2/ticket_fields", "/api/v2/ticket_fields", {}),
    ("/api/v2/user_fields", "/api/v2/user_fields", {}),
    ("/api/v2/tickets/1/comments", "/api/v2/tickets/{ticket_id}/comments", {}),
    ("/api/v2/users", "/api/v2/users", {"role": "agent"}),
    ("/api/v2/users", "/api/v2/users", {"role[]": "admin", "page[size]": 1}),
])
def test_sandbox_responses_match_the_oas(oas, sandbox, path, api_path, params):
    body = _get(sandbox, path, **params)
    _validate(oas, _response_schema(oas, api_path, "get"), body)


def test_list_users_filters_by_role_and_keeps_the_filter_across_pages(sandbox):
    admins = _get(sandbox, "/api/v2/users", role="admin")["users"]
    agents = _get(sandbox, "/api/v2/users", role="agent")["users"]
    assert admins and agents and {u["role"] for u in admins} == {"admin"} and {u["role"] for u in agents} == {"agent"}
    seen, page = [], _get(sandbox, "/api/v2/users", **{"role": "agent", "page[size]": 2})
    while True:
        seen += page["users"]
        if not page["meta"]["has_more"]:
            break
        page = httpx.get(page["links"]["next"], headers={"Authorization": "Basic " + base64.b64encode(
            f"{EMAIL}/token:{TOKEN}".encode()).decode()}).json()
    assert [u["id"] for u in seen] == [u["id"] for u in agents]


def test_ticket_events_top_level(oas, sandbox):                                  # W3
    body = _get(sandbox, "/api/v2/incremental/ticket_events", start_time=0, include="comment_events")
    for key in ("count", "end_of_stream", "end_time", "next_page", "ticket_events"):
        assert key in body
    assert any(c.get("event_type") == "Comment" for e in body["ticket_events"] for c in e["child_events"])


def test_upload_and_job_responses_match_the_oas(oas, sandbox):
    auth = "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
    r = httpx.post(sandbox.url + "/api/v2/uploads", params={"filename": "a.txt"}, content=b"hello",
                   headers={"Authorization": auth, "Content-Type": "text/plain"})
    assert r.status_code == 201
    _validate(oas, _response_schema(oas, "/api/v2/uploads", "post", "201"), r.json())
    r = httpx.post(sandbox.url + "/api/v2/organizations/create_many",
                   json={"organizations": [{"name": "Oas Org", "external_id": "x"}, {"name": ""}]},
                   headers={"Authorization": auth})
    _validate(oas, "JobStatusResponse", r.json())
    job = r.json()["job_status"]
    for _ in range(100):
        job = _get(sandbox, f"/api/v2/job_statuses/{job['id']}")["job_status"]
        if job["status"] == "completed":
            break
    _validate(oas, "JobStatusResponse", {"job_status": job})
    assert job["results"][0]["success"] is True and job["results"][1]["error"]
    r = httpx.post(sandbox.url + "/api/v2/groups", json={"group": {}}, headers={"Authorization": auth})
    assert r.status_code == 422 and r.json()["error"] == "RecordInvalid" and "name" in r.json()["details"]


def test_show_many_job_statuses_request_and_response_match_the_oas(oas, sandbox):
    """The watcher's GET /job_statuses/show_many as sent (recorded on its way to the sandbox):
    only declared query parameters, the required `ids` present and of its schema; the sandbox's
    answer is a JobStatusesResponse that leaves unknown ids out and carries the rate-limit headers."""
    sent: list[httpx.Request] = []

    class Recording(httpx.HTTPTransport):
        def handle_request(self, request):
            sent.append(request)
            return super().handle_request(request)

    ctx = AdapterContext(config={"url": sandbox.url}, secrets={"email": EMAIL, "token": TOKEN}, rate_limit=700)
    client = make_client(ctx, Recording())
    jobs = [client.request("POST", "/api/v2/organizations/create_many",
                           json={"organizations": [{"name": f"Show Many {n}"}]}).json()["job_status"]
            for n in range(2)]
    watcher = JobWatcher(client, poll=0.05)
    assert all(watcher.wait(job, "orgs", 1)["status"] == "completed" for job in jobs)
    assert watcher.show_many
    client.close()
    op = oas["paths"]["/api/v2/job_statuses/show_many"]["get"]
    declared = {p["name"]: p for p in op["parameters"] if p.get("in") == "query"}
    polls = [r for r in sent if r.url.path == "/api/v2/job_statuses/show_many"]
    assert polls and not [r for r in sent if r.url.path.startswith("/api/v2/job_statuses/") and r not in polls]
    for request in polls:
        assert request.method == "GET" and set(request.url.params) <= set(declared)
        for name, parameter in declared.items():
            assert name in request.url.params or not parameter.get("required")
            if name in request.url.params:
                jsonschema.validate(request.url.params[name], parameter["schema"])
    ids = [job["id"] for job in jobs]
    body = _get(sandbox, "/api/v2/job_statuses/show_many", ids=",".join(ids + ["0123abcd"]))
    _validate(oas, _response_schema(oas, "/api/v2/job_statuses/show_many", "get"), body)
    assert sorted(j["id"] for j in body["job_statuses"]) == sorted(ids)
    assert all(j["results"][0]["success"] is True for j in body["job_statuses"])
    assert _get(sandbox, "/api/v2/job_statuses/show_many.json", ids="0123abcd") == {"job_statuses": []}


def test_adapter_request_bodies_match_the_oas(oas):
    record = {"id": "7", "subject": "Ünïcode", "status": "on_hold", "requester_id": "u1",
              "priority": "high", "type": "task", "tags": ["a b"], "custom_fields": {"12": "x"},
              "created_at": "2020-01-02T03:04:05Z", "updated_at": "2020-01-03T03:04:05Z",
              "due_at": "2020-02-01T00:00:00Z"}
    comment = to_vendor.comment_body({"public": False, "body_html": "<p>x</p>",
                                    "created_at": "2020-01-02T03:04:05Z"}, "5", ["tok"])
    mapped = to_vendor.ticket(record, {"status": {"on_hold": "hold"}},
                              to_vendor.TicketRefs(requester="5", assignee="6", group="3", organization="4",
                                                   ccs=("8",), field_ids={"12": 99}),
                              [comment], tag_migrated="hdmigrate")
    body = mapped.body
    assert body["status"] == "hold" and mapped.degradations == []
    _validate(oas, "TicketBulkImportRequest", {"tickets": [body]})
    user = to_vendor.user_body("contact", {"id": "u2", "name": "A", "email": "a@b.c", "emails": ["x@y.z"],
                                          "phones": ["+1"], "tags": ["t"], "custom_fields": {"k": 1}},
                             "4", "hdmigrate")
    _validate(oas, "UsersRequest", {"users": [user]})
    _validate(oas, "OrganizationObject", to_vendor.organization_body({"id": "1", "name": "O", "domains": ["o.com"]}))


def test_ticket_events_pages_serve_every_comment_in_order(tmp_path):
    # The sandbox builds only a page's events (it built every comment's on every page); paged
    # small, the pages still add up to every comment, in (time, audit) order, and only the last
    # says end_of_stream. As Zendesk's time-based exports do, a page starts at the previous one's
    # end_time inclusive: what repeats is only what shares that second.
    dump = tmp_path / "dump"
    write_dump(dump, tickets=9, comments_per_ticket=3, attachments=2, seed=8)
    sb = make_sandbox(data=dump, rate_limit=600000).start()
    try:
        seen, pages, start = {}, [], 0
        while True:
            body = _get(sb, "/api/v2/incremental/ticket_events", start_time=start, per_page=4,
                        include="comment_events")
            pages.append(body)
            events = [(e["timestamp"], e["id"], c["id"]) for e in body["ticket_events"] for c in e["child_events"]]
            assert events == sorted(events)
            for ts, audit, cid in events:
                assert cid not in seen or ts == start, (cid, ts, start)
                seen[cid] = (ts, audit)
            if body["end_of_stream"]:
                break
            start = body["end_time"]
        stored = sb.store.all("comment")
    finally:
        sb.stop()
    assert sorted(seen) == sorted(c["id"] for c in stored)
    assert all(len(p["ticket_events"]) == 4 and not p["end_of_stream"] for p in pages[:-1])
    assert len(pages) > 3
