"""CX metrics one way for both sides (issue 18): a common CSAT scale, original times kept in
target fields win over the target's own times, and the monthly continuity table."""

from __future__ import annotations

import pytest

from hdmigrate import cx


@pytest.mark.parametrize("scale, score, percent", [
    ("good_bad", "good", 100.0), ("good_bad", "bad", 0.0), ("good_bad", "offered", None),
    ("1-5", 5, 100.0), ("1-5", 1, 0.0), ("1-5", "4", 75.0), ("1-5", 9, None),
    ("0-10", 7, 70.0), (None, 3, None), ("1-5", "n/a", None),
])
def test_every_scale_reads_on_0_to_100(scale, score, percent):
    assert cx.csat_percent(scale, score) == percent


def _history():
    tickets = [{"id": "1", "created_at": "2024-01-10T08:00:00Z", "solved_at": "2024-01-11T08:00:00Z",
                "channel": "email", "status": "solved"},
               {"id": "2", "created_at": "2024-02-01T00:00:00Z", "channel": "web", "status": "open"}]
    comments = [{"id": "c1", "ticket_id": "1", "public": True, "author_kind": "contact",
                 "created_at": "2024-01-10T08:00:00Z"},
                {"id": "c2", "ticket_id": "1", "public": False, "author_kind": "agent",
                 "created_at": "2024-01-10T08:30:00Z"},
                {"id": "c3", "ticket_id": "1", "public": True, "author_id": "a1",
                 "created_at": "2024-01-10T10:00:00Z"},
                {"id": "c4", "ticket_id": "2", "public": True, "author_kind": "contact",
                 "created_at": "2024-02-01T00:00:00Z"}]
    ratings = [{"id": "r1", "ticket_id": "1", "scale": "good_bad", "score": "good"}]
    return tickets, comments, ratings


def test_first_reply_is_the_first_public_agent_comment():
    tickets, comments, ratings = _history()
    m = cx.metrics(tickets, comments, ratings, {"a1"})
    assert m["first_reply_time"] == {"n": 1, "median_s": 7200.0, "mean_s": 7200.0}   # the private note does not count
    assert m["resolution_time"]["median_s"] == 86400.0
    assert m["csat_percent"] == 100.0 and m["channel_mix"] == {"email": 1, "web": 1}


def test_a_target_that_cannot_backdate_is_measured_by_the_original_times_it_keeps():
    tickets, comments, ratings = _history()
    source = cx.metrics(tickets, comments, ratings, {"a1"})
    # the target's own times are all "now"; its fields keep the originals
    now = "2026-12-02T21:00:00Z"
    target_tickets = [dict(t, created_at=now, solved_at=now if t.get("solved_at") else None,
                           custom_fields={"hdm_original_created_at": t["created_at"],
                                          "hdm_original_first_reply_at": "2024-01-10T10:00:00Z" if t["id"] == "1" else None,
                                          "hdm_original_solved_at": t.get("solved_at")})
                      for t in tickets]
    target_comments = [dict(c, created_at=now) for c in comments]
    target = cx.metrics(target_tickets, target_comments, ratings, {"a1"})
    assert target["first_reply_time"] == source["first_reply_time"]
    assert target["resolution_time"] == source["resolution_time"]
    # switched off (no field names): the target's own times, and the loss shows
    lost = cx.metrics(target_tickets, target_comments, ratings, {"a1"}, names={})
    assert lost["first_reply_time"]["median_s"] == 0.0


def test_the_monthly_table_stitches_history():
    tickets, comments, ratings = _history()
    rows = cx.monthly(tickets, comments, ratings, {"a1"})
    assert [r["month"] for r in rows] == ["2024-01", "2024-02"]
    assert rows[0] == {"month": "2024-01", "tickets": 1, "first_reply_median_s": 7200.0,
                       "resolution_median_s": 86400.0, "csat_percent": 100.0, "ratings": 1,
                       "channel_mix": {"email": 1}}
    assert rows[1]["first_reply_median_s"] is None and rows[1]["csat_percent"] is None


def test_original_times_is_the_one_rule_a_target_writes_and_verify_measures():
    tickets, comments, _ = _history()
    times = cx.original_times(tickets[0], list(reversed(comments[:3])), {"a1"})   # any order in
    assert {k: cx.format_time(v) for k, v in times.items()} == {
        "created_at": "2024-01-10T08:00:00Z", "first_reply_at": "2024-01-10T10:00:00Z",
        "solved_at": "2024-01-11T08:00:00Z"}
    assert cx.original_times(tickets[1], [comments[3]], {"a1"}) == {"created_at": cx.parse("2024-02-01T00:00:00Z")}
    assert cx.format_time(cx.parse("2024-02-01T02:00:00.250+02:00")) == "2024-02-01T00:00:00.250000Z"


def test_a_ticket_keeping_its_created_time_and_no_reply_had_none():
    # the target's own notes are written at migration time, after the original opening: a ticket
    # that keeps its original created time but no first reply had no reply, whatever its notes say
    ticket = {"id": "9", "created_at": "2026-12-02T21:00:00Z",
              "custom_fields": {"hdm_original_created_at": "2024-01-10T08:00:00Z"}}
    thread = [{"id": "x", "ticket_id": "9", "public": True, "author_kind": "contact", "created_at": "2026-12-02T21:00:00Z"},
              {"id": "y", "ticket_id": "9", "public": True, "author_kind": "agent", "created_at": "2026-12-02T21:00:01Z"}]
    assert cx.ticket_times(ticket, thread, set())[1] is None
    assert cx.ticket_times(dict(ticket, custom_fields={}), thread, set())[1] == 1.0


def test_kept_fields_only_for_a_target_that_declares_them():
    class Backdates:
        pass

    class KeepsThem:
        keeps_original_times = True

    mapping = {"original_times": {"solved_at": "closed_originally", "first_reply_at": False}}
    assert cx.kept_fields(Backdates, mapping) == {}
    assert cx.kept_fields(KeepsThem, mapping) == {"created_at": "hdm_original_created_at",
                                                  "solved_at": "closed_originally"}
