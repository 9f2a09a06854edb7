"""The summary of a batch, the same for every executor: a table (rich on a terminal, plain text
otherwise), a JSON document and a CSV file, one row per plan (records per kind, failures,
degradations, duration, and for a distributed batch the worker each plan ran on)."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from .printable import printable
from .private_files import write_private_text

COUNT_KEYS = ("created", "updated", "unchanged", "failed", "degraded")
KIND_LABELS = {"custom_field": "fields", "organization": "orgs", "group": "groups", "agent": "agents",
               "contact": "contacts", "ticket": "tickets", "comment": "comments",
               "attachment": "attachments", "satisfaction_rating": "ratings"}
KIND_ORDER = tuple(KIND_LABELS)


def totals_of(kinds: dict) -> dict:
    out = dict.fromkeys(COUNT_KEYS, 0)
    for c in kinds.values():
        for k in COUNT_KEYS:
            out[k] += int(c.get(k, 0) or 0)
    return out


def records_of(counts: dict) -> int:
    """Records a plan accounts for in the target for one kind: written now or already there."""
    return (int(counts.get("created", 0)) + int(counts.get("matched", 0)) + int(counts.get("updated", 0))
            + int(counts.get("unchanged", 0)))


def batch_exit_code(jobs: list, interrupted: bool) -> int:
    codes = [j.exit_code for j in jobs if j.exit_code is not None]
    code = max(codes) if codes else 0
    if interrupted or any(j.exit_code is None for j in jobs):
        code = max(code, 4)
    return code


def summary_doc(jobs: list, code: int, state_dir: Path, interrupted: bool, executor: str = "local") -> dict:
    kinds: dict[str, dict] = {}
    for j in jobs:
        for kind, c in (j.kinds or {}).items():
            bucket = kinds.setdefault(kind, dict.fromkeys(COUNT_KEYS, 0))
            for k in COUNT_KEYS:
                bucket[k] += int(c.get(k, 0) or 0)
    kinds = {k: kinds[k] for k in sorted(kinds, key=lambda k: KIND_ORDER.index(k) if k in KIND_ORDER else 99)}
    return {"plans": [j.row() for j in jobs], "kinds": kinds, "totals": totals_of(kinds),
            "exit_code": code, "interrupted": interrupted, "state_dir": str(state_dir), "executor": executor,
            "count": {"plans": len(jobs), "ok": sum(j.exit_code == 0 for j in jobs),
                      "failed": sum(j.exit_code not in (0, None) for j in jobs),
                      "not_run": sum(j.exit_code is None for j in jobs)}}


def _kinds_in(jobs: list) -> list[str]:
    present = {k for j in jobs for k in (j.kinds or {})}
    return [k for k in KIND_ORDER if k in present] + sorted(present - set(KIND_ORDER))


def _with_worker(jobs: list) -> bool:
    """A worker column only when plans ran on workers (the local table stays as it was)."""
    return any(j.worker for j in jobs)


def table_rows(jobs: list) -> tuple[list[str], list[list[str]]]:
    kinds = _kinds_in(jobs)
    worker = _with_worker(jobs)
    header = (["plan", "platforms", "status", "exit"] + [KIND_LABELS.get(k, k) for k in kinds]
              + ["failed", "degraded", "duration"] + (["worker"] if worker else []))
    rows = []
    for j in jobs:
        t = j.totals or totals_of(j.kinds)
        status = j.status + (" (earlier)" if j.skipped else "")
        rows.append([j.name, f"{j.source or '?'} → {j.target or '?'}", status,
                     "" if j.exit_code is None else str(j.exit_code)]
                    + [str(records_of(j.kinds[k])) if k in (j.kinds or {}) else "" for k in kinds]
                    + [str(t.get("failed", 0)), str(t.get("degraded", 0)),
                       "" if j.duration_s is None else f"{j.duration_s:.1f} s"]
                    + ([j.worker or ""] if worker else []))
    return header, rows


def render_plain_table(jobs: list) -> str:
    header, rows = table_rows(jobs)
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i]) for i in range(len(header))]
    left = {0, 1, 2} | ({len(header) - 1} if _with_worker(jobs) else set())

    def fmt(cells):
        return "  ".join(c.ljust(widths[i]) if i in left else c.rjust(widths[i]) for i, c in enumerate(cells)).rstrip()

    lines = [fmt(header), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows]
    errors = [f"  {j.name}: {j.error}" for j in jobs if j.error]
    if errors:
        lines += ["", "errors:"] + errors
    return "\n".join(lines)


def print_table(jobs: list, code: int, state_dir: Path) -> None:
    footer = (f"records = created + updated + unchanged per kind; batch exit code {code}; "
              f"state, logs and reports in {state_dir}")
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        header, rows = table_rows(jobs)
        table = Table(title="hdmigrate batch", caption=footer)
        for i, h in enumerate(header):
            table.add_column(h, justify="left" if i < 3 or h == "worker" else "right", no_wrap=i < 2)
        for j, r in zip(jobs, rows):
            style = None if j.exit_code == 0 else ("yellow" if j.exit_code == 1 else "red")
            table.add_row(*r, style=style)
        console = Console()
        console.print(table)
        for j in jobs:
            if j.error:
                console.print(f"  {j.name}: {j.error}", markup=False, highlight=False)
    else:
        sys.stdout.write(printable(render_plain_table(jobs)) + "\n" + footer + "\n")
        sys.stdout.flush()


def write_csv(jobs: list, path: Path) -> None:
    kinds = _kinds_in(jobs)
    worker = _with_worker(jobs)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["plan", "name", "source", "target", "status", "exit_code"]
               + [f"{k}_{c}" for k in kinds for c in ("records",) + COUNT_KEYS]
               + ["failed", "degraded", "duration_s", "workdir", "error"] + (["worker"] if worker else []))
    for j in jobs:
        t = j.totals or totals_of(j.kinds)
        cells = [str(j.path), j.name, j.source, j.target, j.status, "" if j.exit_code is None else j.exit_code]
        for k in kinds:
            c = (j.kinds or {}).get(k)
            cells += ([records_of(c)] + [int(c.get(x, 0)) for x in COUNT_KEYS]) if c else [""] * (1 + len(COUNT_KEYS))
        cells += [t.get("failed", 0), t.get("degraded", 0),
                  "" if j.duration_s is None else round(j.duration_s, 3), str(j.workdir or ""), j.error or ""]
        if worker:
            cells.append(j.worker or "")
        w.writerow(cells)
    write_private_text(path, buf.getvalue())
