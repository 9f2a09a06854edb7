"""`hdmigrate report --format html`: one self-contained HTML page a consultant hands to a client.

No external assets and no JavaScript: inline CSS, charts as inline SVG. Every value from the run
(ticket ids, failure reasons, degradation details, plan values) is HTML-escaped, since helpdesk
data holds markup (`<script>` included). Numbers are carried in elements with `id` or `data-*`
attributes (`data-kind`/`data-count`, `data-total`, `data-metric`/`data-side`) so tools and tests
can read them back and compare them with `report --format json`.

CX metrics: taken from the verify report (`doc["verify"]["metrics"]`, source and target side by
side) when `hdmigrate verify` has run; otherwise the source side is computed here from the
staging database (read-only) and the target column says to run `verify`.
"""

from __future__ import annotations

import html
import json
import re
import sqlite3
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from . import cx
from .times import parse as parse_time
from .store import StagingReader

COUNT_KEYS = ("created", "updated", "unchanged", "failed", "degraded")
KIND_ORDER = ("custom_field", "organization", "group", "agent", "contact", "ticket", "comment",
              "attachment", "satisfaction_rating")
COLORS = {"created": "#2f7d32", "updated": "#1565c0", "unchanged": "#90a4ae", "failed": "#c62828",
          "degraded": "#ef6c00", "source": "#5c6bc0", "target": "#26a69a"}
MAX_ROWS = 500


def e(value) -> str:
    """Escape any value for HTML text and attribute positions."""
    if value is None:
        return ""
    return html.escape(str(value), quote=True)


# -- CX metrics from staging ------------------------------------------------------------------

def staged_history(db_path: Path) -> tuple[list, list, list, set] | None:
    """The staged (source) tickets, comments, ratings and agent ids, read without writing to the
    database; None when there is none."""
    if not db_path.is_file():
        return None
    try:
        conn = StagingReader(db_path)
    except sqlite3.Error:
        return None
    try:
        return (list(conn.records("ticket")), list(conn.records("comment")),
                list(conn.records("satisfaction_rating")), {str(r["id"]) for r in conn.records("agent")})
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def source_metrics(db_path: Path) -> dict | None:
    """CX metrics over the staged (source) records (hdmigrate.cx, as verify computes them)."""
    staged = staged_history(db_path)
    return cx.metrics(*staged) if staged and staged[0] else None


def _stored_plan(db_path: Path) -> dict | None:
    if not db_path.is_file():
        return None
    try:
        conn = StagingReader(db_path)
        try:
            row = conn.state_row("plan")
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return json.loads(row[0]) if row else None


# -- SVG charts -------------------------------------------------------------------------------

def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.1f}"
    return str(int(v)) if isinstance(v, float) else str(v)


