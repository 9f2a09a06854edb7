"""Lost answers to Zendesk creates (issue 15: lost-create recovery belongs to the engine).

The Zendesk target sends every create once and hands a lost answer back to the engine
(TransientApiError with status None, per item for a bulk import); the engine looks each record up
with `find_existing` — which first waits until the account's jobs are settled, since the import
job of a lost answer may still be running — and never writes it again. These tests cut the
answer to a ticket import deterministically (the sandbox's `drop`: the import is carried out,
the client never hears of it) and count what reached the sandbox: exactly one ticket per source
ticket, each recorded once, and one import call (the adapter does not retry on its own).
"""

from __future__ import annotations

import json
import threading
from collections import Counter

import httpx
import pytest
import respx

from adapters.zendesk.sandbox import make_sandbox
from adapters.zendesk.target import ZendeskTarget
from hdmigrate.adapter import AdapterContext, WriteResult
from hdmigrate.canonical_dump import DumpWriter
from hdmigrate.engine import Engine
from hdmigrate.errors import TransientApiError
from hdmigrate.plan import plan_from_dict
from hdmigrate.report import CollectingReporter
from hdmigrate.store import Store

IMPORT = "/api/v2/imports/tickets/create_many"


def _dump(root, tickets: int):
    w = DumpWriter(root, source="test")
    w.add("contact", {"id": "c1", "name": "Chen", "email": "chen@example.org"})
    for t in range(1, tickets + 1):
        w.add("ticket", {"id": f"t{t}", "subject": f"Ticket {t}", "status": "open", "requester_id": "c1",
                         "created_at": f"2021-0{t}-01T08:00:00Z"})
        for m in range(2):
            w.add("comment", {"id": f"t{t}m{m}", "ticket_id": f"t{t}", "author_id": "c1", "public": m == 0,
                              "body_text": f"message {m}", "created_at": f"2021-0{t}-01T0{8 + m}:00:00Z"})
    w.close()
    return root


def _cut_imports(box, answers: list[str]):
    """The sandbox's successive ticket imports: "lost" (carried out, then the connection is cut
    mid-answer) or "unsent" (never carried out, the connection cut too); later ones answer."""
    local = threading.local()
    plan = list(answers)
    handle, hit = box.handle, box.faults.hit

    def cutting_handle(request):
        local.cut = None
        if request.method == "POST" and request.path == IMPORT and plan:
            local.cut = plan.pop(0)
            if local.cut == "unsent":
                from hdmigrate.testing.sandbox import Response
                return Response(200, json={"job_status": {}}), None
        return handle(request)

    box.handle = cutting_handle
    box.faults.hit = lambda name: (name == "drop" and getattr(local, "cut", None) is not None) or hit(name)


def _migrate(tmp_path, tickets: int, answers: list[str]):
    box = make_sandbox(seed=1).start()
    box.job_delay = 0.3     # the import job is still running when the look-up starts
    _cut_imports(box, answers)
    try:
        with pytest.MonkeyPatch.context() as mp:
            for k, v in box.env.items():
                mp.setenv(k, v)
            plan = plan_from_dict({"source": {"adapter": "jsonl", "path": str(_dump(tmp_path / "src", tickets))},
                                   "target": {**box.plan_section, "job_poll_seconds": 0.05},
                                   "run": {"workdir": str(tmp_path / "wd")}}, tmp_path)
            reporter = CollectingReporter()
            engine = Engine(plan, tmp_path / "wd", reporter)
            try:
                summary = engine.run()
            finally:
                engine.store.close()
        stamps = Counter(t["external_id"] for t in box.store.all("ticket"))
        imports = [e for e in box.stats.log if e.method == "POST" and e.path == IMPORT]
        comments = {t["external_id"]: sorted(c["public"] for c in box.store.find("comment", _ticket_id=t["id"]))
                    for t in box.store.all("ticket")}
        return summary, reporter, stamps, imports, comments
    finally:
        box.stop()


def _id_map(tmp_path, kind):
    store = Store(tmp_path / "wd", create=False)
    try:
        return store.id_states(kind)
    finally:
        store.close()


