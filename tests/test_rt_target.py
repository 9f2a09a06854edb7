"""respx unit tests of the RT target: what the server kept is read back, never assumed.

Models the two RT behaviours seen on Debian bookworm: 5.0.3+dfsg-3~deb12u6 keeps `Created` and
`Creator` sent on create; the security release deb12u7 treats both as immutable and drops them.
A version whose behaviour is known (GET /rt, read by check()) lets the dry run declare the losses
before any write; for any other version they are learned from the first ticket read back.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import respx

from adapters.rt import to_vendor
from adapters.rt.target import RtTarget
from hdmigrate.adapter import AdapterContext

BASE = "http://127.0.0.1:9/REST/2.0"


class Ctx:
    """The part of the engine's LoadContext the RT target uses."""

    mapping: dict = {}
    options: dict = {}
    dry_run = False

    def __init__(self, comments, files=None):
        self._comments = comments
        self._files = files or {}

    def comments(self, ticket_id):
        return self._comments

    def attachments(self, comment):
        return self._files.get(comment["id"], [])

    def target_id(self, kinds, source_id):
        return None

    def person(self, source_id):
        return {"c1": ("contact", "alice"), "a1": ("agent", "bob")}.get(source_id)


class FakeRt:
    """Tickets in memory; `keeps` says whether Created/Creator sent on create stick."""

    def __init__(self, router: respx.Router, keeps: bool, version: str = "5.0.3+dfsg-3~deb12u7"):
        self.keeps, self.tickets, self.posts, self.queries = keeps, {}, [], []
        router.get("/rt").respond(json={"Version": version})
        router.get("/queue/General").respond(json={"id": 1})
        router.get("/queue/1/customfields").respond(json={"items": [], "pages": 1})
        router.post("/customfields").respond(json={"items": [], "pages": 1})    # no ticket field, no stamp field
        router.get("/queues/all").respond(json={"items": [{"id": 1, "Name": "General"}], "pages": 1})
        router.get("/tickets").mock(side_effect=self.search)
        router.post("/ticket").mock(side_effect=self.create)
        router.get(url__regex=r".*/ticket/\d+$").mock(side_effect=self.show)
        router.put(url__regex=r".*/ticket/\d+$").mock(side_effect=self.update)
        router.post(url__regex=r".*/ticket/\d+/(correspond|comment)$").mock(side_effect=self.comment)

    def create(self, request):
        body = json.loads(request.content)
        tid = str(len(self.tickets) + 1)
        self.tickets[tid] = {"id": tid, "Created": "2026-12-02T10:00:00Z", "Creator": {"id": "root"},
                             "links": {body["RefersTo"]}, "body": body}
        if self.keeps:
            self.tickets[tid]["Created"] = body["Created"].replace(" ", "T") + "Z"
            self.tickets[tid]["Creator"] = {"id": body["Creator"]}
        return httpx.Response(201, json={"id": tid, "type": "ticket"})

    def show(self, request):
        t = self.tickets[request.url.path.rsplit("/", 1)[1]]
        return httpx.Response(200, json={"id": t["id"], "Created": t["Created"], "Creator": t["Creator"],
                                         "_hyperlinks": [{"ref": "refers-to", "_url": u} for u in t["links"]]})

    def update(self, request):
        t = self.tickets[request.url.path.rsplit("/", 1)[1]]
        body = json.loads(request.content)
        if "AddRefersTo" in body:
            t["links"].discard(body["DeleteRefersTo"])
            t["links"].add(body["AddRefersTo"])
        return httpx.Response(200, json=["ok"])

    def comment(self, request):
        self.posts.append(json.loads(request.content))
        return httpx.Response(201, json=["Correspondence added"])

    def search(self, request):
        query = request.url.params.get("query", "")
        self.queries.append(query)
        hits = [{"id": tid} for tid, t in self.tickets.items()
                if query.startswith("RefersTo = ") and query[len("RefersTo = '"):-1] in t["links"]]
        return httpx.Response(200, json={"items": hits, "total": len(hits), "pages": 1})


def target() -> RtTarget:
    return RtTarget(AdapterContext(config={"url": "http://127.0.0.1:9"}, secrets={"token": "tok-secret"},
                                   role="target"))


