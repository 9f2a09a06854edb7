"""Extraction overlaps loading (issue 16 item 2): the target writes while the source still serves
pages, with every guarantee kept (references resolved first, comments after their ticket and in
order, nothing written twice across a resume). A paced fake source waits, before serving a
stream's last page, until the target has written what the flow should have written by then; a
serial engine would never write it, so the source waits out its fail-safe and the test fails.
No timing is asserted."""

from __future__ import annotations

import json
import threading
from collections import Counter
from unittest import mock

import pytest

from hdmigrate import registry
from hdmigrate.adapter import AdapterSpec, Page, Source
from hdmigrate.engine import Engine
from hdmigrate.plan import plan_from_dict
from hdmigrate.report import CollectingReporter
from hdmigrate.testing.dummy import SPEC as DUMMY, DummyTarget

TICKETS = 6
COMMENTS = 3   # per ticket: m0 on the first events page of its ticket, the rest later


class PacedSource(Source):
    """People, then tickets, then comment events in time order; a gate before a stream's last page."""

    name = "paced"
    ordered_streams = frozenset({"events"})
    gates: dict = {}        # stream -> predicate over DummyTarget.calls that must hold first
    log: list = []          # ("served", stream, n) and the writes, in the order they happened
    late: bool = False      # one comment of t1 comes only after every other event
    edit: bool = False      # a delta: t5 and c1 changed in the source

    def check(self):
        pass

    def streams(self):
        return ["people", "tickets", "events"]

    def _pages(self, stream):
        if stream == "people":
            return [[("a1", {"kind": "agent", "id": "a1", "name": "Ana", "email": "ana@example.org"})],
                    [("c1", {"kind": "contact", "id": "c1", "name": "Chen" + " Li" * self.edit,
                             "email": "chen@example.org"})]]
        if stream == "tickets":
            return [[(f"t{t}", {"kind": "ticket", "id": f"t{t}", "status": "open",
                                "subject": f"S{t}" + " (changed)" * (self.edit and t == 5),
                                "requester_id": "c1", "created_at": f"2021-01-0{t}T08:00:00Z"})]
                    for t in range(1, TICKETS + 1)]
        events = [(f"t{t}m{m}", t, m) for m in range(COMMENTS) for t in range(1, TICKETS + 1)]
        if self.late:
            events.remove(("t1m2", 1, 2))
            events.append(("t1m2", 1, 2))
        return [[(eid, {"kind": "comment", "id": eid, "ticket_id": f"t{t}", "author_id": "a1" if m else "c1",
                        "public": True, "body_text": f"message {m}", "created_at": f"2021-01-0{t}T{8 + m:02d}:00:00Z"})]
                for eid, t, m in events]

    def fetch(self, stream, cursor=None, since=None):
        pages = self._pages(stream)
        start = int(cursor) if cursor else 0
        for n in range(start, len(pages)):
            last = n == len(pages) - 1
            gate = self.gates.get(stream)
            if last and gate is not None:
                for _ in range(200):   # fail-safe: a serial engine never opens the gate
                    if gate(list(DummyTarget.calls)):
                        break
                    threading.Event().wait(0.05)
            self.log.append(("served", stream, n))
            yield Page(pages[n], cursor=str(n + 1), done=last)

    def to_canonical(self, stream, payload):
        record = dict(payload)
        yield record.pop("kind"), record


class LoggingTarget(DummyTarget):
    def write(self, kind, record, ctx):
        result = super().write(kind, record, ctx)
        PacedSource.log.append(("write", kind, record["id"]))   # carried out
        return result


PACED = AdapterSpec(name="paced", description="paced test source", source=PacedSource)
TARGET = AdapterSpec(name="dummy", description="test target", target=LoggingTarget)


@pytest.fixture(autouse=True)
def adapters():
    known = dict(registry.all_adapters())
    known.update({"paced": PACED, "dummy": TARGET})
    DummyTarget.written, DummyTarget.calls, DummyTarget.knobs = {}, [], {}
    PacedSource.gates, PacedSource.log, PacedSource.late = {}, [], False
    with mock.patch.object(registry, "all_adapters", lambda: known):
        yield
    assert DUMMY.target is DummyTarget


