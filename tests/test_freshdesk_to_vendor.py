"""Freshdesk mapping in one place per direction (issue 15 item 3): the dry run's degradations and the
write come from the same to_vendor function; the stamp bytes stay what targets already hold; a
vendor time that is not a time fails its record naming the value. respx at unit level."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from adapters.freshdesk import to_canonical, to_vendor
from adapters.freshdesk.target import FreshdeskTarget
from hdmigrate import stamps
from hdmigrate.adapter import AdapterContext
from hdmigrate.errors import RecordError

BASE = "https://acme.freshdesk.com/api/v2"


class Ctx:
    """The staged records of one ticket, as the engine's load context answers for them."""

    mapping: dict = {}
    options: dict = {}
    dry_run = False
    source_info: dict = {}

    def __init__(self, comments, records=None):
        self._comments, self._records = comments, records or {}

    def comments(self, ticket_id):
        return self._comments

    def attachments(self, comment):
        return []

    def target_id(self, kinds, source_id):
        return None

    def person(self, source_id):
        return ("contact", "7") if source_id == "c1" else None

    def record(self, kind, source_id):
        return self._records.get((kind, source_id))

    def custom_field(self, entity, key):
        return None


def _target(tmp_path):
    # rate_limit: respx answers at once; the documented 200/min would pace these requests with the real clock
    return FreshdeskTarget(AdapterContext(config={"url": "https://acme.freshdesk.com"}, secrets={"api_key": "k"},
                                          role="target", workdir=tmp_path, rate_limit=600000))


def _account(router):
    router.get("/agents").mock(return_value=httpx.Response(200, json=[]))
    router.get("/ticket_fields").mock(return_value=httpx.Response(200, json=[
        {"name": "ticket_type", "default": True, "choices": ["Question", "Incident"]}]))
    # the fields keeping the original times (issue 18), created on the first ticket written
    router.post("/admin/ticket_fields").mock(side_effect=lambda r: httpx.Response(201, json={
        "id": 1, "default": False, "type": json.loads(r.content)["type"],
        "label": json.loads(r.content)["label"], "name": "cf_" + json.loads(r.content)["label"]}))


TICKET = {"id": "t1", "subject": "Printer", "status": "open", "requester_id": "c1", "priority": "high",
          "channel": "email", "type": "question", "created_at": "2020-01-01T00:00:00Z", "assignee_id": "a9",
          "tags": ["printer"]}
PRIVATE_FIRST = {"id": "k1", "ticket_id": "t1", "author_id": "c1", "public": False, "body_text": "secret",
                 "created_at": "2020-01-01T00:00:00Z"}


def test_a_ticket_whose_opening_message_is_private_is_written_with_the_placeholder(tmp_path):
    """Before: `_write_ticket` named `send` only for a public opening message, so a private one
    failed the ticket with an UnboundLocalError instead of writing the placeholder description."""
    ctx = Ctx([PRIVATE_FIRST])
    target = _target(tmp_path)
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        _account(router)
        posted = []
        router.post("/tickets").mock(side_effect=lambda r: posted.append(json.loads(r.content))
                                     or httpx.Response(201, json={"id": 900, "attachments": []}))
        result = target.write("ticket", TICKET, ctx)
        planned = target.degradations("ticket", TICKET, ctx)
    assert result.target_id == "900" and result.children == {}
    assert to_vendor.PRIVATE_OPENING in posted[0]["description"] and "secret" not in posted[0]["description"]
    assert ("public", "private_first_message") in {(d.field, d.code) for d in planned}


def test_the_write_sends_the_body_the_dry_run_mapped(tmp_path):
    """The posted ticket is the to_vendor body plus only the ids the target resolves; an assignee
    that is not staged is declared by the dry run too (before: only the write said so)."""
    ctx = Ctx([{**PRIVATE_FIRST, "public": True}])
    target = _target(tmp_path)
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        _account(router)
        posted = []
        router.post("/tickets").mock(side_effect=lambda r: posted.append(json.loads(r.content))
                                     or httpx.Response(201, json={"id": 900, "attachments": []}))
        result = target.write("ticket", TICKET, ctx)
        planned = target.degradations("ticket", TICKET, ctx)
    mapped = to_vendor.ticket(TICKET, ctx, target.account())
    assert {k: v for k, v in posted[0].items() if k not in ("requester_id", "description", "custom_fields")} \
        == mapped.body
    assert "custom_fields" not in mapped.body     # TICKET has none: only the original time the target keeps
    assert posted[0]["custom_fields"] == {"cf_hdm_original_created_at": "2020-01-01T00:00:00Z"}
    assert posted[0]["requester_id"] == 7 and posted[0]["type"] == "Question" and posted[0]["source"] == 1
    assert stamps.kindless("t1") in posted[0]["tags"]
    assert {(d.field, d.code) for d in planned} == {(d.field, d.code) for d in mapped.degradations}
    assert ("assignee_id", "value_unmapped") in {(d.field, d.code) for d in planned}
    assert not result.degradations        # nothing the dry run could not know
    assert result.children == {("comment", "k1"): "900:description"}


def test_the_origin_line_keeps_its_bytes_and_is_read_back_as_the_stamp():
    ctx = Ctx([], {("contact", "c1"): {"name": "Ann", "email": "ann@example.com"}})
    comment = {"id": "k2", "ticket_id": "t1", "author_id": "c1", "public": False, "channel": "email",
               "created_at": "2020-01-02T00:00:00Z"}
    line = to_vendor.origin_line(comment, ctx)
    assert line == ('<p class="hdm-origin"><small>Originally 2020-01-02T00:00:00Z · by Ann &lt;ann@example.com&gt; '
                    '· via email · private [hdm-k2]</small></p>')
    assert stamps.stamp_of({"body_html": line + "<div>x</div>"}, "comment", places=frozenset({"body"})) \
        == ("comment", "k2")


def test_a_vendor_time_that_is_not_a_time_fails_the_record_naming_it():
    """Before: mapping.rfc3339 turned garbage into a missing time, silently."""
    with pytest.raises(RecordError, match="yesterday"):
        list(to_canonical.records("groups", {"id": 5, "name": "Support", "created_at": "yesterday"}))
    group = dict(to_canonical.records("groups", {"id": 5, "name": "Support", "created_at": None}))["group"]
    assert "created_at" not in group
    kept = dict(to_canonical.records("groups", {"id": 5, "name": "S", "created_at": "2020-01-01T10:00:00+05:30"}))
    assert kept["group"]["created_at"] == "2020-01-01T10:00:00+05:30"
