"""`hdmigrate report --format csv`: the source's history per month (for the people who own the
dashboards, to stitch the old system's reporting to the new one's), and with `--ids` the id map
(old id and page → new id and page of every record) as a user-facing artefact."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from . import cx, registry
from .html_report import staged_history

HISTORY_COLUMNS = ("month", "tickets", "first_reply_median_s", "resolution_median_s", "csat_percent",
                   "ratings", "channel_mix")
ID_COLUMNS = ("kind", "source_id", "source_url", "target_id", "target_url", "state")


def history_csv(db_path: Path | None) -> str:
    staged = staged_history(db_path) if db_path else None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HISTORY_COLUMNS)
    for row in cx.monthly(*staged) if staged else []:
        writer.writerow([json.dumps(row[c], ensure_ascii=False, sort_keys=True) if c == "channel_mix"
                         else "" if row[c] is None else row[c] for c in HISTORY_COLUMNS])
    return out.getvalue()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def _cell(value) -> str:
    # A spreadsheet runs a cell that starts like a formula: ids come from the source, so say them as
    # text with a leading "'" (a value that starts with "'" gets one too, so reading strips exactly one).
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in _FORMULA_START else text


def _uncell(text: str) -> str | None:
    if text == "":
        return None
    return text[1:] if text[:1] == "'" and text[1:2] in _FORMULA_START else text


def ids_csv(rows: list[tuple], source_url=None, target_url=None) -> str:
    """The id map, one row per record; `source_url(kind, id)` / `target_url(kind, id)` give a
    record's page in each platform's web UI (None where the platform has none, or the record was
    not written)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ID_COLUMNS)
    for kind, sid, tid, state in sorted(rows, key=lambda r: (r[0], r[1])):
        old = source_url(kind, sid) if source_url else None
        new = target_url(kind, tid) if target_url and tid else None
        writer.writerow([kind, _cell(sid), _cell(old), _cell(tid), _cell(new), state])
    return out.getvalue()


def read_ids_csv(text: str) -> list[tuple[str, str, str | None, str]]:
    """The id map back from its CSV: (kind, source id, target id, state) per row, as
    `Store.id_map_rows` gives them (for a consultant's own tooling, and the round-trip test)."""
    rows = csv.DictReader(io.StringIO(text))
    if tuple(rows.fieldnames or ()) != ID_COLUMNS:
        raise ValueError(f"not an hdmigrate id map: columns {rows.fieldnames}, expected {list(ID_COLUMNS)}")
    return [(r["kind"], _uncell(r["source_id"]) or "", _uncell(r["target_id"]), r["state"]) for r in rows]


def page_finder(plan_data: dict | None, side: str):
    """`(kind, id) -> URL` for one side of the stored plan, from its adapter's `web_pages`; None
    when the plan or the adapter says nothing about pages."""
    section = (plan_data or {}).get(side) or {}
    pages = registry.web_pages(section)
    if pages is None:
        return None
    return lambda kind, vendor_id: pages.url(section, kind, str(vendor_id))
