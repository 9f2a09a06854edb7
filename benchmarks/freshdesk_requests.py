"""Requests, API credits and CPU of a Freshdesk extraction, per endpoint (issue 16 item 3).

    python benchmarks/freshdesk_requests.py                  # 300 tickets
    python benchmarks/freshdesk_requests.py --tickets 1000 --comments-per-ticket 4
    python benchmarks/freshdesk_requests.py --peer /tmp/tap/bin/python    # and the Singer tap beside it

`--peer PYTHON` runs the Singer tap-freshdesk (benchmarks/peer_tap_freshdesk.py says what is
selected and the two things changed to let it finish) against the same seeded sandbox after
hdmigrate, with its own table and CPU: `python -m venv /tmp/tap && /tmp/tap/bin/pip install
tap-freshdesk`.

What runs where. The dataset comes from `hdmigrate.testing.sample.write_dump` (`--tickets`
tickets × `--comments-per-ticket` comments, `--attachments` files). The Freshdesk sandbox is
seeded with it in this process (threads); `hdmigrate run PLAN --json` reads the sandbox as its
source and writes a jsonl dump (a target that makes no requests), as a child process, so its CPU
seconds (`os.wait4` of that child: user + system) exclude the sandbox and this script. The plan
sets no rate limit cap beyond the sandbox's (none): requests and credits, not minutes, are
measured.

Columns, per endpoint the sandbox served (the route and its `include=` and `filter=` options):
- `requests`, `req/t`: requests received (429s and retries included) and per ticket.
- `credits`, `cr/t`: Freshdesk API credits charged as the sandbox charges them, following the
  docs: each `include` on a list costs 2 extra credits, each `include` on View a Ticket 1 extra
  (include=conversations: 2 in all).
Rows `API total` (everything but file downloads, the figure the Singer tap's ~1.05 requests per
ticket compares with: it downloads no file) and `all` (with the attachment downloads, which
Freshdesk serves from its file hosts outside the API's rate limit).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

FILE_ROUTES = ("file", "inline")


def seeded_sandbox(dump: Path):
    from adapters.freshdesk.sandbox import make_sandbox
    sandbox = make_sandbox(data=dump, seed=1)
    log: list[tuple[str, int, int]] = []
    handle = sandbox.handle

    def logged(request):
        response, fault = handle(request)
        route = request.route.name if getattr(request, "route", None) else "?"
        include, which = request.arg("include"), request.arg("filter")
        name = (f"{request.method} {route}" + (f"?include={include}" if include else "")
                + (f"?filter={which}" if which else ""))
        log.append((name, response.status, sandbox.request_cost(request)))
        return response, fault

    sandbox.handle = logged
    return sandbox.start(), log


def run_child(sandbox, root: Path) -> dict:
    """The hdmigrate child with its own rusage (os.wait4), not communicate()'s reaping."""
    plan = root / "plan.toml"
    out = root / "out"
    plan.write_text(
        f'[source]\nadapter = "freshdesk"\nurl = "{sandbox.url}"\napi_key_env = "FRESHDESK_API_KEY"\n'
        f'[target]\nadapter = "jsonl"\npath = "{out}"\n'
        f'[run]\nworkdir = "{root / "work"}"\nrate_limit = {{ source = 1000000, target = 1000000 }}\n')
    stdout_path, stderr_path = root / "stdout.txt", root / "stderr.txt"
    with open(stdout_path, "w") as so, open(stderr_path, "w") as se:
        proc = subprocess.Popen([sys.executable, "-m", "hdmigrate", "run", str(plan), "--yes", "--json"],
                                cwd=ROOT, env={**os.environ, **sandbox.env}, stdout=so, stderr=se)
        _, status, usage = os.wait4(proc.pid, 0)
    events = [json.loads(line) for line in stdout_path.read_text().splitlines() if line.strip().startswith("{")]
    return {"exit": os.waitstatus_to_exitcode(status), "cpu": usage.ru_utime + usage.ru_stime,
            "events": events, "stderr": stderr_path.read_text(), "out": out}


def run_peer(python: str, sandbox, root: Path, start: str) -> dict:
    """The Singer tap-freshdesk (benchmarks/peer_tap_freshdesk.py under `python`) against the
    same sandbox, its CPU measured the same way."""
    out = root / "peer.jsonl"
    api_key = sandbox.env["FRESHDESK_API_KEY"]
    with open(root / "peer.stderr", "w") as se:
        proc = subprocess.Popen([python, str(ROOT / "benchmarks" / "peer_tap_freshdesk.py"), sandbox.url, api_key,
                                 start, str(out)], cwd=root, stdout=subprocess.DEVNULL, stderr=se)
        _, status, usage = os.wait4(proc.pid, 0)
    from peer_tap_freshdesk import count_records
    return {"exit": os.waitstatus_to_exitcode(status), "cpu": usage.ru_utime + usage.ru_stime,
            "records": count_records(str(out)) if out.exists() else {},
            "stderr": (root / "peer.stderr").read_text(errors="replace")}


def extracted(out: Path) -> dict[str, int]:
    from hdmigrate.canonical_dump import iter_records
    counts = {kind: sum(1 for _ in iter_records(out, kind)) for kind in ("ticket", "comment", "attachment")}
    comments = list(iter_records(out, "comment"))
    counts["first messages"] = sum(1 for c in comments if str(c.get("id", "")).endswith("-description"))
    counts["private"] = sum(1 for c in comments if not c.get("public"))
    return counts