def run(tmp_path, **kw):
    plan = plan_from_dict({"source": {"adapter": "paced"}, "target": {"adapter": "dummy"}}, tmp_path)
    engine = Engine(plan, tmp_path / "wd", CollectingReporter())
    try:
        return engine.run(**kw)
    finally:
        engine.store.close()


def index(entry):
    return PacedSource.log.index(entry)


def check_complete_and_ordered():
    writes = [e[1:] for e in PacedSource.log if e[0] == "write"]
    assert all(n == 1 for n in Counter(writes).values()), Counter(writes)   # nothing written twice
    assert {w for w in writes if w[0] == "ticket"} == {("ticket", f"t{t}") for t in range(1, TICKETS + 1)}
    for t in range(1, TICKETS + 1):
        order = [w[1] for w in writes if w[1] == f"t{t}" or w[1].startswith(f"t{t}m")]
        assert order == [f"t{t}"] + [f"t{t}m{m}" for m in range(COMMENTS)], order   # ticket first, then in order
        for m in range(COMMENTS):
            assert DummyTarget.written[("comment", f"t{t}m{m}")]["ticket_target"] == f"T-ticket-t{t}"


def test_tickets_and_comments_are_written_while_the_events_export_goes_on(tmp_path):
    PacedSource.gates = {"events": lambda calls: ("comment", "t1m0") in calls}
    summary = run(tmp_path)
    assert summary["exit_code"] == 0, summary
    last_page = index(("served", "events", TICKETS * COMMENTS - 1))
    assert index(("write", "ticket", "t1")) < last_page
    assert index(("write", "comment", "t1m0")) < last_page
    assert index(("write", "contact", "c1")) < index(("write", "ticket", "t1"))   # references first
    check_complete_and_ordered()
    assert summary["kinds"]["comment"]["created"] == TICKETS * COMMENTS
    assert summary["kinds"]["ticket"]["created"] == TICKETS


def test_a_comment_staged_after_its_ticket_was_written_follows_it(tmp_path):
    PacedSource.late = True
    PacedSource.gates = {"events": lambda calls: ("comment", "t1m1") in calls}
    summary = run(tmp_path)
    assert summary["exit_code"] == 0, summary
    assert index(("write", "comment", "t1m1")) < index(("served", "events", TICKETS * COMMENTS - 1))
    check_complete_and_ordered()


def test_a_bundling_target_waits_for_every_comment_but_people_load_meanwhile(tmp_path):
    DummyTarget.knobs = {"bundles": True}
    PacedSource.gates = {"tickets": lambda calls: ("contact", "c1") in calls}
    summary = run(tmp_path)
    assert summary["exit_code"] == 0, summary
    assert index(("write", "contact", "c1")) < index(("served", "tickets", TICKETS - 1))
    assert index(("write", "ticket", "t1")) > index(("served", "events", TICKETS * COMMENTS - 1))
    for t in range(1, TICKETS + 1):   # each ticket went out with all its comments, in order
        assert DummyTarget.written[("ticket", f"t{t}")]["comments"] == [f"t{t}m{m}" for m in range(COMMENTS)]
    assert summary["kinds"]["comment"]["created"] == TICKETS * COMMENTS


def test_interrupted_while_extracting_then_resumed_writes_nothing_twice(tmp_path):
    PacedSource.gates = {"events": lambda calls: False}   # the last page never comes in this run
    DummyTarget.knobs = {"interrupt_after": 5}
    first = run(tmp_path)
    assert first["exit_code"] == 4, first
    served = [e for e in PacedSource.log if e[0] == "served"]
    assert ("served", "events", TICKETS * COMMENTS - 1) not in served   # stopped mid-extraction
    assert len([e for e in PacedSource.log if e[0] == "write"]) == 5    # the 6th was interrupted
    DummyTarget.knobs = {}
    PacedSource.gates = {}
    second = run(tmp_path)
    assert second["exit_code"] == 0, second
    check_complete_and_ordered()
    assert second["totals"]["failed"] == 0


def test_dry_run_writes_nothing_and_counts_everything(tmp_path):
    summary = run(tmp_path, dry_run=True)
    assert summary["exit_code"] == 0, summary
    assert not DummyTarget.calls
    assert summary["kinds"]["comment"]["created"] == TICKETS * COMMENTS
    assert summary["kinds"]["ticket"]["created"] == TICKETS


