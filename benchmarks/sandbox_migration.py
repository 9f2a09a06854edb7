"""Sandbox → sandbox migrations of a generated helpdesk, measured against the vendors' limits.

    python benchmarks/sandbox_migration.py                       # 5,000 tickets, both pairs, 1×
    python benchmarks/sandbox_migration.py --scale 1,4,16 --pairs zendesk-zendesk
    python benchmarks/sandbox_migration.py --tickets 20          # a smoke run (tests use it)

What runs where. The dataset comes from `hdmigrate.testing.sample.write_dump` (`--tickets` tickets ×
`--comments-per-ticket` comments, `--attachments` files per 5,000 tickets, scaled with the
size). Each sandbox (the seeded Zendesk source, the empty Zendesk or Freshdesk target) runs in a
process of its own, started by this script, with the account limit `--rate-limit` (requests per
minute; the sandboxes apply the vendors' per-endpoint ratios beneath it: Zendesk incremental
exports 10/700 of the account, Freshdesk creates 40 %). `hdmigrate run PLAN --json` runs as a
subprocess with the same limits in its plan (`[run] rate_limit`), so its CPU seconds and peak
RSS (`os.wait4` of that one child) exclude the sandboxes and this script.

Columns.
- `src req/t`, `tgt req/t`: requests the sandbox received (retries and 429s included) per ticket,
  and `min`: the fewest the documented API shapes allow for that dataset (below). `×min` is the
  larger ratio of the two sides.
- `rate %`: for the side and bucket that needs the most minutes of quota (requests / limit of
  that bucket — the binding limit of the run), the requests per minute achieved while its step
  ran (extract+normalize for the source, load for the target), as a share of that bucket's limit.
- `429 %`: answers 429 / all requests, both sandboxes together.
- `wall s`, `cpu s`, `peak MB`: wall time of `hdmigrate run`, user+system CPU seconds and peak
  RSS of the hdmigrate process alone.

Speed against the limits (issue 16), the "#" lines under each row:
- every budget of both sandboxes (the account; Zendesk's incremental exports; Freshdesk's
  creates, updates and lists) with its limit, the requests it carried (answers 429 left out) and
  `T_min s` = requests / limit. `T_min s` of the pair is the largest, `bound by` that budget, and
  `wall/T_min` the run against it. The sandboxes count per minute: a budget carrying fewer
  requests than its limit may serve them in one burst, so there `T_min` overstates the bound.
- `configured`: the plan's `[run] rate_limit` (`none` with `--headers-only`, the issue's setting:
  the limits come from the sandboxes' headers alone); `learned src` / `learned tgt`: the limits
  hdmigrate said it used for that host ("rate limit for HOST: N requests/min", in the order it
  changed them; `-` when it printed none).
- `overlap %`: the share of the target's writes (any request but GET) answered before the
  extract step finished (its `step_finished` event), of `tgt writes`.
- `T_win s`: the same budgets counted the way the sandboxes count, in fixed one-minute windows
  that began before the run did: R requests need ⌈R / limit⌉ windows, so the last one cannot go
  out before the last of those windows begins. It is below `T_min` when a budget's requests fit a
  burst, above it when the run starts late in a window. `T_cpu s`: the CPU seconds of hdmigrate
  and of both sandboxes while they served the run (`cpu hdm/src/tgt`) shared by the cores, or
  the busiest process's alone when larger (one interpreter runs its Python on one core at a
  time; C code releasing the lock can beat it a little): this machine's bound. `wall/max` is
  the run against the larger of the two.
- `failed:` lines: every `record_failed` event of the run (step, kind, id, reason).

    python benchmarks/sandbox_migration.py --tickets 500 --headers-only     # the issue's setting, smaller
    python benchmarks/sandbox_migration.py --tickets 2000 --pairs zendesk-zendesk --trace-memory /tmp/tm
        # what holds memory at hdmigrate's peak (slower: not for timing), in /tmp/tm.PAIR.TICKETS.txt
    python benchmarks/sandbox_migration.py --tickets 5000 --pairs zendesk-zendesk --profile /tmp/prof
        # where the engine's thread spends its CPU (cProfile: slower, not for timing), in /tmp/prof.PAIR.TICKETS.txt
    python benchmarks/sandbox_migration.py --tickets 5000 --pairs zendesk-zendesk --sample-memory 5 --verify
        # where the RSS lives, per step, sampled from inside (cheap: fit for timing runs), and then
        # `hdmigrate verify` reading the target back, with its own time, memory and findings

`--sample-memory SECONDS` (benchmarks/sampled_run.py): per step, the sample with the largest RSS
split into `rssanon` / `rssfile` (code and libraries) / `rssshmem`, glibc's heap (`malloc_used`,
`malloc_free`: freed but kept), its mmapped blocks (`malloc_mmap`), `other_anon` (anonymous RSS
outside glibc: pymalloc's arenas, where Python's small objects live, and thread stacks), SQLite's
own allocations (`sqlite`, inside malloc_used), Python's live blocks and the threads. With
`--load-end`, the "at the load's end" lines: pymalloc's arenas kept when the load step ended, the
bytes in use and free inside them, and what each attribute of the engine holds (what the run
keeps, apart from the arenas its bursts left behind).

Minimum requests (T tickets, C comments, A attachment records, U persons = agents + contacts,
O organizations, G groups, F custom fields of which F_t/F_u/F_o per entity; ⌈x/n⌉ = pages):
- Zendesk source: 1 (GET users/me) + 3 field lists (⌈F_e/100⌉ each) + ⌈G/100⌉ groups
  + incremental exports at 1,000 per page: ⌈O/1000⌉ organizations, ⌈U/1000⌉ users (identities
  sideloaded), ⌈T/1000⌉ tickets (metric_sets sideloaded), ⌈E/1000⌉ ticket events with
  `comment_events` sideloaded (E = audits that carry a comment; every comment is its own audit
  in the sandbox, so E = C) + A downloads (one per attachment URL; Zendesk gives no hash to skip
  a duplicate by).
- Zendesk target: 1 (users/me) + 3 field lists + 1 group list (match before create) + F_created
  + G (no bulk create for fields and groups) + 2·⌈O/100⌉ (organizations/create_many + one
  job_statuses poll) + O (organization lookups by name) + 2 (users/count, one users page: people are
  matched before they are created) + 2·⌈U/100⌉ (users/create_many + poll) + 2·⌈T/100⌉
  (imports/tickets/create_many with every comment inline + poll) + A uploads (a token is consumed
  by the one comment that uses it, so a file is uploaded once per comment that carries it;
  zero-byte files are refused by Zendesk and cost nothing).
- Freshdesk target: no bulk create exists for tickets or notes: 1 (agents/me) + ⌈agents/100⌉
  + 3 field lists + F_created + O + G + U contacts (agents the account does not have are
  created as contacts; the sandbox has none) + T tickets (the first
  public comment is the description, its files multipart on the same call) + (C − T') notes,
  T' = tickets whose first comment is public (a private first comment becomes a note too)
  + R satisfaction ratings (one POST each; Zendesk cannot write them: 0 there).
  Files travel multipart with their note: no separate upload request. Contacts and companies
  could come in through the CSV import endpoints (one request per file), but those answer no
  per-row ids, which the id map needs; one create per record is counted.
Polls of asynchronous jobs are counted once per job: the least a client that asks about each
job on its own can do to learn the ids. The Zendesk target asks about the jobs of all its lanes
together (`job_statuses/show_many`), so one poll often answers for several jobs and its
requests can come in under this figure.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BASE_ATTACHMENTS = 500          # per 5,000 tickets (the dataset), scaled with --tickets
COLUMNS = ("pair", "tickets", "comments", "src req/t", "src min", "tgt req/t", "tgt min", "×min",
           "binding", "rate %", "429 %", "wall s", "cpu s", "peak MB", "exit")


# --------------------------------------------------------------------------- sandboxes (child processes)

def _sandbox_main(platform: str, data: str | None, rate_limit: float | None, conn) -> None:
    """Run one sandbox in this process; answer 'stats' and 'stop' over the pipe."""
    import importlib

    module = importlib.import_module(f"adapters.{platform}.sandbox")
    sandbox = module.make_sandbox(data=data, rate_limit=rate_limit, seed=1)
    prepare = None
    if data is not None:
        prepare = _read_only_speedups(platform, sandbox)
    elif platform == "freshdesk":
        _indexed_ticket_bytes(sandbox)
    elif platform == "zendesk":
        _uncopied_scans(sandbox)
    if hasattr(sandbox, "job_delay"):
        sandbox.job_delay = 0.05
    log: list[tuple[float, str, int, int, str]] = []
    handle = sandbox.handle

    def logged(request):
        response, fault = handle(request)
        bucket = sandbox.classify(request) if sandbox.buckets else None
        log.append((time.monotonic(), bucket or "account", response.status, sandbox.request_cost(request),
                    request.method))
        return response, fault

    sandbox.handle = logged
    sandbox.start()
    if prepare is not None:
        prepare()         # once the sandbox has its URL: the rows carry absolute file URLs
    limits = {name: b.limit for name, b in sandbox.buckets.items()}
    windows = {name: (b.window_start, b.window) for name, b in sandbox.buckets.items()}
    cpu_start = _cpu_seconds()      # seeding left out: only what serving the run costs
    conn.send({"url": sandbox.url, "env": dict(sandbox.env), "plan": sandbox.plan_section, "limits": limits,
               "windows": windows})
    while True:
        command = conn.recv()
        if command == "stats":
            conn.send({"summary": sandbox.summary(), "log": list(log), "cpu": _cpu_seconds() - cpu_start})
        elif command == "stop":
            sandbox.stop()
            conn.send("stopped")
            return


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _read_only_speedups(platform: str, sandbox):
    """Harness only, for the seeded *source* sandbox, which serves reads alone during a migration.

    The emulations deep-copy every stored record on every read and rebuild an export's whole
    row list for each page (O(records) per request, O(records²) per extract): at 50,000 comments
    the source sandbox, not hdmigrate, became the bottleneck. Here reads return the stored
    records uncopied (no handler of a read route mutates them) and the Zendesk ticket-events
    export builds its rows once (`_ticket_event_rows`), then serves each page from a slice of that
    sorted list through the sandbox's own `_time_export` (same bodies, same cursors). The target sandboxes run
    unchanged. Returns what to call once the sandbox is started (None: nothing)."""
    import bisect

    store = sandbox.store
    all_, get, find = store.all, store.get, store.find
    store.all = lambda kind, copy=False: all_(kind, copy=False)
    store.get = lambda kind, id, copy=False: get(kind, id, copy=False)
    store.find = lambda kind, copy=False, **eq: find(kind, copy=False, **eq)
    if platform != "zendesk" or not hasattr(sandbox, "export_ticket_events"):
        return None
    cls = type(sandbox)
    original_time_export = cls._time_export
    cache: dict[bool, tuple[list, list]] = {}

    def export_ticket_events(request):
        with_comments = "comment_events" in (request.arg("include") or "")
        build(with_comments)
        stamps, rows = cache[with_comments]
        start = request.arg("start_time")
        if start is None or not start.lstrip("-").isdigit():
            return original_time_export(sandbox, request, [], "ticket_events")
        i = bisect.bisect_left(stamps, int(start))
        per_page = int(request.arg("per_page") or 1000)
        return original_time_export(sandbox, request, rows[i:i + per_page + 1], "ticket_events")

    def build(with_comments: bool) -> None:
        if with_comments not in cache:
            rows = sandbox._ticket_event_rows(with_comments)      # every row, in export order
            cache[with_comments] = ([r[0] for r in rows], rows)

    for route in cls._routes:
        if route.name == "export_ticket_events":
            sandbox.extra_routes.insert(0, type(route)(route.method, route.pattern,
                                                       lambda request: export_ticket_events(request),
                                                       route.name, route.bucket, route.auth, route.cost,
                                                       False))
    # Built after the sandbox has its URL (a file's content_url is absolute: built before, it
    # named http://127.0.0.1 without the port, every download was refused as another host's and
    # the files were left out) and before it says it is ready (the run asks with comments): at
    # 800,000 comments the first page would otherwise wait on the build, past the 30 s deadline.
    return lambda: build(True)


def _uncopied_scans(sandbox) -> None:
    """Harness only, for the Zendesk *target* sandbox: each user upsert scans every user twice
    (external_id, then e-mail) through `store.all`, which deep-copies them all — O(users²) deep
    copies, minutes at 4,000 contacts. Its scans only read (every answer is built from new
    dicts), so here they see the stored records uncopied; single-record reads still copy."""
    store = sandbox.store
    all_, find = store.all, store.find
    store.all = lambda kind, copy=False: all_(kind, copy=False)
    store.find = lambda kind, copy=False, **eq: find(kind, copy=False, **eq)


def _indexed_ticket_bytes(sandbox) -> None:
    """Harness only, for the Freshdesk *target* sandbox: its 20 MB-per-ticket check sums the files
    of every conversation of the account on each note (a scan of all conversations, O(notes²) per
    load, which made the sandbox, not hdmigrate, the limit after ~30,000 notes). Same sum, from
    an index of conversations by ticket kept as they are stored."""
    store = sandbox.store
    by_ticket: dict[int, list] = {}
    insert = store.insert

    def indexed_insert(kind, record, **kw):
        stored = insert(kind, record, **kw)
        if kind == "conversation":
            by_ticket.setdefault(int(stored.get("ticket_id")), []).append(stored["id"])
        return stored

    def ticket_bytes(tid) -> int:
        t = store.get("ticket", tid, copy=False) or {}
        total = sum(a["size"] for a in t.get("attachments") or [])
        for cid in by_ticket.get(int(tid), ()):
            c = store.get("conversation", cid, copy=False)
            if c is not None and c.get("ticket_id") == int(tid):
                total += sum(a["size"] for a in c.get("attachments") or [])
        return total

    store.insert = indexed_insert
    sandbox._ticket_bytes = ticket_bytes


class SandboxProcess:
    def __init__(self, platform: str, data: Path | None, rate_limit: float | None):
        ctx = mp.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_sandbox_main, args=(platform, str(data) if data else None,
                                                             rate_limit, child), daemon=True)
        self.process.start()
        self.info = self.conn.recv()

    def stats(self) -> dict:
        self.conn.send("stats")
        return self.conn.recv()

    def stop(self) -> None:
        try:
            self.conn.send("stop")
            self.conn.recv()
        finally:
            self.process.join(10)


# --------------------------------------------------------------------------- minimum requests

def dataset_counts(dump: Path) -> dict:
    counts = json.loads((dump / "manifest.json").read_text())["counts"]
    fields = Counter()
    for line in (dump / "custom_field.jsonl").read_text().splitlines():
        fields[json.loads(line)["entity"]] += 1
    empty = 0
    if (dump / "attachment.jsonl").exists():
        for line in (dump / "attachment.jsonl").read_text().splitlines():
            empty += json.loads(line).get("size") == 0
    # tickets whose first comment is public (their description carries it on Freshdesk)
    first_public, seen = 0, set()
    with open(dump / "comment.jsonl", encoding="utf-8") as f:
        for line in f:
            c = json.loads(line)
            if c["ticket_id"] not in seen:
                seen.add(c["ticket_id"])
                first_public += bool(c.get("public", True))
    return {**counts, "fields_by_entity": dict(fields), "empty_files": empty, "first_public": first_public}


def minimum_requests(pair: str, n: dict) -> tuple[int, int]:
    """(source, target) minimum request counts for a dataset (see the module docstring)."""
    T, C = n.get("ticket", 0), n.get("comment", 0)
    A = n.get("attachment", 0)
    agents, contacts = n.get("agent", 0), n.get("contact", 0)
    U, O, G = agents + contacts, n.get("organization", 0), n.get("group", 0)
    fe = n["fields_by_entity"]
    pages = lambda x, size: max(1, math.ceil(x / size))  # noqa: E731
    field_lists = sum(pages(fe.get(e, 0), 100) for e in ("ticket", "contact", "organization"))
    source = (1 + field_lists + pages(G, 100) + pages(O, 1000) + pages(U, 1000) + pages(T, 1000)
              + pages(C, 1000) + A)
    F = sum(fe.values())
    if pair.endswith("zendesk"):
        target = (1 + field_lists + 1 + F + G + 2 * pages(O, 100) + O + 2 + 2 * pages(U, 100)
                  + 2 * pages(T, 100) + (A - n["empty_files"]))
    else:
        # agents the target account does not have become contacts (one create each)
        target = (1 + pages(agents, 100) + 3 + F + O + G + contacts + agents + T
                  + (C - n["first_public"]) + n.get("satisfaction_rating", 0))
    return source, target


# --------------------------------------------------------------------------- one run

def write_plan(path: Path, source: dict, target: dict, workdir: Path, rate_limit: float | None,
               workers: int) -> None:
    """The plan; `rate_limit` None: no `[run] rate_limit`, the limits come from the headers alone."""
    def section(name: str, values: dict) -> str:
        lines = [f"[{name}]"] + [f"{k} = {json.dumps(v)}" for k, v in values.items()]
        return "\n".join(lines) + "\n"

    run = {"workdir": str(workdir), "workers": workers}
    text = section("source", source) + section("target", target) + section("run", run)
    if rate_limit:
        text += f"rate_limit = {{ source = {rate_limit:g}, target = {rate_limit:g} }}\n"
    text += section("options", {"tag_migrated": "hdmigrate"})
    path.write_text(text)


def _lines(path: Path) -> list[str]:
    """A small text file's lines ([] when the run did not write it)."""
    try:
        return path.read_text().splitlines()
    except OSError:
        return []


