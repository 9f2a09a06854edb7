"""Helpers of the reliability suite: a seeded dump builder (the suite's own data, independent of
the sample generator), plans, running `hdmigrate` as a real subprocess, and reading dumps back."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import tomli_w

from hdmigrate.canonical_dump import DumpWriter, iter_records
from hdmigrate.canonical import KINDS

CLI = [sys.executable, "-c", "from hdmigrate.commands.cli import main; main()"]
CHANNELS = ("email", "web", "phone", "chat", "api")
STATUSES = ("new", "open", "pending", "solved", "closed")


def _ts(rng: random.Random, base: int = 1_600_000_000, span: int = 90 * 86400) -> tuple[int, str]:
    t = base + rng.randrange(span)
    from datetime import datetime, timezone
    return t, datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso(t: int) -> str:
    from datetime import datetime, timezone
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_records(tickets: int = 40, comments: int = 3, seed: int = 0, attachment_every: int = 3,
                  private_every: int = 3) -> tuple[dict[str, list[dict]], dict[str, bytes]]:
    """Canonical records of a small helpdesk, and attachment bytes by sha256. Deterministic."""
    rng = random.Random(seed)
    out: dict[str, list[dict]] = {k: [] for k in KINDS}
    blobs: dict[str, bytes] = {}
    out["custom_field"] = [
        {"id": "cf-plan", "entity": "ticket", "key": "plan", "type": "dropdown", "title": "Plan",
         "options": [{"value": "free", "label": "Free"}, {"value": "pro", "label": "Pro"}]},
        {"id": "cf-seats", "entity": "ticket", "key": "seats", "type": "integer", "title": "Seats"},
    ]
    out["organization"] = [{"id": f"o{i}", "name": f"Org {i} GmbH", "domains": [f"org{i}.example"],
                            "tags": ["b2b"]} for i in range(3)]
    out["group"] = [{"id": f"g{i}", "name": f"Tier {i}"} for i in range(2)]
    agents = [{"id": f"a{i}", "name": f"Agent {i}", "email": f"agent{i}@support.example", "role": "agent",
               "group_ids": [f"g{i % 2}"], "active": True} for i in range(4)]
    out["agent"] = agents
    n_contacts = max(4, tickets // 3)
    out["contact"] = [{"id": f"c{i}", "name": f"Kundin {i} Müller", "email": f"kunde{i}@customer.example",
                       "organization_id": f"o{i % 3}", "language": "de", "time_zone": "Europe/Berlin",
                       "tags": [], "active": True} for i in range(n_contacts)]
    att_n = 0
    for t in range(tickets):
        opened, opened_s = _ts(rng)
        requester = f"c{rng.randrange(n_contacts)}"
        status = rng.choice(STATUSES)
        ticket = {"id": f"t{t}", "number": str(1000 + t), "subject": f"Problem {t}: Drucker «{t}» streikt",
                  "status": status, "priority": rng.choice(["low", "normal", "high", None]),
                  "type": rng.choice(["question", "incident", None]), "channel": rng.choice(CHANNELS),
                  "requester_id": requester, "assignee_id": f"a{t % 4}", "group_id": f"g{t % 2}",
                  "organization_id": None, "tags": sorted(rng.sample(["vip", "printer", "billing", "de"], 2)),
                  "custom_fields": {"plan": rng.choice(["free", "pro"]), "seats": rng.randrange(1, 50)},
                  "created_at": opened_s, "updated_at": _iso(opened + 86400 * 3)}
        if status in ("solved", "closed"):
            ticket["solved_at"] = _iso(opened + 3600 * rng.randrange(1, 72))
        out["ticket"].append(ticket)
        when = opened
        for c in range(comments):
            cid = f"t{t}-m{c}"
            agent_turn = c % 2 == 1
            public = not (agent_turn and c % private_every == 0 and c > 0) if private_every else True
            if c > 0 and private_every and (t + c) % private_every == 0:
                public = False
            author = f"a{t % 4}" if agent_turn or not public else requester
            comment = {"id": cid, "ticket_id": f"t{t}", "author_id": author,
                       "author_kind": "agent" if author.startswith("a") else "contact",
                       "public": True if c == 0 else public,
                       "body_html": f"<p>Nachricht {c} zu Ticket {t}: <b>bitte</b> prüfen &amp; melden.</p>",
                       "channel": ticket["channel"], "created_at": _iso(when), "attachment_ids": []}
            if attachment_every and (t * comments + c) % attachment_every == 0:
                data = rng.randbytes(rng.randrange(10, 2000))
                sha = hashlib.sha256(data).hexdigest()
                blobs[sha] = data
                aid = f"f{att_n}"
                att_n += 1
                out["attachment"].append({"id": aid, "comment_id": cid, "ticket_id": f"t{t}",
                                          "file_name": f"log-{aid}.txt", "content_type": "text/plain",
                                          "size": len(data), "sha256": sha, "inline": False,
                                          "created_at": _iso(when)})
                comment["attachment_ids"].append(aid)
            out["comment"].append(comment)
            when += rng.randrange(60, 20000)
        if status in ("solved", "closed") and t % 2 == 0:
            out["satisfaction_rating"].append({"id": f"r{t}", "ticket_id": f"t{t}", "score": rng.choice([1, 4, 5]),
                                               "scale": "1-5", "contact_id": requester, "created_at": _iso(when)})
    return out, blobs


def write_dump(path: Path, records: dict[str, list[dict]], blobs: dict[str, bytes], source: str = "rkit") -> Path:
    path = Path(path)
    writer = DumpWriter(path, source=source)
    for kind in KINDS:
        for record in records.get(kind, ()):
            writer.add(kind, record)
    for sha, data in blobs.items():
        writer.add_blob(data, sha)
    writer.close()
    return path


def build_dump(path: Path, **kw) -> tuple[dict[str, list[dict]], dict[str, bytes]]:
    records, blobs = build_records(**kw)
    write_dump(path, records, blobs)
    return records, blobs


def write_plan(directory: Path, source: dict, target: dict, *, workdir: str = "state", options: dict | None = None,
               name: str = "plan.toml", mapping: dict | None = None) -> Path:
    plan = {"source": source, "target": target, "run": {"workdir": workdir}}
    if options:
        plan["options"] = options
    if mapping:
        plan["mapping"] = mapping
    path = Path(directory) / name
    path.write_text(tomli_w.dumps(plan), encoding="utf-8")
    return path


def run_cli(args: list[str], *, env: dict | None = None, timeout: float = 300, cwd=None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.pop("HDMIGRATE_DEBUG", None)
    return subprocess.run(CLI + args, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=cwd,
                          stdin=subprocess.DEVNULL)


def popen_cli(args: list[str], *, env: dict | None = None, cwd=None, stdout=None, stderr=None) -> subprocess.Popen:
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.pop("HDMIGRATE_DEBUG", None)
    return subprocess.Popen(CLI + args, env=full_env, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=stdout or subprocess.DEVNULL, stderr=stderr or subprocess.DEVNULL)


def verify_json(workdir: Path, env: dict | None = None) -> tuple[int, dict, str]:
    proc = run_cli(["verify", "--workdir", str(workdir), "--json"], env=env)
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError:
        doc = {}
    return proc.returncode, doc, proc.stderr


def events(stdout: str) -> list[dict]:
    out = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def dump_ids(root: Path, kind: str) -> list[str]:
    """Every id of <kind>.jsonl, duplicates kept (so a test can count them)."""
    return [r.get("id") for r in iter_records(root, kind)]


def dump_records(root: Path, kind: str) -> dict[str, dict]:
    return {r["id"]: r for r in iter_records(root, kind)}


def assert_dump_complete(source: Path | dict, target: Path, *, expect_missing: dict[str, set[str]] | None = None) -> dict:
    """No duplicate and no missing record in a jsonl target, independently of `verify`: every
    kind's ids equal the source's (minus the records expected to fail). Returns counts."""
    expect_missing = expect_missing or {}
    counts = {}
    for kind in KINDS:
        if isinstance(source, dict):
            want = {r["id"] for r in source.get(kind, ())}
        else:
            want = set(dump_ids(source, kind))
        want -= expect_missing.get(kind, set())
        got = dump_ids(target, kind)
        dupes = sorted({i for i in got if got.count(i) > 1})
        assert not dupes, f"{kind}: duplicates in the target: {dupes[:10]}"
        missing = sorted(want - set(got))
        assert not missing, f"{kind}: missing from the target: {missing[:10]}"
        unexpected = sorted(set(got) - want)
        assert not unexpected, f"{kind}: in the target but should not be: {unexpected[:10]}"
        counts[kind] = len(got)
    return counts


def verify_inproc(workdir: Path) -> tuple[int, dict, str]:
    """`hdmigrate verify --json` in this process (faster than a subprocess for many small cases)."""
    from click.testing import CliRunner

    from hdmigrate.commands.cli import cli
    result = CliRunner().invoke(cli, ["verify", "--workdir", str(workdir), "--json"])
    try:
        doc = json.loads(result.stdout)
    except json.JSONDecodeError:
        doc = {}
    return result.exit_code, doc, result.stderr
