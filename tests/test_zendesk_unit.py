"""respx unit tests of the zendesk source and target (no sandbox)."""

from __future__ import annotations

import json

import httpx
import respx

from adapters.zendesk import to_canonical, values
from adapters.zendesk.source import ZendeskSource
from adapters.zendesk.target import ZendeskTarget
from hdmigrate.adapter import AdapterContext, WriteResult
from hdmigrate.errors import RecordRejected

BASE = "https://acme.zendesk.com"


def _ctx(**kw):
    return AdapterContext(config={"url": BASE}, secrets={"email": "a@acme.com", "token": "sekret"}, **kw)


def test_channel_strings_and_via_ids():
    assert values.channel({"channel": "mail"}) == ("email", "mail")
    assert values.channel({"channel": 4}) == ("email", 4)
    assert values.channel({"channel": 5}) == ("api", 5)
    assert values.channel({"channel": 999}) == ("other", 999)
    assert values.channel({"channel": "rule"}) == ("other", "rule")


def test_ticket_mapping_hold_ccs_and_fields():
    rec = to_canonical.ticket({"id": 9, "status": "hold", "requester_id": 1, "collaborator_ids": [2],
                          "email_cc_ids": [2, 3], "custom_fields": [{"id": 5, "value": ["a", "b"]},
                                                                    {"id": 6, "value": True}],
                          "via": {"channel": 29}, "created_at": "2020-01-01T00:00:00Z"})
    assert rec["status"] == "on_hold" and rec["number"] == "9" and rec["channel"] == "chat"
    assert rec["cc_ids"] == ["u2", "u3"] and rec["custom_fields"] == {"5": ["a", "b"], "6": True}


@respx.mock(base_url=BASE)
def test_source_cursor_pages_and_comment_fallback(respx_mock):
    respx_mock.get("/api/v2/incremental/tickets/cursor", params={"start_time": "0"}).mock(
        return_value=httpx.Response(200, json={"tickets": [{"id": 1, "status": "open", "requester_id": 5}],
                                               "after_cursor": "c1", "end_of_stream": False}))
    respx_mock.get("/api/v2/incremental/tickets/cursor", params={"cursor": "c1"}).mock(
        return_value=httpx.Response(200, json={"tickets": [{"id": 2, "status": "closed", "requester_id": 5}],
                                               "after_cursor": "c2", "end_of_stream": True}))
    respx_mock.get("/api/v2/incremental/ticket_events").mock(return_value=httpx.Response(200, json={
        "ticket_events": [{"ticket_id": 1, "child_events": [{"id": 11, "event_type": "Comment", "body": "hi",
                                                              "public": False, "author_id": 5,
                                                              "created_at": "2020-01-01T00:00:00Z"}]}],
        "end_time": 100, "end_of_stream": True}))
    fallback = respx_mock.get("/api/v2/tickets/2/comments").mock(return_value=httpx.Response(200, json={
        "comments": [{"id": 21, "body": "x", "public": True, "author_id": 5}], "meta": {"has_more": False}}))
    # List Users by role: comment authors who are agents get author_kind "agent"
    respx_mock.get("/api/v2/users", params={"role": "admin"}).mock(return_value=httpx.Response(200, json={
        "users": [{"id": 9, "role": "admin", "email": "boss@example.com"}], "meta": {"has_more": False}}))
    respx_mock.get("/api/v2/users", params={"role": "agent"}).mock(return_value=httpx.Response(200, json={
        "users": [{"id": 5, "role": "agent", "email": "agent@example.com"}], "meta": {"has_more": False}}))
    source = ZendeskSource(_ctx())
    pages = list(source.fetch("tickets"))
    assert [p.cursor for p in pages] == ["c1", "c2"] and pages[-1].done
    pages = list(source.fetch("ticket_events"))
    ids = [rid for p in pages for rid, _ in p.items]
    assert ids == ["11", "21"] and fallback.call_count == 1 and pages[-1].done
    kind, comment = next(source.to_canonical("ticket_events", pages[0].items[0][1]))
    assert comment["public"] is False and comment["ticket_id"] == "1"
    assert comment["author_kind"] == "agent" and "_hdm_author_kind" not in comment["extra"]


