"""Issue 13 item 2: rollback removes only what the migration created. The Freshdesk sandbox is
pre-seeded with records a live account holds (the billing group, a company, a customer with tags
and a name of their own); the migration matches them instead of creating them, rollback keeps
them unchanged and removes everything the run created; and a sample rolled back leaves nothing
behind that blocks the full migration (0 failures)."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest

from adapters.freshdesk.sandbox import make_sandbox
from hdmigrate.engine import Engine
from hdmigrate.plan import plan_from_dict
from hdmigrate.rollback import rollback_run
from hdmigrate.testing.sample import write_dump
from hdmigrate.store import Store
from wizard.flow import Wizard

FAST = {"source": 600000, "target": 600000}
BILLING = "Buchhaltung & Rechnungen"          # the sample's billing group
COMPANY = "Café Olé GmbH"
CUSTOMER = "anja.wojcik2@cafe-ole2.example"    # contact c2 of the sample


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    root = tmp_path_factory.mktemp("scope-src") / "dump"
    write_dump(root, tickets=20)
    return root


@pytest.fixture
def live(monkeypatch):
    sb = make_sandbox().start()
    for k, v in sb.env.items():
        monkeypatch.setenv(k, v)
    seeded = sb.preseed(
        groups=[{"name": BILLING, "description": "our own billing team"}],
        companies=[{"name": COMPANY, "description": "key account since 2009"}],
        contacts=[{"name": "Anja Wójcik (Key Account)", "email": CUSTOMER, "tags": ["vip", "key-account"],
                   "phone": "+49 30 1234567"}])
    try:
        yield sb, {kind: [copy.deepcopy(r) for r in records] for kind, records in seeded.items()}
    finally:
        sb.stop()


def plan_for(sb, dump, workdir, **options):
    return plan_from_dict({
        "source": {"adapter": "jsonl", "path": str(dump)},
        "target": sb.plan_section,
        "options": {"tag_migrated": "hdmigrate", **options},
        "run": {"workdir": str(workdir), "rate_limit": FAST},
    }, base_dir=workdir.parent)


def run(plan, workdir) -> dict:
    engine = Engine(plan, workdir)
    try:
        return engine.run()
    finally:
        engine.store.close()


def live_contacts(sb) -> list[dict]:
    return [c for c in sb.store.all("contact") if not c.get("deleted")]


def test_rollback_keeps_what_existed_and_removes_what_the_run_created(live, dump, tmp_path):
    sb, seeded = live
    workdir = tmp_path / "work"
    plan = plan_for(sb, dump, workdir)
    summary = run(plan, workdir)
    assert summary["exit_code"] == 0, summary
    kinds = summary["kinds"]
    assert kinds["group"]["matched"] == 1 and kinds["organization"]["matched"] == 1
    assert kinds["contact"]["matched"] == 1
    assert kinds["group"]["created"] == 7 and kinds["ticket"]["created"] == 20
    store = Store(workdir)
    try:
        entry = store.id_entry("group", "2")
        assert entry["matched"] and entry["target_id"] == str(seeded["group"][0]["id"])
        assert store.id_entry("group", "1")["matched"] is False
        # the match is reported per record (and explains, for verify, every value the live record
        # keeps that differs from the source)
        matched = {(d["kind"], d["id"]) for d in store.degradations() if d["code"] == "matched_existing"}
        assert {("group", "2"), ("organization", "2"), ("contact", "c2")} <= matched
        assert ("group", "1") not in matched
    finally:
        store.close()
    assert len(live_contacts(sb)) > 1 and sb.store.count("ticket") == 20
    # the wizard lists the matches for review after its sample and migration steps
    said: list[str] = []
    Wizard._show_matches(SimpleNamespace(workdir=workdir, io=SimpleNamespace(say=said.append)), summary["run_id"])
    assert said[0].startswith("Matched in the target") and ": 3" in said[0]
    assert any(CUSTOMER in line for line in said) and any(BILLING in line for line in said)

    result = rollback_run(plan, workdir, summary["run_id"])
    assert result["failed"] == 0, result["failures"]
    assert result["kept_matched"] == 3
    # the live records are there, exactly as they were
    assert sb.store.all("group") == seeded["group"]
    assert sb.store.all("company") == seeded["company"]
    assert live_contacts(sb) == seeded["contact"]
    # and nothing the run created is left (the contacts it made are gone for good)
    assert sb.store.count("ticket") == 0 and sb.store.count("conversation") == 0
    assert len(sb.store.all("contact")) == 1
    # custom fields cannot be deleted through the Freshdesk API: reported, not counted removed
    assert result["left"] and all(line.startswith("custom_field ") for line in result["left"])
    store = Store(workdir)
    try:
        assert store.id_entry("custom_field", result["left"][0].split()[1])["state"] == "done"
        assert store.id_entry("group", "2")["state"] == "done"          # still the live group's id
        assert store.id_entry("group", "1")["state"] == "rolled_back"
    finally:
        store.close()


def test_delta_run_leaves_matched_records_alone(live, dump, tmp_path):
    sb, seeded = live
    workdir = tmp_path / "work"
    plan = plan_for(sb, dump, workdir)
    assert run(plan, workdir)["exit_code"] == 0
    # the source changes the customer and the company: the live target records must not follow
    store = Store(workdir)
    try:
        for kind, rid, change in (("contact", "c2", {"name": "Anja W.", "tags": []}),
                                  ("organization", "2", {"notes": "changed in the source"})):
            record = {**store.record(kind, rid), **change}
            store.put_records([(kind, record, "x", f"{kind}-{rid}")], [])
    finally:
        store.close()
    summary = run(plan, workdir)
    assert summary["exit_code"] == 0, summary
    assert summary["kinds"]["contact"]["matched"] == 1 and summary["kinds"]["contact"]["updated"] == 0
    assert summary["kinds"]["organization"]["matched"] == 1
    assert [c for c in live_contacts(sb) if c["email"] == CUSTOMER] == seeded["contact"]
    assert [c for c in sb.store.all("company") if c["name"] == COMPANY] == seeded["company"]


def test_sample_rolled_back_then_full_migration_has_no_failures(live, dump, tmp_path):
    sb, seeded = live
    workdir = tmp_path / "work"
    sample = run(plan_for(sb, dump, workdir, sample=5), workdir)
    assert sample["exit_code"] == 0, sample
    assert sample["kinds"]["ticket"]["created"] == 5
    result = rollback_run(plan_for(sb, dump, workdir, sample=5), workdir, sample["run_id"])
    assert result["failed"] == 0, result["failures"]
    assert sb.store.count("ticket") == 0
    assert live_contacts(sb) == seeded["contact"]
    full = run(plan_for(sb, dump, workdir), workdir)
    assert full["exit_code"] == 0 and full["totals"]["failed"] == 0, full
    store = Store(workdir)
    try:
        assert store.failures(full["run_id"]) == []
    finally:
        store.close()
    assert sb.store.count("ticket") == 20
    emails = [c["email"] for c in live_contacts(sb) if c.get("email")]
    assert len(emails) == len(set(emails))
