"""Links between tickets survive the switch (issue 18 item 4), end to end over loopback: a Zendesk
sandbox whose comments link to its own tickets → a Freshdesk sandbox. Each link to a migrated
ticket points at the new ticket's page, everything else in the body is byte-identical, every link
found is recorded, verify compares the bodies with exactly the recorded rewrites, and
`[mapping] rewrite_links = false` leaves every body as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.freshdesk.sandbox import API_KEY, make_sandbox as freshdesk_sandbox
from adapters.zendesk.sandbox import make_sandbox as zendesk_sandbox
from hdmigrate.canonical_dump import write_manifest
from hdmigrate.engine import Engine
from hdmigrate.plan import plan_from_dict
from hdmigrate.report import CollectingReporter
from hdmigrate.store import Store
from hdmigrate.testing.hostile import free_port
from hdmigrate.verify import Verifier

FAST = {"source": 600000, "target": 600000}


def _dump(root: Path, zd: str) -> Path:
    """Three tickets; ticket 2's reply links to ticket 1 (agent page and help-center form), to a
    ticket the source does not have, to another host, and quotes a link inside <code>."""
    records = {
        "agent": [{"id": "a1", "name": "Ann Agent", "email": "ann@example.com", "role": "agent"}],
        "contact": [{"id": "c1", "name": "Carl Kunde", "email": "carl@example.com"}],
        "ticket": [{"id": str(i), "subject": f"Ticket {i}", "status": "open", "requester_id": "c1",
                    "created_at": f"2024-01-0{i}T08:00:00Z", "updated_at": f"2024-01-0{i}T09:00:00Z"}
                   for i in (1, 2, 3)],
        "comment": [
            {"id": "k1", "ticket_id": "1", "author_id": "c1", "public": True, "body_html": "<p>Drucker kaputt</p>",
             "created_at": "2024-01-01T08:00:00Z"},
            {"id": "k2", "ticket_id": "2", "author_id": "c1", "public": True, "body_html": "<p>Wieder?</p>",
             "created_at": "2024-01-02T08:00:00Z"},
            {"id": "k3", "ticket_id": "2", "author_id": "a1", "public": False,
             "body_html": (f'<p>Wie <a href="{zd}/agent/tickets/1">Ticket 1</a>, siehe {zd}/hc/de/requests/1; '
                           f'nicht {zd}/agent/tickets/99 und nicht https://other.example/agent/tickets/1.</p>'
                           f'<pre>{zd}/agent/tickets/1</pre>'),
             "created_at": "2024-01-02T09:00:00Z"},
            {"id": "k4", "ticket_id": "3", "author_id": "c1", "public": True, "body_html": "<p>Ohne Links</p>",
             "created_at": "2024-01-03T08:00:00Z"},
        ],
    }
    root.mkdir(parents=True)
    for kind, items in records.items():
        (root / f"{kind}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in items), encoding="utf-8")
    write_manifest(root, "jsonl", {k: len(v) for k, v in records.items()})
    return root


@pytest.fixture
def accounts(tmp_path, monkeypatch):
    port = free_port()
    zd_url = f"http://127.0.0.1:{port}"
    source = zendesk_sandbox(data=_dump(tmp_path / "dump", zd_url), port=port).start()
    target = freshdesk_sandbox().start()
    for box in (source, target):
        for name, value in box.env.items():
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("FRESHDESK_API_KEY", API_KEY)
    yield source, target
    source.stop()
    target.stop()


def _migrate(tmp_path, source, target, mapping=None):
    work = tmp_path / "work"
    plan = plan_from_dict({"source": source.plan_section, "target": target.plan_section, "mapping": mapping or {},
                           "run": {"workdir": str(work), "rate_limit": FAST}}, base_dir=tmp_path)
    engine = Engine(plan, work, CollectingReporter())
    try:
        summary = engine.run()
    finally:
        engine.store.close()
    assert summary["exit_code"] == 0, summary
    store = Store(work)
    try:
        ids = {(k, s): t for k, s, t, _state in store.id_map_rows()}
        degradations = [d for d in store.degradations(summary["run_id"]) if d["code"].startswith("link_")]
    finally:
        store.close()
    return plan, work, ids, degradations


def _note(target, text: str) -> str:
    return next(c["body"] for c in target.store.all("conversation") if text in c["body"])


def test_links_to_migrated_tickets_point_at_the_new_pages(accounts, tmp_path):
    source, target = accounts
    plan, work, ids, degradations = _migrate(tmp_path, source, target)
    zd, fd, new1 = source.url.rstrip("/"), target.url.rstrip("/"), ids[("ticket", "1")]
    body = _note(target, "Wie ")
    assert (f'<p>Wie <a href="{fd}/a/tickets/{new1}">Ticket 1</a>, siehe {fd}/a/tickets/{new1}; '
            f'nicht {zd}/agent/tickets/99 und nicht https://other.example/agent/tickets/1.</p>'
            f'<pre>{zd}/agent/tickets/1</pre>') in body
    by_code = {d["code"]: d for d in degradations}
    linked = {d["id"] for d in degradations}      # the one reply with links (Zendesk numbered it)
    assert set(by_code) == {"link_rewritten", "link_not_rewritten"} and len(linked) == 1
    assert by_code["link_rewritten"]["detail"] == f"ticket 1 → {new1}: {fd}/a/tickets/{new1}"
    assert by_code["link_not_rewritten"]["detail"] == "ticket 99: ticket 99 has no target id (not migrated)"
    store = Store(work)
    try:
        report = Verifier(store, plan, work).run()
    finally:
        store.close()
    comment_findings = [f for f in report["findings"] if f["kind"] == "comment" and f["id"] in linked]
    assert [f["code"] for f in comment_findings if f["code"] == "link_rewritten"] == ["link_rewritten"]
    assert not [f for f in comment_findings if not f["explained"]], comment_findings


def test_switched_off_every_body_stays_byte_identical(accounts, tmp_path):
    source, target = accounts
    _plan, _work, _ids, degradations = _migrate(tmp_path, source, target, {"rewrite_links": False})
    zd = source.url.rstrip("/")
    assert f'<a href="{zd}/agent/tickets/1">Ticket 1</a>, siehe {zd}/hc/de/requests/1;' in _note(target, "Wie ")
    assert degradations == []