def bar_chart(chart_id: str, title: str, labels: list[str], series: list[tuple[str, list], ],
              *, stacked: bool = False, unit: str = "") -> str:
    """A horizontal bar chart as inline SVG: one row per label, one bar per series (or one
    stacked bar). Values are drawn as text too, so the chart reads without colour."""
    if not labels:
        return f'<p class="muted" id="{e(chart_id)}-empty">{e(title)}: nothing to show.</p>'
    label_w, bar_w, row_h = 210, 420, (22 if stacked else 14 * len(series) + 8)
    values = [[(v or 0) for v in vals] for _, vals in series]
    if stacked:
        peak = max((sum(col) for col in zip(*values)), default=0)
    else:
        peak = max((v for vals in values for v in vals), default=0)
    peak = peak or 1
    height = 28 + row_h * len(labels) + 26
    out = [f'<svg id="{e(chart_id)}" class="chart" role="img" aria-label="{e(title)}" '
           f'xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 90}" height="{height}" '
           f'viewBox="0 0 {label_w + bar_w + 90} {height}">',
           f'<title>{e(title)}</title>',
           f'<text x="0" y="16" class="ct">{e(title)}</text>']
    y = 28
    for i, label in enumerate(labels):
        short = label if len(label) <= 34 else label[:33] + "…"
        out.append(f'<text x="{label_w - 8}" y="{y + row_h / 2 + 4:.0f}" text-anchor="end" class="cl">'
                   f'<title>{e(label)}</title>{e(short)}</text>')
        if stacked:
            x = label_w
            for (name, _), vals in zip(series, values):
                w = bar_w * vals[i] / peak
                if w > 0:
                    out.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
                               f'fill="{COLORS.get(name, "#777")}"><title>{e(label)} {e(name)}: {e(_fmt(vals[i]))}</title></rect>')
                x += w
            total = sum(vals[i] for vals in values)
            out.append(f'<text x="{x + 6:.1f}" y="{y + row_h / 2 + 4:.0f}" class="cv">{e(_fmt(total))}{e(unit)}</text>')
        else:
            for j, ((name, _), vals) in enumerate(zip(series, values)):
                w = bar_w * vals[i] / peak
                by = y + 4 + j * 14
                out.append(f'<rect x="{label_w}" y="{by}" width="{max(w, 0.5):.1f}" height="12" '
                           f'fill="{COLORS.get(name, ["#5c6bc0", "#26a69a", "#8d6e63"][j % 3])}">'
                           f'<title>{e(label)} {e(name)}: {e(_fmt(series[j][1][i]))}</title></rect>')
                out.append(f'<text x="{label_w + w + 6:.1f}" y="{by + 10}" class="cv">{e(_fmt(series[j][1][i]))}{e(unit)}</text>')
        y += row_h
    lx = label_w
    for name, _ in series:
        out.append(f'<rect x="{lx}" y="{y + 8}" width="10" height="10" fill="{COLORS.get(name, "#777")}"/>'
                   f'<text x="{lx + 14}" y="{y + 17}" class="cl">{e(name)}</text>')
        lx += 24 + 8 * len(name)
    out.append("</svg>")
    return "".join(out)


# -- sections ---------------------------------------------------------------------------------

