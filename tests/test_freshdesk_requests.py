"""Freshdesk extraction makes only the requests the data needs (issue 16 item 3), and still brings
every first message (the description), private flag and attachment. Over real HTTP on loopback:
a seeded Freshdesk sandbox -> the engine -> a jsonl dump; every expected count is computed from
the seeded data (pages = ⌈n/100⌉, one View a Ticket per ticket, ...), none is a timing."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from adapters.freshdesk.client import request_credits
from adapters.freshdesk.sandbox import API_KEY, make_sandbox
from adapters.freshdesk.source import ARCHIVE_MISS_RUN, CONVERSATIONS_IN_DETAIL, FreshdeskSource
from hdmigrate.adapter import AdapterContext
from hdmigrate.canonical_dump import iter_records
from hdmigrate.engine import Engine
from hdmigrate.plan import plan_from_dict
from hdmigrate.report import CollectingReporter, collect, render_text
from hdmigrate.html_report import render_html
from hdmigrate.store import Store
from hdmigrate.testing.sample import write_dump

FILE_ROUTES = {"file", "inline"}


def recent_start(days_ago: int = 2) -> str:
    """A start date whose six years of sample tickets end `days_ago` days before now."""
    return (datetime.now(timezone.utc) - timedelta(days=6 * 365 + days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _days_ago(days: int) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def recorded(box) -> list[tuple[str, dict, int]]:
    """(route, query, credits) of every request the sandbox answers from now on."""
    log: list[tuple[str, dict, int]] = []
    handle = box.handle

    def logged(request):
        response, fault = handle(request)
        route = request.route.name if getattr(request, "route", None) else "?"
        log.append((route, {k: v[0] for k, v in request.query.items()}, box.request_cost(request)))
        return response, fault
    box.handle = logged
    return log


def migrate(tmp_path: Path, box, monkeypatch, **source) -> tuple[dict, Path]:
    for k, v in box.env.items():
        monkeypatch.setenv(k, v)
    out, work = tmp_path / "out", tmp_path / "work"
    plan = plan_from_dict({"source": {**box.plan_section, **source}, "target": {"adapter": "jsonl", "path": str(out)},
                           "run": {"workdir": str(work), "rate_limit": {"source": 600000, "target": 600000}}},
                          base_dir=tmp_path)
    engine = Engine(plan, work, CollectingReporter())
    try:
        summary = engine.run()
    finally:
        engine.store.close()
    return summary, out


def pages(n: int) -> int:
    return max(1, math.ceil(n / 100))       # an empty list is one request too


def add_conversations(box, ticket_id: int, total: int) -> None:
    """Give a ticket `total` conversations (some private, one with a file)."""
    have = len(box.store.find("conversation", ticket_id=ticket_id))
    for i in range(have, total):
        files = [box._attachment("extra.txt", "text/plain", b"extra %d" % i)] if i == total - 1 else []
        box.store.insert("conversation", box._conversation_shape(
            ticket_id, f"<p>extra {i}</p>", box.store.get("ticket", ticket_id)["requester_id"],
            private=i % 2 == 0, incoming=False, source=2 if i % 2 == 0 else 0,
            created=f"2020-01-01T00:{i:02d}:00Z", attachments=files))


def expected_requests(box) -> Counter:
    """The fewest requests the documented API allows for what the sandbox holds."""
    listed = [t for t in box.store.all("ticket") if not t.get("_archived")]
    tickets = [t for t in listed if not t.get("spam") and not t.get("deleted")]
    contacts = box.store.all("contact")
    convs = Counter(c["ticket_id"] for c in box.store.all("conversation"))
    long = [t["id"] for t in tickets if convs[t["id"]] >= CONVERSATIONS_IN_DETAIL]
    files = sum(len(t["attachments"]) for t in tickets) + sum(
        len(c["attachments"]) for c in box.store.all("conversation"))
    return Counter({
        "agents_me": 1,                                       # check()
        "ticket_fields": 1, "contact_fields": 1, "company_fields": 1,
        "companies": pages(box.store.count("company")), "groups": pages(box.store.count("group")),
        "agents_list": pages(box.store.count("agent")),
        # the default list (the sandbox's holds the blocked ones too), then deleted, then blocked
        "contacts": pages(sum(1 for c in contacts if not c.get("deleted")))
        + pages(sum(1 for c in contacts if c.get("deleted"))) + pages(sum(1 for c in contacts if c.get("blocked"))),
        # per_page=100, include nothing; then filter=spam and filter=deleted (named, not read)
        "tickets": pages(len(tickets)) + pages(sum(1 for t in listed if t.get("spam")))
        + pages(sum(1 for t in listed if t.get("deleted"))),
        "ticket_show": len(tickets),                          # one View a Ticket with its conversations
        "conversations": sum(pages(convs[t]) for t in long),  # only where 10 came inline: maybe more
        "ratings": pages(box.store.count("rating")),
        "file": files,
    })


def test_extraction_requests_and_credits_follow_the_data(tmp_path, monkeypatch):
    dump = tmp_path / "dump"
    write_dump(dump, tickets=130, comments_per_ticket=3, attachments=12, seed=3, start=recent_start())
    box = make_sandbox(data=dump).start()
    try:
        ids = sorted(t["id"] for t in box.store.all("ticket"))
        assert ids == list(range(1, len(ids) + 1))           # no hole: no archived probe is needed
        add_conversations(box, ids[0], CONVERSATIONS_IN_DETAIL)       # exactly 10: one list read
        add_conversations(box, ids[1], CONVERSATIONS_IN_DETAIL + 5)   # more than 10: one list read
        want = expected_requests(box)
        log = recorded(box)
        summary, out = migrate(tmp_path, box, monkeypatch)
        store_tickets = box.store.all("ticket")
        store_convs = box.store.all("conversation")
    finally:
        box.stop()
    assert summary["exit_code"] == 0, summary
    got = Counter(route for route, _, _ in log)
    assert got == want, (got - want, want - got)
    assert want["conversations"] == 2 and want["tickets"] == 2 + 2
    # every list at the maximum page size; the ticket list embeds nothing (no extra credits)
    assert all(q.get("per_page") == "100" for r, q, _ in log if r in ("tickets", "contacts", "agents_list",
                                                                      "conversations", "ratings"))
    assert all("include" not in q for r, q, _ in log if r == "tickets")
    credits = Counter()
    for route, _, cost in log:
        credits[route] += cost
    assert credits["ticket_show"] == 2 * len(store_tickets)   # include=conversations costs 2
    assert sum(credits.values()) - credits["ticket_show"] == sum(got.values()) - got["ticket_show"]

    # nothing lost: every description, every conversation with its private flag, every file
    comments = {c["id"]: c for c in iter_records(out, "comment")}
    assert {t["id"] for t in iter_records(out, "ticket")} == {str(t["id"]) for t in store_tickets}
    for t in store_tickets:
        first = comments[f"{t['id']}-description"]
        assert first["public"] is True and first["body_html"] == t["description"]
        assert len(first["attachment_ids"]) >= len(t["attachments"])
    for c in store_convs:
        assert comments[str(c["id"])]["public"] is (not c["private"]), c["id"]
    assert len(comments) == len(store_tickets) + len(store_convs)
    files = {a["id"] for a in iter_records(out, "attachment") if not a.get("inline")}
    assert files == {str(a["id"]) for r in store_tickets + store_convs for a in r["attachments"]}
    assert any(not c["private"] for c in store_convs) and any(c["private"] for c in store_convs)


def _source(box, workdir: Path) -> FreshdeskSource:
    return FreshdeskSource(AdapterContext(config={"url": box.url}, secrets={"api_key": API_KEY},
                                          workdir=workdir, rate_limit=600000))


def _drain(src, stream: str) -> list:
    return [item for page in src.fetch(stream) for item in page.items]


def test_lists_are_read_once_and_cc_addresses_come_from_the_contact_list(tmp_path):
    dump = tmp_path / "dump"
    write_dump(dump, tickets=8, comments_per_ticket=2, attachments=0, seed=4, start=recent_start())
    box = make_sandbox(data=dump).start()
    try:
        contact = box.store.all("contact")[0]
        agent = box.store.all("agent")[0]
        cc = [contact["email"].upper(), agent["contact"]["email"], "nobody@example.org"]
        first = box.store.all("ticket")[0]["id"]
        box.store.update("ticket", first, {"cc_emails": cc})
        log = recorded(box)
        src = _source(box, tmp_path / "w1")
        for stream in ("ticket_fields", "agents", "contacts", "tickets"):
            items = _drain(src, stream)
        src.close()
        routes = Counter(r for r, _, _ in log)
        # the ticket stream's lookups (agents, status names, number fields) reuse the streams' lists
        assert routes["ticket_fields"] == 1 and routes["agents_list"] == 1
        lookups = [q for r, q, _ in log if r == "contacts" and "email" in q]
        assert [q["email"] for q in lookups] == ["nobody@example.org"]   # only the unlisted address
        payload = dict(items)[str(first)]
        assert payload["_hdm_cc_ids"] == {cc[0]: "c" + str(contact["id"]), cc[1]: "a" + str(agent["id"]),
                                          cc[2]: None}
        # a resumed run that starts at the ticket stream reads each list once, not once per use
        log.clear()
        again = _source(box, tmp_path / "w2")
        _drain(again, "tickets")
        again.close()
        routes = Counter(r for r, _, _ in log)
        assert routes["ticket_fields"] == 1 and routes["agents_list"] == 1
        assert routes["ticket_show"] == box.store.count("ticket")
    finally:
        box.stop()


def test_no_archived_probe_above_a_ticket_created_in_the_last_30_days(tmp_path):
    dump = tmp_path / "dump"
    write_dump(dump, tickets=6, comments_per_ticket=2, attachments=0, seed=5, start=recent_start())
    box = make_sandbox(data=dump).start()
    try:
        box.store.delete("ticket", 3)                      # a hole below the highest id is still probed
        box.store.update("ticket", 6, {"created_at": _days_ago(29)})
        log = recorded(box)
        src = _source(box, tmp_path / "w")
        _drain(src, "tickets")
        assert _drain(src, "archived_tickets") == []
        probes = [r for r, _, _ in log if r == "archived_show"]
        assert len(probes) == 1                            # id 3 only: nothing above 6 can be archived
        info = src.describe()["archived_tickets"]
        assert info["last"] == 6 and info["miss_run"] == 0 and info["requests"] == 1
        assert "ids 1..6 probed (1 request, listed ids skipped)" in info["summary"]
        assert "none above it" in info["summary"] and "30 days" in info["summary"]
        src.close()
    finally:
        box.stop()


def test_dormant_account_still_probes_above_the_highest_listed_id(tmp_path):
    dump = tmp_path / "dump"
    write_dump(dump, tickets=4, comments_per_ticket=2, attachments=0, seed=5, start=recent_start())
    box = make_sandbox(data=dump).start()
    try:
        box.store.update("ticket", 4, {"created_at": _days_ago(31)})     # newest ticket: 31 days old
        log = recorded(box)
        src = _source(box, tmp_path / "w")
        _drain(src, "tickets")
        _drain(src, "archived_tickets")
        assert sum(1 for r, _, _ in log if r == "archived_show") == ARCHIVE_MISS_RUN
        assert src.describe()["archived_tickets"]["requests"] == ARCHIVE_MISS_RUN
        src.close()
    finally:
        box.stop()


def test_credits_as_documented():
    assert request_credits("GET", "tickets", {"include": "description"}) == 3
    assert request_credits("GET", "tickets", {"include": "requester,stats"}) == 5
    assert request_credits("GET", "tickets/5", {"include": "conversations"}) == 2
    assert request_credits("GET", "tickets/5", {"include": "requester,company"}) == 3
    assert request_credits("GET", "tickets/5", None) == 1
    assert request_credits("GET", "tickets", {"per_page": 100}) == 1
    box = make_sandbox(rate_limit=400).start()
    try:
        c = httpx.Client(base_url=box.url + "/api/v2/", auth=(API_KEY, "X"))
        contact = c.post("contacts", json={"name": "A", "email": "a@example.org"}).json()
        t = c.post("tickets", json={"subject": "s", "description": "d", "requester_id": contact["id"],
                                    "status": 2, "priority": 1}).json()
        used = lambda r: r.headers["x-ratelimit-used-currentrequest"]  # noqa: E731
        assert used(c.get(f"tickets/{t['id']}", params={"include": "conversations"})) == "2"
        assert used(c.get(f"tickets/{t['id']}")) == "1"
        listed = c.get("tickets", params={"include": "description"})
        assert used(listed) == "3"
        assert listed.json()[0]["description"] == "d" and "attachments" not in listed.json()[0]
        both = c.get("tickets", params={"include": "requester,stats"})
        assert used(both) == "5" and {"requester", "stats"} <= set(both.json()[0])
        assert "description" not in both.json()[0]     # accounts after 2018-11-30: only with include
        assert c.get("tickets", params={"include": "conversations"}).status_code == 400
        shown = c.get(f"tickets/{t['id']}", params={"include": "company,requester"})
        assert used(shown) == "3" and shown.json()["requester"]["email"] == "a@example.org"
        assert c.get(f"tickets/{t['id']}", params={"include": "description"}).status_code == 400
    finally:
        box.stop()


def test_sandbox_lists_spam_and_deleted_tickets_only_when_asked_and_a_tickets_ratings():
    # List All Tickets `filter=spam|deleted` (documented values) and View a ticket's ratings, as a
    # peer tool (the Singer tap) reads them; before, the filter was ignored and the route missing.
    box = make_sandbox(rate_limit=400).start()
    try:
        c = httpx.Client(base_url=box.url + "/api/v2/", auth=(API_KEY, "X"))
        contact = c.post("contacts", json={"name": "A", "email": "a@example.org"}).json()
        ids = [c.post("tickets", json={"subject": f"s{n}", "description": "d", "requester_id": contact["id"],
                                       "status": 2, "priority": 1}).json()["id"] for n in range(3)]
        box.store.update("ticket", ids[1], {"spam": True})
        box.store.update("ticket", ids[2], {"deleted": True})
        listed = lambda **q: [t["id"] for t in c.get("tickets", params=q).json()]  # noqa: E731
        assert listed() == [ids[0]]
        assert listed(filter="spam") == [ids[1]] and listed(filter="deleted") == [ids[2]]
        assert c.get("tickets", params={"filter": "everything"}).status_code == 400
        assert c.post(f"tickets/{ids[0]}/satisfaction_ratings",
                      json={"ratings": {"default_question": 103}}).status_code == 201
        ratings = c.get(f"tickets/{ids[0]}/satisfaction_ratings").json()
        assert [r["ticket_id"] for r in ratings] == [ids[0]] and ratings[0]["ratings"] == {"default_question": 103}
        assert c.get(f"tickets/{ids[1]}/satisfaction_ratings").json() == []
    finally:
        box.stop()


def test_benchmark_prints_requests_credits_and_cpu():
    import subprocess
    import sys
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "benchmarks/freshdesk_requests.py", "--tickets", "20",
                           "--comments-per-ticket", "2"], cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {cells[1]: cells for cells in (line.split("|") for line in proc.stdout.splitlines()
                                          if line.startswith("| "))}
    show = rows[" GET ticket_show?include=conversations "]
    assert int(show[2]) == 20 and int(show[4]) == 40              # 1 request, 2 credits a ticket
    assert int(rows[" GET tickets "][2]) == 1                     # ⌈20/100⌉ list pages
    assert int(rows[" GET tickets?filter=spam "][2]) == int(rows[" GET tickets?filter=deleted "][2]) == 1
    assert " GET archived_show " not in rows                      # an account in use: no probe above
    assert '"first messages": 20' in proc.stdout and "hdmigrate CPU" in proc.stdout


def _spam_and_deleted_box(tmp_path):
    dump = tmp_path / "dump"
    write_dump(dump, tickets=8, comments_per_ticket=2, attachments=0, seed=6, start=recent_start())
    box = make_sandbox(data=dump).start()
    box.store.update("ticket", 3, {"spam": True})
    box.store.update("ticket", 5, {"deleted": True})       # in the trash
    box.store.update("ticket", 6, {"spam": True})
    box.store.update("ticket", 8, {"created_at": _days_ago(1)})     # nothing above 8 can be archived
    return box


def test_spam_and_deleted_tickets_are_named_in_the_report_and_never_probed_as_archived(tmp_path, monkeypatch):
    # The default list leaves out spam and the trash; before, those tickets vanished unnamed (and
    # each cost an archive probe). Now both filters are listed and every such ticket is named.
    box = _spam_and_deleted_box(tmp_path)
    try:
        log = recorded(box)
        summary, out = migrate(tmp_path, box, monkeypatch)
        rating_count = box.store.count("rating")
    finally:
        box.stop()
    assert summary["exit_code"] == 0, summary
    assert {t["id"] for t in iter_records(out, "ticket")} == {"1", "2", "4", "7", "8"}
    info = summary["source_info"]["spam_and_deleted"]
    assert info["spam"] == ["3", "6"] and info["deleted"] == ["5"] and info["migrated"] == 0
    assert "2 spam and 1 in the trash (deleted) in the source, not migrated" in info["summary"]
    assert "spam 3, 6; deleted 5" in info["summary"]
    # their ratings are named with them (a rating cannot be written without its ticket)
    named = info["ratings_not_migrated"]
    assert named and set(named.values()) <= {"3", "5", "6"}
    kept = {r["id"] for r in iter_records(out, "satisfaction_rating")}
    assert not kept & set(named) and len(kept) + len(named) == rating_count
    filters = [q.get("filter") for r, q, _ in log if r == "tickets"]
    assert filters == [None, "spam", "deleted"]
    assert not [r for r, _, _ in log if r == "archived_show"]     # ids 1..8 all listed: no probe
    assert sum(1 for r, _, _ in log if r == "ticket_show") == 5   # none for spam or deleted
    store = Store(tmp_path / "work")
    try:
        doc = collect(store)
        text = render_text(doc)
    finally:
        store.close()
    assert "source: tickets: 2 spam and 1 in the trash (deleted)" in text
    page = render_html(doc)
    assert 'id="source-notes"' in page and "spam 3, 6; deleted 5" in page


def test_spam_and_deleted_tickets_migrate_when_the_plan_asks(tmp_path, monkeypatch):
    box = _spam_and_deleted_box(tmp_path)
    try:
        summary, out = migrate(tmp_path, box, monkeypatch, spam_and_deleted="migrate")
        src = _source(box, tmp_path / "again")
        src.spam_and_deleted = "migrate"
        pages_ = list(src.fetch("spam_and_deleted_tickets"))
    finally:
        box.stop()
    assert summary["exit_code"] == 0, summary
    tickets = {t["id"]: t for t in iter_records(out, "ticket")}
    assert set(tickets) == {str(i) for i in range(1, 9)}
    assert tickets["3"]["extra"]["spam"] is True and tickets["5"]["extra"]["deleted"] is True
    assert tickets["1"]["extra"].get("spam") is False
    comments = [c for c in iter_records(out, "comment") if c["ticket_id"] == "5"]
    assert comments and comments[0]["id"] == "5-description"     # with its first message
    assert summary["source_info"]["spam_and_deleted"]["migrated"] == 3
    # one page per filter; the cursor of the first moves on to the second, the last is done
    assert [p.done for p in pages_] == [False, True]
    assert json.loads(pages_[0].cursor)["filter"] == "deleted"


def test_the_summary_names_as_not_migrated_only_those_left_out():
    # a later run with spam_and_deleted = "migrate" moved ticket 12; 3 and 5 were left out before
    from adapters.freshdesk.source import _left_summary
    info = _left_summary({"3": {"state": "spam"}, "12": {"state": "spam", "migrated": True},
                          "5": {"state": "deleted", "ratings": ["1"]}})
    assert info["spam"] == ["3", "12"] and info["deleted"] == ["5"] and info["migrated"] == 1
    left_out, moved = info["summary"].split("; 1 spam or deleted migrated")
    assert "spam 3; deleted 5" in left_out and "12" not in left_out and moved.endswith("spam 12")
    assert info["ratings_not_migrated"] == {"1": "5"}


def test_a_rating_held_back_with_its_spam_ticket_is_staged_when_a_later_run_lists_the_ticket(tmp_path, monkeypatch):
    # Ratings are read by created_since: once a run held one back with its spam (or deleted)
    # ticket, no later read would show it again. Before, taking the ticket out of spam brought the
    # ticket over and lost its rating; now the rating kept in the work directory follows it.
    box = _spam_and_deleted_box(tmp_path)
    try:
        first, out = migrate(tmp_path, box, monkeypatch)
        held = first["source_info"]["spam_and_deleted"]["ratings_not_migrated"]
        assert held, "the sandbox gave no spam or deleted ticket a rating"
        rating, ticket = sorted(held.items())[0]
        box.store.update("ticket", int(ticket), {"spam": False, "deleted": False, "updated_at": _days_ago(0)})
        second, out = migrate(tmp_path, box, monkeypatch)
        third, out = migrate(tmp_path, box, monkeypatch)     # nothing new: the same rating, unchanged
    finally:
        box.stop()
    assert second["exit_code"] == 0 and third["exit_code"] == 0, (second, third)
    assert ticket in {t["id"] for t in iter_records(out, "ticket")}
    ratings = [r for r in iter_records(out, "satisfaction_rating") if r["id"] == rating]
    assert len(ratings) == 1 and ratings[0]["ticket_id"] == ticket
    info = second["source_info"]["spam_and_deleted"]
    assert ticket not in info["spam"] + info["deleted"] and rating not in info["ratings_not_migrated"]
    assert third["kinds"]["satisfaction_rating"]["created"] == 0


def test_a_later_run_that_migrates_spam_brings_the_ratings_an_earlier_run_held_back(tmp_path, monkeypatch):
    box = _spam_and_deleted_box(tmp_path)
    try:
        first, out = migrate(tmp_path, box, monkeypatch)
        held = first["source_info"]["spam_and_deleted"]["ratings_not_migrated"]
        for tid in ("3", "5", "6"):       # listed again by the next run's spam / deleted lists
            box.store.update("ticket", int(tid), {"updated_at": _days_ago(0)})
        second, out = migrate(tmp_path, box, monkeypatch, spam_and_deleted="migrate")
    finally:
        box.stop()
    assert held and second["exit_code"] == 0, second
    staged = {r["id"]: r["ticket_id"] for r in iter_records(out, "satisfaction_rating")}
    assert {r: staged.get(r) for r in held} == held
    assert second["source_info"]["spam_and_deleted"]["ratings_not_migrated"] == {}
