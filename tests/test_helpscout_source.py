"""The Help Scout source over its sandbox: every conversation (all statuses) with its threads,
resumable by page number, delta runs by `modifiedSince`, files with their bytes, people with all
their e-mails and phones, and satisfaction ratings said to be not exported."""

from __future__ import annotations

import hashlib

import pytest

from adapters.helpscout.sandbox import make_sandbox
from adapters.helpscout.source import HelpScoutSource
from hdmigrate.adapter import AdapterContext
from hdmigrate.canonical_dump import iter_records
from hdmigrate.testing.sample import write_dump


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    dump = tmp_path_factory.mktemp("hs-src") / "dump"
    write_dump(dump, tickets=30, comments_per_ticket=2, attachments=4, seed=3, defects=False)
    box = make_sandbox(data=dump, seed=1).start()
    yield box, dump
    box.stop()


def _source(box, said: list[str] | None = None) -> HelpScoutSource:
    ctx = AdapterContext(config=box.plan_section, secrets={"app_id": box.env["HELPSCOUT_APP_ID"],
                                                           "app_secret": box.env["HELPSCOUT_APP_SECRET"]},
                         log=(said if said is not None else []).append)
    return HelpScoutSource(ctx)


def test_every_conversation_of_every_status_with_threads_and_files(seeded):
    box, dump = seeded
    said: list[str] = []
    source = _source(box, said)
    source.check()
    assert any("satisfaction ratings" in line for line in said)
    pages = list(source.fetch("conversations"))
    tickets, comments, files = [], [], []
    for page in pages:
        for _, payload in page.items:
            for kind, record in source.to_canonical("conversations", payload):
                {"ticket": tickets, "comment": comments, "attachment": files}[kind].append(record)
    assert [p.done for p in pages] == [False, True] and [p.cursor for p in pages] == ["2", "3"]
    assert len(tickets) == sum(1 for _ in iter_records(dump, "ticket"))
    assert len(comments) == sum(1 for _ in iter_records(dump, "comment"))
    assert {t["status"] for t in tickets} >= {"open", "closed"}
    assert sorted(hashlib.sha256(source.fetch_attachment(a)).hexdigest() for a in files) == \
        sorted(a["sha256"] for a in iter_records(dump, "attachment"))
    source.close()


def test_a_stream_resumes_at_its_committed_page(seeded):
    box, _ = seeded
    source = _source(box)
    first = next(iter(source.fetch("conversations")))
    resumed = list(source.fetch("conversations", cursor=first.cursor))
    assert len(resumed) == 1 and resumed[0].done
    assert not {i for i, _ in first.items} & {i for i, _ in resumed[0].items}
    source.close()


def test_a_delta_run_asks_for_conversations_modified_since(seeded):
    box, _ = seeded
    changed = sorted(box.store.all("conversation"), key=lambda c: c["_modified"])[-3:]
    since = changed[0]["_modified"]
    source = _source(box)
    found = [i for page in source.fetch("conversations", since=since) for i, _ in page.items]
    assert set(found) == {str(c["id"]) for c in box.store.all("conversation") if c["_modified"] >= since}
    assert 0 < len(found) < box.store.count("conversation")
    source.close()


def test_people_keep_all_their_emails_and_phones(seeded):
    box, dump = seeded
    source = _source(box)
    contacts = [r for page in source.fetch("customers") for _, p in page.items
                for _, r in source.to_canonical("customers", p)]
    by_name = {c["name"]: c for c in contacts}
    for original in iter_records(dump, "contact"):
        copy = by_name[original["name"]]
        expected = [e for e in [original.get("email"), *original.get("emails", [])] if e]
        assert [e for e in [copy["email"], *copy["emails"]] if e] == expected
        assert copy["phones"] == original.get("phones", [])
    assert source.describe()["not_exported"]
    source.close()
