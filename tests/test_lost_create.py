"""Lost-create recovery in the engine (issue 15, item 2), over the real HTTP layer and respx.

A create whose answer is lost (the connection drops after the request went out; the HTTP layer
does not resend a non-idempotent POST) may have been carried out. The engine, not the adapter,
looks the record up by its stamp (`Target.find_existing`) before anything writes it again. The
target here has no recovery of its own: it POSTs once and reads back by stamp, nothing else.
"""

from __future__ import annotations

import json
from collections import Counter

import httpx
import pytest
import respx

from hdmigrate import registry, stamps
from hdmigrate.adapter import AdapterSpec, Capability, Target, WriteResult
from hdmigrate.canonical_dump import DumpWriter
from hdmigrate.engine import Engine
from hdmigrate.http import HttpClient, reset_limiters
from hdmigrate.plan import plan_from_dict
from hdmigrate.report import CollectingReporter

BASE = "https://records.example.com"


class RecordsApi:
    """A helpdesk API in memory: POST /records creates, GET /records?stamp= finds. `faults` maps
    a stamp to what its successive POSTs do: "lost" (created, then the answer is cut off) or
    "unsent" (the server never carried it out, and the answer is cut off too)."""

    def __init__(self, faults: dict[str, list[str]]):
        self.rows: list[dict] = []
        self.faults = {k: list(v) for k, v in faults.items()}
        self.posts: Counter = Counter()

    def create(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.posts[body["stamp"]] += 1
        fault = self.faults.get(body["stamp"], [None]).pop(0) if self.faults.get(body["stamp"]) else None
        if fault != "unsent":
            self.rows.append({**body, "id": len(self.rows) + 1})
        if fault in ("lost", "unsent"):
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
        return httpx.Response(201, json=self.rows[-1])

    def find(self, request: httpx.Request) -> httpx.Response:
        stamp = request.url.params["stamp"]
        return httpx.Response(200, json=[r for r in self.rows if r["stamp"] == stamp])

    def copies(self) -> Counter:
        return Counter(r["stamp"] for r in self.rows)


class RecordsTarget(Target):
    """POST once, find by stamp: no retry loop, no look-up inside `write`."""

    name = "records"
    capabilities = frozenset({Capability.PRIVATE_NOTES})

    def __init__(self, ctx):
        super().__init__(ctx)
        self.http = HttpClient(BASE, max_attempts=3, sleep=lambda s: None)

    def find_existing(self, kind, record, ctx):
        rows = self.http.get_json("/records", params={"stamp": stamps.external(kind, record["id"])})
        return str(rows[0]["id"]) if rows else None

    def write(self, kind, record, ctx):
        body = {"stamp": stamps.external(kind, record["id"]), "kind": kind}
        if kind == "comment":
            body["ticket"] = ctx.target_id("ticket", record["ticket_id"])
        answer = self.http.request("POST", "/records", json=body, idempotent=False)
        return WriteResult(str(answer.json()["id"]))

    def close(self):
        self.http.close()


@pytest.fixture(autouse=True)
def records_registered(monkeypatch):
    adapters = dict(registry.all_adapters())
    adapters["records"] = AdapterSpec(name="records", description="test target", target=RecordsTarget)
    monkeypatch.setattr(registry, "all_adapters", lambda: adapters)
    reset_limiters()
    yield
    reset_limiters()


def _dump(root):
    w = DumpWriter(root, source="test")
    w.add("contact", {"id": "c1", "name": "Chen", "email": "chen@example.org"})
    for t in (1, 2, 3):
        w.add("ticket", {"id": f"t{t}", "subject": f"Ticket {t}", "status": "open", "requester_id": "c1",
                         "created_at": f"2021-0{t}-01T08:00:00Z"})
        for m in range(2):
            w.add("comment", {"id": f"t{t}m{m}", "ticket_id": f"t{t}", "author_id": "c1", "public": True,
                              "body_text": f"message {m}", "created_at": f"2021-0{t}-01T0{8 + m}:00:00Z"})
    w.close()
    return root


def _run(tmp_path, api: RecordsApi, workers: int = 1):
    plan = plan_from_dict({"source": {"adapter": "jsonl", "path": str(_dump(tmp_path / "src"))},
                           "target": {"adapter": "records"}, "run": {"workers": workers}}, tmp_path)
    reporter = CollectingReporter()
    engine = Engine(plan, tmp_path / "wd", reporter)
    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{BASE}/records").mock(side_effect=api.create)
        mock.get(f"{BASE}/records").mock(side_effect=api.find)
        try:
            summary = engine.run()
        finally:
            engine.store.close()
    return summary, reporter


@pytest.mark.parametrize("workers", [1, 3])
def test_a_lost_answer_is_looked_up_and_never_written_again(tmp_path, workers):
    lost = [stamps.external("ticket", "t2"), stamps.external("comment", "t1m0"), stamps.external("contact", "c1")]
    api = RecordsApi({stamp: ["lost"] for stamp in lost})
    summary, reporter = _run(tmp_path, api, workers)
    assert summary["exit_code"] == 0, summary
    assert set(api.copies().values()) == {1} and len(api.copies()) == 10   # 1 contact, 3 tickets, 6 comments
    assert all(api.posts[stamp] == 1 for stamp in lost)                     # looked up, never sent again
    # Found at once, not failed first: no failure event for a record the target holds.
    assert not [e for e in reporter.events if e["event"] == "record_failed"]
    assert summary["totals"]["created"] == 10 and summary["totals"]["failed"] == 0


def test_a_lost_answer_on_the_second_try_is_looked_up_too(tmp_path):
    # The first POST never reached the database; the one more try (after a look-up found nothing)
    # is carried out but its answer is lost as well: found by its stamp, not reported failed.
    stamp = stamps.external("ticket", "t3")
    api = RecordsApi({stamp: ["unsent", "lost"]})
    summary, _ = _run(tmp_path, api)
    assert api.posts[stamp] == 2 and api.copies()[stamp] == 1
    assert summary["exit_code"] == 0 and summary["totals"]["failed"] == 0, summary
    assert summary["kinds"]["ticket"]["created"] == 3
