"""respx unit tests: the django-helpdesk target keeps each ticket's original times (issue 18 item 1)
in ticket custom fields an admin created (the API has no custom field endpoint: none is created),
found through OPTIONS (else the first created ticket), with exact RFC 3339 UTC values in the PATCH
that finishes the ticket; names from the plan (renamed or switched off); missing fields write the
ticket all the same with `original_times_not_kept`, said once, and the dry run predicts exactly that."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from adapters.django_helpdesk.target import DjangoHelpdeskTarget
from hdmigrate import cx
from hdmigrate.adapter import AdapterContext
from hdmigrate.http import reset_limiters

BASE = "https://hd.test/helpdesk/api"
TICKET = {"id": "t1", "subject": "Kettle", "status": "solved", "requester_id": "c1",
          "created_at": "2024-03-01T09:00:00+01:00", "solved_at": "2024-03-02T08:00:00Z"}
COMMENTS = [{"id": "m1", "ticket_id": "t1", "author_id": "c1", "public": True, "body_text": "Broken",
             "created_at": "2024-03-01T08:00:00Z"},
            {"id": "m2", "ticket_id": "t1", "author_id": "a7", "public": True, "body_text": "Sorry",
             "created_at": "2024-03-01T08:30:15Z"}]   # an agent by id (no author_kind)


@pytest.fixture(autouse=True)
def _fresh_limiters():
    reset_limiters()


class Ctx:
    options: dict = {}
    source_info: dict = {}
    dry_run = False

    def __init__(self, comments, mapping=None):
        self._comments, self.mapping = comments, mapping or {}

    def comments(self, ticket_id):
        return self._comments

    def attachments(self, comment):
        return []

    def person(self, source_id):
        return ("contact", "carl@example.org") if source_id == "c1" else None

    def record(self, kind, source_id):
        if kind == "agent":
            return {"id": source_id} if source_id == "a7" else None
        return {"id": source_id, "email": "carl@example.org"}

    def target_id(self, kinds, source_id):
        return None


def _server(router, custom):
    """A django-helpdesk whose ticket custom fields are `custom` (names without "custom_")."""
    router.get(f"{BASE}/").mock(return_value=httpx.Response(200, json={}))
    fields = {"id": {}, "queue": {}, "title": {}, **{f"custom_{n}": {"type": "string"} for n in custom}}
    router.options(f"{BASE}/tickets/").mock(return_value=httpx.Response(200, json={"actions": {"POST": fields}}))
    router.get(f"{BASE}/tickets/").mock(return_value=httpx.Response(200, json={"results": [], "next": None}))
    made = iter(range(1, 100))

    def create(request):
        tid = next(made)
        return httpx.Response(201, json={"id": tid, "followup_set": [{"id": tid * 10, "title": "Ticket Opened"}],
                                         **{f"custom_{n}": None for n in custom}})
    router.post(f"{BASE}/tickets/").mock(side_effect=create)
    router.post(f"{BASE}/followups/").mock(return_value=httpx.Response(201, json={"id": 99}))
    router.patch(url__regex=rf"{BASE}/followups/\d+/").mock(return_value=httpx.Response(200, json={}))
    patches = []
    router.patch(url__regex=rf"{BASE}/tickets/\d+/").mock(
        side_effect=lambda request: patches.append(json.loads(request.content)) or httpx.Response(200, json={}))
    return patches


def _target(mapping=None, log=None) -> DjangoHelpdeskTarget:
    ctx = AdapterContext(config={"url": "https://hd.test"}, secrets={"username": "u", "password": "p"},
                         mapping=mapping or {}, log=log or (lambda m: None), role="target")
    return DjangoHelpdeskTarget(ctx)


def _times(body: dict) -> dict:
    return {k: v for k, v in body.items() if k.startswith("custom_hdm_original") or k == "custom_opened_originally"}


def test_fields_the_admin_created_get_the_exact_times():
    with respx.mock(assert_all_called=False) as router:
        patches = _server(router, ["hdmigrate_source_id", *cx.ORIGINAL_TIME_FIELDS.values()])
        t = _target()
        t.check()
        ctx = Ctx(COMMENTS)
        predicted = t.degradations("ticket", TICKET, ctx)
        result = t.write("ticket", TICKET, ctx)
        assert _times(patches[-1]) == {"custom_hdm_original_created_at": "2024-03-01T08:00:00Z",
                                       "custom_hdm_original_first_reply_at": "2024-03-01T08:30:15Z",
                                       "custom_hdm_original_solved_at": "2024-03-02T08:00:00Z"}
        assert [d for d in predicted + result.degradations if d.code == "original_times_not_kept"] == []
        created = [c for c in router.calls if c.request.method == "POST" and "customfield" in str(c.request.url)]
        assert created == []
    assert cx.kept_fields(DjangoHelpdeskTarget, {}) == cx.ORIGINAL_TIME_FIELDS


def test_missing_fields_degrade_every_ticket_said_once_and_the_dry_run_predicts_it():
    said = []
    with respx.mock(assert_all_called=False) as router:
        patches = _server(router, ["hdmigrate_source_id", "hdm_original_created_at"])
        t = _target(log=said.append)
        t.check()                                # the dry run's check says it already
        assert len([m for m in said if "hdm_original_first_reply_at" in m]) == 1
        for rid in ("t1", "t2"):
            ctx = Ctx([{**c, "ticket_id": rid} for c in COMMENTS])
            ticket = {**TICKET, "id": rid}
            predicted = {(d.kind, d.id, d.field, d.code, d.detail) for d in t.degradations("ticket", ticket, ctx)
                         if d.code == "original_times_not_kept"}
            result = t.write("ticket", ticket, ctx)
            got = {(d.kind, d.id, d.field, d.code, d.detail) for d in result.degradations
                   if d.code == "original_times_not_kept"}
            assert got == predicted and len(got) == 1, (got, predicted)
            detail = next(iter(got))[4]
            assert "hdm_original_first_reply_at, hdm_original_solved_at" in detail
            assert "hdm_original_created_at" not in detail
        assert _times(patches[-1]) == {"custom_hdm_original_created_at": "2024-03-01T08:00:00Z"}
    assert len([m for m in said if "hdm_original_first_reply_at" in m]) == 1, said


def test_fields_learned_from_the_created_ticket_when_options_is_refused():
    with respx.mock(assert_all_called=False) as router:
        patches = _server(router, ["hdmigrate_source_id", *cx.ORIGINAL_TIME_FIELDS.values()])
        router.options(f"{BASE}/tickets/").mock(return_value=httpx.Response(403, json={}))
        t = _target()
        t.check()
        result = t.write("ticket", TICKET, Ctx(COMMENTS))
        assert _times(patches[-1])["custom_hdm_original_first_reply_at"] == "2024-03-01T08:30:15Z"
        assert [d for d in result.degradations if d.code == "original_times_not_kept"] == []


def test_renamed_and_switched_off_by_the_plan():
    mapping = {"original_times": {"created_at": "opened_originally", "solved_at": False}}
    with respx.mock(assert_all_called=False) as router:
        patches = _server(router, ["hdmigrate_source_id", "opened_originally", "hdm_original_first_reply_at"])
        t = _target(mapping=mapping)
        t.check()
        result = t.write("ticket", TICKET, Ctx(COMMENTS, mapping))
        assert _times(patches[-1]) == {"custom_opened_originally": "2024-03-01T08:00:00Z",
                                       "custom_hdm_original_first_reply_at": "2024-03-01T08:30:15Z"}
        assert [d for d in result.degradations if d.code == "original_times_not_kept"] == []
