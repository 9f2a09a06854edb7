"""respx unit tests of the Zendesk target's job watcher: lanes share show_many polls, the first
poll comes at the learned time, 404 falls back to per-job polls, a stuck job times out. A fake
clock stands in for time: its sleep records the wait and moves the clock, nothing really waits."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
import respx

from adapters.zendesk.target import ZendeskTarget
from hdmigrate.adapter import AdapterContext, WriteResult
from hdmigrate.errors import TransientApiError

BASE = "https://acme.zendesk.com"
ORGS = "/api/v2/organizations/create_many"
SHOW_MANY = "/api/v2/job_statuses/show_many"


def _no_existing_orgs(respx_mock) -> None:
    # the target looks each organization up by name before creating it: none exists here
    respx_mock.get("/api/v2/organizations/search").mock(
        return_value=httpx.Response(200, json={"organizations": [], "count": 0}))


class FakeClock:
    def __init__(self, before_sleep=None):
        self.now = 0.0
        self.sleeps: list[float] = []
        self.before_sleep = before_sleep

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        if self.before_sleep:
            self.before_sleep()
        self.sleeps.append(seconds)
        self.now += seconds


class Load:
    options: dict = {}
    mapping: dict = {}


def _target(clock: FakeClock, log=None, **config) -> ZendeskTarget:
    # The HTTP client paces with the real clock (not the fake one): a high rate keeps the 100
    # organization look-ups of a test from really waiting at Zendesk's default 700/min.
    ctx = AdapterContext(config={"url": BASE, **config}, secrets={"email": "a@acme.com", "token": "sekret"},
                         log=log or (lambda message: None), rate_limit=600000)
    return ZendeskTarget(ctx, sleep=clock.sleep, clock=clock)


def _orgs(names):
    return [{"id": name, "name": name} for name in names]


def _completed(job_id, names):
    """A finished job whose item i got the target id derived from its organization's name."""
    return {"id": job_id, "status": "completed", "total": len(names),
            "results": [{"index": i, "id": _target_id(n), "action": "create", "success": True}
                        for i, n in enumerate(names)]}


def _target_id(name: str) -> int:
    lane, item = name.split("-")
    return 1000 * int(lane) + int(item)


class FakeJobs:
    """POST create_many → a new job id; remembers each job's organization names."""

    def __init__(self):
        self.names: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    def post(self, request):
        names = [o["name"] for o in json.loads(request.content)["organizations"]]
        with self.lock:
            job_id = f"J{len(self.names) + 1}"
            self.names[job_id] = names
        return httpx.Response(200, json={"job_status": {"id": job_id, "status": "queued"}})

    @staticmethod
    def asked(request) -> list[str]:
        return request.url.params["ids"].split(",")


