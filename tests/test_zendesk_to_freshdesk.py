"""Issue 4: Zendesk sandbox -> Freshdesk sandbox over real HTTP on loopback, with faults injected on
both sides (5xx, 429, dropped connections), then read back by `hdmigrate verify`; and Freshdesk ->
Zendesk back. Checks: no loss, no duplicate on a re-run, private notes private, degradations
reported (dry run and load), every read-back difference explained (verify exit 0).

HDM_ZF_TICKETS / HDM_ZF_FAULTS change the default run (60 tickets, 5xx=0.05,429=0.05,drop=0.02).
The size is the smallest that keeps what the checks need: every fault kind injected on the target
(asserted), private notes, ratings and every degradation code in the sample, the same 40 attachments
as at 200 tickets; each injected 429 costs a whole second (Retry-After >= 1), so time grows with size.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter

import pytest

from adapters.freshdesk.sandbox import make_sandbox as make_freshdesk
from hdmigrate.canonical_dump import iter_records
from adapters.zendesk.sandbox import make_sandbox as make_zendesk
from hdmigrate.engine import Engine
from hdmigrate.plan import plan_from_dict
from hdmigrate.testing.sample import write_dump
from hdmigrate.testing.sandbox import parse_faults
from hdmigrate.store import Store

FAULTS = os.environ.get("HDM_ZF_FAULTS", "5xx=0.05,429=0.05,drop=0.02")
FAST = {"source": 600000, "target": 600000}
KINDS = ["custom_field", "organization", "group", "agent", "contact", "ticket", "comment", "attachment",
         "satisfaction_rating"]


def _plan(source, target, workdir, **target_extra):
    return plan_from_dict({
        "source": source.plan_section,
        "target": {**target.plan_section, **target_extra},
        "options": {"tag_migrated": "hdmigrate"},
        "scope": {"kinds": KINDS},
        "run": {"workdir": str(workdir), "rate_limit": FAST, "workers": 4},
    }, base_dir=workdir.parent)


def _run(plan, workdir, *, dry_run=False, attempts=5) -> list[dict]:
    """The same command again until it succeeds (a run that failed records transiently resumes)."""
    runs = []
    for _ in range(attempts):
        engine = Engine(plan, workdir)
        try:
            summary = engine.run(dry_run=dry_run) if dry_run else engine.run()
        finally:
            engine.store.close()
        runs.append(summary)
        if summary["exit_code"] == 0 or dry_run:
            break
    return runs


def _verify(workdir, env) -> subprocess.CompletedProcess:
    p = subprocess.run([sys.executable, "-m", "hdmigrate", "verify", "--workdir", str(workdir)],
                       env={**os.environ, **env}, capture_output=True, text=True, timeout=1200)
    if p.returncode != 0:   # the kinds of unexplained differences first: the whole list can be long
        store = Store(workdir)
        try:
            summary = (store.get_state("verify_report") or {}).get("summary") or {}
        finally:
            store.close()
        p.stdout = f"unexplained by problem: {summary.get('unexplained_by_problem')}\n" + p.stdout
    return p


def _freshdesk_threads(fd) -> dict:
    """Per Freshdesk sandbox ticket id: the description (as a public message) and the notes."""
    notes: dict = {}
    for c in fd.store.all("conversation"):
        notes.setdefault(c["ticket_id"], []).append(c)
    return {t["id"]: [{"body": t["description"], "private": False, "attachments": t["attachments"]},
                      *sorted(notes.get(t["id"], []), key=lambda c: c["id"])] for t in fd.store.all("ticket")}


def _stamp_of(body: str) -> str | None:
    return body.split("[hdm-", 1)[1].split("]", 1)[0] if "[hdm-" in body else None


def _zendesk_to_freshdesk(root, monkeypatch, tickets, comments, attachments):
    dump = root / "dump"
    counts = write_dump(dump, tickets=tickets, comments_per_ticket=comments, attachments=attachments, seed=11)
    zd = make_zendesk(data=dump, faults=FAULTS, seed=1).start()
    fd = make_freshdesk(faults=FAULTS, seed=2).start()
    for k, v in {**zd.env, **fd.env}.items():
        monkeypatch.setenv(k, v)
    work = root / "work"
    plan = _plan(zd, fd, work)
    started = time.monotonic()
    dry = _run(plan, work, dry_run=True)[0]
    runs = _run(plan, work)
    wall = time.monotonic() - started
    return dict(dump=dump, counts=counts, zd=zd, fd=fd, plan=plan, work=work, dry=dry, runs=runs, wall=wall,
                env={**zd.env, **fd.env})


def _check_no_loss(m) -> None:
    zd, fd = m["zd"], m["fd"]
    assert m["runs"][-1]["exit_code"] == 0, m["runs"][-1]
    src = {str(t["id"]): c for t, c in zd.tickets_with_comments()}
    by_stamp: dict[str, list] = {}
    for t in fd.store.all("ticket"):
        for tag in t["tags"]:
            if tag.startswith("hdm-"):
                by_stamp.setdefault(tag[4:], []).append(t)
    assert set(by_stamp) == set(src), "every source ticket is in Freshdesk"
    assert all(len(v) == 1 for v in by_stamp.values()), "no duplicate ticket"
    private_seen = 0
    threads = _freshdesk_threads(fd)
    for sid, zcomments in src.items():
        (ticket,) = by_stamp[sid]
        thread = threads[ticket["id"]]
        assert len(thread) == len(zcomments) + (0 if zcomments[0]["public"] else 1), sid
        notes = {(_stamp_of(c["body"])): c for c in thread[1:]}
        for zc in zcomments[1:] if zcomments[0]["public"] else zcomments:
            note = notes[str(zc["id"])]
            assert note["private"] is (not zc["public"]), f"comment {zc['id']}: private notes stay private"
            private_seen += not zc["public"]
        files = sum(len(c["attachments"]) for c in thread)
        assert files == sum(len(c["attachments"]) for c in zcomments), f"ticket {sid}: every file attached"
    assert private_seen > 0, "the sample has private notes"
    # the original times (issue 18): three fields, created once despite 4 lanes and faults, on every ticket
    kept = sorted(f["name"] for f in fd.store.all("ticket_field") if f["name"].startswith("cf_hdm_original_"))
    assert kept == ["cf_hdm_original_created_at", "cf_hdm_original_first_reply_at", "cf_hdm_original_solved_at"]
    assert all(t["custom_fields"].get("cf_hdm_original_created_at") for t in fd.store.all("ticket"))
    assert not zd.stats.handler_errors and not fd.stats.handler_errors
    assert fd.notifications == []


def _figures(m) -> str:
    n = len(m["zd"].store.all("ticket"))
    return (f"{n} tickets, {m['zd'].store.count('comment')} comments, "
            f"{sum(len(c['attachments']) for c in m['zd'].store.all('comment'))} attachments; "
            f"wall {m['wall']:.1f}s; runs {len(m['runs'])}; requests per ticket: source "
            f"{m['zd'].stats.total / n:.2f}, target {m['fd'].stats.total / n:.2f}; faults source "
            f"{dict(m['zd'].faults.injected)}, target {dict(m['fd'].faults.injected)}")


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("zd2fd")
    m = _zendesk_to_freshdesk(root, mp, int(os.environ.get("HDM_ZF_TICKETS", "60")), 4, 40)
    yield m
    m["zd"].stop()
    m["fd"].stop()
    mp.undo()


def _assert_faults_recovered(source, target) -> None:
    """The run succeeded (asserted by the caller) although every fault kind hit the target and the
    source had faults too: what the test is about, whatever the sample's size."""
    for kind in ("5xx", "429", "drop"):
        assert target.faults.injected.get(kind, 0) > 0, (kind, dict(target.faults.injected))
    assert sum(source.faults.injected.values()) > 0, dict(source.faults.injected)