def _reason_group(reason: str) -> str:
    """Failures grouped by what went wrong, not by which record: ids, numbers and quoted values
    are replaced by placeholders."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", reason or "")
    text = re.sub(r"\b[\w.-]*\d[\w.-]*\b", "#", text)
    return text[:160]


def _kinds(summary: dict) -> dict:
    kinds = summary.get("kinds") or {}
    order = [k for k in KIND_ORDER if k in kinds] + sorted(set(kinds) - set(KIND_ORDER))
    return {k: kinds[k] for k in order}


def _duration(run: dict) -> str:
    a, b = parse_time(run.get("started_at")), parse_time(run.get("finished_at"))
    if not a or not b:
        return "–"
    s = (b - a).total_seconds()
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def _seconds(v) -> str:
    if v is None:
        return "–"
    v = float(v)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if v >= size:
            return f"{v / size:.1f} {unit}"
    return f"{v:.0f} s"


def _counts_section(summary: dict) -> str:
    kinds = _kinds(summary)
    totals = summary.get("totals") or {k: sum(int(c.get(k, 0)) for c in kinds.values()) for k in COUNT_KEYS}
    cards = "".join(
        f'<div class="card {k}"><div class="big" id="total-{k}" data-total="{k}" data-value="{e(totals.get(k, 0))}">'
        f'{e(totals.get(k, 0))}</div><div>{e(k)}</div></div>' for k in COUNT_KEYS)
    rows = []
    for kind, c in kinds.items():
        cells = "".join(f'<td class="n" data-kind="{e(kind)}" data-count="{k}">{e(c.get(k, 0))}</td>' for k in COUNT_KEYS)
        rows.append(f'<tr data-kind-row="{e(kind)}"><th scope="row">{e(kind)}</th>{cells}</tr>')
    table = ("<table class=\"grid\" id=\"counts\"><thead><tr><th>kind</th>"
             + "".join(f"<th>{k}</th>" for k in COUNT_KEYS) + "</tr></thead><tbody>"
             + "".join(rows) + "</tbody></table>") if rows else '<p class="muted">No records counted.</p>'
    chart = bar_chart("chart-counts", "Records per kind", list(kinds),
                      [(k, [int(c.get(k, 0)) for c in kinds.values()]) for k in ("created", "updated", "unchanged", "failed")],
                      stacked=True)
    return f'<section id="counts-section"><h2>Counts per kind</h2><div class="cards">{cards}</div>{table}{chart}</section>'


def _failures_section(failures: list[dict]) -> str:
    groups = Counter((f.get("step") or "", _reason_group(f.get("reason") or "")) for f in failures)
    ordered = groups.most_common()
    head = (f'<h2>Failures <span class="pill" id="failures-count" data-value="{len(failures)}">{len(failures)}</span></h2>')
    if not failures:
        return f'<section id="failures-section">{head}<p class="ok">No record failed.</p></section>'
    group_rows = "".join(
        f'<tr data-failure-group="{i}"><td>{e(step)}</td><td>{e(reason)}</td><td class="n" data-count="failures">{n}</td></tr>'
        for i, ((step, reason), n) in enumerate(ordered))
    chart = bar_chart("chart-failures", "Failures by reason", [f"{s}: {r}" for (s, r), _ in ordered[:15]],
                      [("failed", [n for _, n in ordered[:15]])])
    by_kind = Counter(f.get("kind") for f in failures)
    kind_cells = "".join(f'<li>{e(k)}: <b data-failed-kind="{e(k)}">{n}</b></li>' for k, n in sorted(by_kind.items()))
    rows = "".join(
        f'<tr><td>{e(f.get("kind"))}</td><td class="id">{e(f.get("id"))}</td><td>{e(f.get("step"))}</td>'
        f'<td>{e(f.get("field"))}</td><td>{e(f.get("reason"))}</td></tr>' for f in failures[:MAX_ROWS])
    more = (f'<p class="muted">… {len(failures) - MAX_ROWS} more failures: see <code>hdmigrate report --format json</code>.</p>'
            if len(failures) > MAX_ROWS else "")
    return (f'<section id="failures-section">{head}<ul class="inline">{kind_cells}</ul>{chart}'
            f'<h3>By reason</h3><table class="grid"><thead><tr><th>step</th><th>reason</th><th>records</th></tr></thead>'
            f'<tbody>{group_rows}</tbody></table>'
            f'<h3>Every failed record</h3><table class="grid" id="failures"><thead><tr><th>kind</th><th>id</th><th>step</th>'
            f'<th>field</th><th>reason</th></tr></thead><tbody>{rows}</tbody></table>{more}</section>')


def _source_section(summary: dict) -> str:
    """What the source said about how it read: records it left out on purpose (e.g. Freshdesk's
    spam and trash), ranges it probed. The same lines as `report`'s "source:" lines."""
    notes = [info["summary"] for info in (summary.get("source_info") or {}).values()
             if isinstance(info, dict) and info.get("summary")]
    if not notes:
        return ""
    items = "".join(f"<li>{e(n)}</li>" for n in notes)
    return f'<section id="source-section"><h2>How the source was read</h2><ul id="source-notes">{items}</ul></section>'