@respx.mock(base_url=BASE)
def test_a_time_based_export_repeat_of_the_boundary_second_is_read_once(respx_mock):
    # Each page starts at the previous page's end_time, so that second's items come again. The
    # same version is dropped; an organization updated since the previous page is kept (newer).
    def org(i, updated):
        return {"id": i, "name": f"Org {i}", "created_at": "2020-01-01T00:00:00Z", "updated_at": updated}
    route = respx_mock.get("/api/v2/incremental/organizations")
    route.side_effect = [
        httpx.Response(200, json={"organizations": [org(1, "2020-01-02T00:00:00Z"), org(2, "2020-01-03T00:00:00Z"),
                                                    org(3, "2020-01-03T00:00:00Z")],
                                  "end_time": 1577923200 + 86400, "end_of_stream": False}),
        httpx.Response(200, json={"organizations": [org(2, "2020-01-03T00:00:00Z"), org(3, "2020-01-05T00:00:00Z"),
                                                    org(4, "2020-01-06T00:00:00Z")],
                                  "end_time": 1578268800, "end_of_stream": True}),
    ]
    source = ZendeskSource(_ctx())
    read = [(rid, item["updated_at"]) for page in source.fetch("organizations") for rid, item in page.items]
    assert read == [("1", "2020-01-02T00:00:00Z"), ("2", "2020-01-03T00:00:00Z"), ("3", "2020-01-03T00:00:00Z"),
                    ("3", "2020-01-05T00:00:00Z"), ("4", "2020-01-06T00:00:00Z")]
    assert route.call_count == 2


class FakeLoad:
    options = {"tag_migrated": "hdm"}
    mapping = {}

    def target_id(self, kinds, source_id):
        return "300" if source_id else None

    def person(self, source_id):
        return ("contact", "100") if source_id else None

    def record(self, kind, source_id):
        return None

    def comments(self, ticket_id):
        return [{"id": f"c{ticket_id}", "ticket_id": ticket_id, "author_id": "u1", "public": False,
                 "body_text": "note", "created_at": "2020-01-01T00:00:00Z"}]

    def attachments(self, comment):
        return []

    def release(self, ticket_id):
        pass


@respx.mock(base_url=BASE)
def test_target_import_item_error_fails_only_that_ticket(respx_mock):
    route = respx_mock.post("/api/v2/imports/tickets/create_many").mock(return_value=httpx.Response(
        200, json={"job_status": {"id": "J1", "status": "queued"}}))
    respx_mock.get("/api/v2/job_statuses/show_many", params={"ids": "J1"}).mock(return_value=httpx.Response(
        200, json={"job_statuses": [{
            "id": "J1", "status": "completed",
            "results": [{"index": 0, "id": 501}, {"index": 1, "error": "RecordInvalid", "details": "bad"}]}]}))
    target = ZendeskTarget(_ctx(), sleep=lambda s: None)
    records = [{"id": str(i), "subject": "s", "status": "closed", "requester_id": "u1"} for i in (1, 2)]
    out = target.write_batch("ticket", records, FakeLoad())
    assert isinstance(out[0], WriteResult) and out[0].target_id == "501"
    assert out[0].children == {("comment", "c1"): "501:0"}
    assert isinstance(out[1], RecordRejected)
    sent = json.loads(route.calls[0].request.content)["tickets"][0]
    assert sent["comments"][0]["public"] is False and sent["external_id"] == "hdm:ticket:1"
    assert sent["comments"][0]["created_at"] == "2020-01-01T00:00:00Z"
    assert "hdm" in sent["tags"]


