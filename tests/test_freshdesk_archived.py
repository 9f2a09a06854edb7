"""Freshdesk archived tickets (issue 14.3): they are in no list and `GET /tickets/{id}` does not
show them, so the source finds the highest ticket id from every stream that names one and probes
upward past it until ARCHIVE_MISS_RUN misses in a row. Over real HTTP on loopback: Freshdesk
sandbox -> jsonl dump."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from adapters.freshdesk.sandbox import API_KEY, make_sandbox
from adapters.freshdesk.source import ARCHIVE_MISS_RUN
from hdmigrate.canonical_dump import iter_records
from hdmigrate.engine import Engine
from hdmigrate.plan import plan_from_dict
from hdmigrate.report import CollectingReporter, collect, render_text
from hdmigrate.testing.sample import write_dump


def _rewrite(dump: Path, kind: str, change) -> None:
    rows = [change(r) or r for r in iter_records(dump, kind)]
    (dump / f"{kind}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                        encoding="utf-8")


def make_dump(root: Path, *, archived: set[str], renumber: dict[str, str] | None = None,
              rating_for: str | None = None, ratings: bool = False) -> Path:
    """A small sample dump (tickets "1".."6"); `renumber` moves tickets to other ids, `archived`
    (ids after renumbering) marks them archived; the sample's ratings are kept with `ratings`,
    `rating_for` adds one naming that ticket."""
    dump = root / "dump"
    write_dump(dump, tickets=6, comments_per_ticket=2, attachments=0, seed=5)
    renumber = renumber or {}
    if not ratings:
        (dump / "satisfaction_rating.jsonl").unlink(missing_ok=True)

    def ticket(t):
        t["id"] = renumber.get(t["id"], t["id"])
        if t["id"] in archived:
            t["status"] = "closed"
            t.setdefault("extra", {})["archived"] = True

    def child(c):
        c["ticket_id"] = renumber.get(c["ticket_id"], c["ticket_id"])

    _rewrite(dump, "ticket", ticket)
    _rewrite(dump, "comment", child)
    if rating_for:
        with open(dump / "satisfaction_rating.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps({"id": "r1", "ticket_id": rating_for, "score": 5, "scale": "1-5",
                                "created_at": "2020-01-01T00:00:00Z"}) + "\n")
    return dump


def migrate(tmp_path: Path, box, monkeypatch) -> tuple[dict, Path, CollectingReporter, str]:
    for k, v in box.env.items():
        monkeypatch.setenv(k, v)
    out, work = tmp_path / "out", tmp_path / "work"
    plan = plan_from_dict({"source": box.plan_section, "target": {"adapter": "jsonl", "path": str(out)},
                           "run": {"workdir": str(work), "rate_limit": {"source": 600000, "target": 600000}}},
                          base_dir=tmp_path)
    reporter = CollectingReporter()
    engine = Engine(plan, work, reporter)
    try:
        summary = engine.run()
        text = render_text(collect(engine.store))
    finally:
        engine.store.close()
    return summary, out, reporter, text


def archived_probes(box) -> list[int]:
    return sorted(int(e.path.rstrip("/").rsplit("/", 1)[1]) for e in box.stats.log
                  if "/tickets/archived/" in e.path and not e.path.endswith("/conversations"))


def test_sandbox_models_archived_tickets_as_documented(tmp_path):
    box = make_sandbox(data=make_dump(tmp_path, archived={"2"})).start()
    try:
        with httpx.Client(base_url=box.url + "/api/v2", auth=(API_KEY, "X")) as http:
            listed = http.get("tickets", params={"updated_since": "1970-01-01T00:00:00Z"}).json()
            assert "2" not in {str(t["id"]) for t in listed} and len(listed) == 5
            assert http.get("tickets/2").status_code == 404
            shown = http.get("tickets/archived/2").json()
            assert shown["id"] == 2 and shown["archived"] is True
            assert http.get("tickets/archived/2/conversations").status_code == 200
            assert http.get("tickets/archived/1").status_code == 404   # not archived
    finally:
        box.stop()


@pytest.mark.parametrize("ratings", [False, True], ids=["no-ratings", "with-ratings"])
def test_dormant_account_all_archived_migrates_every_ticket(tmp_path, monkeypatch, ratings):
    ids = {str(i) for i in range(1, 7)}
    dump = make_dump(tmp_path, archived=ids, ratings=ratings)
    rated = {r["ticket_id"] for r in iter_records(dump, "satisfaction_rating")}
    assert bool(rated) is ratings
    box = make_sandbox(data=dump).start()
    try:
        summary, out, reporter, text = migrate(tmp_path, box, monkeypatch)
    finally:
        box.stop()
    assert summary["exit_code"] == 0, summary      # no orphaned rating fails
    assert {t["id"] for t in iter_records(out, "ticket")} == ids
    assert all(t["extra"]["archived"] for t in iter_records(out, "ticket"))
    # every comment of every ticket came along (description + conversations of the archive endpoint)
    assert len(list(iter_records(out, "comment"))) == len(list(iter_records(dump, "comment")))
    assert {r["ticket_id"] for r in iter_records(out, "satisfaction_rating")} == rated
    info = summary["source_info"]["archived_tickets"]
    expected = ("satisfaction ratings", max(int(i) for i in rated)) if ratings else ("no known ticket id", 0)
    assert (info["method"], info["highest_known"], info["found"]) == (*expected, 6)
    assert info["last"] == 6 + ARCHIVE_MISS_RUN                      # bounded: the miss run ends it
    assert archived_probes(box) == list(range(1, 7 + ARCHIVE_MISS_RUN))
    assert "ids 1..56 probed" in info["summary"] and "6 archived found" in info["summary"]
    assert any("ids 1..56 probed" in m for m in reporter.messages)    # the log line
    assert "source: tickets: ids 1..56 probed" in text                # `hdmigrate report`


def test_archived_ticket_above_highest_listed_id_migrates(tmp_path, monkeypatch):
    # tickets 1..5 listed, ticket 6 moved to id 40 and archived: 34 ids above the highest listed
    box = make_sandbox(data=make_dump(tmp_path, archived={"40"}, renumber={"6": "40"})).start()
    try:
        summary, out, _, _ = migrate(tmp_path, box, monkeypatch)
    finally:
        box.stop()
    assert summary["exit_code"] == 0, summary
    assert {t["id"] for t in iter_records(out, "ticket")} == {"1", "2", "3", "4", "5", "40"}
    info = summary["source_info"]["archived_tickets"]
    assert (info["method"], info["highest_known"], info["highest_archived"]) == ("the ticket lists", 5, 40)
    assert info["last"] == 40 + ARCHIVE_MISS_RUN
    assert archived_probes(box)[0] == 6       # listed ids are not probed again


def test_rating_names_an_archived_ticket_beyond_the_miss_run(tmp_path, monkeypatch):
    # ticket 200 is further above the listed ones than a miss run reaches: only its rating tells
    box = make_sandbox(data=make_dump(tmp_path, archived={"200"}, renumber={"6": "200"},
                                      rating_for="200")).start()
    try:
        summary, out, _, _ = migrate(tmp_path, box, monkeypatch)
    finally:
        box.stop()
    assert summary["exit_code"] == 0, summary
    assert "200" in {t["id"] for t in iter_records(out, "ticket")}
    assert [r["ticket_id"] for r in iter_records(out, "satisfaction_rating")] == ["200"]  # not orphaned
    info = summary["source_info"]["archived_tickets"]
    assert (info["method"], info["highest_known"], info["found"]) == ("satisfaction ratings", 200, 1)
    assert "from satisfaction ratings" in info["summary"]


def test_plan_without_archive_feature_is_reported_not_fatal(tmp_path, monkeypatch):
    box = make_sandbox(data=make_dump(tmp_path, archived=set())).start()

    def no_feature(request):
        from hdmigrate.testing.sandbox import Response
        return Response(403, json={"code": "require_feature",
                                   "message": "The Archive Tickets feature(s) is/are not supported in your plan."})
    box.add_route("GET", r"/api/v2/tickets/archived/\d+", no_feature)
    try:
        summary, out, _, _ = migrate(tmp_path, box, monkeypatch)
    finally:
        box.stop()
    assert summary["exit_code"] == 0, summary
    assert len(list(iter_records(out, "ticket"))) == 6
    info = summary["source_info"]["archived_tickets"]
    assert info["method"] == "unavailable" and "403" in info["summary"]


def test_probe_resumes_from_its_cursor_and_a_delta_run_looks_above_the_last_hit(tmp_path):
    from adapters.freshdesk.source import ARCHIVE_PROBES_PER_PAGE, FreshdeskSource
    from hdmigrate.adapter import AdapterContext

    # listed: 1 and 130; archived: 2, 3, 4 and 120
    box = make_sandbox(data=make_dump(tmp_path, archived={"2", "3", "4", "120"},
                                      renumber={"5": "120", "6": "130"})).start()
    try:
        def source():
            return FreshdeskSource(AdapterContext(config={"url": box.url}, secrets={"api_key": API_KEY},
                                                  workdir=tmp_path, rate_limit=600000))

        first = source()
        list(first.fetch("tickets"))
        page = next(first.fetch("archived_tickets"))      # ids 2..101, then a cursor
        assert [i for i, _ in page.items] == ["2", "3", "4"] and not page.done
        assert json.loads(page.cursor)["next"] == 2 + ARCHIVE_PROBES_PER_PAGE
        first.close()
        # an interrupted extract resumes at its cursor: nothing probed twice, 120 still found
        box.stats.log.clear()
        second = source()
        rest = list(second.fetch("archived_tickets", cursor=page.cursor))
        assert [i for p in rest for i, _ in p.items] == ["120"] and rest[-1].done
        probes = archived_probes(box)
        assert probes[0] == 2 + ARCHIVE_PROBES_PER_PAGE and len(probes) == len(set(probes))
        assert 130 not in probes and probes[-1] == 130 + ARCHIVE_MISS_RUN
        second.close()
        # a delta run starts just above the highest known id and finds what was archived since
        later = box.store.get("ticket", 120)
        box.store.insert("ticket", {**later, "id": 140, "subject": "archived later"})
        box.stats.log.clear()
        third = source()
        delta = list(third.fetch("archived_tickets", cursor=rest[-1].cursor))
        assert [i for p in delta for i, _ in p.items] == ["140"]
        assert archived_probes(box)[0] == 131
        assert third.describe()["archived_tickets"]["summary"].startswith("tickets: ids 131..190 probed")
        third.close()
    finally:
        box.stop()