def test_a_delta_run_updates_what_changed_once_and_counts_the_rest_unchanged(tmp_path):
    assert run(tmp_path)["exit_code"] == 0
    PacedSource.edit, PacedSource.log = True, []
    summary = run(tmp_path)
    assert summary["exit_code"] == 0, summary
    kinds = summary["kinds"]
    # staged in place while the delta extracts: loaded once, after the extraction, as before
    assert (kinds["ticket"]["updated"], kinds["ticket"]["unchanged"]) == (1, TICKETS - 1), kinds["ticket"]
    assert DummyTarget.written[("ticket", "t5")]["record"]["subject"] == "S5 (changed)"
    assert kinds["comment"]["unchanged"] == TICKETS * COMMENTS and kinds["comment"]["created"] == 0
    # the dummy cannot update contacts: reported as not updated (a degradation), nothing else
    assert kinds["contact"]["degraded"] == 1 and kinds["contact"]["unchanged"] == kinds["contact"]["updated"] == 0
    assert not [e for e in PacedSource.log if e[0] == "write"]   # nothing created again


class ServedSource(PacedSource):
    """Says a ticket's comments are all staged once the events cursor is past its last one."""

    def parts_served(self, ticket, positions):
        if "events" not in positions:
            return True
        last = (COMMENTS - 1) * TICKETS + int(ticket["id"][1:]) - 1   # page index of its last comment
        return positions["events"] is not None and int(positions["events"]) > last


def test_a_bundling_target_loads_a_ticket_once_the_source_says_its_comments_are_served(tmp_path):
    DummyTarget.knobs = {"bundles": True}
    PacedSource.gates = {"events": lambda calls: ("ticket", "t1") in calls}
    with mock.patch.dict(registry.all_adapters(), {"paced": AdapterSpec(
            name="paced", description="paced test source", source=ServedSource)}):
        summary = run(tmp_path)
    assert summary["exit_code"] == 0, summary
    assert index(("write", "ticket", "t1")) < index(("served", "events", TICKETS * COMMENTS - 1))
    for t in range(1, TICKETS + 1):   # still each with all its comments, in order
        assert DummyTarget.written[("ticket", f"t{t}")]["comments"] == [f"t{t}m{m}" for m in range(COMMENTS)]
    assert summary["kinds"]["comment"]["created"] == TICKETS * COMMENTS


class BurstSource(PacedSource):
    """t6's first comment alone in the first events page; once the load has looked at the tickets
    (none served yet), every other comment but t6's last in one page; then, gated, that last one:
    the streams move once, then the feed is silent, as when an export waits for its next window."""

    looked: list = []       # the events position each look at a waiting ticket saw

    def _pages(self, stream):
        if stream != "events":
            return super()._pages(stream)
        pages = super()._pages("events")
        first = [p for p in pages if p[0][0] == "t6m0"]
        rest = [item for p in pages[:-1] if p not in first for item in p]
        return [first[0], rest, pages[-1]]

    def fetch(self, stream, cursor=None, since=None):
        for page in super().fetch(stream, cursor, since):
            yield page
            if stream == "events" and page.cursor == "1":
                for _ in range(200):       # fail-safe
                    if "1" in self.looked:
                        break
                    threading.Event().wait(0.05)

    def parts_served(self, ticket, positions):
        if "events" not in positions:
            return True
        served = int(positions["events"] or 0)
        self.looked.append(positions["events"])
        return served >= 3 or (served >= 2 and ticket["id"] != "t6")


def test_waiting_tickets_are_all_looked_at_again_while_the_feed_is_silent(tmp_path):
    # A look at the waiting tickets is bounded per pass (two chunks: here 4 tickets). Before,
    # the next look came only with the next page: here the feed is silent until t5 is written,
    # so t5 waited for it (the source's fail-safe).
    DummyTarget.knobs = {"bundles": True}
    BurstSource.looked = []
    PacedSource.gates = {"events": lambda calls: ("ticket", "t5") in calls}
    with mock.patch.dict(registry.all_adapters(), {"burst": AdapterSpec(
            name="burst", description="bursting test source", source=BurstSource)}), \
            mock.patch("hdmigrate.engine.flow.CHUNK", 1):
        plan = plan_from_dict({"source": {"adapter": "burst"}, "target": {"adapter": "dummy"},
                               "run": {"workers": 1}}, tmp_path)
        engine = Engine(plan, tmp_path / "wd", CollectingReporter())
        try:
            summary = engine.run()
        finally:
            engine.store.close()
    assert summary["exit_code"] == 0, summary
    assert "1" in BurstSource.looked                      # the tickets waited after the first page
    assert index(("write", "ticket", "t5")) < index(("served", "events", 2))
    for t in range(1, TICKETS + 1):
        assert DummyTarget.written[("ticket", f"t{t}")]["comments"] == [f"t{t}m{m}" for m in range(COMMENTS)]