def table(log: list[tuple[str, int, int]], tickets: int) -> list[str]:
    requests, credits = Counter(), Counter()
    for name, _, cost in log:
        requests[name] += 1
        credits[name] += cost
    rows = ["| endpoint | requests | req/t | credits | cr/t |", "|---|---:|---:|---:|---:|"]

    def row(name, n, c):
        rows.append(f"| {name} | {n} | {n / tickets:.3f} | {c} | {c / tickets:.3f} |")
    for name in sorted(requests, key=lambda k: (-requests[k], k)):
        row(name, requests[name], credits[name])
    api = [k for k in requests if k.split(" ", 1)[1].split("?")[0] not in FILE_ROUTES]
    row("**API total**", sum(requests[k] for k in api), sum(credits[k] for k in api))
    row("**all** (with file downloads)", sum(requests.values()), sum(credits.values()))
    return rows


def active_start(scratch: Path, args) -> str:
    """The sample's `start` that makes its newest ticket two days old (the sample's times are
    `start` plus offsets that do not depend on it): an account in use."""
    from datetime import timedelta
    from hdmigrate import times
    from hdmigrate.canonical_dump import iter_records
    from hdmigrate.testing.sample import write_dump
    base = "2019-01-01T00:00:00Z"
    write_dump(scratch, tickets=args.tickets, comments_per_ticket=args.comments_per_ticket,
               attachments=args.attachments, seed=args.seed, start=base)
    newest = max(times.parse(t["created_at"]) for t in iter_records(scratch, "ticket"))
    now = times.parse(times.now_text())
    return times.utc_text(times.parse(base) + (now - timedelta(days=2) - newest))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tickets", type=int, default=300)
    ap.add_argument("--comments-per-ticket", type=float, default=4.0)
    ap.add_argument("--attachments", type=int, default=None, help="files in the dataset (default tickets/10)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dormant", action="store_true",
                    help="the sample's default dates (2019-2025: no ticket of the last 30 days, so the "
                         "source probes above the highest ticket id for archived tickets); by default "
                         "the six years of tickets end today, as in an account in use")
    ap.add_argument("--peer", metavar="PYTHON",
                    help="also run the Singer tap-freshdesk against the same sandbox, with this python "
                         "(a virtualenv's, with `pip install tap-freshdesk`), and print its table")
    args = ap.parse_args(argv)
    if args.peer and not os.access(args.peer, os.X_OK):
        ap.error(f"--peer {args.peer}: no such python (make one: python -m venv /tmp/tap && "
                 "/tmp/tap/bin/pip install tap-freshdesk)")
    from hdmigrate.testing.sample import write_dump
    start = "2019-01-01T00:00:00Z" if args.dormant else None

    with tempfile.TemporaryDirectory(prefix="hdm-fdreq-") as tmp:
        root = Path(tmp)
        if start is None:
            start = active_start(root / "probe", args)
        counts = write_dump(root / "dump", tickets=args.tickets, comments_per_ticket=args.comments_per_ticket,
                            attachments=args.attachments, seed=args.seed, start=start)
        sandbox, log = seeded_sandbox(root / "dump")
        try:
            seeded = {"tickets": sandbox.store.count("ticket"), "conversations": sandbox.store.count("conversation"),
                      "attachments": sum(len(t["attachments"]) for t in sandbox.store.all("ticket"))
                      + sum(len(c["attachments"]) for c in sandbox.store.all("conversation"))}
            log.clear()                         # seeding made no requests; start the count here anyway
            result = run_child(sandbox, root)
            ours = list(log)
            peer = None
            if args.peer:
                log.clear()
                peer = run_peer(args.peer, sandbox, root, start)
        finally:
            sandbox.stop()
        if result["exit"] != 0:
            print(result["stderr"][-3000:], file=sys.stderr)
        n = seeded["tickets"]
        print(f"# freshdesk extraction ({'dormant' if args.dormant else 'active'} account, tickets from {start}): "
              f"{n} tickets, {seeded['conversations']} conversations, "
              f"{seeded['attachments']} attachments seeded (dump: {counts.get('comment', 0)} comments)")
        print("\n".join(table(ours, n)))
        got = extracted(result["out"]) if result["out"].exists() else {}
        print(f"\n# extracted: {json.dumps(got)}; exit {result['exit']}; "
              f"hdmigrate CPU {result['cpu']:.2f} s ({result['cpu'] / max(n, 1) * 1000:.1f} ms/ticket)")
        if peer is not None:
            if peer["exit"] != 0:
                print(peer["stderr"][-3000:], file=sys.stderr)
            print(f"\n# peer: Singer tap-freshdesk, all streams but time entries and roles, same sandbox")
            print("\n".join(table(log, n)))
            print(f"\n# peer records: {json.dumps(peer['records'])}; exit {peer['exit']}; "
                  f"peer CPU {peer['cpu']:.2f} s ({peer['cpu'] / max(n, 1) * 1000:.1f} ms/ticket)")
            result["exit"] = result["exit"] or peer["exit"]
    return 0 if result["exit"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