def run_hdmigrate(plan: Path, env: dict, log_path: Path, traced: Path | None = None,
                  sampled: tuple[Path, float, bool] | None = None, verb: tuple[str, ...] = ("run", "--yes"),
                  profiled: Path | None = None) -> dict:
    """`hdmigrate run PLAN --json` as a child: its events with arrival times, exit code, rusage
    (`traced`: under benchmarks/traced_run.py, its allocation sites written there; `sampled`:
    (file, seconds, at the load's end too) under benchmarks/sampled_run.py, its memory samples
    written there)."""
    steps: dict[str, list[float]] = {}
    summary: dict = {}
    failures: list[dict] = []
    t0 = time.monotonic()
    with open(log_path, "w") as err:
        if profiled:
            command = [sys.executable, str(ROOT / "benchmarks" / "profiled_run.py"), str(profiled)]
        elif traced:
            command = [sys.executable, str(ROOT / "benchmarks" / "traced_run.py"), str(traced)]
        elif sampled:
            command = [sys.executable, str(ROOT / "benchmarks" / "sampled_run.py"),
                       *(["--load-end"] if sampled[2] else []), str(sampled[0]), f"{sampled[1]:g}"]
        else:
            command = [sys.executable, "-m", "hdmigrate"]
        arguments = [verb[0], str(plan), *verb[1:]] if verb[0] == "run" else [*verb, "--plan", str(plan)]
        proc = subprocess.Popen(command + arguments + ["--json"],
                                stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=str(ROOT))
        if verb[0] != "run":              # one JSON document (verify --json), not events
            try:
                summary = json.loads(proc.stdout.read() or "{}")
            except ValueError:
                summary = {}
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            now = time.monotonic()
            if event.get("event") == "step_started":
                steps[event["step"]] = [now, now]
            elif event.get("event") == "step_finished":
                steps.setdefault(event["step"], [now, now])[1] = now
            elif event.get("event") == "summary":
                summary = event
            elif event.get("event") == "record_failed":
                failures.append({k: event.get(k) for k in ("step", "kind", "id", "reason")})
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    return {"exit": proc.returncode, "start": t0, "wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "peak_mb": usage.ru_maxrss / 1024, "steps": steps, "summary": summary, "failures": failures}


def _window(steps: dict, names: tuple[str, ...]) -> tuple[float, float] | None:
    spans = [steps[n] for n in names if n in steps]
    if not spans:
        return None
    return min(s[0] for s in spans), max(s[1] for s in spans)


def binding_rate(sides: dict, steps: dict) -> tuple[str, float]:
    """The bucket needing the most minutes of quota, and its achieved rate (share of its limit)
    over the step that uses it."""
    best = None
    for side, (stats, limits, step_names) in sides.items():
        used = Counter()
        for _t, bucket, _status, cost, _method in stats["log"]:
            used[bucket] += cost
            if bucket != "account":
                used["account"] += 0   # the account bucket counts every request below
        used["account"] = sum(entry[3] for entry in stats["log"])
        for bucket, limit in limits.items():
            minutes = used.get(bucket, 0) / limit
            if best is None or minutes > best[0]:
                best = (minutes, side, bucket, step_names)
    if best is None:
        return "-", float("nan")
    minutes, side, bucket, step_names = best
    window = _window(steps, step_names)
    if not window or window[1] <= window[0]:
        return f"{side}.{bucket}", float("nan")
    return f"{side}.{bucket}", 100.0 * minutes / ((window[1] - window[0]) / 60.0)


def budgets(side: str, stats: dict, limits: dict, windows: dict, start: float) -> list[dict]:
    """Per budget of one sandbox: its limit, the requests it carried (answers 429 left out: a
    refused request needed no quota), T_min = requests / limit (the issue's measure) and T_win,
    the earliest the last of them could go out in the sandbox's fixed one-minute windows: a
    window serves up to `limit` at once, so R requests need ⌈R / limit⌉ windows, the first being
    the one the run started in (`start`; every window begins whole minutes after the bucket's).
    The account budget carries every request, an endpoint's budget (Zendesk incremental exports,
    Freshdesk creates) its own."""
    carried = Counter()
    for _t, bucket, status, cost, _method in stats["log"]:
        if status == 429:
            continue
        carried["account"] += cost
        if bucket != "account":
            carried[bucket] += cost
    out = []
    for bucket, limit in limits.items():
        n = carried.get(bucket, 0)
        out.append({"budget": f"{side}.{bucket}", "limit": limit, "requests": n, "t_min": 60.0 * n / limit,
                    "t_win": window_bound(n, limit, *windows[bucket], start)})
    return out


def window_bound(requests: int, limit: int, anchor: float, window: float, start: float) -> float:
    """Seconds from `start` until the window that can carry the last of `requests` begins
    (0 when the run's first window carries them all)."""
    needed = math.ceil(requests / limit)
    if needed <= 1:
        return 0.0
    first = math.floor((start - anchor) / window)
    return max(0.0, anchor + (first + needed - 1) * window - start)


RATE_LINE = re.compile(r"rate limit for (\S+): ([0-9.]+) requests/min")


def learned_limits(stderr: str, url: str) -> str:
    """The limits hdmigrate said it used for one sandbox's host, in the order it changed them."""
    host = url.split("://", 1)[-1].rstrip("/")
    seen = [float(m.group(2)) for m in RATE_LINE.finditer(stderr) if m.group(1) == host]
    return "→".join(f"{v:g}" for v in seen) or "-"


def overlap(target_log: list, steps: dict) -> tuple[float, int]:
    """Share of the target's writes (any method but GET) answered before extraction finished."""
    writes = [t for t, _b, _status, _cost, method in target_log if method != "GET"]
    end = steps.get("extract", [None, None])[1]
    if not writes or end is None:
        return float("nan"), len(writes)
    return 100.0 * sum(1 for t in writes if t < end) / len(writes), len(writes)


def run_pair(pair: str, tickets: int, args, work: Path) -> dict:
    from hdmigrate.testing.sample import write_dump

    source_platform, target_platform = pair.split("-")
    dump = work / "dump"
    attachments = max(1, round(BASE_ATTACHMENTS * tickets / 5000))
    write_dump(dump, tickets=tickets, comments_per_ticket=args.comments_per_ticket,
               attachments=attachments, seed=7)
    counts = dataset_counts(dump)
    rate = args.rate_limit or None
    source = SandboxProcess(source_platform, dump, rate)
    target = SandboxProcess(target_platform, None, rate)
    try:
        env = {**os.environ, **source.info["env"], **target.info["env"], "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        target_section = dict(target.info["plan"])
        if target_platform == "zendesk" and args.job_poll is not None:
            target_section["job_poll_seconds"] = args.job_poll
        plan = work / "plan.toml"
        write_plan(plan, source.info["plan"], target_section, work / "hdm", None if args.headers_only else rate,
                   args.workers)
        traced = Path(f"{args.trace_memory}.{pair}.{tickets}.txt") if args.trace_memory else None
        sampled = (work / "memory.jsonl", args.sample_memory, args.load_end) if args.sample_memory else None
        profiled = Path(f"{args.profile}.{pair}.{tickets}") if args.profile else None
        result = run_hdmigrate(plan, env, work / "hdmigrate.stderr", traced, sampled, profiled=profiled)
        src_stats, tgt_stats = source.stats(), target.stats()
        checked = None
        if args.verify:        # after the counts above: its reads are not the migration's
            vsampled = (work / "verify-memory.jsonl", args.sample_memory, False) if args.sample_memory else None
            vtraced = Path(f"{args.trace_memory}.{pair}.{tickets}.verify.txt") if args.trace_memory else None
            checked = run_hdmigrate(plan, env, work / "verify.stderr", vtraced, vsampled, ("verify",))
            if vsampled:
                span = [checked["start"], checked["start"] + checked["wall"]]
                checked["memory"] = memory_by_step(vsampled[0], {"verify": span})
    finally:
        source.stop()
        target.stop()
    # The records the source actually holds (the Zendesk source keeps one rating per ticket and
    # adds its admin user) count for the minimum, as the run's summary reports them.
    kinds = (result["summary"].get("kinds") or {})
    staged = dict(counts)
    for kind, c in kinds.items():
        staged[kind] = sum(c.get(k, 0) for k in ("created", "updated", "unchanged", "failed"))
    T = staged.get("ticket", 0) or 1
    src_total, tgt_total = src_stats["summary"]["total"], tgt_stats["summary"]["total"]
    src_min, tgt_min = minimum_requests(pair, staged)
    throttled = src_stats["summary"]["throttled"] + tgt_stats["summary"]["throttled"]
    binding, share = binding_rate({
        "source": (src_stats, source.info["limits"], ("extract", "normalize")),
        "target": (tgt_stats, target.info["limits"], ("load",))}, result["steps"])
    totals = (result["summary"].get("totals") or {})
    every = (budgets("source", src_stats, source.info["limits"], source.info["windows"], result["start"])
             + budgets("target", tgt_stats, target.info["limits"], target.info["windows"], result["start"]))
    bound = max(every, key=lambda b: b["t_min"])
    t_win = max(b["t_win"] for b in every)
    # the machine's bound: every process's CPU shared by the cores (sandboxes: serving only),
    # and no less than the busiest process's (one interpreter runs its Python on one core)
    cpu = {"hdmigrate": result["cpu"], "source": src_stats["cpu"], "target": tgt_stats["cpu"]}
    t_cpu = max(sum(cpu.values()) / (os.cpu_count() or 1), max(cpu.values()))
    floor_s = max(t_win, t_cpu)
    stderr = (work / "hdmigrate.stderr").read_text(errors="replace")
    share_before, writes = overlap(tgt_stats["log"], result["steps"])
    speed = {
        "pair": pair.replace("-", "→"), "T_min s": f"{bound['t_min']:.1f}", "bound by": bound["budget"],
        "wall s": f"{result['wall']:.1f}", "wall/T_min": f"{result['wall'] / max(bound['t_min'], 1e-9):.2f}",
        "configured": "none" if args.headers_only else f"{rate:g}",
        "learned src": learned_limits(stderr, source.info["url"]),
        "learned tgt": learned_limits(stderr, target.info["url"]),
        "overlap %": f"{share_before:.0f}" if share_before == share_before else "-", "tgt writes": writes,
        "T_win s": f"{t_win:.1f}", "T_cpu s": f"{t_cpu:.1f}",
        "wall/max": f"{result['wall'] / max(floor_s, 1e-9):.2f}",
        "cpu hdm/src/tgt": "/".join(f"{v:.1f}" for v in cpu.values()),
    }
    row = {
        "_budgets": every, "_speed": speed,
        "pair": pair.replace("-", "→"), "tickets": counts.get("ticket", 0), "comments": counts.get("comment", 0),
        "src req/t": f"{src_total / T:.3f}", "src min": f"{src_min / T:.3f}",
        "tgt req/t": f"{tgt_total / T:.3f}", "tgt min": f"{tgt_min / T:.3f}",
        "×min": f"{max(src_total / src_min, tgt_total / tgt_min):.2f}",
        "binding": binding, "rate %": f"{share:.0f}" if share == share else "-",
        "429 %": f"{100.0 * throttled / max(1, src_total + tgt_total):.2f}",
        "wall s": f"{result['wall']:.1f}", "cpu s": f"{result['cpu']:.1f}",
        "peak MB": f"{result['peak_mb']:.0f}", "exit": result["exit"],
        # not in the table, kept for --json
        "_requests": {"source": src_stats["summary"]["requests"], "target": tgt_stats["summary"]["requests"]},
        "_min": {"source": src_min, "target": tgt_min}, "_counts": staged,
        "_steps": {k: round(v[1] - v[0], 2) for k, v in result["steps"].items()},
        "_created": totals.get("created"), "_failed": totals.get("failed"), "_failures": result["failures"],
        "_handler_errors": src_stats["summary"]["handler_errors"] + tgt_stats["summary"]["handler_errors"],
        "_memory": memory_by_step(work / "memory.jsonl", result["steps"]) if sampled else None,
        "_load_end": _lines(work / "memory.load-end.txt") if sampled and args.load_end else None,
        "_verify": _verify_row(checked),
    }
    return row


# other_anon: anonymous RSS outside glibc's heaps and mmapped blocks: pymalloc's arenas (Python's
# small objects), thread stacks (free heap pages glibc gave back make it an underestimate)
def _verify_row(checked: dict | None) -> dict | None:
    """`hdmigrate verify` after the run (--verify): its exit, time, memory and what it found."""
    if checked is None:
        return None
    report = checked["summary"] or {}
    return {"exit": checked["exit"], "wall s": round(checked["wall"], 1), "cpu s": round(checked["cpu"], 1),
            "peak MB": round(checked["peak_mb"]), "unexplained": (report.get("summary") or {}).get("unexplained"),
            "findings": report.get("findings_total"), "memory": checked.get("memory"),
            "explained": (report.get("summary") or {}).get("explained_by_code") or {}}


MEMORY_FIELDS = ("rss", "rssanon", "rssfile", "rssshmem", "malloc_used", "malloc_free", "malloc_mmap",
                 "other_anon", "sqlite")


def memory_by_step(samples_path: Path, steps: dict) -> list[dict]:
    """Per step, counted from its start to the next step's start (the last one to the exit), the
    sample with the largest RSS, in MB (`py_blocks` and `threads` as counted)."""
    samples = [json.loads(line) for line in samples_path.read_text().splitlines() if line.strip()]
    spans = sorted(steps.items(), key=lambda kv: kv[1][0])
    rows = []
    for i, (name, (start, end)) in enumerate(spans):
        until = spans[i + 1][1][0] if i + 1 < len(spans) else float("inf")
        inside = [s for s in samples if start <= s["t"] < until]
        if inside:
            top = max(inside, key=lambda s: s.get("rss", 0))
            if "malloc_used" in top:   # pymalloc's arenas and thread stacks are mmapped past malloc
                top = {**top, "other_anon": top["rssanon"] - top["malloc_used"] - top["malloc_free"]
                       - top["malloc_mmap"]}
            rows.append({"step": name, "samples": len(inside),
                         **{k: round(top[k] / 2**20, 1) for k in MEMORY_FIELDS if k in top},
                         "py_blocks": top.get("py_blocks"), "threads": top.get("threads")})
    return rows


def print_row(row: dict | None, widths: dict) -> None:
    if row is None:
        print(" | ".join(c.ljust(widths[c]) for c in COLUMNS), flush=True)
        print("-|-".join("-" * widths[c] for c in COLUMNS), flush=True)
        return
    print(" | ".join(str(row[c]).ljust(widths[c]) for c in COLUMNS), flush=True)


SPEED = ("pair", "T_min s", "bound by", "wall s", "wall/T_min", "configured", "learned src", "learned tgt",
         "overlap %", "tgt writes")
MACHINE = ("T_win s", "T_cpu s", "wall/max", "cpu hdm/src/tgt")


def print_speed(row: dict) -> None:
    """Per pair: every budget's T_min, then the run against the largest (issue 16). Lines start
    with "#" so the main table stays one row per pair."""
    print("#   budget               | limit/min | requests | T_min s | T_win s", flush=True)
    for b in row["_budgets"]:
        print(f"#   {b['budget']:<20} | {b['limit']:>9g} | {b['requests']:>8} | {b['t_min']:7.1f} | "
              f"{b['t_win']:7.1f}", flush=True)
    speed = row["_speed"]
    for columns in (SPEED, MACHINE):
        print("#   " + " | ".join(columns), flush=True)
        print("#   " + " | ".join(str(speed[c]) for c in columns), flush=True)
    if row.get("_memory"):
        print("#   memory MB at each step's largest RSS sample: step | samples | " + " | ".join(MEMORY_FIELDS)
              + " | py_blocks | threads", flush=True)
        for m in row["_memory"]:
            print("#   " + " | ".join(str(m.get(k, "-")) for k in ("step", "samples") + MEMORY_FIELDS
                                      + ("py_blocks", "threads")), flush=True)
    for line in row.get("_load_end") or ():
        print(f"#   at the load's end: {line}", flush=True)
    if row.get("_verify"):
        v = row["_verify"]
        print(f"#   hdmigrate verify: exit {v['exit']} | wall {v['wall s']} s | cpu {v['cpu s']} s | "
              f"peak {v['peak MB']} MB | unexplained {v['unexplained']} | findings {v['findings']} | explained "
              + (", ".join(f"{code} {n}" for code, n in sorted(v["explained"].items())) or "-"), flush=True)
        for m in v.get("memory") or ():
            print("#   verify memory: " + " | ".join(str(m.get(k, "-")) for k in ("samples",) + MEMORY_FIELDS
                                                    + ("py_blocks", "threads")), flush=True)
    for failure in row["_failures"]:
        print(f"#   failed: {failure['step']} {failure['kind']} {failure['id']}: {failure['reason']}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tickets", type=int, default=5000, help="tickets at scale 1 (default 5000)")
    ap.add_argument("--comments-per-ticket", type=float, default=10.0)
    ap.add_argument("--scale", default="1", help="comma-separated multiples of --tickets, e.g. 1,4,16")
    ap.add_argument("--pairs", default="zendesk-zendesk,zendesk-freshdesk")
    ap.add_argument("--rate-limit", type=float, default=6000.0,
                    help="account requests per minute of both sandboxes and of the plan (default 6000)")
    ap.add_argument("--workers", type=int, default=4, help="[run] workers (default 4)")
    ap.add_argument("--job-poll", type=float, default=None,
                    help="Zendesk target: first wait between job status polls, seconds (default: "
                         "the adapter's own, 1.0)")
    ap.add_argument("--headers-only", action="store_true",
                    help="no [run] rate_limit in the plan: hdmigrate learns the limits from the sandboxes' headers")
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    ap.add_argument("--trace-memory", metavar="PREFIX",
                    help="run hdmigrate under tracemalloc (slower: not for timing) and write its largest "
                         "allocation sites at its peak to PREFIX.PAIR.TICKETS.txt (with --verify, verify's "
                         "to PREFIX.PAIR.TICKETS.verify.txt)")
    ap.add_argument("--sample-memory", type=float, metavar="SECONDS",
                    help="sample hdmigrate's memory from inside every SECONDS (RSS parts, glibc's heap, "
                         "SQLite's, Python's blocks; cheap, unlike --trace-memory) and print each step's "
                         "largest sample")
    ap.add_argument("--load-end", action="store_true",
                    help="with --sample-memory: at the end of the load step, print pymalloc's totals (arenas "
                         "kept, bytes in use and free in them) and what each of the engine's attributes holds "
                         "(a pause of about a second: not for timing)")
    ap.add_argument("--profile", metavar="PREFIX",
                    help="run hdmigrate under cProfile (its engine's thread; slower: not for timing) and "
                         "write PREFIX.PAIR.TICKETS.txt (the functions with the most CPU) and .pstats")
    ap.add_argument("--verify", action="store_true",
                    help="after each run, `hdmigrate verify` (reads the target back) with its own time and memory")
    ap.add_argument("--json", type=Path, help="also write every row (with details) to this file")
    args = ap.parse_args(argv)
    widths = {c: max(len(c), 9) for c in COLUMNS}
    widths["pair"], widths["binding"] = 19, 22
    print(f"# rate limit {args.rate_limit:g}/min per account, workers {args.workers}, "
          f"{args.comments_per_ticket:g} comments per ticket, {os.cpu_count()} CPUs", flush=True)
    print_row(None, widths)
    rows = []
    for factor in (int(x) for x in args.scale.split(",")):
        for pair in [p.strip() for p in args.pairs.split(",") if p.strip()]:
            work = Path(tempfile.mkdtemp(prefix="hdm-sbx-bench-"))
            try:
                row = run_pair(pair, args.tickets * factor, args, work)
            finally:
                if not args.keep:
                    shutil.rmtree(work, ignore_errors=True)
            rows.append(row)
            print_row(row, widths)
            print_speed(row)
            if args.json:
                args.json.write_text(json.dumps(rows, indent=1, default=str))
    return 0 if all(r["exit"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