def test_no_loss_private_notes_private(migrated):
    _check_no_loss(migrated)
    if not os.environ.get("HDM_ZF_FAULTS"):
        _assert_faults_recovered(migrated["zd"], migrated["fd"])
    print("\nzendesk -> freshdesk: " + _figures(migrated))


def test_degradations_listed_by_the_dry_run_and_recorded_at_load(migrated):
    dry = migrated["dry"]
    assert migrated["fd"].store.count("ticket") > 0   # (the load ran after the dry run)
    store = Store(migrated["work"])
    try:
        recorded = Counter(d["code"] for d in store.degradations())
    finally:
        store.close()
    # what Freshdesk cannot hold, per record
    for code in ("timestamp_not_preserved", "csat_scale_changed", "option_value_as_label", "field_type_changed",
                 "value_unmapped"):
        assert recorded[code] > 0, (code, recorded)
    assert sum(v.get("degraded", 0) for v in dry["kinds"].values()) > 0, dry


def test_rerun_creates_nothing(migrated):
    fd = migrated["fd"]
    before = {k: fd.store.count(k) for k in ("ticket", "conversation", "contact", "company", "rating")}
    runs = _run(migrated["plan"], migrated["work"], attempts=3)
    assert runs[-1]["exit_code"] == 0
    assert all(v.get("created", 0) == 0 for r in runs for v in r["kinds"].values()), runs
    assert {k: fd.store.count(k) for k in before} == before
    _check_no_loss(migrated)