def records(tmp_path: Path):
    empty, full = tmp_path / "empty.bin", tmp_path / "log.txt"
    empty.write_bytes(b"")
    full.write_bytes(b"log\n")
    ticket = {"id": "t1", "subject": "Printer", "status": "open", "requester_id": "c1", "creator_id": "c1",
              "created_at": "2019-01-02T03:04:05Z", "extra": {}}
    comments = [{"id": "k1", "ticket_id": "t1", "author_id": "c1", "public": True, "body_text": "Opening",
                 "created_at": "2019-01-02T03:04:05Z", "attachment_ids": ["f1", "f2"]},
                {"id": "k2", "ticket_id": "t1", "author_id": "a1", "public": False, "body_text": "Note",
                 "created_at": "2019-01-03T00:00:00Z", "attachment_ids": []}]
    files = {"k1": [({"id": "f1", "file_name": "empty.bin", "size": 0}, empty),
                    ({"id": "f2", "file_name": "log.txt", "size": 4}, full)]}
    return ticket, Ctx(comments, files)


def predicted_keys(t: RtTarget, ticket: dict, ctx) -> set[tuple]:
    """What the engine records before the write (the dry run records exactly this)."""
    out = list(t.degradations("ticket", ticket, ctx))
    for comment in ctx.comments("t1"):
        out += t.degradations("comment", comment, ctx)
        for att, _ in ctx.attachments(comment):
            out += t.degradations("attachment", att, ctx)
    return {(d.kind, d.id, d.field, d.code) for d in out}


@pytest.mark.parametrize("keeps", [False, True], ids=["drops-Created", "keeps-Created"])
def test_unknown_version_created_and_creator_are_read_back_and_losses_named(tmp_path, keeps):
    ticket, ctx = records(tmp_path)
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        rt = FakeRt(router, keeps, version="5.0.7")     # no known behaviour: learned from the read-back
        t = target()
        t.check()
        predicted = {(d.kind, d.field): d.code for d in t.degradations("ticket", ticket, ctx)}
        assert predicted[("ticket", "created_at")] == "timestamp_not_preserved"   # unknown before a write
        assert ("ticket", "creator_id") not in predicted                          # not claimed unknown
        result = t.write("ticket", ticket, ctx)
    codes = {(d.kind, d.id, d.field): d.code for d in result.degradations}
    created = rt.tickets[result.target_id]
    # the 0-byte file is left out and named; the other file and the ticket are written
    assert [a["FileName"] for a in created["body"]["Attachments"]] == ["log.txt"]
    assert codes[("attachment", "f1", "size")] == "attachment_empty"
    assert len(rt.posts) == 1 and rt.posts[0]["Content"] == "Note"
    # the first ticket of a run always carries the original time visibly, bytes of the text after it
    assert created["body"]["Content"] == to_vendor.origin_line("2019-01-02T03:04:05Z", "text/plain") + "Opening"
    assert t.server.keeps_created is keeps and t.server.keeps_creator is keeps
    if keeps:
        assert ("ticket", "t1", "creator_id") not in codes
        # once the server showed it keeps Created, later tickets get neither the line nor the loss
        assert ("ticket", "created_at") not in {(d.kind, d.field) for d in t.degradations("ticket", ticket, ctx)}
    else:
        assert codes[("ticket", "t1", "creator_id")] == "author_not_preserved"
        assert codes[("comment", "k1", "author_id")] == "author_not_preserved"
        # learned: the next ticket's losses are declared before its write
        again = {(d.kind, d.field): d.code for d in t.degradations("ticket", ticket, ctx)}
        assert again[("ticket", "creator_id")] == again[("comment", "author_id")] == "author_not_preserved"
    # complete: found by its stamp link, the partial link is gone
    assert created["links"] == {"urn:hdmigrate:t1"}


