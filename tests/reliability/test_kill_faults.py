"""kill -9 of a real `hdmigrate run` subprocess at seeded random moments, then resume; with
injected faults (5xx, 429, dropped connections, failing async job items) on sandbox pairs.
Every scenario ends with `hdmigrate verify` proving 0 duplicates and 0 missing records, and an
independent count of the target.

Sandbox pairs run in rounds: each round migrates into a fresh target sandbox with a fresh work
directory and is killed at moments drawn after interpreter start-up, within the expected run
time, until its run completes; only kills that hit a live run count.

CI: `pytest tests/reliability` (jsonl: 7 kills; zendesk→zendesk: 3 kills, 30 tickets).
Full: `pytest -m slow tests/reliability -s` (≥ 50 kills per pair); each test prints its counts
(kills survived, faults injected by kind, records, verify exits, census of the target)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

import rkit

FAULTS = "5xx=0.1,429=0.05,drop=0.02,job_fail=0.1"
RUN = ["--yes", "--json"]


def _finish(plan, env=None, attempts=6) -> list[int]:
    """Run the plan until it exits 0 (a run with failed records or a fatal API error is simply
    run again, which resumes it). Returns the exit codes."""
    codes = []
    for _ in range(attempts):
        proc = rkit.run_cli(["run", str(plan), *RUN], env=env)
        codes.append(proc.returncode)
        assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
        if proc.returncode == 0:
            break
    return codes


def _kill_round(plan, rng: random.Random, kills_wanted: int, whole: float, env=None) -> tuple[int, bool]:
    """Start the run and kill -9 it at a random moment, again and again, until `kills_wanted`
    kills landed on a live process or a run completed by itself. Returns (kills, completed)."""
    kills = 0
    while kills < kills_wanted:
        proc = rkit.popen_cli(["run", str(plan), *RUN], env=env)
        try:
            proc.wait(timeout=rng.uniform(0.15 * whole, 0.85 * whole))
            return kills, True
        except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired: still running, kill it
            proc.kill()  # SIGKILL
            proc.wait()
            kills += 1
    return kills, False


def _reference_duration(plan, env=None) -> float:
    started = time.monotonic()
    proc = rkit.run_cli(["run", str(plan), *RUN], env=env)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return time.monotonic() - started


def _assert_verified(workdir, env=None) -> dict:
    code, doc, stderr = rkit.verify_json(workdir, env=env)
    assert doc, stderr[-2000:]
    for kind, c in doc["counts"].items():
        assert c["duplicate"] == 0, (kind, c)
        assert c["missing"] == 0, (kind, c)
        assert c["unrecorded"] == 0, (kind, c)
        assert c["not_loaded"] == 0 and c["failed"] == 0, (kind, c)
    return {"exit": code, "doc": doc}


# ------------------------------------------------------------------------------ jsonl → jsonl

def jsonl_kills(tmp_path, *, kills: int, kills_per_round: int, tickets: int, seed: int, max_rounds: int = 40) -> dict:
    """Fresh migrations (rounds) killed again and again until `kills` kills landed on live runs."""
    rng = random.Random(seed)
    totals = {"kills": 0, "rounds": 0, "records": 0}
    for r in range(max_rounds):
        if totals["kills"] >= kills:
            break
        base = tmp_path / f"round{r}"
        base.mkdir()
        records, blobs = rkit.build_dump(base / "src", tickets=tickets, comments=4, seed=seed * 100 + r)
        ref = rkit.write_plan(base, {"adapter": "jsonl", "path": "src"}, {"adapter": "jsonl", "path": "ref-out"},
                              workdir="ref-state", name="ref.toml")
        whole = _reference_duration(ref)
        plan = rkit.write_plan(base, {"adapter": "jsonl", "path": "src"}, {"adapter": "jsonl", "path": "out"})
        landed, _ = _kill_round(plan, rng, kills_per_round, whole)
        codes = _finish(plan)
        assert codes[-1] == 0, codes
        result = _assert_verified(base / "state")
        assert result["exit"] == 0, result["doc"]["summary"]
        counts = rkit.assert_dump_complete(base / "src", base / "out")
        totals["kills"] += landed
        totals["rounds"] += 1
        totals["records"] += sum(counts.values())
    return totals


def test_kill_resume_jsonl_ci(tmp_path):
    totals = jsonl_kills(tmp_path, kills=7, kills_per_round=4, tickets=40, seed=7)
    print(f"\njsonl→jsonl: {totals}")
    assert totals["kills"] >= 7, totals  # kills landed on live runs


@pytest.mark.slow
def test_kill_resume_jsonl_full(tmp_path):
    totals = jsonl_kills(tmp_path, kills=50, kills_per_round=10, tickets=400, seed=1234)
    print(f"\njsonl→jsonl full: {totals}")
    assert totals["kills"] >= 50, totals


# ------------------------------------------------------------------------------ sandbox pairs

def _boot_seconds() -> float:
    """Interpreter start-up and imports (`python -m hdmigrate --version`): before this no request
    is sent, so a kill moment is drawn after it."""
    best = None
    for _ in range(2):
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "hdmigrate", "--version"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        took = time.monotonic() - started
        best = took if best is None else min(best, took)
    return best


def _kill_until_complete(plan, rng: random.Random, *, work: float, boot: float, env, max_kills: int,
                         log: list) -> tuple[int, int | None]:
    """One round: start the run, kill -9 it at a random moment after start-up within the expected
    remaining run time, start it again, … until a run completes by itself (or `max_kills` kills
    landed; the caller then finishes the run). A kill counts only when it hit a live process (the
    run ends by SIGKILL, not by itself). `work` is the expected run time after start-up; after a
    kill, the expected remaining time shrinks by the time the killed run had, never below half
    of `work`: each resumed run repeats its start (check, extraction cursors), and a moment must
    still be able to fall late enough for the run to complete. (With a Zendesk source a resumed
    run downloads again the attachments of the normalize batch it lost: the source gives no
    sha256, and `Engine.normalize` commits per 1,000 payloads; so at this size a run killed
    during normalize keeps no normalize progress, and rounds often reach `max_kills`.) Returns
    (kills, exit code of the run that completed by itself, or None)."""
    remaining = work
    floor = max(1.0, 0.5 * work)
    landed = 0
    while landed < max_kills:
        after_boot = rng.uniform(0.0, max(remaining, floor))
        started = time.monotonic()
        proc = rkit.popen_cli(["run", str(plan), *RUN], env=env)
        try:
            code = proc.wait(timeout=boot + after_boot)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            code = proc.wait()
        elapsed = time.monotonic() - started
        if code != -signal.SIGKILL:
            log.append(("completed", round(elapsed, 2), code))
            return landed, code
        landed += 1
        log.append(("killed", round(elapsed, 2)))
        remaining = max(remaining - after_boot, floor)
    return landed, None


def _target_census(source, target, target_platform: str) -> dict:
    """Duplicates and missing records counted straight from the target sandbox's store,
    independently of the staging store and of `verify`: every source ticket is in the target
    exactly once (by the stamp the target adapter writes), with as many comments and attachments
    as in the source (Zendesk target); people and organizations are not duplicated."""
    src_tickets = source.store.all("ticket")
    src_ids = {str(t["id"]) for t in src_tickets}
    tgt_tickets = target.store.all("ticket")
    by_source: dict[str, list[dict]] = {}
    if target_platform == "zendesk":
        for t in tgt_tickets:
            ext = t.get("external_id") or ""
            if ext.startswith("hdm:ticket:"):
                by_source.setdefault(ext[len("hdm:ticket:"):], []).append(t)
    else:  # freshdesk: the tag hdm-<source id>
        for t in tgt_tickets:
            for tag in t.get("tags") or []:
                if tag.startswith("hdm-"):
                    by_source.setdefault(tag[len("hdm-"):], []).append(t)
    census = {"tickets": len(by_source),
              "ticket_duplicates": sum(len(v) - 1 for v in by_source.values()),
              "ticket_missing": len(src_ids - set(by_source)),
              "ticket_unexpected": len(set(by_source) - src_ids),
              "comment_duplicates": 0, "comment_missing": 0, "attachment_duplicates": 0,
              "attachment_missing": 0, "comments": 0, "attachments": 0, "people_duplicates": 0,
              "organization_duplicates": 0}
    if target_platform == "zendesk" and hasattr(source, "tickets_with_comments"):
        src_comments = {str(t["id"]): cs for t, cs in source.tickets_with_comments()}
        tgt_comments: dict[str, list[dict]] = {}
        for c in target.store.all("comment"):
            tgt_comments.setdefault(str(c["_ticket_id"]), []).append(c)
        for sid, found in by_source.items():
            if sid not in src_comments:
                continue
            got = tgt_comments.get(str(found[0]["id"]), [])
            want = src_comments[sid]
            census["comments"] += len(got)
            census["comment_duplicates"] += max(0, len(got) - len(want))
            census["comment_missing"] += max(0, len(want) - len(got))
            n_got = sum(len(c.get("attachments") or []) for c in got)
            n_want = sum(len(c.get("attachments") or []) for c in want)
            census["attachments"] += n_got
            census["attachment_duplicates"] += max(0, n_got - n_want)
            census["attachment_missing"] += max(0, n_want - n_got)
        stamps: dict[str, int] = {}
        emails: dict[str, int] = {}
        for u in target.store.all("user"):
            if u.get("external_id"):
                stamps[u["external_id"]] = stamps.get(u["external_id"], 0) + 1
            if u.get("email"):
                emails[u["email"].lower()] = emails.get(u["email"].lower(), 0) + 1
        census["people_duplicates"] = (sum(n - 1 for n in stamps.values())
                                       + sum(n - 1 for n in emails.values()))
        orgs: dict[str, int] = {}
        for o in target.store.all("organization"):
            key = o.get("external_id") or o["name"].lower()
            orgs[key] = orgs.get(key, 0) + 1
        census["organization_duplicates"] = sum(n - 1 for n in orgs.values())
    return census


def sandbox_kills(tmp_path, *, source_platform: str, target_platform: str, tickets: int, kills: int,
                  seed: int, faults: str = FAULTS, max_kills_per_round: int = 30, max_rounds: int = 40,
                  stop_at_wanted: bool = False) -> dict:
    """Rounds over one faulty source sandbox: each round migrates into a fresh faulty target
    sandbox with a fresh work directory, killed -9 at random moments until its run completes
    or `max_kills_per_round` kills landed (see `_kill_until_complete`), then run to the end,
    proven by `verify` (exit 0: 0 missing, 0 duplicates, no unexplained difference) and by a
    census of the target sandbox. Rounds go on until `kills` kills landed on live runs. A
    reference run without kills, with the same faults, into its own target, gives the expected
    run time."""
    import importlib

    make_src = importlib.import_module(f"adapters.{source_platform}.sandbox").make_sandbox
    make_tgt = importlib.import_module(f"adapters.{target_platform}.sandbox").make_sandbox
    wall = time.monotonic()
    records, blobs = rkit.build_dump(tmp_path / "src", tickets=tickets, comments=3, seed=seed)
    source = make_src(data=tmp_path / "src", faults=faults, seed=seed).start()
    boxes = [source]
    tgt_extra = {"archive_immediately": True, "job_poll_seconds": 0.05} if target_platform == "zendesk" else {}
    opts = {"tag_migrated": "hdmigrate"}
    injected: dict[str, int] = {}
    totals = {"kills": 0, "rounds": 0, "records": 0, "tickets": 0, "comments": 0, "verify_exits": [],
              "unexplained": {}, "census": {}, "runs_completed_by_themselves": 0}

    def new_target(s):
        # A Freshdesk account always announces its limit (X-Ratelimit-Total); the plan gives none,
        # so the run starts at the documented 200/min and must adopt the 3,000 this one announces.
        rate = {"rate_limit": 3000} if target_platform == "freshdesk" else {}
        box = make_tgt(faults=faults, seed=s, **rate).start()
        boxes.append(box)
        if hasattr(box, "job_delay"):
            box.job_delay = 0.01
        return box

    def count_faults(box):
        for name, n in dict(getattr(box.faults, "injected", {}) or {}).items():
            injected[name] = injected.get(name, 0) + n

    try:
        boot = _boot_seconds()
        ref_target = new_target(seed + 1)
        ref_dir = tmp_path / "ref"
        ref_dir.mkdir()
        ref = rkit.write_plan(ref_dir, source.plan_section, {**ref_target.plan_section, **tgt_extra},
                              options=opts)
        whole = _reference_duration(ref, {**source.env, **ref_target.env})
        count_faults(ref_target)
        ref_target.stop()
        work = max(1.0, whole - boot)
        rng = random.Random(seed)
        for r in range(max_rounds):
            if totals["kills"] >= kills:
                break
            base = tmp_path / f"round{r}"
            base.mkdir()
            target = new_target(seed + 10 + r)
            env = {**source.env, **target.env}
            plan = rkit.write_plan(base, source.plan_section, {**target.plan_section, **tgt_extra}, options=opts)
            log: list = []
            cap = max_kills_per_round
            if stop_at_wanted:  # the round stops killing once the wanted number landed, then runs to the end
                cap = min(cap, kills - totals["kills"])
            landed, code = _kill_until_complete(plan, rng, work=work, boot=boot, env=env, max_kills=cap, log=log)
            if code is not None:
                totals["runs_completed_by_themselves"] += 1
            if code != 0:
                codes = _finish(plan, env)
                assert codes[-1] == 0, (r, codes, log)
            result = _assert_verified(base / "state", env)
            doc = result["doc"]
            # no private note became public, whatever else the pair cannot hold
            leaks = [f for f in doc["findings"] if f["field"] == "public" and f["source"] is False
                     and f["target"] is True and f["code"] != "private_first_message"]
            assert not leaks, leaks[:5]
            assert result["exit"] == 0, (r, doc["summary"]["unexplained_by_problem"],
                                         [f for f in doc["findings"] if not f.get("explained")][:10])
            assert doc["counts"]["ticket"]["matched"] == len(records["ticket"])
            assert doc["counts"]["comment"]["matched"] == len(records["comment"])
            census = _target_census(source, target, target_platform)
            for key in ("ticket_duplicates", "ticket_missing", "ticket_unexpected", "comment_duplicates",
                        "comment_missing", "attachment_duplicates", "attachment_missing", "people_duplicates",
                        "organization_duplicates"):
                assert census[key] == 0, (r, key, census)
            assert census["tickets"] == len(records["ticket"]), census
            count_faults(target)
            target.stop()
            totals["kills"] += landed
            totals["rounds"] += 1
            totals["records"] += sum(c["matched"] for c in doc["counts"].values())
            totals["tickets"] += doc["counts"]["ticket"]["matched"]
            totals["comments"] += doc["counts"]["comment"]["matched"]
            totals["verify_exits"].append(result["exit"])
            for k, v in doc["summary"]["unexplained_by_problem"].items():
                totals["unexplained"][k] = totals["unexplained"].get(k, 0) + v
            for k, v in census.items():
                totals["census"][k] = totals["census"].get(k, 0) + v
            print(f"round {r}: kills {landed}, attempts {log}, census {census}", flush=True)
        count_faults(source)
        totals.update(faults=injected, boot_s=round(boot, 2), reference_run_s=round(whole, 2),
                      wall_s=round(time.monotonic() - wall, 1))
        return totals
    finally:
        for box in boxes:
            box.stop()


def _needs(platform):
    try:
        __import__(f"adapters.{platform}.sandbox")
    except ImportError:
        pytest.skip(f"no {platform} sandbox in this checkout")


def test_kill_resume_zendesk_pair_with_faults_ci(tmp_path):
    _needs("zendesk")
    out = sandbox_kills(tmp_path, source_platform="zendesk", target_platform="zendesk", tickets=30, kills=3, seed=3,
                        stop_at_wanted=True)
    print(f"\nzendesk→zendesk: {out}")
    assert out["kills"] >= 3, out
    assert sum(out["faults"].values()) > 0, out
    assert set(out["verify_exits"]) == {0}, out


@pytest.mark.slow
@pytest.mark.parametrize("pair", [("zendesk", "zendesk"), ("zendesk", "freshdesk"), ("freshdesk", "zendesk")])
def test_kill_resume_sandbox_pairs_full(tmp_path, pair):
    _needs(pair[0])
    _needs(pair[1])
    out = sandbox_kills(tmp_path, source_platform=pair[0], target_platform=pair[1], tickets=80, kills=50,
                        seed=99)
    print(f"\n{pair[0]}→{pair[1]} full: {out}")
    assert out["kills"] >= 50, out
    assert set(out["verify_exits"]) == {0}, out
    for kind in ("5xx", "429", "drop", "job_fail"):
        if kind != "job_fail" or pair[1] == "zendesk":
            assert out["faults"].get(kind, 0) > 0, (kind, out["faults"])
