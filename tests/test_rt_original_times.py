"""respx unit tests: the RT target keeps each ticket's original times (issue 18 item 1) in ticket
custom fields an admin applied to the queue — REST2 (RT 5.0.3) cannot apply a field, so it creates
none — with exact RFC 3339 UTC values; names from the plan ([mapping] original_times: renamed or
switched off); a queue without them writes the ticket all the same with `original_times_not_kept`,
said once in the log, and the dry run (`degradations()`) predicts exactly that."""

from __future__ import annotations

import respx

from adapters.rt.target import RtTarget
from hdmigrate import cx
from hdmigrate.adapter import AdapterContext
from tests.test_rt_target import BASE, Ctx, FakeRt

TICKET = {"id": "t1", "subject": "Printer", "status": "solved", "requester_id": "c1", "creator_id": "c1",
          "created_at": "2019-01-02T03:04:05Z", "solved_at": "2019-01-04T10:00:00+02:00", "extra": {}}
COMMENTS = [{"id": "k1", "ticket_id": "t1", "author_id": "c1", "public": True, "body_text": "Opening",
             "created_at": "2019-01-02T03:04:05Z"},
            {"id": "k2", "ticket_id": "t1", "author_id": "a1", "author_kind": "agent", "public": False,
             "body_text": "Internal", "created_at": "2019-01-02T04:00:00Z"},     # private: not a reply
            {"id": "k3", "ticket_id": "t1", "author_id": "a1", "author_kind": "agent", "public": True,
             "body_text": "Reply", "created_at": "2019-01-02T05:06:07.250000Z"}]


class MappedCtx(Ctx):
    def __init__(self, comments, mapping=None):
        super().__init__(comments)
        self.mapping = mapping or {}


def _target(mapping=None, log=None) -> RtTarget:
    return RtTarget(AdapterContext(config={"url": "http://127.0.0.1:9"}, secrets={"token": "tok-secret"},
                                   mapping=mapping or {}, log=log or (lambda m: None), role="target"))


def _applied(router, names):
    route = router.get("/queue/1/customfields").respond(
        json={"items": [{"id": n, "Name": name} for n, name in enumerate(names, 10)], "pages": 1})
    return route


def _fields_posted(router) -> list:
    return [c for c in router.calls if c.request.method == "POST" and c.request.url.path.endswith("/customfield")]


def test_fields_applied_to_the_queue_get_the_exact_times_and_nothing_is_created():
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        rt = FakeRt(router, keeps=False)
        listed = _applied(router, ["Severity", "HDM_Original_Created_At", "hdm_original_first_reply_at",
                                   "hdm_original_solved_at"])     # RT matches names case-insensitively
        t = _target()
        t.check()
        ctx = MappedCtx(COMMENTS)
        predicted = t.degradations("ticket", TICKET, ctx)
        result = t.write("ticket", TICKET, ctx)
        t.write("ticket", {**TICKET, "id": "t2"}, MappedCtx([{**c, "ticket_id": "t2"} for c in COMMENTS]))
        sent = rt.tickets[result.target_id]["body"]["CustomFields"]
        assert sent == {"HDM_Original_Created_At": "2019-01-02T03:04:05Z",
                        "hdm_original_first_reply_at": "2019-01-02T05:06:07.250000Z",
                        "hdm_original_solved_at": "2019-01-04T08:00:00Z"}
        assert [d for d in predicted if d.code == "original_times_not_kept"] == []
        assert [d for d in result.degradations if d.code == "original_times_not_kept"] == []
        assert listed.call_count == 1          # the queue's fields listed once per run
        assert _fields_posted(router) == []    # REST2 cannot apply a field: none is created
    assert cx.kept_fields(RtTarget, {}) == cx.ORIGINAL_TIME_FIELDS