@pytest.mark.parametrize("version,keeps", [("5.0.3+dfsg-3~deb12u7", False), ("5.0.3+dfsg-3~deb12u6", True)])
def test_known_version_losses_are_declared_before_the_write(tmp_path, version, keeps):
    """The dry run's degradations equal the real write's: everything the write reports was
    declared by degradations() before it (learned from the version check() read, no write)."""
    ticket, ctx = records(tmp_path)
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        rt = FakeRt(router, keeps, version=version)
        t = target()
        t.check()
        predicted = predicted_keys(t, ticket, ctx)
        result = t.write("ticket", ticket, ctx)
    written = {(d.kind, d.id, d.field, d.code) for d in result.degradations}
    assert written <= predicted, f"only in the write: {sorted(written - predicted)}"
    losses = {("ticket", "t1", "created_at", "timestamp_not_preserved"),
              ("ticket", "t1", "creator_id", "author_not_preserved"),
              ("comment", "k1", "author_id", "author_not_preserved")}
    if keeps:
        assert not losses & predicted, losses & predicted
    else:
        assert losses <= predicted, losses - predicted
    body = rt.tickets[result.target_id]["body"]
    assert body["Creator"] == "alice"
    # a server known to keep Created gets the opening message as it is, without the origin line
    assert body["Content"] == ("Opening" if keeps else to_vendor.origin_line("2019-01-02T03:04:05Z", "text/plain")
                               + "Opening")


def test_people_queues_and_fields_rt_holds_are_matched_in_the_dry_run_too():
    """matched_existing is declared by degradations() (a read-only look-up, the dry run records it),
    and the write that follows adopts the record from that look-up instead of asking again."""
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        searches = []

        def users(request):
            searches.append(request)
            email = json.loads(request.content)[0]["value"]
            hits = [{"Name": "alice", "Comments": ""}] if email == "alice@example.org" else []
            return httpx.Response(200, json={"items": hits, "total": len(hits), "pages": 1})

        router.post("/users").mock(side_effect=users)
        listed = [{"id": "alice", "Name": "alice", "EmailAddress": "Alice@example.org", "Comments": ""},
                  {"id": "hdm-contact-c3", "Name": "hdm-contact-c3", "EmailAddress": "",
                   "Comments": "created by hdmigrate from contact c3"}]

        def all_users(request):
            if request.url.params.get("per_page") == "1":
                return httpx.Response(200, json={"items": listed[:1], "total": len(listed), "pages": 2})
            return httpx.Response(200, json={"items": listed, "total": len(listed), "pages": 1})

        listing = router.get("/users").mock(side_effect=all_users)
        queues = router.get("/queues/all").respond(json={"items": [{"id": 3, "Name": "Support"}], "pages": 1})
        router.post("/customfields").respond(json={"items": [{"id": 9, "Name": "Product"}], "pages": 1})
        by_name = router.get("/queue/Billing").respond(404, json={"message": "Not found"})
        created = router.post("/user").respond(201, json={"id": "55"})
        t = target()
        ctx = Ctx([])
        alice = {"id": "c1", "name": "Alice", "email": "alice@example.org"}
        new = {"id": "c2", "name": "Bob", "email": "bob@example.org"}
        assert [(d.field, d.code) for d in t.degradations("contact", alice, ctx)] == [("", "matched_existing")]
        assert t.degradations("contact", new, ctx) == []
        # without an address: the user this tool created for that record, by name and Comments
        assert [d.code for d in t.degradations("contact", {"id": "c3", "name": "C"}, ctx)] == ["matched_existing"]
        assert t.degradations("contact", {"id": "c4", "name": "D"}, ctx) == []
        assert listing.call_count == 2 and not searches     # RT's users listed once (count, then one page)
        assert [d.code for d in t.degradations("group", {"id": "g1", "name": "Support"}, ctx)] == ["matched_existing"]
        assert t.degradations("group", {"id": "g2", "name": "Billing"}, ctx) == []
        # queues and ticket fields come from one listing each (a name not listed is asked once)
        assert [d.code for d in t.degradations("custom_field", {"id": "f1", "key": "product", "entity": "ticket"},
                                               ctx)] == ["matched_existing"]
        assert queues.call_count == 1 and by_name.call_count == 1
        # a contact's field is not created as a ticket field: said, nothing written
        org_field = {"id": "f2", "key": "tier", "entity": "organization"}
        assert [(d.field, d.code) for d in t.degradations("custom_field", org_field, ctx)] == [("entity", "value_unmapped")]
        assert t.write("custom_field", org_field, ctx).target_id == "none:f2"
        assert not created.called                        # the look-ups wrote nothing
        done = t.write("contact", alice, ctx)
        assert (done.target_id, done.matched) == ("alice", True) and not searches
        made = t.write("contact", new, ctx)
        assert (made.target_id, made.matched) == ("55", False) and created.called
        # a retry (no degradations() call before it) searches afresh, one by one
        t.write("contact", alice, ctx)
        assert len(searches) == 1