def _degradations_section(degradations: list[dict]) -> str:
    n_records = len({(d.get("kind"), d.get("id")) for d in degradations})
    head = (f'<h2>Degradations <span class="pill" id="degradations-count" data-value="{len(degradations)}">'
            f'{len(degradations)}</span> <small>on <span id="degraded-records" data-value="{n_records}">{n_records}</span>'
            f' records</small></h2>')
    if not degradations:
        return f'<section id="degradations-section">{head}<p class="ok">Nothing was degraded.</p></section>'
    by_code = Counter(d.get("code") for d in degradations).most_common()
    chart = bar_chart("chart-degradations", "Degradations by code", [str(c) for c, _ in by_code],
                      [("degraded", [n for _, n in by_code])])
    code_rows = "".join(f'<tr><td>{e(code)}</td><td class="n" data-degradation-code="{e(code)}">{n}</td></tr>'
                        for code, n in by_code)
    rows = "".join(
        f'<tr><td>{e(d.get("kind"))}</td><td class="id">{e(d.get("id"))}</td><td>{e(d.get("field"))}</td>'
        f'<td>{e(d.get("code"))}</td><td>{e(d.get("detail"))}</td></tr>' for d in degradations[:MAX_ROWS])
    more = (f'<p class="muted">… {len(degradations) - MAX_ROWS} more: see <code>hdmigrate report --format json</code>.</p>'
            if len(degradations) > MAX_ROWS else "")
    return (f'<section id="degradations-section">{head}<p>Degraded records were written; each line says what the '
            f'target could not hold. The staging database keeps every original.</p>{chart}'
            f'<table class="grid"><thead><tr><th>code</th><th>records</th></tr></thead><tbody>{code_rows}</tbody></table>'
            f'<h3>Details</h3><table class="grid" id="degradations"><thead><tr><th>kind</th><th>id</th><th>field</th>'
            f'<th>code</th><th>detail</th></tr></thead><tbody>{rows}</tbody></table>{more}</section>')


def _metric_cell(side: str, key: str, value, text: str | None = None) -> str:
    shown = text if text is not None else _fmt(value)
    return (f'<td class="n" data-metric="{e(key)}" data-side="{e(side)}" data-value="{e("" if value is None else value)}">'
            f'{e(shown)}</td>')


