"""Issue 13 item 3: never overwrite live people. A Zendesk target that already has a user with the
e-mail of a source contact keeps that user's name, tags and active state through the migration
and a delta run; the match is counted (`matched`), never `created`; the group and organization
the account already has are matched too. The requests the target sends for this (user search,
create_many, create user) are checked against Zendesk's OpenAPI document."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from adapters.zendesk.sandbox import EMAIL, TOKEN, make_sandbox
from adapters.zendesk.target import ZendeskTarget
from hdmigrate.adapter import AdapterContext, WriteResult
from hdmigrate.engine import Engine
from hdmigrate.plan import plan_from_dict
from hdmigrate.testing.sample import write_dump

FAST = {"source": 600000, "target": 600000}
CUSTOMER = "anja.wojcik2@cafe-ole2.example"    # contact c2 of the sample
BILLING = "Buchhaltung & Rechnungen"
COMPANY = "Café Olé GmbH"


def _rewrite(dump, kind, rid, change):
    path = dump / f"{kind}.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines):
        record = json.loads(line)
        if record["id"] == rid:
            lines[n] = json.dumps({**record, **change}, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def dump(tmp_path):
    root = tmp_path / "dump"
    write_dump(root, tickets=15)
    # the source account of the live customer is inactive: that must not suspend the live user
    _rewrite(root, "contact", "c2", {"active": False, "name": "A. Wojcik (source)", "tags": ["newsletter"]})
    return root


@pytest.fixture
def zendesk(monkeypatch):
    sb = make_sandbox().start()
    for k, v in sb.env.items():
        monkeypatch.setenv(k, v)
    seeded = sb.preseed(users=[{"name": "Anja Wójcik (Key Account)", "email": CUSTOMER, "role": "end-user",
                                "tags": ["vip", "key_account"], "notes": "call before shipping"}],
                        groups=[{"name": BILLING}], organizations=[{"name": COMPANY, "notes": "since 2009"}])
    try:
        yield sb, seeded
    finally:
        sb.stop()


def _run(sb, dump, workdir) -> dict:
    # job_poll_seconds: the sandbox finishes its jobs at once; the default 1 s poll would only wait
    plan = plan_from_dict({"source": {"adapter": "jsonl", "path": str(dump)},
                           "target": {**sb.plan_section, "job_poll_seconds": 0.05},
                           "options": {"tag_migrated": "hdmigrate"},
                           "run": {"workdir": str(workdir), "rate_limit": FAST}}, base_dir=workdir.parent)
    engine = Engine(plan, workdir)
    try:
        return engine.run()
    finally:
        engine.store.close()


def _kept(sb, seeded):
    user = sb.store.get("user", seeded["user"][0]["id"])
    want = seeded["user"][0]
    return {k: user[k] for k in ("name", "tags", "active", "suspended", "notes", "external_id", "email")} == \
        {k: want[k] for k in ("name", "tags", "active", "suspended", "notes", "external_id", "email")}


def test_zendesk_live_user_keeps_its_values_through_migration_and_delta_run(zendesk, dump, tmp_path):
    sb, seeded = zendesk
    workdir = tmp_path / "work"
    summary = _run(sb, dump, workdir)
    assert summary["exit_code"] == 0, summary
    kinds = summary["kinds"]
    assert kinds["contact"]["matched"] == 1 and kinds["contact"]["created"] >= 1
    assert kinds["group"]["matched"] == 1 and kinds["organization"]["matched"] == 1
    assert _kept(sb, seeded)
    assert sb.stats.count("POST", None) and not [e for e in sb.stats.log if "create_or_update" in e.path]
    # one user per e-mail, one group and one organization of each name: nothing duplicated
    emails = [u["email"] for u in sb.store.all("user") if u.get("email")]
    assert len(emails) == len(set(emails))
    assert [g["name"] for g in sb.store.all("group")].count(BILLING) == 1
    assert [o["name"] for o in sb.store.all("organization")].count(COMPANY) == 1
    # the live user is the requester of the customer's tickets (the match is used, not bypassed)
    assert any(t["requester_id"] == seeded["user"][0]["id"] for t in sb.store.all("ticket"))

    # delta run: the source changes the customer again; the live user still keeps its values
    _rewrite(dump, "contact", "c2", {"name": "Anja W. (changed)", "tags": []})
    delta = _run(sb, dump, workdir)
    assert delta["exit_code"] == 0, delta
    assert delta["kinds"]["contact"]["matched"] == 1 and delta["kinds"]["contact"]["updated"] == 0
    assert _kept(sb, seeded)


def test_zendesk_without_bulk_import_creates_users_one_by_one_and_still_matches(zendesk, dump, tmp_path):
    sb, seeded = zendesk
    sb.bulk_user_import = False
    summary = _run(sb, dump, tmp_path / "work")
    assert summary["exit_code"] == 0, summary
    assert summary["kinds"]["contact"]["matched"] == 1 and summary["kinds"]["contact"]["created"] >= 1
    assert sb.stats.count("POST", "create_user") >= 1
    assert _kept(sb, seeded)


# ---------------------------------------------------------------------------- against the OAS
from tests.test_zendesk_oas import _response_schema, _to_json_schema, _validate  # noqa: E402 - the same strict reading


@pytest.fixture(scope="module")
def oas(shared_dir):
    """As tests/test_zendesk_oas.py reads the document (waivers W5-W7), with the shared parameters."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass
    Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))  # W5
    with open(shared_dir / "api-specs/zendesk/support-oas.yaml", encoding="utf-8") as f:
        spec = yaml.load(f, Loader=Loader)
    schemas = _to_json_schema(spec["components"]["schemas"])
    schemas["JobStatusResultObject"]["anyOf"] = schemas["JobStatusResultObject"].pop("oneOf")             # W6
    schemas["FailedResult"]["required"] = [r for r in schemas["FailedResult"]["required"] if r != "id"]  # W7
    return {"components": {"schemas": schemas, "parameters": spec["components"]["parameters"]},
            "paths": spec["paths"]}