@pytest.mark.parametrize("tickets", [1, 3], ids=["single", "bulk"])
def test_a_dropped_import_answer_is_looked_up_not_imported_again(tmp_path, tickets):
    summary, reporter, stamps, imports, comments = _migrate(tmp_path, tickets, ["lost"])
    assert summary["exit_code"] == 0, summary
    assert stamps == Counter({f"hdm:ticket:t{t}": 1 for t in range(1, tickets + 1)})   # one ticket each
    assert len(imports) == 1 and imports[0].fault == "drop"     # sent once: no retry of the adapter's own
    assert summary["kinds"]["ticket"]["created"] == tickets and summary["totals"]["failed"] == 0
    assert not [e for e in reporter.events if e["event"] == "record_failed"]
    assert all(v == [False, True] for v in comments.values())  # its comments came with it, privacy kept
    tickets_map = _id_map(tmp_path, "ticket")
    assert sorted(tickets_map) == [f"t{t}" for t in range(1, tickets + 1)]
    assert all(state == "done" for state, _tid, _ in tickets_map.values())
    assert len({tid for _s, tid, _ in tickets_map.values()}) == tickets              # recorded once each
    # the comments keep the ids the import gave them (<ticket>:<position>), as after an answered one
    for cid, (state, ctid, _h) in _id_map(tmp_path, "comment").items():
        ticket, position = cid[1:].split("m")
        assert state == "done" and ctid == f"{tickets_map['t' + ticket][1]}:{position}", (cid, ctid)


def test_an_import_that_never_happened_is_found_absent_and_sent_once_more(tmp_path):
    # the first import never reached the account, its answer cut as well: the look-up finds
    # nothing, the engine's one more try at the end of the kind imports it, once
    summary, _reporter, stamps, imports, _comments = _migrate(tmp_path, 2, ["unsent"])
    assert summary["exit_code"] == 0, summary
    assert stamps == Counter({"hdm:ticket:t1": 1, "hdm:ticket:t2": 1})
    assert [e.fault for e in imports][0] == "drop" and len(imports) == 3   # the cut one, then t1 and t2 again
    assert summary["kinds"]["ticket"]["created"] == 2


# ------------------------------------------------------------------ respx: the target on its own

BASE = "https://acme.zendesk.com"


class Load:
    options: dict = {}
    mapping: dict = {}

    def target_id(self, kinds, source_id):
        return None

    def person(self, source_id):
        return ("contact", "100") if source_id else None

    def record(self, kind, source_id):
        return None

    def comments(self, ticket_id):
        return [{"id": f"c{ticket_id}", "ticket_id": ticket_id, "author_id": "u1", "public": True,
                 "body_text": "hello", "created_at": "2020-01-01T00:00:00Z"}]

    def attachments(self, comment):
        return []

    def release(self, ticket_id):
        pass


def _target(**config) -> ZendeskTarget:
    ctx = AdapterContext(config={"url": BASE, "job_poll_seconds": 0.5, **config},
                         secrets={"email": "a@acme.com", "token": "sekret"})
    sleeps: list[float] = []
    target = ZendeskTarget(ctx, sleep=sleeps.append)
    target.sleeps = sleeps
    return target


@respx.mock(base_url=BASE, assert_all_called=False)
def test_write_batch_hands_a_lost_answer_back_per_item(respx_mock):
    post = respx_mock.post(IMPORT).mock(side_effect=httpx.RemoteProtocolError("peer closed connection"))
    target = _target()
    records = [{"id": str(i), "subject": "s", "status": "open", "requester_id": "u1"} for i in (1, 2)]
    out = target.write_batch("ticket", records, Load())
    assert post.call_count == 1                                  # sent once, not retried here
    assert len(out) == 2 and all(isinstance(r, TransientApiError) and r.status is None for r in out)
    assert not target.sleeps                                     # no waiting of its own either


