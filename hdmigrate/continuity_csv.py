"""`hdmigrate report --format csv`: the source's history per month (for the people who own the
dashboards, to stitch the old system's reporting to the new one's), and with `--ids` the id map
(old id → new id of every record) as a user-facing artefact."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from . import cx
from .html_report import staged_history

HISTORY_COLUMNS = ("month", "tickets", "first_reply_median_s", "resolution_median_s", "csat_percent",
                   "ratings", "channel_mix")
ID_COLUMNS = ("kind", "source_id", "target_id", "state")


def history_csv(db_path: Path | None) -> str:
    staged = staged_history(db_path) if db_path else None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HISTORY_COLUMNS)
    for row in cx.monthly(*staged) if staged else []:
        writer.writerow([json.dumps(row[c], ensure_ascii=False, sort_keys=True) if c == "channel_mix"
                         else "" if row[c] is None else row[c] for c in HISTORY_COLUMNS])
    return out.getvalue()


def _cell(value) -> str:
    # A spreadsheet runs a cell that starts like a formula: ids come from the source, so say them as text.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def ids_csv(rows: list[tuple]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ID_COLUMNS)
    for kind, sid, tid, state in sorted(rows, key=lambda r: (r[0], r[1])):
        writer.writerow([kind, _cell(sid), _cell(tid), state])
    return out.getvalue()
