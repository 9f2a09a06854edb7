"""A Zendesk sandbox → Help Scout sandbox migration of a generated helpdesk, then the Help Scout
sandbox read back to jsonl: requests per ticket on each side, wall time, e-mails sent.

    python benchmarks/helpscout_run.py                  # 1,000 tickets, 3 comments each
    python benchmarks/helpscout_run.py --tickets 20     # a smoke run

Both sandboxes run in this process (loopback threads) without rate limits, so the wall time is
the tool's and the sandboxes' CPU on this machine; `minutes at N/min` is what Help Scout's
account limit alone would impose on the same requests (writes count double: api-facts.md §3).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.helpscout.sandbox import make_sandbox as make_helpscout  # noqa: E402
from adapters.zendesk.sandbox import make_sandbox as make_zendesk  # noqa: E402
from hdmigrate.canonical_dump import iter_records  # noqa: E402
from hdmigrate.engine import Engine  # noqa: E402
from hdmigrate.plan import plan_from_dict  # noqa: E402
from hdmigrate.testing.sample import write_dump  # noqa: E402

FAST = {"source": 600000, "target": 600000}
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def run(source: dict, target: dict, work: Path) -> tuple[dict, float]:
    plan = plan_from_dict({"source": source, "target": target,
                           "run": {"workdir": str(work), "rate_limit": FAST, "workers": 2}}, base_dir=work.parent)
    started = time.monotonic()
    engine = Engine(plan, work)
    try:
        report = engine.run()
    finally:
        engine.store.close()
    return report, time.monotonic() - started


def credits(box) -> int:
    """Help Scout's count of the requests: writes 2, reads 1 (the token endpoint not counted)."""
    return sum(n * (2 if method in WRITES else 1) for (method, route), n in box.stats.requests.items()
               if route != "token")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=1000)
    ap.add_argument("--comments-per-ticket", type=int, default=3)
    ap.add_argument("--attachments", type=int, default=200, help="files per 1,000 tickets")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hdm-helpscout-") as tmp:
        root = Path(tmp)
        counts = write_dump(root / "dump", tickets=args.tickets, comments_per_ticket=args.comments_per_ticket,
                            attachments=max(1, args.attachments * args.tickets // 1000), seed=17)
        zd = make_zendesk(data=root / "dump", seed=1).start()
        hs = make_helpscout(seed=2).start()
        for agent in iter_records(root / "dump", "agent"):
            hs.add_user(agent["name"], agent["email"])
        os.environ.update({**zd.env, **hs.env})
        try:
            load, load_wall = run(zd.plan_section, hs.plan_section, root / "work")
            target_requests, target_credits, zendesk_requests = hs.stats.total, credits(hs), zd.stats.total
            target_writes = sum(n for (method, _), n in hs.stats.requests.items() if method in WRITES)
            back, back_wall = run(hs.plan_section, {"adapter": "jsonl", "path": str(root / "out")}, root / "work-out")
            source_requests = hs.stats.total - target_requests
        finally:
            zd.stop()
            hs.stop()
    n = counts["ticket"]
    print(f"dataset: {n} tickets, {counts['comment']} comments, {counts.get('attachment', 0)} attachments, "
          f"{counts.get('contact', 0)} contacts, {counts.get('agent', 0)} agents")
    print(f"zendesk sandbox -> helpscout sandbox: exit {load['exit_code']}, wall {load_wall:.1f} s, "
          f"helpscout requests {target_requests} ({target_requests / n:.2f} per ticket), "
          f"e-mails sent {hs.emails_sent}, token fetches {hs.token_requests}")
    print(f"  zendesk (source) requests {zendesk_requests} ({zendesk_requests / n:.2f} per ticket); "
          f"helpscout writes {target_writes} ({target_writes / n:.2f} per ticket), "
          f"reads {target_requests - target_writes}")
    for per_minute in (200, 400, 800):
        print(f"  minutes at {per_minute}/min (writes count 2): {target_credits / per_minute:.1f}")
    print(f"helpscout sandbox -> jsonl: exit {back['exit_code']}, wall {back_wall:.1f} s, "
          f"helpscout requests {source_requests} ({source_requests / n:.2f} per ticket)")
    return 0 if load["exit_code"] == 0 and back["exit_code"] == 0 and hs.emails_sent == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