def test_resume_finds_partial_ticket_by_link_without_custom_field(tmp_path):
    ticket, ctx = records(tmp_path)
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        rt = FakeRt(router, keeps=False)
        rt.tickets["1"] = {"id": "1", "Created": "2026-12-02T10:00:00Z", "Creator": {"id": "root"},
                           "links": {"urn:hdmigrate:t1~partial"}, "body": {}}
        router.get("/ticket/1/history").respond(json={"items": [{"Type": "Create"}], "pages": 1})
        t = target()
        assert t.find_existing("ticket", ticket, ctx) is None        # partial is not done
        result = t.write("ticket", ticket, ctx)
        assert result.target_id == "1" and len(rt.tickets) == 1     # continued, not created again
        assert t.find_existing("ticket", ticket, ctx) == "1"
    assert [p["Content"] for p in rt.posts] == ["Note"]
    # RT holds no stamp custom field: tickets are searched by their link only
    assert rt.queries and all(q.startswith("RefersTo = ") for q in rt.queries)


def test_a_create_whose_answer_is_lost_is_not_sent_again(tmp_path):
    """The HTTP layer resends idempotent requests after a dropped answer; a create is not one:
    the engine looks it up by its stamp instead (hdmigrate/engine/write.py). Before, RT's POSTs
    went out twice and the ticket existed twice."""
    from hdmigrate.errors import TransientApiError
    ticket, ctx = records(tmp_path)
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        rt = FakeRt(router, keeps=False)
        created = rt.create

        def lost(request):
            created(request)          # the server creates it, then the answer never arrives
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

        router.post("/ticket").mock(side_effect=lost)
        t = target()
        try:     # with files the target continues its partial ticket itself; without, the engine
            done = t.write("ticket", ticket, ctx).target_id     # looks it up and retries later
        except TransientApiError:
            router.post("/ticket").mock(side_effect=created)
            done = t.write("ticket", ticket, ctx).target_id     # found by its partial link, continued
        assert len(rt.tickets) == 1, "the create went out twice"
        assert done == "1" and t.find_existing("ticket", ticket, ctx) == "1"


def test_people_written_earlier_are_found_again_disabled_or_without_address():
    """Lost staging or a resumed run: a disabled user (an inactive agent) and a contact without
    an address (created under a generated name) are found, not created again — RT refused the
    second create ("Email address in use", "Name in use") and the records failed."""
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        def users(request):
            disabled_too = request.url.params.get("find_disabled_rows") == "1"
            email = json.loads(request.content)[0]["value"]
            hits = [{"Name": "lukas", "Comments": ""}] if email == "lukas@example.org" and disabled_too else []
            return httpx.Response(200, json={"items": hits, "total": len(hits), "pages": 1})

        router.post("/users").mock(side_effect=users)
        router.get("/user/hdm-contact-c1").respond(
            json={"Name": "hdm-contact-c1", "Comments": "created by hdmigrate from contact c1"})
        router.get("/user/hdm-contact-c2").respond(
            json={"Name": "hdm-contact-c2", "Comments": "a person an admin made"})
        t = target()
        ctx = Ctx([])
        assert t.find_existing("agent", {"id": "a12", "name": "Lukas", "email": "lukas@example.org",
                                         "active": False}, ctx) == "lukas"
        assert t.find_existing("contact", {"id": "c1", "name": "Sören Schäfer"}, ctx) == "hdm-contact-c1"
        assert t.find_existing("contact", {"id": "c2", "name": "Someone"}, ctx) is None   # not ours


def test_an_rt_with_many_users_is_searched_person_by_person():
    """Listing every user pays only while RT holds few; above USER_LISTING_MAX each person is
    searched for by address, as find_existing does."""
    from adapters.rt.target import USER_LISTING_MAX
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.get("/users").respond(json={"items": [], "total": USER_LISTING_MAX + 1, "pages": 9999})
        search = router.post("/users").respond(json={"items": [{"Name": "alice", "Comments": ""}], "pages": 1})
        t = target()
        found = t.degradations("contact", {"id": "c1", "name": "Alice", "email": "alice@example.org"}, Ctx([]))
        assert [d.code for d in found] == ["matched_existing"] and search.call_count == 1