@respx.mock(base_url=BASE, assert_all_called=False)
def test_find_existing_waits_for_running_jobs_and_returns_what_was_sent(respx_mock):
    """The look-up after a lost answer: the account's jobs first (the lost one still running),
    then the ticket by its stamp, with the comment ids the import gave it."""
    respx_mock.post(IMPORT).mock(side_effect=httpx.ReadTimeout("timed out"))
    jobs = iter([[{"id": "J1", "status": "working"}], [{"id": "J1", "status": "working"}],
                 [{"id": "J1", "status": "completed"}]])
    order: list[str] = []

    def job_list(request):
        order.append("jobs")
        return httpx.Response(200, json={"job_statuses": next(jobs)})

    def tickets(request):
        order.append("tickets")
        assert request.url.params["external_id"] == "hdm:ticket:1"
        return httpx.Response(200, json={"tickets": [{"id": 501, "external_id": "hdm:ticket:1"}]})
    respx_mock.get("/api/v2/job_statuses").mock(side_effect=job_list)
    respx_mock.get("/api/v2/tickets").mock(side_effect=tickets)
    target = _target()
    record = {"id": "1", "subject": "s", "status": "open", "requester_id": "u1"}
    assert isinstance(target.write_batch("ticket", [record], Load())[0], TransientApiError)
    found = target.find_existing("ticket", record, Load())
    assert order == ["jobs", "jobs", "jobs", "tickets"] and target.sleeps == [0.5, 0.75]
    assert isinstance(found, WriteResult) and found.target_id == "501" and not found.matched
    assert found.children == {("comment", "c1"): "501:0"}
    # settled: the next look-up does not wait for jobs again
    target.find_existing("ticket", {**record, "id": "1"}, Load())
    assert order[-2:] == ["tickets", "tickets"]


@respx.mock(base_url=BASE, assert_all_called=False)
def test_a_requester_collision_is_sent_again_by_the_client(respx_mock):
    """409 "Requester creation collision - please try again": nothing was created, so the client
    resends it (its retry rule), like a 429; one job, one ticket."""
    answers = iter([httpx.Response(409, text="Requester creation collision - please try again"),
                    httpx.Response(200, json={"job_status": {"id": "J1", "status": "queued"}})])
    post = respx_mock.post(IMPORT).mock(side_effect=lambda request: next(answers))
    respx_mock.get("/api/v2/job_statuses/show_many").mock(return_value=httpx.Response(200, json={
        "job_statuses": [{"id": "J1", "status": "completed", "results": [{"index": 0, "id": 501}]}]}))
    target = _target()
    target.client._sleep = lambda s: None
    out = target.write_batch("ticket", [{"id": "1", "subject": "s", "status": "open", "requester_id": "u1"}], Load())
    assert post.call_count == 2 and isinstance(out[0], WriteResult) and out[0].target_id == "501"
    sent = [json.loads(c.request.content)["tickets"][0]["external_id"] for c in post.calls]
    assert sent == ["hdm:ticket:1", "hdm:ticket:1"]


@respx.mock(base_url=BASE, assert_all_called=False)
def test_another_409_is_not_resent(respx_mock):
    post = respx_mock.post(IMPORT).mock(return_value=httpx.Response(409, json={"error": "Conflict"}))
    out = _target().write_batch("ticket", [{"id": "1", "subject": "s", "status": "open", "requester_id": "u1"}], Load())
    assert post.call_count == 1 and isinstance(out[0], Exception) and not isinstance(out[0], WriteResult)


def test_a_new_process_waits_for_an_import_a_killed_run_left_running(tmp_path):
    """A run killed while its import job ran: the resumed run (a new target, nothing lost in
    this process yet) looks its pending tickets up only once the account's jobs are settled."""
    box = make_sandbox(seed=1).start()
    box.job_delay = 0.5
    try:
        admin = box.admin["id"]
        body = {"tickets": [{"external_id": "hdm:ticket:k1", "subject": "s", "requester_id": admin,
                             "comments": [{"author_id": admin, "value": "x"}]}]}
        auth = (f"{box.env['ZENDESK_EMAIL']}/token", box.env["ZENDESK_TOKEN"])
        queued = httpx.post(f"{box.url}{IMPORT}", json=body, auth=auth, timeout=10).json()["job_status"]
        assert queued["status"] == "queued"                        # still running: the killed run's job
        ctx = AdapterContext(config={**box.plan_section, "job_poll_seconds": 0.05},
                             secrets={"email": box.env["ZENDESK_EMAIL"], "token": box.env["ZENDESK_TOKEN"]})
        target = ZendeskTarget(ctx)
        try:
            found = target.find_existing("ticket", {"id": "k1"}, Load())
        finally:
            target.close()
        assert isinstance(found, WriteResult) and box.store.get("ticket", int(found.target_id))
    finally:
        box.stop()