@respx.mock(base_url=BASE, assert_all_called=False)
def test_concurrent_lanes_share_show_many_polls(respx_mock):
    _no_existing_orgs(respx_mock)
    lanes = 4
    jobs = FakeJobs()
    respx_mock.post(ORGS).mock(side_effect=jobs.post)
    show_many = respx_mock.get(SHOW_MANY).mock(side_effect=lambda request: httpx.Response(200, json={
        "job_statuses": [_completed(i, jobs.names[i]) for i in FakeJobs.asked(request)]}))
    single = respx_mock.get(url__regex=r"/api/v2/job_statuses/J\d+")

    def all_registered():   # the polling lane's first wait lasts until every lane has its job out
        deadline = time.monotonic() + 5
        while target.jobs.pending() < lanes and time.monotonic() < deadline:
            time.sleep(0.001)

    clock = FakeClock(before_sleep=all_registered)
    target = _target(clock)
    results: dict[int, list] = {}

    def lane(n):
        results[n] = target.write_batch("organization", _orgs([f"{n}-{i}" for i in range(3)]), Load())

    threads = [threading.Thread(target=lane, args=(n,)) for n in range(1, lanes + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(results) == lanes
    for n, out in results.items():
        assert all(isinstance(r, WriteResult) for r in out)
        assert [r.target_id for r in out] == [str(1000 * n + i) for i in range(3)]
    assert show_many.call_count < lanes and not single.called
    assert sorted(FakeJobs.asked(show_many.calls[0].request)) == sorted(jobs.names)
    assert clock.sleeps == [1.0]    # job_poll_seconds: nothing learned yet


@respx.mock(base_url=BASE)
def test_show_many_404_falls_back_to_polling_each_job(respx_mock):
    _no_existing_orgs(respx_mock)
    jobs = FakeJobs()
    respx_mock.post(ORGS).mock(side_effect=jobs.post)
    show_many = respx_mock.get(SHOW_MANY).mock(return_value=httpx.Response(
        404, json={"error": "InvalidEndpoint", "description": "Not found"}))
    single = respx_mock.get(url__regex=r"/api/v2/job_statuses/(?P<job>J\d+)").mock(
        side_effect=lambda request, job: httpx.Response(200, json={"job_status": _completed(job, jobs.names[job])}))
    logged: list[str] = []
    target = _target(FakeClock(), log=logged.append)
    first = target.write_batch("organization", _orgs(["1-0", "1-1"]), Load())
    second = target.write_batch("organization", _orgs(["2-0"]), Load())
    assert [r.target_id for r in first] == ["1000", "1001"] and second[0].target_id == "2000"
    assert show_many.call_count == 1 and single.call_count == 2    # show_many asked once only
    assert len([m for m in logged if "show_many" in m]) == 1


@respx.mock(base_url=BASE)
def test_a_job_that_never_completes_times_out(respx_mock):
    _no_existing_orgs(respx_mock)
    respx_mock.post(ORGS).mock(return_value=httpx.Response(200, json={"job_status": {"id": "J1", "status": "queued"}}))
    show_many = respx_mock.get(SHOW_MANY).mock(return_value=httpx.Response(
        200, json={"job_statuses": [{"id": "J1", "status": "working", "total": 1, "progress": 0}]}))
    clock = FakeClock()
    target = _target(clock, job_timeout_seconds=30)
    # the item's outcome is unknown (the job may still finish): handed to the engine, which looks it up
    out = target.write_batch("organization", _orgs(["1-0"]), Load())
    assert len(out) == 1 and isinstance(out[0], TransientApiError) and out[0].status is None
    assert "J1 still 'working' after 30s" in str(out[0])
    assert clock.now == pytest.approx(30)        # the last poll is at the deadline, not beyond it
    assert clock.sleeps[:3] == pytest.approx([1.0, 1.5, 2.25]) and max(clock.sleeps) <= 10
    assert show_many.call_count == len(clock.sleeps) and target.jobs.pending() == 0


@respx.mock(base_url=BASE)
def test_the_first_poll_comes_at_the_learned_time(respx_mock):
    _no_existing_orgs(respx_mock)
    jobs = FakeJobs()
    respx_mock.post(ORGS).mock(side_effect=jobs.post)
    sizes = {"J1": 20, "J2": 10, "J3": 40}
    names = {job: [f"{n + 1}-{i}" for i in range(size)] for n, (job, size) in enumerate(sizes.items())}
    answers = iter([[],                                  # J1 not known yet: asked again next round
                    [_completed("J1", names["J1"])],
                    [_completed("J2", names["J2"])],
                    [_completed("J3", names["J3"])]])
    show_many = respx_mock.get(SHOW_MANY).mock(
        side_effect=lambda request: httpx.Response(200, json={"job_statuses": next(answers)}))
    clock = FakeClock()
    target = _target(clock)
    for job in sizes:
        out = target.write_batch("organization", _orgs(names[job]), Load())
        assert [r.target_id for r in out] == [str(_target_id(n)) for n in names[job]]
    # J1: 20 items seen done at 1.0 + 1.5 s = 0.125 s per item; J2 (10 items) is first asked for
    # at 1.25 s; J3 (40 items) at 2.5 s, the longest job so far, not at 5 s
    assert clock.sleeps == pytest.approx([1.0, 1.5, 1.25, 2.5])
    assert [FakeJobs.asked(c.request) for c in show_many.calls] == [["J1"], ["J1"], ["J2"], ["J3"]]


@respx.mock(base_url=BASE)
def test_a_nearly_done_job_is_asked_again_when_its_progress_says_it_ends(respx_mock):
    _no_existing_orgs(respx_mock)
    jobs = FakeJobs()
    respx_mock.post(ORGS).mock(side_effect=jobs.post)
    names = [f"1-{i}" for i in range(100)]
    answers = iter([[{"id": "J1", "status": "working", "total": 100, "progress": 80}],
                    [_completed("J1", names)]])
    respx_mock.get(SHOW_MANY).mock(side_effect=lambda request: httpx.Response(
        200, json={"job_statuses": next(answers)}))
    clock = FakeClock()
    out = _target(clock).write_batch("organization", _orgs(names), Load())
    assert out[99].target_id == "1099"
    assert clock.sleeps == pytest.approx([1.0, 0.25])   # 80 items in 1 s: 20 more take 0.25 s, not 1.5
