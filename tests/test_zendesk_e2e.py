"""End to end over real HTTP: a Zendesk sandbox seeded from a sample dump is migrated into an
empty Zendesk sandbox by the engine, with faults injected on both sides; then run again.

60 tickets in the default suite: the Zendesk export comes in one page either way (1,000 per page),
the sample has the same 40 attachments as at 200, and every fault kind still hits the target
(asserted); each injected 429 costs a whole second (Retry-After >= 1), so time grows with size."""

from __future__ import annotations

import time

import pytest

from adapters.zendesk.sandbox import make_sandbox
from hdmigrate.engine import Engine
from hdmigrate import inline_images
from hdmigrate.plan import plan_from_dict
from hdmigrate.testing.sample import write_dump

FAULTS = "5xx=0.05,429=0.05,drop=0.02,job_fail=0.05"


def _migrate(tmp_path, monkeypatch, tickets, comments, attachments, faults=FAULTS):
    dump = tmp_path / "dump"
    write_dump(dump, tickets=tickets, comments_per_ticket=comments, attachments=attachments, seed=11)
    source = make_sandbox(data=dump, faults=faults, seed=1).start()
    target = make_sandbox(faults=faults, seed=2).start()
    target.job_delay = 0.01
    for k, v in source.env.items():
        monkeypatch.setenv(k, v)
    plan = plan_from_dict({
        "source": source.plan_section,
        "target": {**target.plan_section, "archive_immediately": True, "job_poll_seconds": 0.05},
        "options": {"tag_migrated": "hdmigrate"},
        "scope": {"kinds": ["custom_field", "organization", "group", "agent", "contact", "ticket",
                            "comment", "attachment"]},
        "run": {"workdir": str(tmp_path / "work")},
    }, base_dir=tmp_path)
    started = time.monotonic()
    runs = []
    for _ in range(4):          # a run that failed some records is simply run again (resume)
        engine = Engine(plan, tmp_path / "work")
        try:
            summary = engine.run()
        finally:
            engine.store.close()
        runs.append(summary)
        if summary["exit_code"] == 0:
            break
    wall = time.monotonic() - started
    return source, target, runs, wall


def _check(source, target):
    src = {t["id"]: (t, c) for t, c in source.tickets_with_comments()}
    by_stamp: dict[str, list] = {}
    for t, c in target.tickets_with_comments():
        by_stamp.setdefault(t["external_id"], []).append((t, c))
    assert len(by_stamp) == len(src), "every source ticket is in the target"
    assert all(len(v) == 1 for v in by_stamp.values()), "no duplicate ticket"
    for sid, (st, sc) in src.items():
        (tt, tc), = by_stamp[f"hdm:ticket:{sid}"]
        assert tt["created_at"] == st["created_at"]
        assert tt["subject"] == st["subject"] and tt["status"] == st["status"]
        assert "hdmigrate" in tt["tags"]
        assert [c["public"] for c in tc] == [c["public"] for c in sc], "private notes stay private"
        assert [c["created_at"] for c in tc] == [c["created_at"] for c in sc], "timestamps kept"
        # bodies kept byte for byte but for inline images, re-hosted in the target (issue 14 item 6)
        assert [inline_images.masked(c["html_body"]) for c in tc] == [inline_images.masked(c["html_body"]) for c in sc]
        assert all(inline_images.origin(r.src) == inline_images.origin(target.url)
                   for c in tc for r in inline_images.image_refs(c["html_body"]))
        assert [len(c["attachments"]) for c in tc] == [len(c["attachments"]) for c in sc]
        for a, b in zip(sc, tc):
            sa = sorted(source.store.get("blob", x["id"])["data"] for x in a["attachments"])
            ta = sorted(target.store.get("blob", x["id"])["data"] for x in b["attachments"])
            assert sa == ta, "attachment bytes identical"


def test_sandbox_to_sandbox_with_faults(tmp_path, monkeypatch):
    source, target, runs, wall = _migrate(tmp_path, monkeypatch, tickets=60, comments=4, attachments=40)
    try:
        _check(source, target)
        for kind in ("5xx", "429", "drop", "job_fail"):     # the run above recovered from each
            assert target.faults.injected.get(kind, 0) > 0, (kind, dict(target.faults.injected))
        assert sum(source.faults.injected.values()) > 0, dict(source.faults.injected)
        assert not source.stats.handler_errors and not target.stats.handler_errors
        n_tickets = target.store.count("ticket")
        n_users = target.store.count("user")
        # a second run after success creates nothing new
        engine = Engine(runs and __import__("hdmigrate.plan", fromlist=["x"]).plan_from_dict({
            "source": source.plan_section, "target": target.plan_section,
            "run": {"workdir": str(tmp_path / "work")},
            "scope": {"kinds": ["custom_field", "organization", "group", "agent", "contact", "ticket",
                                "comment", "attachment"]}}, base_dir=tmp_path), tmp_path / "work")
        try:
            engine.run()
        finally:
            engine.store.close()
        assert target.store.count("ticket") == n_tickets and target.store.count("user") == n_users
        print(f"\nruns={len(runs)} exit={[r['exit_code'] for r in runs]} wall={wall:.1f}s "
              f"source requests={source.stats.total} target requests={target.stats.total} "
              f"faults source={dict(source.faults.injected)} target={dict(target.faults.injected)}")
    finally:
        source.stop()
        target.stop()


@pytest.mark.slow
def test_sandbox_to_sandbox_large(tmp_path, monkeypatch):
    source, target, runs, wall = _migrate(tmp_path, monkeypatch, tickets=2000, comments=10, attachments=500)
    try:
        n = source.store.count("ticket")
        print(f"\n{n} tickets, {source.store.count('comment')} comments, wall {wall:.1f}s; requests per "
              f"ticket: source {source.stats.total / n:.3f}, target {target.stats.total / n:.3f}; "
              f"runs {len(runs)}", flush=True)
        _check(source, target)
    finally:
        source.stop()
        target.stop()
