"""Shared bits of the real-server tests: running plans through the CLI, reading dumps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import tomli_w


def write_plan(path: Path, source: dict, target: dict, workdir: Path, **sections) -> Path:
    plan = {"source": source, "target": target, "run": {"workdir": str(workdir)}}
    plan.update(sections)
    path.write_text(tomli_w.dumps(plan))
    return path


def hdmigrate(*args, env=None, timeout=600, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "hdmigrate", *args],
                          env=dict(os.environ, **(env or {})), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"hdmigrate {' '.join(args)} exited {proc.returncode}\n"
                             f"stderr:\n{proc.stderr[-4000:]}\nstdout tail:\n{proc.stdout[-3000:]}")
    return proc


def summary(proc: subprocess.CompletedProcess) -> dict:
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{") and '"summary"' in line:
            return json.loads(line)
    raise AssertionError(f"no summary event in output:\n{proc.stdout[-2000:]}")


def read_dump(root: Path) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = defaultdict(dict)
    for path in Path(root).glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                out[path.stem][rec["id"]] = rec
    return out


def tickets_view(dump: dict, *, name_of=lambda pid: pid) -> dict[str, dict]:
    """Per ticket subject: what must survive a migration, independent of ids."""
    comments = defaultdict(list)
    for c in dump.get("comment", {}).values():
        comments[c["ticket_id"]].append(c)
    atts = dump.get("attachment", {})
    view = {}
    for t in dump.get("ticket", {}).values():
        cs = sorted(comments[t["id"]], key=lambda c: (c.get("created_at") or "", int(c["id"]) if c["id"].isdigit() else 0))
        view[t["subject"]] = {
            "ticket": t,
            "texts": [(c.get("body_text") if isinstance(c.get("body_text"), str) else c.get("body_html")) for c in cs],
            "public": [c["public"] for c in cs],
            "authors": [name_of(c["author_id"]) for c in cs],
            "files": [sorted((atts[a]["file_name"], atts[a]["sha256"]) for a in c.get("attachment_ids") or [] if a in atts)
                      for c in cs],
        }
    return view