def test_missing_fields_degrade_every_ticket_said_once_and_the_dry_run_predicts_it():
    said = []
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        rt = FakeRt(router, keeps=False)
        _applied(router, ["hdm_original_created_at"])       # the other two are not applied
        t = _target(log=said.append)
        t.check()
        results = []
        for rid in ("t1", "t2"):
            ctx = MappedCtx([{**c, "ticket_id": rid} for c in COMMENTS])
            ticket = {**TICKET, "id": rid}
            predicted = {(d.kind, d.id, d.field, d.code, d.detail) for d in t.degradations("ticket", ticket, ctx)}
            result = t.write("ticket", ticket, ctx)
            got = {(d.kind, d.id, d.field, d.code, d.detail) for d in result.degradations}
            assert {x for x in got if x[3] == "original_times_not_kept"} == \
                {x for x in predicted if x[3] == "original_times_not_kept"}
            results.append(result)
        lost = [d for r in results for d in r.degradations if d.code == "original_times_not_kept"]
        assert [(d.kind, d.id, d.field) for d in lost] == [("ticket", "t1", "original_times"),
                                                           ("ticket", "t2", "original_times")]
        assert "hdm_original_first_reply_at, hdm_original_solved_at" in lost[0].detail
        assert "hdm_original_created_at" not in lost[0].detail
        # the field that is applied still gets its value: written, not failed
        body = rt.tickets[results[0].target_id]["body"]["CustomFields"]
        assert body == {"hdm_original_created_at": "2019-01-02T03:04:05Z"}
    told = [m for m in said if "original_times_not_kept" in m]
    assert len(told) == 1 and "hdm_original_solved_at" in told[0] and "Applies to" in told[0], said


def test_renamed_and_switched_off_by_the_plan():
    mapping = {"original_times": {"created_at": "Opened originally", "first_reply_at": False}}
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        rt = FakeRt(router, keeps=False)
        _applied(router, ["Opened originally", "hdm_original_solved_at", "hdm_original_first_reply_at"])
        t = _target(mapping=mapping)
        t.check()
        result = t.write("ticket", TICKET, MappedCtx(COMMENTS, mapping))
        assert rt.tickets[result.target_id]["body"]["CustomFields"] == {
            "Opened originally": "2019-01-02T03:04:05Z", "hdm_original_solved_at": "2019-01-04T08:00:00Z"}
        off = {"original_times": {f: False for f in cx.ORIGINAL_TIME_FIELDS}}
        t2 = _target(mapping=off)
        t2.check()
        result = t2.write("ticket", {**TICKET, "id": "t9"}, MappedCtx(COMMENTS, off))
        assert rt.tickets[result.target_id]["body"]["CustomFields"] == {}
        assert [d for d in result.degradations if d.code == "original_times_not_kept"] == []


def test_a_ticket_without_any_time_is_not_degraded():
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        FakeRt(router, keeps=False)
        _applied(router, [])
        t = _target()
        t.check()
        undated = {"id": "t5", "subject": "no times", "status": "open", "extra": {}}
        assert [d.code for d in t.degradations("ticket", undated, MappedCtx([]))
                if d.code == "original_times_not_kept"] == []


def test_the_dry_run_estimate_lists_the_fields_an_admin_creates_and_asks_for_no_create():
    from adapters.django_helpdesk.target import DjangoHelpdeskTarget
    from adapters.freshdesk.target import FreshdeskTarget
    from hdmigrate import estimate

    summary = {"kinds": {"ticket": {"created": 4}}, "original_time_fields": dict(cx.ORIGINAL_TIME_FIELDS)}
    for cls in (RtTarget, DjangoHelpdeskTarget):
        est = estimate.estimate(summary, source_pages=1, source_cls=None, target_cls=cls)
        assert est["target_requests"] == 4             # no field create counted
        line = estimate.render(est)[-1]
        assert "an admin creates them" in line and "hdm_original_solved_at (solved_at)" in line, line
    est = estimate.estimate(summary, source_pages=1, source_cls=None, target_cls=FreshdeskTarget)
    assert est["target_requests"] == 4 + 3 and "Ticket fields the target creates" in estimate.render(est)[-1]