class _AnotherLaneUploads(dict):
    """The upload tokens while another lane (thread) uploads: a file cached in the middle of any
    walk over them, as a thread switch can do."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.walked = False

    def _walk(self, view):
        for n, item in enumerate(view):
            if n == 0 and not self.walked:
                self.walked = True
                self[("c-other", "f9:sha")] = ("tok-other", 0.0)
            yield item

    def items(self):
        return self._walk(super().items())

    def __iter__(self):
        return self._walk(super().__iter__())


@respx.mock(base_url=BASE)
def test_a_ticket_batch_is_not_failed_by_another_lane_uploading_meanwhile(respx_mock, tmp_path):
    # A 20,000-ticket run failed a batch of 100 imported tickets (and their 1,000 comments) with
    # "dictionary changed size during iteration": forgetting the batch's spent tokens walked the
    # shared token cache while another lane added to it. The job had succeeded.
    blob = tmp_path / "blob"
    blob.write_bytes(b"%PDF-1.4 data")
    attachment = {"id": "f1", "comment_id": "c1", "file_name": "a.pdf", "content_type": "application/pdf",
                  "size": 13, "sha256": "abc"}

    class WithFile(FakeLoad):
        def attachments(self, comment):
            return [(attachment, blob)]

    respx_mock.post("/api/v2/uploads").mock(return_value=httpx.Response(
        201, json={"upload": {"token": "tok-1", "attachment": {"content_url": f"{BASE}/attachments/1"}}}))
    respx_mock.post("/api/v2/imports/tickets/create_many").mock(return_value=httpx.Response(
        200, json={"job_status": {"id": "J1", "status": "queued"}}))
    respx_mock.get("/api/v2/job_statuses/show_many", params={"ids": "J1"}).mock(return_value=httpx.Response(
        200, json={"job_statuses": [{"id": "J1", "status": "completed", "results": [{"index": 0, "id": 501}]}]}))
    target = ZendeskTarget(_ctx(), sleep=lambda s: None)
    target._tokens = _AnotherLaneUploads({("c-older", "f8:sha"): ("tok-older", 0.0)})
    out = target.write_batch("ticket", [{"id": "1", "subject": "s", "status": "open", "requester_id": "u1"}],
                             WithFile())
    assert isinstance(out[0], WriteResult) and out[0].target_id == "501", out
    assert out[0].children[("attachment", "f1")] == "501:0:0"
    # the spent token is forgotten; the other lanes' stay cached for their own tickets
    assert [v[0] for v in target._tokens.values()] == ["tok-older"] + (
        ["tok-other"] if target._tokens.walked else [])


@respx.mock(base_url=BASE)
def test_a_ticket_batch_waiting_on_its_job_holds_neither_its_bodies_nor_its_comments(respx_mock):
    # A batch of 100 tickets waits seconds for its import job, four lanes at a time: what it sent
    # (bodies, and the engine's copies of the comments in them) is let go once the POST is out.
    released, seen_at_poll = [], {}

    class Releasing(FakeLoad):
        def release(self, ticket_id):
            released.append(ticket_id)

    target = ZendeskTarget(_ctx(), sleep=lambda s: None)
    sent = []
    send = target._send

    def keep(path, payload, **kw):
        sent.append(payload)
        return send(path, payload, **kw)

    def poll(request):
        seen_at_poll.update(released=list(released), payload=dict(sent[0]))
        return httpx.Response(200, json={"job_statuses": [{"id": "J1", "status": "completed", "results": [
            {"index": 0, "id": 501}, {"index": 1, "id": 502}]}]})

    target._send = keep
    route = respx_mock.post("/api/v2/imports/tickets/create_many").mock(return_value=httpx.Response(
        200, json={"job_status": {"id": "J1", "status": "queued"}}))
    respx_mock.get("/api/v2/job_statuses/show_many", params={"ids": "J1"}).mock(side_effect=poll)
    records = [{"id": str(i), "subject": "s", "status": "open", "requester_id": "u1"} for i in (1, 2)]
    out = target.write_batch("ticket", records, Releasing())
    assert [r.target_id for r in out] == ["501", "502"]
    assert len(json.loads(route.calls[0].request.content)["tickets"]) == 2     # sent whole
    assert seen_at_poll == {"released": ["1", "2"], "payload": {}}


@respx.mock(base_url=BASE)
def test_target_users_fall_back_to_single_creates_on_403(respx_mock):
    respx_mock.get("/api/v2/users/count").mock(return_value=httpx.Response(200, json={"count": {"value": 1}}))
    respx_mock.get("/api/v2/users").mock(return_value=httpx.Response(200, json={
        "users": [{"id": 1, "email": "admin@acme.com"}], "meta": {"has_more": False}}))
    respx_mock.post("/api/v2/users/create_many").mock(return_value=httpx.Response(
        403, json={"error": "Forbidden"}))
    single = respx_mock.post("/api/v2/users").mock(
        return_value=httpx.Response(201, json={"user": {"id": 77}}))
    target = ZendeskTarget(_ctx(), sleep=lambda s: None)
    out = target.write_batch("contact", [{"id": "u1", "name": "A", "email": "a@x.org"}], FakeLoad())
    assert out[0].target_id == "77" and not out[0].matched
    assert single.call_count == 1 and target.bulk_users is False


@respx.mock(base_url=BASE, assert_all_called=False)
def test_target_never_overwrites_a_user_with_the_same_email(respx_mock):
    """An existing user with the e-mail is matched: no create_or_update (it would replace the
    name and tags and suspend the user), no write at all for it."""
    # a large account: each person is searched for (users/search), not the whole account listed
    respx_mock.get("/api/v2/users/count").mock(return_value=httpx.Response(200, json={"count": {"value": 10**6}}))
    respx_mock.get("/api/v2/users/search").mock(return_value=httpx.Response(200, json={
        "users": [{"id": 5, "email": "a@x.org", "name": "Live", "external_id": None}], "count": 1}))
    writes = respx_mock.route(method__in=["POST", "PUT"])
    target = ZendeskTarget(_ctx(), sleep=lambda s: None)
    out = target.write_batch("contact", [{"id": "u1", "name": "A", "email": "A@x.org", "active": False}],
                             FakeLoad())
    assert out[0].target_id == "5" and out[0].matched and not writes.called


@respx.mock(base_url=BASE, assert_all_called=False)
def test_target_lists_a_small_account_once_to_match_people(respx_mock):
    respx_mock.get("/api/v2/users/count").mock(return_value=httpx.Response(200, json={"count": {"value": 2}}))
    listing = respx_mock.get("/api/v2/users").mock(return_value=httpx.Response(200, json={
        "users": [{"id": 5, "email": "Live@x.org", "external_id": None},
                  {"id": 6, "email": "ours@x.org", "external_id": "hdm:contact:u2"}], "meta": {"has_more": False}}))
    search = respx_mock.get("/api/v2/users/search")
    writes = respx_mock.route(method__in=["POST", "PUT"])
    target = ZendeskTarget(_ctx(), sleep=lambda s: None)
    out = target.write_batch("contact", [{"id": "u1", "name": "A", "email": "live@x.org"},
                                         {"id": "u2", "name": "B", "email": "ours@x.org"}], FakeLoad())
    again = target.write_batch("contact", [{"id": "u3", "name": "C", "email": "live@x.org"}], FakeLoad())
    assert [(r.target_id, r.matched) for r in out + again] == [("5", True), ("6", False), ("5", True)]
    assert listing.call_count == 1 and not search.called and not writes.called


def test_a_ticket_is_served_once_the_events_cursor_is_past_its_stamps():
    source = ZendeskSource(_ctx())
    ticket = {"id": "7", "updated_at": "2021-03-01T10:00:05Z", "extra": {"generated_timestamp": 1614592805}}
    updated = 1614592805   # 2021-03-01T10:00:05Z
    assert source.parts_served(ticket, {}) is True                                  # export ended
    assert source.parts_served(ticket, {"ticket_events": None}) is False            # not begun
    assert source.parts_served(ticket, {"ticket_events": f"t:{updated}"}) is False  # that second may go on
    assert source.parts_served(ticket, {"ticket_events": f"t:{updated + 1}"}) is True
    assert source.parts_served(ticket, {"ticket_events": "opaque"}) is False
    later = {**ticket, "extra": {"generated_timestamp": updated + 60}}              # touched after its last change
    assert source.parts_served(later, {"ticket_events": f"t:{updated + 1}"}) is False
    assert source.parts_served(later, {"ticket_events": f"t:{updated + 61}"}) is True
    assert source.parts_served({**ticket, "updated_at": None}, {"ticket_events": f"t:{updated + 1}"}) is False
    # users or organizations still running carry no part of a ticket
    assert source.parts_served(ticket, {"users": "c", "ticket_events": f"t:{updated + 1}"}) is True


@respx.mock(base_url=BASE)
def test_an_events_page_is_parsed_event_by_event_while_its_items_are_taken(respx_mock):
    import gc
    import sys

    import orjson

    events = [{"id": 1000 + i, "ticket_id": i, "timestamp": 50, "created_at": "2020-01-01T00:00:00Z",
               "via": {"channel": "email", "source": {"from": {"address": f"k{i}@example.com"}, "to": {}}},
               "child_events": [{"id": 5000 + i, "event_type": "Comment", "body": f"Grüße {i}",
                                 "public": True, "author_id": 5, "attachments": [],
                                 "metadata": {"system": {"client": "x", "ip_address": "10.0.0.1"}}}]}
              for i in range(1000)]
    body = json.dumps({"ticket_events": events, "end_time": 100, "end_of_stream": True}).encode()
    del events
    respx_mock.get("/api/v2/incremental/ticket_events").mock(return_value=httpx.Response(200, content=body))
    for role in ("admin", "agent"):
        respx_mock.get("/api/v2/users", params={"role": role}).mock(
            return_value=httpx.Response(200, json={"users": [], "meta": {"has_more": False}}))
    gc.collect()
    gc.disable()            # block counts, not a collection's frees of other tests' garbage
    try:
        base = sys.getallocatedblocks()
        whole = orjson.loads(body)
        whole_blocks = sys.getallocatedblocks() - base      # what the page costs parsed whole
        del whole
        source = ZendeskSource(_ctx())
        pages = source.fetch("ticket_events")
        source.client                                       # the client built before counting
        base = sys.getallocatedblocks()
        page = next(pages)                                  # the request: the answer held as text
        most, ids = sys.getallocatedblocks() - base, []
        for raw_id, payload in page.items:                  # as the feed takes them: serialized each
            most = max(most, sys.getallocatedblocks() - base)
            orjson.dumps(payload)
            ids.append(int(raw_id))
            del payload
        assert len(ids) == 1000 and ids[0] == 5000 and page.cursor == "t:100" and not page.done
        # what stays is the page's ids and versions (repeats of the next page are dropped by them)
        assert most < whole_blocks / 4, (most, whole_blocks)
    finally:
        gc.enable()
    assert [p.done for p in pages] == [True]            # the per-ticket fallback: none pending