def _cx_section(doc: dict, workdir: Path | None) -> str:
    verify = doc.get("verify") or {}
    metrics = verify.get("metrics") if isinstance(verify, dict) else None
    origin = "verify"
    if not (isinstance(metrics, dict) and metrics.get("source")):
        computed = source_metrics(workdir / "staging.db") if workdir else None
        metrics = {"source": computed, "target": None} if computed else None
        origin = "staging"
    head = "<h2>Customer-experience metrics, before and after</h2>"
    if not metrics:
        return f'<section id="cx-section">{head}<p class="muted">No staged records to measure.</p></section>'
    src, tgt = metrics.get("source") or {}, metrics.get("target")
    sides = [("source", src)] + ([("target", tgt)] if tgt else [])
    note = ("Both sides measured by <code>hdmigrate verify</code> over the migrated records."
            if origin == "verify" and tgt else
            "Source side computed from the staging database. Run <code>hdmigrate verify</code> to measure the "
            "target read back, side by side.")
    rows = []
    for key in ("tickets", "comments"):
        rows.append(f"<tr><th scope=row>{key}</th>" + "".join(_metric_cell(s, key, m.get(key)) for s, m in sides) + "</tr>")
    for key in ("first_reply_time", "resolution_time"):
        for stat in ("median_s", "mean_s", "n"):
            label = f"{key.replace('_', ' ')} ({stat.replace('_s', '')})"
            cells = "".join(_metric_cell(s, f"{key}.{stat}", (m.get(key) or {}).get(stat),
                                         None if stat == "n" else _seconds((m.get(key) or {}).get(stat)))
                            for s, m in sides)
            rows.append(f"<tr><th scope=row>{e(label)}</th>{cells}</tr>")
    charts = [bar_chart("chart-cx-times", "Median times (hours)", ["first reply", "resolution"],
                        [(s, [None if (m.get(k) or {}).get("median_s") is None else round(m[k]["median_s"] / 3600, 1)
                              for k in ("first_reply_time", "resolution_time")]) for s, m in sides])]
    for key, title in (("csat", "CSAT distribution"), ("channel_mix", "Channel mix"), ("status_mix", "Status mix")):
        labels = sorted(set().union(*[set((m.get(key) or {})) for _, m in sides]))
        charts.append(bar_chart(f"chart-cx-{key}", title, labels,
                                [(s, [(m.get(key) or {}).get(lab, 0) for lab in labels]) for s, m in sides]))
        for lab in labels:
            cells = "".join(_metric_cell(s, f"{key}.{lab}", (m.get(key) or {}).get(lab, 0)) for s, m in sides)
            rows.append(f"<tr><th scope=row>{e(key.replace('_', ' '))}: {e(lab)}</th>{cells}</tr>")
    table = ('<table class="grid" id="cx"><thead><tr><th>metric</th>'
             + "".join(f"<th>{s}</th>" for s, _ in sides) + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    return (f'<section id="cx-section" data-origin="{origin}">{head}<p>{note}</p>'
            f'<div class="charts">{"".join(charts)}</div>{table}</section>')


def _continuity_section(workdir: Path | None) -> str:
    """The source's history per month (staging), for the people who own the dashboards: to
    stitch the old system's reporting to the new one's. `report --format csv` gives the same rows."""
    head = "<h2>Continuity: the history per month</h2>"
    staged = staged_history(workdir / "staging.db") if workdir else None
    rows = cx.monthly(*staged) if staged else []
    if not rows:
        return f'<section id="continuity-section">{head}<p class="muted">No staged tickets to measure.</p></section>'
    months = [r["month"] for r in rows]
    charts = [bar_chart("chart-continuity-tickets", "Tickets opened per month", months,
                        [("tickets", [r["tickets"] for r in rows])]),
              bar_chart("chart-continuity-times", "Median first reply and resolution per month (hours)", months,
                        [("first reply", [_hours(r["first_reply_median_s"]) for r in rows]),
                         ("resolution", [_hours(r["resolution_median_s"]) for r in rows])])]
    body = []
    for r in rows:
        mix = ", ".join(f"{k} {v}" for k, v in r["channel_mix"].items())
        cells = [("tickets", r["tickets"], None), ("first_reply_median_s", r["first_reply_median_s"], _seconds(r["first_reply_median_s"])),
                 ("resolution_median_s", r["resolution_median_s"], _seconds(r["resolution_median_s"])),
                 ("csat_percent", r["csat_percent"], None), ("ratings", r["ratings"], None)]
        body.append(f'<tr data-month="{e(r["month"])}"><th scope=row>{e(r["month"])}</th>'
                    + "".join(_metric_cell("source", f"{r['month']}.{key}", value, text) for key, value, text in cells)
                    + f"<td>{e(mix)}</td></tr>")
    table = ('<table class="grid" id="continuity"><thead><tr><th>month</th><th>tickets</th><th>first reply (median)</th>'
             '<th>resolution (median)</th><th>CSAT (0–100)</th><th>ratings</th><th>channel mix</th></tr></thead>'
             f'<tbody>{"".join(body)}</tbody></table>')
    note = ("Computed from the staging database by the month each ticket was opened (UTC), the same way "
            "<code>hdmigrate verify</code> measures both sides; CSAT on one 0–100 scale. "
            "<code>hdmigrate report --format csv</code> gives these rows for a spreadsheet.")
    return (f'<section id="continuity-section">{head}<p>{note}</p><div class="charts">{"".join(charts)}</div>'
            f'{table}</section>')


def _hours(seconds) -> float | None:
    return None if seconds is None else round(seconds / 3600, 1)


def _verify_section(verify) -> str:
    if not isinstance(verify, dict) or "summary" not in verify:
        return ""
    s = verify.get("summary") or {}
    ok = verify.get("ok")
    rows = "".join(f"<tr><td>{e(k)}</td><td class=n>{e(v)}</td></tr>"
                   for k, v in (s.get("unexplained_by_problem") or {}).items())
    return (f'<section id="verify-section"><h2>Verification (target read back)</h2>'
            f'<p class="{"ok" if ok else "bad"}">'
            f'<span id="verify-unexplained" data-value="{e(s.get("unexplained", 0))}">{e(s.get("unexplained", 0))}</span> '
            f'unexplained differences, <span id="verify-explained" data-value="{e(s.get("explained", 0))}">'
            f'{e(s.get("explained", 0))}</span> explained by recorded degradations or target capabilities.</p>'
            + (f'<table class="grid"><thead><tr><th>unexplained</th><th>n</th></tr></thead><tbody>{rows}</tbody></table>'
               if rows else "") + "</section>")


def _plan_section(plan) -> str:
    head = "<h2>The plan used</h2>"
    if not plan:
        return (f'<section id="plan-section">{head}<p class="muted">No plan recorded in this work directory.</p></section>')
    data = plan.get("data", plan) if isinstance(plan, dict) else plan
    path = plan.get("path") if isinstance(plan, dict) else None
    try:
        import tomli_w
        text = tomli_w.dumps(data)
    except Exception:  # noqa: BLE001 - values TOML cannot hold: show JSON instead
        text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return (f'<section id="plan-section">{head}'
            + (f'<p>File: <code>{e(path)}</code></p>' if path else "")
            + '<p class="muted">Plans hold names of environment variables, never secrets.</p>'
            f'<pre id="plan">{e(text)}</pre></section>')


def _runs_section(doc: dict) -> str:
    """Every run of the work directory (the one shown marked), and the migration runs added up."""
    runs, shown = doc.get("runs") or [], (doc.get("run") or {}).get("id")
    if len(runs) < 2:
        return ""
    rows = "".join(
        f'<tr data-run="{e(r["id"])}"{" class=shown" if r["id"] == shown else ""}><td>{e(r["id"])}'
        f'{" (shown)" if r["id"] == shown else ""}</td><td>{"dry run" if r["dry_run"] else "migration"}</td>'
        f'<td>{e(r["status"])}</td><td class="n">{e(r["exit_code"])}</td><td>{e(r["started_at"])}</td>'
        f'<td>{e(r.get("since") or "")}</td></tr>' for r in runs)
    out = (f'<section id="runs-section"><h2>Runs in this work directory</h2><p class="muted">Another run: '
           f'<code>hdmigrate report --run N</code>.</p><table class="grid"><thead><tr><th>run</th><th>kind</th>'
           f'<th>status</th><th>exit code</th><th>started</th><th>since</th></tr></thead><tbody>{rows}</tbody></table>')
    cum = doc.get("cumulative")
    if cum and len(cum["runs"]) > 1:
        keys = ("created", "matched", "updated", "failed", "degraded", "rolled_back")
        label = {"failed": "still failed", "rolled_back": "rolled back"}
        body = "".join(
            f'<tr><th scope="row">{e(kind)}</th>' + "".join(
                f'<td class="n" data-cumulative-kind="{e(kind)}" data-cumulative="{k}">{e(c.get(k, 0))}</td>' for k in keys)
            + "</tr>" for kind, c in _kinds({"kinds": cum["kinds"]}).items())
        out += (f'<h3>All migration runs together (runs {e(", ".join(map(str, cum["runs"])))})</h3>'
                f'<table class="grid" id="cumulative"><thead><tr><th>kind</th>'
                + "".join(f"<th>{label.get(k, k)}</th>" for k in keys) + f"</tr></thead><tbody>{body}</tbody></table>")
    return out + "</section>"


def _steps_section(steps: list[dict]) -> str:
    if not steps:
        return ""
    rows = "".join(f'<tr><td>{e(s.get("step"))}</td><td>{e(s.get("status"))}</td><td>{e(s.get("started_at"))}</td>'
                   f'<td>{e(s.get("finished_at"))}</td></tr>' for s in steps)
    return (f'<section id="steps-section"><h2>Steps</h2><table class="grid"><thead><tr><th>step</th><th>status</th>'
            f'<th>started</th><th>finished</th></tr></thead><tbody>{rows}</tbody></table></section>')


CSS = """
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;
color:#1d2327;margin:0;background:#f5f6f8}main{max-width:1100px;margin:0 auto;padding:24px}
header{background:#263238;color:#fff;padding:20px 24px}header h1{margin:0 0 4px;font-size:22px}
header .meta{opacity:.85}section{background:#fff;border-radius:8px;padding:16px 20px;margin:16px 0;
box-shadow:0 1px 2px rgba(0,0,0,.08)}h2{margin:0 0 12px;font-size:18px}h3{font-size:15px;margin:16px 0 8px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:12px}.card{flex:1;min-width:120px;border-radius:6px;
padding:10px 14px;background:#eceff1;border-left:5px solid #90a4ae}.card .big{font-size:26px;font-weight:700}
.card.created{border-color:#2f7d32}.card.updated{border-color:#1565c0}.card.failed{border-color:#c62828}
.card.degraded{border-color:#ef6c00}table.grid{border-collapse:collapse;width:100%;margin:8px 0}
.grid th,.grid td{border-bottom:1px solid #e0e0e0;padding:4px 8px;text-align:left;vertical-align:top}
.grid td.n{text-align:right;font-variant-numeric:tabular-nums}.grid td.id{font-family:ui-monospace,monospace}
.grid thead th{background:#f0f2f4}.muted{color:#607d8b}.ok{color:#2f7d32}.bad{color:#c62828}
.pill{background:#eceff1;border-radius:10px;padding:0 8px;font-size:14px}pre{background:#f0f2f4;padding:12px;
overflow:auto;border-radius:6px}svg.chart{display:block;margin:12px 0;max-width:100%;height:auto}
svg .ct{font-weight:700;font-size:13px}svg .cl,svg .cv{font-size:11px;fill:#37474f}
ul.inline{list-style:none;padding:0;display:flex;gap:16px;flex-wrap:wrap}.status-ok{color:#a5d6a7}
.status-bad{color:#ffab91}td,th{word-break:break-word}
"""


def render_html(doc: dict) -> str:
    """The whole report as one HTML document (a string)."""
    run = doc.get("run") or {}
    summary = doc.get("summary") or {}
    workdir = Path(summary["workdir"]) if summary.get("workdir") else None
    plan = doc.get("plan") or (_stored_plan(workdir / "staging.db") if workdir else None)
    plan_data = (plan.get("data", plan) if isinstance(plan, dict) else None) or {}
    src = (plan_data.get("source") or {}).get("adapter", "source")
    tgt = (plan_data.get("target") or {}).get("adapter", "target")
    code = run.get("exit_code", summary.get("exit_code"))
    status_class = "status-ok" if code == 0 else "status-bad"
    kind_of_run = "dry run (nothing written)" if run.get("dry_run") else "migration"
    body = []
    if not run:
        body.append('<section><p>No run yet in this work directory.</p></section>')
    else:
        if summary.get("error"):
            body.append(f'<section class="bad" id="run-error"><h2>The run stopped</h2><p>{e(summary["error"])}</p></section>')
        body.append(_counts_section(summary))
        body.append(_runs_section(doc))
        body.append(_failures_section(doc.get("failures") or []))
        body.append(_source_section(summary))
        body.append(_degradations_section(doc.get("degradations") or []))
        body.append(_verify_section(doc.get("verify")))
        body.append(_cx_section(doc, workdir))
        body.append(_continuity_section(workdir))
        body.append(_steps_section(doc.get("steps") or []))
        body.append(_plan_section(plan))
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="hdmigrate">
<title>Migration report: {e(src)} → {e(tgt)}</title>
<style>{CSS}</style></head>
<body>
<header><h1>Migration report: {e(src)} → {e(tgt)}</h1>
<div class="meta">{e(kind_of_run)} · run <span id="run-id" data-value="{e(run.get('id'))}">{e(run.get('id'))}</span>
 · status <span id="run-status" class="{status_class}">{e(run.get('status'))}</span>
 · exit code <span id="exit-code" class="{status_class}" data-value="{e(code)}">{e(code)}</span>
 · {e(run.get('started_at'))} → {e(run.get('finished_at') or '…')} ({e(_duration(run))})
 {f"· delta since {e(run.get('since'))}" if run.get('since') else ""}</div></header>
<main>
{"".join(body)}
<p class="muted">Generated by hdmigrate on {e(generated)}. Self-contained: no scripts, no external files.</p>
</main></body></html>
"""