def test_verify_explains_every_difference(migrated):
    # Faults stay on for the migration and the re-run above; the read-back here runs without them
    # to keep the default suite short (the slow test verifies with faults on).
    for box in (migrated["zd"], migrated["fd"]):
        box.faults = parse_faults(None, known=box.fault_names)
    p = _verify(migrated["work"], migrated["env"])
    assert p.returncode == 0, (p.stdout[:300] + (p.stdout + p.stderr)[-3000:])
    assert "no unexplained differences" in p.stdout


def test_freshdesk_back_to_zendesk(tmp_path, monkeypatch):
    """Freshdesk -> Zendesk at 40 tickets: a Freshdesk sandbox filled by a jsonl migration is the
    source, an empty Zendesk sandbox the target (faults on both), then verify. (40, not 100: one
    page of the Freshdesk listing either way; every fault kind still hits, asserted.)"""
    dump = tmp_path / "dump"
    n = 40
    write_dump(dump, tickets=n, comments_per_ticket=3, attachments=20, seed=7)
    fd = make_freshdesk(seed=3).start()
    zd = make_zendesk(faults=FAULTS, seed=4).start()
    zd.job_delay = 0.01
    try:
        for k, v in {**fd.env, **zd.env}.items():
            monkeypatch.setenv(k, v)
        fill = plan_from_dict({"source": {"adapter": "jsonl", "path": str(dump)}, "target": fd.plan_section,
                               "run": {"workdir": str(tmp_path / "fill"), "rate_limit": FAST}}, base_dir=tmp_path)
        assert _run(fill, tmp_path / "fill")[-1]["exit_code"] == 0
        fd.faults = parse_faults(FAULTS, seed=5, known=fd.fault_names)   # faults on the source side too
        work = tmp_path / "work"
        plan = _plan(fd, zd, work, job_poll_seconds=0.05)
        runs = _run(plan, work)
        assert runs[-1]["exit_code"] == 0, runs[-1]
        src = fd.store.all("ticket")
        by_ext = Counter(t.get("external_id") for t in zd.store.all("ticket"))
        assert len(src) == n and len(by_ext) == n and set(by_ext.values()) == {1}
        assert {f"hdm:ticket:{t['id']}" for t in src} == set(by_ext)
        # private notes stay private: per ticket, as many public and private comments. (Not their
        # order: a note written in the same second as its ticket ties with the description on
        # created_at, and staging breaks such ties by id.)
        zd_by_ext = {t["external_id"]: c for t, c in zd.tickets_with_comments()}
        for t in src:
            notes = [c for c in fd.store.all("conversation") if c["ticket_id"] == t["id"]]
            assert Counter(c["public"] for c in zd_by_ext[f"hdm:ticket:{t['id']}"]) == \
                Counter([True] + [not n["private"] for n in notes]), t["id"]
        again = _run(plan, work, attempts=2)
        assert again[-1]["exit_code"] == 0 and zd.store.count("ticket") == n
        p = _verify(work, {**fd.env, **zd.env})
        assert p.returncode == 0, (p.stdout[:300] + (p.stdout + p.stderr)[-3000:])
        if not os.environ.get("HDM_ZF_FAULTS"):
            _assert_faults_recovered(fd, zd)
    finally:
        fd.stop()
        zd.stop()


@pytest.mark.slow
def test_zendesk_to_freshdesk_large(tmp_path, monkeypatch):
    """2,000 tickets, 20,000 comments, 500 attachments, same faults; prints the figures."""
    m = _zendesk_to_freshdesk(tmp_path, monkeypatch, 2000, 10, 500)
    try:
        print("\nzendesk -> freshdesk (large): " + _figures(m), flush=True)
        _check_no_loss(m)
        started = time.monotonic()
        p = _verify(m["work"], m["env"])
        print(f"verify: exit {p.returncode} in {time.monotonic() - started:.1f}s; "
              + p.stdout.splitlines()[0] if p.stdout else p.stderr[-2000:], flush=True)
        assert p.returncode == 0, (p.stdout[:300] + (p.stdout + p.stderr)[-3000:])
    finally:
        m["zd"].stop()
        m["fd"].stop()
