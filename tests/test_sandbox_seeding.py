"""Sandboxes seed everything they are given (issue 14.8): every dump record is seeded, or named on
stderr with its reason and returned by the seeding function. The dump here holds the cases that
used to vanish without a word: ratings on a 1-5 and a 0-10 scale (and their times), a ticket whose
requester is not in the dump, attachments with a missing or an invalid blob, a ticket without
comments, a comment and a rating whose ticket is not in the dump, a ticket with a non-numeric id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.freshdesk.sandbox import make_sandbox as make_freshdesk
from hdmigrate.canonical_dump import iter_records
from adapters.zendesk.sandbox import make_sandbox as make_zendesk
from hdmigrate.engine import Engine
from hdmigrate.plan import plan_from_dict
from hdmigrate.testing.sample import write_dump

MISSING_SHA = "0" * 64          # well-formed, but no such blob in the dump
T0 = "2020-03-01T10:00:00Z"


def _add(dump: Path, kind: str, *records: dict) -> None:
    with open(dump / f"{kind}.jsonl", "a", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def _ticket(tid: str, requester: str) -> dict:
    return {"id": tid, "subject": f"ticket {tid}", "status": "solved", "requester_id": requester,
            "tags": [], "custom_fields": {}, "created_at": T0, "updated_at": T0}


def _comment(cid: str, tid: str, author: str, attachment_ids=()) -> dict:
    return {"id": cid, "ticket_id": tid, "author_id": author, "author_kind": "contact", "public": True,
            "body_html": f"<p>{cid}</p>", "body_text": cid, "attachment_ids": list(attachment_ids),
            "created_at": T0}


def _attachment(aid: str, cid: str, tid: str, sha: str) -> dict:
    return {"id": aid, "comment_id": cid, "ticket_id": tid, "file_name": f"{aid}.txt",
            "content_type": "text/plain", "size": 3, "sha256": sha, "inline": False}


def _rating(rid: str, tid: str, score, scale: str, when: str) -> dict:
    return {"id": rid, "ticket_id": tid, "score": score, "scale": scale, "created_at": when, "updated_at": when}


@pytest.fixture(scope="module")
def dump(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("seeding") / "dump"
    write_dump(root, tickets=4, comments_per_ticket=2, attachments=0, seed=3, defects=False)
    (root / "satisfaction_rating.jsonl").unlink(missing_ok=True)
    contact = next(iter_records(root, "contact"))["id"]
    _add(root, "ticket", _ticket("901", contact), _ticket("902", contact), _ticket("903", contact),
         _ticket("T-904", contact), _ticket("905", "c-nobody"), _ticket("906", contact))
    _add(root, "comment", _comment("901-1", "901", contact, ["a-missing", "a-invalid"]),
         _comment("902-1", "902", contact), _comment("903-1", "903", contact), _comment("T-904-1", "T-904", contact),
         _comment("905-1", "905", contact), _comment("lost-1", "999", contact))
    _add(root, "attachment", _attachment("a-missing", "901-1", "901", MISSING_SHA),
         _attachment("a-invalid", "901-1", "901", "not-a-sha"))
    _add(root, "satisfaction_rating",
         _rating("r-five", "901", 5, "1-5", "2020-03-02T08:00:00Z"),
         _rating("r-two", "902", 2, "1-5", "2020-03-03T08:00:00Z"),
         _rating("r-ten", "903", 9, "0-10", "2020-03-04T08:00:00Z"),
         _rating("r-text", "T-904", "bad", "good_bad", "2020-03-05T08:00:00Z"),
         _rating("r-lost", "999", 4, "1-5", "2020-03-06T08:00:00Z"))
    return root


def _skipped(box) -> dict[tuple[str, str], str]:
    return {(s["kind"], s["id"]): s["reason"] for s in box.seed_skipped}


def test_zendesk_sandbox_seeds_every_rating_with_its_time_and_names_what_it_skips(dump, capfd):
    box = make_zendesk(data=dump)
    err = capfd.readouterr().err
    skipped = _skipped(box)
    assert set(skipped) == {("ticket", "905"), ("comment", "905-1"), ("comment", "lost-1"),
                            ("attachment", "a-missing"), ("attachment", "a-invalid"),
                            ("ticket", "906"), ("satisfaction_rating", "r-lost")}
    assert "requester c-nobody is not in the dump" in skipped[("ticket", "905")]
    assert "no comments" in skipped[("ticket", "906")]
    assert MISSING_SHA in skipped[("attachment", "a-missing")]
    assert "its ticket 999 is not in the dump" in skipped[("satisfaction_rating", "r-lost")]
    for (kind, rid), reason in skipped.items():      # said on stderr too, one line each
        assert f"not seeded: {kind} {rid}: {reason}" in err
    assert "7 dump records not seeded" in err
    # the seeding function returns the same list
    again = make_zendesk()
    assert again.seed_from_dump(dump) == again.seed_skipped and len(again.seed_skipped) == 7

    rated = {t["subject"]: t["satisfaction_rating"] for t in box.store.all("ticket") if t["satisfaction_rating"]}
    assert {k: v["score"] for k, v in rated.items()} == {
        "ticket 901": "good", "ticket 902": "bad", "ticket 903": "good", "ticket T-904": "bad"}
    assert rated["ticket 902"]["created_at"] == "2020-03-03T08:00:00Z"
    assert all(v["created_at"] and v["updated_at"] for v in rated.values())
    changed = {(c["kind"], c["id"]) for c in box.seed_changed}
    assert {("satisfaction_rating", "r-five"), ("satisfaction_rating", "r-two"),
            ("satisfaction_rating", "r-ten")} <= changed        # the scale mapping is said, once
    assert "3 ratings on a 1-5 or 0-10 scale seeded as good/bad" in err


def test_zendesk_ratings_read_back_with_their_times(dump, tmp_path, monkeypatch):
    box = make_zendesk(data=dump).start()
    try:
        for k, v in box.env.items():
            monkeypatch.setenv(k, v)
        out = tmp_path / "out"
        plan = plan_from_dict({"source": box.plan_section, "target": {"adapter": "jsonl", "path": str(out)},
                               "run": {"workdir": str(tmp_path / "work"),
                                       "rate_limit": {"source": 600000, "target": 600000}}}, base_dir=tmp_path)
        engine = Engine(plan, tmp_path / "work")
        try:
            assert engine.run()["exit_code"] == 0
        finally:
            engine.store.close()
    finally:
        box.stop()
    ratings = list(iter_records(out, "satisfaction_rating"))
    assert sorted(r["created_at"] for r in ratings) == [
        "2020-03-02T08:00:00Z", "2020-03-03T08:00:00Z", "2020-03-04T08:00:00Z", "2020-03-05T08:00:00Z"]


def test_freshdesk_sandbox_seeds_every_rating_and_names_what_it_skips(dump, capfd):
    box = make_freshdesk(data=dump)
    err = capfd.readouterr().err
    skipped = _skipped(box)
    # Freshdesk takes a ticket without comments (empty description); the rest as in Zendesk
    assert set(skipped) == {("ticket", "905"), ("comment", "905-1"), ("comment", "lost-1"),
                            ("attachment", "a-missing"), ("attachment", "a-invalid"),
                            ("satisfaction_rating", "r-lost")}
    assert "requester c-nobody is not in the dump" in skipped[("ticket", "905")]
    for (kind, rid), reason in skipped.items():
        assert f"not seeded: {kind} {rid}: {reason}" in err
    again = make_freshdesk()
    assert again.seed_from_dump(dump) == again.seed_skipped and len(again.seed_skipped) == 6

    tickets = {t["subject"]: t for t in box.store.all("ticket")}
    assert "ticket 906" in tickets and "ticket 905" not in tickets
    answers = {tickets_by_id["subject"]: r["ratings"]["default_question"]
               for r in box.store.all("rating")
               for tickets_by_id in [box.store.get("ticket", r["ticket_id"])]}
    # the non-numeric ticket id no longer loses its rating; 0-10 maps onto the five answers
    assert answers == {"ticket 901": 103, "ticket 902": -101, "ticket 903": 103, "ticket T-904": -103}
    times = sorted(r["created_at"] for r in box.store.all("rating"))
    assert times == ["2020-03-02T08:00:00Z", "2020-03-03T08:00:00Z", "2020-03-04T08:00:00Z",
                     "2020-03-05T08:00:00Z"]


def test_a_complete_dump_seeds_without_a_word(tmp_path, capfd):
    root = tmp_path / "dump"
    write_dump(root, tickets=6, comments_per_ticket=2, attachments=3, seed=4, defects=False)
    for make in (make_zendesk, make_freshdesk):
        box = make(data=root)
        assert box.seed_skipped == [], box.seed_skipped
        # only Zendesk's good/bad rating differs from the dump's 1-5 score, and says so
        assert all(c["kind"] == "satisfaction_rating" for c in box.seed_changed), box.seed_changed
    err = capfd.readouterr().err
    assert "not seeded:" not in err and "seeded differently" not in err