class _Ctx:
    options: dict = {}
    mapping: dict = {}

    def target_id(self, kinds, source_id):
        return None


def test_user_lookup_and_create_requests_match_the_oas(oas, zendesk):
    sb, seeded = zendesk
    sent: list[httpx.Request] = []

    class Recording(httpx.HTTPTransport):
        def handle_request(self, request):
            sent.append(request)
            return super().handle_request(request)

    ctx = AdapterContext(config={"url": sb.url, "job_poll_seconds": 0.05},
                         secrets={"email": EMAIL, "token": TOKEN}, rate_limit=6000)
    target = ZendeskTarget(ctx, transport=Recording())
    records = [{"id": "c2", "name": "Anja", "email": CUSTOMER, "active": False, "tags": []},
               {"id": "c9", "name": "New Person", "email": "new.person@example.org", "tags": ["x"]}]
    try:
        results = target.write_batch("contact", records, _Ctx())
        sb.bulk_user_import = False
        single = target.write_batch("contact", [{"id": "c10", "name": "One", "email": "one@example.org"}], _Ctx())
    finally:
        target.close()
    assert isinstance(results[0], WriteResult) and results[0].matched
    assert results[0].target_id == str(seeded["user"][0]["id"])
    assert isinstance(results[1], WriteResult) and not results[1].matched
    assert isinstance(single[0], WriteResult) and not single[0].matched
    assert _kept(sb, seeded)
    paths = oas["paths"]
    for request in sent:
        path = request.url.path
        spec_path = path if path in paths else next((p for p in paths if "{" in p and _matches(p, path)), None)
        assert spec_path, f"{request.method} {path} is not in the OAS"
        op = paths[spec_path][request.method.lower()]
        declared = set()
        for p in (op.get("parameters") or []) + (paths[spec_path].get("parameters") or []):
            p = oas["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p
            if p.get("in") == "query":
                declared.add(p["name"])
        # deepObject parameters (page[size]) are sent as name[key]
        sent_names = {name.split("[", 1)[0] for name in request.url.params}
        assert sent_names <= declared, (path, set(request.url.params), declared)
    posted: dict = {}
    for r in sent:
        if r.method == "POST":
            posted.setdefault(r.url.path, json.loads(r.content))   # the first of each
    assert "/api/v2/users/create_or_update_many" not in posted and "/api/v2/users/create_or_update" not in posted
    assert [u["email"] for u in posted["/api/v2/users/create_many"]["users"]] == ["new.person@example.org"]
    _validate(oas, "UsersRequest", posted["/api/v2/users/create_many"])
    _validate(oas, "UserRequest", posted["/api/v2/users"])
    # and the sandbox answers the lookup and the creates as the OAS says
    auth = {"Authorization": "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()}
    r = httpx.get(sb.url + "/api/v2/users/search", params={"query": f"email:{CUSTOMER}"}, headers=auth)
    _validate(oas, _response_schema(oas, "/api/v2/users/search", "get"), r.json())
    r = httpx.post(sb.url + "/api/v2/users", json={"user": {"name": "Oas", "email": "oas@example.org"}}, headers=auth)
    assert r.status_code == 201
    _validate(oas, _response_schema(oas, "/api/v2/users", "post", "201"), r.json())
    sb.bulk_user_import = True
    r = httpx.post(sb.url + "/api/v2/users/create_many", json={"users": [{"name": "Oas 2", "email": CUSTOMER}]},
                   headers=auth)
    _validate(oas, "JobStatusResponse", r.json())


def _matches(template: str, path: str) -> bool:
    a, b = template.strip("/").split("/"), path.strip("/").split("/")
    return len(a) == len(b) and all(x == y or x.startswith("{") for x, y in zip(a, b))


def test_a_person_known_by_another_identity_is_matched_not_duplicated(zendesk):
    """The account listing shows primary e-mails only: a user holding the e-mail as a second
    identity makes create_many refuse the item; the target then finds that user and matches it."""
    sb, seeded = zendesk
    live = sb.preseed(users=[{"name": "Two Addresses", "email": "first@example.org", "tags": ["vip"],
                              "identities": [{"type": "email", "value": "second@example.org"}]}])["user"][0]
    ctx = AdapterContext(config={"url": sb.url, "job_poll_seconds": 0.05},
                         secrets={"email": EMAIL, "token": TOKEN}, rate_limit=6000)
    target = ZendeskTarget(ctx)
    try:
        out = target.write_batch("contact", [{"id": "c7", "name": "Second", "email": "second@example.org"}], _Ctx())
    finally:
        target.close()
    assert isinstance(out[0], WriteResult) and out[0].matched and out[0].target_id == str(live["id"])
    assert sb.store.get("user", live["id"])["name"] == "Two Addresses"
    assert len([u for u in sb.store.all("user") if u["name"] == "Second"]) == 0
