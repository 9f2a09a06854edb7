"""kill -9 of `hdmigrate run` while it loads into RT, then resume: no duplicate ticket, nothing lost.

Slow (about 70 s with its own RT instance): the default suite has the contract suite's kill -9
during a write against the same real RT (tests/contract/test_rt.py), which checks every record
the target holds is in the id map once; this one adds the partial-ticket stamps, the comments of
the interrupted ticket and refused empty files. `python -m pytest -m slow tests/real/test_rt_kill_resume.py`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import httpx
import pytest

from hdmigrate.testing.sample import write_dump

from .helpers import hdmigrate, summary, write_plan

pytestmark = [pytest.mark.real_helpdesk, pytest.mark.slow]

LINK = "urn:hdmigrate:"


def stamps(info: dict, prefix: str) -> Counter:
    """Stamps of the tickets in RT, complete or partial, from their `urn:hdmigrate:` links (the
    adapter needs no custom field applied by an admin)."""
    c = httpx.Client(base_url=info["RT_URL"] + "/", headers={"Authorization": f"token {info['RT_TOKEN']}"}, timeout=60)
    found: Counter = Counter()
    page = 1
    while True:
        r = c.get("tickets", params={"query": "id > 0", "per_page": 100, "page": page})
        r.raise_for_status()
        data = r.json()
        for item in data["items"]:
            ticket = c.get(f"ticket/{item['id']}").json()
            for link in ticket.get("_hyperlinks") or []:
                url = link.get("_url") or ""
                if link.get("ref") == "refers-to" and url.startswith(LINK + prefix):
                    found[url[len(LINK):]] += 1
        if page >= int(float(data.get("pages") or 0)):
            return found
        page += 1


def test_kill_9_during_rt_load_then_resume_leaves_no_duplicate(rt_target, tmp_path):
    # two 0-byte files: RT refuses them, which must cost neither their ticket nor its comments
    counts = write_dump(tmp_path / "dump", tickets=6, comments_per_ticket=3, attachments=4, seed=11, defects=False,
                        empty_files=2)
    prefix = f"kill{int(time.time())}-"
    env = {"RT_DST_TOKEN": rt_target["RT_TOKEN"]}
    plan = write_plan(tmp_path / "plan.toml", {"adapter": "jsonl", "path": str(tmp_path / "dump")},
                      {"adapter": "rt", "url": rt_target["RT_URL"], "token_env": "RT_DST_TOKEN",
                       "stamp_prefix": prefix}, tmp_path / "work")
    proc = subprocess.Popen([sys.executable, "-m", "hdmigrate", "run", str(plan), "--yes", "--json"],
                            env=dict(os.environ, **env), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    killed_at = None
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            # kill as soon as the first ticket exists (complete or still partial) in RT
            if stamps(rt_target, prefix):
                proc.send_signal(signal.SIGKILL)
                killed_at = dict(stamps(rt_target, prefix))
                break
            time.sleep(0.2)
    finally:
        if proc.poll() is None and killed_at is None:
            proc.kill()
        proc.wait(timeout=60)
    assert killed_at, "the run finished before any ticket could be observed; nothing was interrupted"
    assert proc.returncode == -signal.SIGKILL

    resumed = hdmigrate("run", str(plan), "--yes", "--json", env=env)
    result = summary(resumed)
    assert result["exit_code"] == 0, result
    final = stamps(rt_target, prefix)
    print(f"killed with {killed_at}; after resume {len(final)} stamped tickets; dump counts {counts}")
    # every ticket exactly once, all complete (no "~partial" stamp left behind)
    assert sorted(final) == sorted(f"{prefix}{i}" for i in range(1, counts["ticket"] + 1)), final
    assert all(n == 1 for n in final.values()), final
    # comments of an interrupted ticket are not posted twice: RT holds every comment once
    c = httpx.Client(base_url=rt_target["RT_URL"] + "/", headers={"Authorization": f"token {rt_target['RT_TOKEN']}"})
    tid = c.get("tickets", params={"query": f"RefersTo = '{LINK}{prefix}1'"}).json()["items"][0]["id"]
    history = c.get(f"ticket/{tid}/history", params={"fields": "Type", "per_page": 100}).json()["items"]
    written = sum(1 for h in history if h["Type"] in ("Create", "Correspond", "Comment"))
    dump_comments = [json.loads(line) for line in (tmp_path / "dump" / "comment.jsonl").read_text().splitlines()]
    assert written == sum(1 for x in dump_comments if x["ticket_id"] == "1")
    # the empty files are named in the report, everything else arrived
    report = json.loads(hdmigrate("report", "--workdir", str(tmp_path / "work"), "--format", "json").stdout)
    empty = [d for d in report["degradations"] if d["code"] == "attachment_empty"]
    assert len({d["id"] for d in empty}) == 2, empty
    assert not report["failures"], report["failures"]
