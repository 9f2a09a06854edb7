"""Delta runs into both targets: a ticket changed in the source (status, tags, a custom field) after
the first migration is updated in place by `update()`, nothing is created twice, and verify
explains every difference."""

from __future__ import annotations

import json

import pytest

from adapters.freshdesk.sandbox import make_sandbox as make_freshdesk
from hdmigrate.canonical_dump import iter_records
from adapters.zendesk.sandbox import make_sandbox as make_zendesk
from hdmigrate.engine import Engine
from hdmigrate.plan import plan_from_dict
from hdmigrate.testing.sample import write_dump
from hdmigrate.store import Store
from hdmigrate.verify import verify


def _run(plan, work) -> dict:
    engine = Engine(plan, work)
    try:
        return engine.run()
    finally:
        engine.store.close()


def _change_one_ticket(dump) -> dict:
    tickets = list(iter_records(dump, "ticket"))
    ticket = next(t for t in tickets if t["status"] == "open" and (t.get("custom_fields") or {}).get("order_number"))
    ticket["status"] = "pending"
    ticket["tags"] = [*ticket.get("tags", []), "eskaliert"]
    ticket["custom_fields"]["order_number"] = "A-2099-000001"
    ticket["updated_at"] = "2099-01-01T00:00:00Z"
    with open(dump / "ticket.jsonl", "w", encoding="utf-8") as f:
        for t in tickets:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")
    return ticket


@pytest.mark.parametrize("platform", ["freshdesk", "zendesk"])
def test_changed_ticket_is_updated_in_place(tmp_path, monkeypatch, platform):
    dump = tmp_path / "dump"
    write_dump(dump, tickets=12, comments_per_ticket=2, attachments=0, seed=3)
    box = (make_freshdesk() if platform == "freshdesk" else make_zendesk()).start()
    if platform == "zendesk":
        box.job_delay = 0.01
    try:
        for k, v in box.env.items():
            monkeypatch.setenv(k, v)
        work = tmp_path / "work"
        target = {**box.plan_section, **({"job_poll_seconds": 0.05} if platform == "zendesk" else {})}
        plan = plan_from_dict({"source": {"adapter": "jsonl", "path": str(dump)}, "target": target,
                               "options": {"tag_migrated": "hdmigrate"},
                               "run": {"workdir": str(work), "rate_limit": {"source": 600000, "target": 600000}}},
                              base_dir=tmp_path)
        assert _run(plan, work)["exit_code"] == 0
        tickets_before = box.store.count("ticket")
        changed = _change_one_ticket(dump)
        summary = _run(plan, work)
        assert summary["exit_code"] == 0, summary
        assert summary["kinds"]["ticket"]["updated"] == 1 and summary["kinds"]["ticket"]["created"] == 0
        assert box.store.count("ticket") == tickets_before
        store = Store(work)
        try:
            target_id = store.id_entry("ticket", changed["id"])["target_id"]
            if platform == "freshdesk":
                t = box.store.get("ticket", int(target_id))
                name = json.loads((work / "freshdesk-field-map.json").read_text())["ticket:order_number"]
                assert t["status"] == 3 and "eskaliert" in t["tags"] and f"hdm-{changed['id']}" in t["tags"]
                assert t["custom_fields"][name] == "A-2099-000001"
            else:
                t = box.store.get("ticket", int(target_id))
                field_id = int(store.id_entry("custom_field", next(
                    f["id"] for f in iter_records(dump, "custom_field") if f["key"] == "order_number"))["target_id"])
                assert t["status"] == "pending" and "eskaliert" in t["tags"] and "hdmigrate" in t["tags"]
                assert {f["id"]: f["value"] for f in t["custom_fields"]}[field_id] == "A-2099-000001"
            report = verify(store, plan, side_archive=False)
        finally:
            store.close()
        assert report["ok"], [f for f in report["findings"] if not f["explained"] and f["problem"] != "extra"][:10]
    finally:
        box.stop()