def test_the_feed_holds_a_bounded_number_of_records_however_large_the_pages():
    # Eight export pages of 1,000 tickets each waited in the queue at once (40 MB at 20,000
    # tickets); the feed now stops fetching ahead at `max_items` records.
    from hdmigrate.engine.extract import Feed

    class Big(PacedSource):
        def fetch(self, stream, cursor=None, since=None):
            for n in range(10):
                yield Page([(f"{stream}{n}-{i}", {}) for i in range(1000)], cursor=str(n + 1), done=n == 9)

    feed = Feed(Big(None), [("tickets", None, None)], depth=8, max_items=2500)
    feed.start()
    try:
        for _ in range(100):                  # until the feed thread waits for room
            if feed.queue.qsize() == 2:
                break
            threading.Event().wait(0.02)
        threading.Event().wait(0.2)
        assert feed.queue.qsize() == 2        # 2 × 1,000 records: a third would exceed 2,500
        pages = [feed.get(block=True) for _ in range(11)]   # drained, every page comes through
        assert [p[2].cursor for p in pages if p[0] == "page"] == [str(n) for n in range(1, 11)]
    finally:
        feed.stop()


def test_a_page_waiting_in_the_feed_holds_strings_not_the_parsed_answer():
    # A parsed export page of 1,000 comment events was ~130,000 Python objects while it waited
    # for the engine's thread; serialized as fetched, the parsed payloads are let go at once.
    import gc
    import weakref

    from hdmigrate.engine.extract import Feed

    class Payload(dict):          # a dict that can be watched with a weak reference
        pass

    fetched = []

    class Parsed(PacedSource):
        def fetch(self, stream, cursor=None, since=None):
            payloads = [Payload(id=i, body=f"Grüße {i} — 日本語") for i in range(3)]
            fetched.extend(weakref.ref(p) for p in payloads)
            yield Page([(str(p["id"]), p) for p in payloads], cursor="1", done=True)

    feed = Feed(Parsed(None), [("tickets", None, None)])
    feed.start()
    try:
        kind, stream, page = feed.get(block=True)
        feed.thread.join(timeout=5)       # the source's generator has ended: only the page is left
        gc.collect()
        assert kind == "page" and fetched
        assert all(ref() is None for ref in fetched)        # nothing holds the parsed payloads
        assert [raw_id for raw_id, _text, _hash in page.rows] == ["0", "1", "2"]
        assert json.loads(page.rows[1][1]) == {"id": 1, "body": "Grüße 1 — 日本語"}
        assert page.cursor == "1" and page.done
    finally:
        feed.stop()


def test_a_target_writing_comments_with_their_ticket_has_each_comment_read_once(tmp_path):
    # A comment was parsed three times on its way to such a target: to decide that its ticket
    # was ready, for the ticket's bundle, and in the parts pass only to be skipped as written.
    # Readiness now reads the reference fields alone, and the parts pass leaves written ones unread.
    from hdmigrate.store import core, queries

    DummyTarget.knobs = {"bundles": True}
    reads: Counter = Counter()

    def counting(module):
        original = module.loads

        def loads(text):
            record = original(text)
            if isinstance(record, dict) and str(record.get("id", "")).startswith("t") and "m" in str(record["id"]):
                reads[record["id"]] += 1
            return record
        return loads

    with mock.patch.object(core, "loads", counting(core)), mock.patch.object(queries, "loads", counting(queries)):
        summary = run(tmp_path)
    assert summary["exit_code"] == 0, summary
    comments = {f"t{t}m{m}" for t in range(1, TICKETS + 1) for m in range(COMMENTS)}
    for t in range(1, TICKETS + 1):
        assert DummyTarget.written[("ticket", f"t{t}")]["comments"] == [f"t{t}m{m}" for m in range(COMMENTS)]
    assert set(reads) == comments
    assert all(n == 1 for n in reads.values()), reads
