"""Issue 18 items 1-2 on Freshdesk, which cannot backdate: every ticket's original created, first
public agent reply and solved times go into text ticket fields created once for them (found again
on later runs, never created twice), named by the plan's [mapping] original_times, and read back by
verify so the CX metrics match. An account that refuses creating fields (403) degrades each ticket
instead of failing it. Over the Freshdesk sandbox on loopback, in process."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import respx

from adapters.freshdesk.sandbox import API_KEY, make_sandbox
from adapters.freshdesk.target import FreshdeskTarget
from hdmigrate.adapter import AdapterContext
from hdmigrate import cx
from hdmigrate.canonical_dump import write_manifest
from hdmigrate.engine import Engine
from hdmigrate.plan import plan_from_dict
from hdmigrate.report import CollectingReporter
from hdmigrate.store import Store
from hdmigrate.verify import Verifier

FAST = {"source": 600000, "target": 600000}
DEFAULT_NAMES = ("cf_hdm_original_created_at", "cf_hdm_original_first_reply_at", "cf_hdm_original_solved_at")


def _records(extra_ticket: bool = False) -> dict[str, list[dict]]:
    people = {"agent": [{"id": "a1", "name": "Ann Agent", "email": "agent@example.com", "role": "agent"}],
              "contact": [{"id": "c1", "name": "Carl Customer", "email": "carl@example.com"}]}
    tickets = [
        # solved; a private note comes before the first public agent reply, which is to the second
        {"id": "1", "subject": "Printer", "status": "solved", "requester_id": "c1",
         "created_at": "2024-01-10T08:00:00Z", "updated_at": "2024-01-11T09:30:15Z",
         "solved_at": "2024-01-11T09:30:15Z"},
        # an offset: kept in UTC; no agent reply, not solved
        {"id": "2", "subject": "Offset", "status": "open", "requester_id": "c1",
         "created_at": "2024-02-01T00:00:00+02:00", "updated_at": "2024-02-01T00:00:00+02:00"},
    ]
    comments = [
        {"id": "k1", "ticket_id": "1", "author_id": "c1", "author_kind": "contact", "public": True,
         "body_text": "It jams.", "created_at": "2024-01-10T08:00:00Z"},
        {"id": "k2", "ticket_id": "1", "author_id": "a1", "author_kind": "agent", "public": False,
         "body_text": "Internal: check tray.", "created_at": "2024-01-10T08:30:00Z"},
        {"id": "k3", "ticket_id": "1", "author_id": "a1", "author_kind": "agent", "public": True,
         "body_text": "Try the other tray.", "created_at": "2024-01-10T10:00:07Z"},
        {"id": "k4", "ticket_id": "2", "author_id": "c1", "author_kind": "contact", "public": True,
         "body_text": "Hello?", "created_at": "2024-02-01T00:00:00+02:00"},
    ]
    if extra_ticket:   # a delta run: ticket 2 solved since, ticket 3 new
        tickets[1].update(status="solved", solved_at="2024-02-03T10:00:00Z", updated_at="2024-02-03T10:00:00Z")
        tickets.append({"id": "3", "subject": "Later", "status": "closed", "requester_id": "c1",
                        "created_at": "2024-03-05T12:00:00Z", "updated_at": "2024-03-06T12:00:00Z",
                        "solved_at": "2024-03-06T11:59:59Z"})
        comments += [{"id": "k5", "ticket_id": "3", "author_id": "c1", "author_kind": "contact", "public": True,
                      "body_text": "New one", "created_at": "2024-03-05T12:00:00Z"},
                     {"id": "k6", "ticket_id": "3", "author_id": "a1", "public": True,
                      "body_text": "Done", "created_at": "2024-03-05T12:05:00Z"}]
    return {**people, "ticket": tickets, "comment": comments}


def _dump(root: Path, **kw) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    records = _records(**kw)
    for kind, items in records.items():
        (root / f"{kind}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in items), encoding="utf-8")
    write_manifest(root, "jsonl", {k: len(v) for k, v in records.items()})
    return root


def _plan(dump: Path, sb, workdir: Path, mapping: dict | None = None):
    return plan_from_dict({"source": {"adapter": "jsonl", "path": str(dump)}, "target": sb.plan_section,
                           "mapping": mapping or {}, "run": {"workdir": str(workdir), "rate_limit": FAST}},
                          base_dir=workdir.parent)


def _run(plan, workdir: Path, dry_run: bool = False) -> tuple[dict, CollectingReporter]:
    reporter = CollectingReporter()
    engine = Engine(plan, workdir, reporter)
    try:
        return engine.run(dry_run=dry_run), reporter
    finally:
        engine.store.close()


def _fields(sb) -> dict[str, dict]:
    return {f["name"]: f for f in sb.store.all("ticket_field") if not f.get("default")}


def _kept(sb) -> dict[str, dict]:
    """Freshdesk ticket subject -> its custom field values."""
    return {t["subject"]: t["custom_fields"] for t in sb.store.all("ticket")}


def _unexplained_ticket_findings(report: dict) -> list[dict]:
    # (the hand-written people carry no `active`, which Freshdesk fills in: not this test's concern)
    return [f for f in report["findings"] if f["kind"] == "ticket" and not f["explained"]
            and f["problem"] != "extra"]


def _creates(sb) -> int:
    return sb.stats.requests[("POST", "create_ticket_field")]


@pytest.fixture
def sandbox(monkeypatch):
    monkeypatch.setenv("FRESHDESK_API_KEY", API_KEY)
    sb = make_sandbox().start()
    yield sb
    sb.stop()


def test_fields_created_once_with_the_exact_times_and_found_again(sandbox, tmp_path):
    wd = tmp_path / "w"
    summary, _ = _run(_plan(_dump(tmp_path / "d1"), sandbox, wd), wd)
    assert summary["exit_code"] == 0, summary
    fields = _fields(sandbox)
    assert set(DEFAULT_NAMES) <= set(fields) and _creates(sandbox) == 3
    assert {fields[n]["type"] for n in DEFAULT_NAMES} == {"custom_text"}     # keeps the time of day
    assert not any(fields[n].get("displayed_to_customers") for n in DEFAULT_NAMES)
    kept = _kept(sandbox)
    assert {k: v for k, v in kept["Printer"].items() if v is not None} == {
        "cf_hdm_original_created_at": "2024-01-10T08:00:00Z",
        "cf_hdm_original_first_reply_at": "2024-01-10T10:00:07Z",   # the private note does not count
        "cf_hdm_original_solved_at": "2024-01-11T09:30:15Z"}
    assert {k: v for k, v in kept["Offset"].items() if v is not None} == {
        "cf_hdm_original_created_at": "2024-01-31T22:00:00Z"}       # no reply, not solved: nothing made up
    # a later run (delta: one more ticket) with the work directory's field map gone finds them by name
    (wd / "freshdesk-field-map.json").unlink()
    summary, _ = _run(_plan(_dump(tmp_path / "d1", extra_ticket=True), sandbox, wd), wd)
    assert summary["exit_code"] == 0, summary
    assert _creates(sandbox) == 3 and set(_fields(sandbox)) == set(fields)
    assert {k: v for k, v in _kept(sandbox)["Offset"].items() if v is not None} == {
        "cf_hdm_original_created_at": "2024-01-31T22:00:00Z",
        "cf_hdm_original_solved_at": "2024-02-03T10:00:00Z"}       # written with the ticket's update
    assert {k: v for k, v in _kept(sandbox)["Later"].items() if v is not None} == {
        "cf_hdm_original_created_at": "2024-03-05T12:00:00Z",
        "cf_hdm_original_first_reply_at": "2024-03-05T12:05:00Z",   # an agent by id (no author_kind)
        "cf_hdm_original_solved_at": "2024-03-06T11:59:59Z"}


def test_the_plan_renames_and_switches_fields_off(sandbox, tmp_path):
    wd = tmp_path / "w"
    mapping = {"original_times": {"created_at": "opened_originally", "first_reply_at": False}}
    plan = _plan(_dump(tmp_path / "d"), sandbox, wd, mapping)
    dry, _ = _run(plan, wd, dry_run=True)
    assert dry["original_time_fields"] == {"created_at": "opened_originally", "solved_at": "hdm_original_solved_at"}
    assert _creates(sandbox) == 0                                # the dry run only lists them
    summary, _ = _run(plan, wd)
    assert summary["exit_code"] == 0, summary
    assert set(_fields(sandbox)) == {"cf_opened_originally", "cf_hdm_original_solved_at"}
    assert {k: v for k, v in _kept(sandbox)["Printer"].items() if v is not None} == {
        "cf_opened_originally": "2024-01-10T08:00:00Z", "cf_hdm_original_solved_at": "2024-01-11T09:30:15Z"}
    # verify reads them back under the plan's names: resolution matches; first reply, switched off, says so
    store = Store(wd)
    try:
        report = Verifier(store, plan, wd).run()
    finally:
        store.close()
    assert report["metrics"]["source"]["resolution_time"] == report["metrics"]["target"]["resolution_time"]
    assert "switches off first_reply_at" in report["metrics"]["notes"]["first_reply_time"]
    assert _unexplained_ticket_findings(report) == []


def test_all_switched_off_writes_no_fields(sandbox, tmp_path):
    wd = tmp_path / "w"
    off = {"original_times": {f: False for f in cx.ORIGINAL_TIME_FIELDS}}
    summary, _ = _run(_plan(_dump(tmp_path / "d"), sandbox, wd, off), wd)
    assert summary["exit_code"] == 0 and "original_time_fields" not in summary
    assert _fields(sandbox) == {} and _creates(sandbox) == 0


def test_no_admin_rights_degrade_each_ticket_and_warn_once(sandbox, tmp_path):
    sandbox.admin = False
    wd = tmp_path / "w"
    summary, reporter = _run(_plan(_dump(tmp_path / "d"), sandbox, wd), wd)
    assert summary["exit_code"] == 0, summary                   # written, not failed
    assert summary["kinds"]["ticket"]["created"] == 2 and summary["kinds"]["ticket"]["failed"] == 0
    assert _fields(sandbox) == {}
    assert all(not v for cf in _kept(sandbox).values() for v in cf.values())
    store = Store(wd)
    try:
        lost = [d for d in store.degradations() if d["code"] == "original_times_not_kept"]
    finally:
        store.close()
    assert sorted(d["id"] for d in lost) == ["1", "2"] and all(d["kind"] == "ticket" for d in lost)
    assert "403" in lost[0]["detail"]
    warnings = [m for m in reporter.messages if "original_times_not_kept" in m]
    assert len(warnings) == 1, reporter.messages
    assert _creates(sandbox) == 3                                # asked once per field, then not again


def test_verify_reads_the_kept_times_back_and_the_metrics_match(sandbox, tmp_path):
    wd = tmp_path / "w"
    plan = _plan(_dump(tmp_path / "d"), sandbox, wd)
    assert _run(plan, wd)[0]["exit_code"] == 0
    store = Store(wd)
    try:
        report = Verifier(store, plan, wd).run()
    finally:
        store.close()
    m_s, m_t = report["metrics"]["source"], report["metrics"]["target"]
    assert m_s["first_reply_time"] == m_t["first_reply_time"] == {"n": 1, "median_s": 7207.0, "mean_s": 7207.0}
    assert m_s["resolution_time"] == m_t["resolution_time"]
    assert "first_reply_time" not in report["metrics"]["notes"]
    assert _unexplained_ticket_findings(report) == []
    assert report["counts"]["custom_field"]["extra"] == 0        # the run's own fields are not someone else's


def test_verify_names_a_kept_time_that_was_changed_in_the_target(sandbox, tmp_path):
    wd = tmp_path / "w"
    plan = _plan(_dump(tmp_path / "d"), sandbox, wd)
    assert _run(plan, wd)[0]["exit_code"] == 0
    ticket = next(t for t in sandbox.store.all("ticket") if t["subject"] == "Printer")
    ticket["custom_fields"]["cf_hdm_original_solved_at"] = "2024-01-12T00:00:00Z"
    sandbox.store.update("ticket", ticket["id"], {"custom_fields": ticket["custom_fields"]})
    store = Store(wd)
    try:
        report = Verifier(store, plan, wd).run()
    finally:
        store.close()
    bad = [f for f in report["findings"] if f["field"] == "custom_fields.hdm_original_solved_at"]
    assert bad and bad[0]["id"] == "1" and not bad[0]["explained"]
    assert bad[0]["source"] == "2024-01-11T09:30:15Z"


# -- respx: what the sandbox does not show ----------------------------------------------------------
BASE = "https://acme.freshdesk.com/api/v2"
TICKET = {"id": "t1", "subject": "S", "status": "solved", "requester_id": "c1",
          "created_at": "2023-05-01T10:00:00+02:00", "solved_at": "2023-05-02T08:00:00Z"}


class _Ctx:
    mapping: dict = {}
    options: dict = {}
    dry_run = False
    source_info: dict = {}

    def comments(self, ticket_id):
        return [{"id": "k1", "ticket_id": "t1", "author_id": "c1", "public": True, "created_at": TICKET["created_at"]}]

    def attachments(self, comment):
        return []

    def target_id(self, kinds, source_id):
        return None

    def person(self, source_id):
        return ("contact", "7")

    def record(self, kind, source_id):
        return None

    def custom_field(self, entity, key):
        return None


def _write(router, tmp_path, fields: list[dict], logs: list) -> dict:
    router.get("/agents").mock(return_value=httpx.Response(200, json=[]))
    router.get("/ticket_fields").mock(side_effect=lambda r: httpx.Response(200, json=fields))
    posted = []
    router.post("/tickets").mock(side_effect=lambda r: posted.append(json.loads(r.content))
                                 or httpx.Response(201, json={"id": 900, "attachments": []}))
    # rate_limit: respx answers at once; the documented 200/min would pace these requests with the real clock
    target = FreshdeskTarget(AdapterContext(config={"url": "https://acme.freshdesk.com"}, secrets={"api_key": "k"},
                                            role="target", workdir=tmp_path, log=logs.append, rate_limit=600000))
    result = target.write("ticket", TICKET, _Ctx())
    return {"body": posted[0], "result": result}


def test_a_duplicate_label_refused_with_400_is_the_field_created_meanwhile(tmp_path):
    fields: list[dict] = []

    def create(request):   # another lane created it a moment ago: Freshdesk says duplicate_value
        label = json.loads(request.content)["label"]
        fields.append({"id": len(fields) + 1, "name": "cf_" + label, "label": label, "type": "custom_text"})
        return httpx.Response(400, json={"description": "Validation failed", "errors": [
            {"field": "label", "message": "It should be a unique value", "code": "duplicate_value"}]})

    logs: list = []
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.post("/admin/ticket_fields").mock(side_effect=create)
        out = _write(router, tmp_path, fields, logs)
    assert out["body"]["custom_fields"] == {"cf_hdm_original_created_at": "2023-05-01T08:00:00Z",
                                            "cf_hdm_original_solved_at": "2023-05-02T08:00:00Z"}
    assert not out["result"].degradations and not logs


def test_an_account_field_of_that_name_that_is_not_text_is_a_degradation(tmp_path):
    fields = [{"id": 5, "name": "cf_hdm_original_created_at", "label": "hdm_original_created_at",
               "type": "custom_date", "default": False}]
    logs: list = []
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.post("/admin/ticket_fields").mock(side_effect=lambda r: httpx.Response(201, json={
            "id": 6, "name": "cf_" + json.loads(r.content)["label"], "label": json.loads(r.content)["label"],
            "type": "custom_text"}))
        out = _write(router, tmp_path, fields, logs)
    assert out["body"]["custom_fields"] == {"cf_hdm_original_solved_at": "2023-05-02T08:00:00Z"}
    (lost,) = out["result"].degradations
    assert lost.code == "original_times_not_kept" and "custom_date" in lost.detail
    assert len(logs) == 1 and "original_times_not_kept" in logs[0]


def test_only_targets_that_cannot_backdate_declare_the_fields():
    from hdmigrate.adapter import Capability
    from hdmigrate.registry import all_adapters
    declared = {name for name, spec in all_adapters().items()
                if spec.target is not None and cx.kept_fields(spec.target, {})}
    assert "freshdesk" in declared
    for name, spec in all_adapters().items():
        if spec.target is not None and Capability.PRESERVE_TIMESTAMPS in spec.target.capabilities:
            assert name not in declared, f"{name} backdates: it writes no original-time fields"
