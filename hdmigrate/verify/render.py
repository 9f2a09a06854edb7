"""The verify report as text and JUnit XML."""

from __future__ import annotations

from collections import defaultdict
from xml.sax.saxutils import escape, quoteattr

from ..canonical import KINDS


def _fmt_seconds(value) -> str:
    if value is None:
        return "–"
    value = float(value)
    if value >= 86400:
        return f"{value / 86400:.1f}d"
    if value >= 3600:
        return f"{value / 3600:.1f}h"
    if value >= 60:
        return f"{value / 60:.1f}m"
    return f"{value:.0f}s"

def _plural(kind: str, n: int) -> str:
    name = kind.replace("_", " ")
    return f"{n} {name}" + ("" if n == 1 else "s")

def headline(report: dict) -> str:
    """One line a consultant can trust: unexplained differences first, then what the report
    names as not in the target (e.g. "25 tickets NOT migrated")."""
    summary = report["summary"]
    parts = []
    if summary["unexplained"]:
        parts.append(f"{summary['unexplained']} unexplained differences")
    by_kind = summary.get("not_migrated_by_kind") or {}
    order = {k: i for i, k in enumerate(KINDS)}
    for code, words in (("record_failed", "NOT migrated (failed; each named with its reason in the run's report)"),
                        ("rolled_back", "rolled back (removed from the target: this is not a migration)")):
        counted = [_plural(k, v[code]) for k, v in sorted(by_kind.items(), key=lambda kv: order.get(kv[0], 99))
                   if v.get(code)]
        if counted:
            parts.append(", ".join(counted) + " " + words)
    if not parts:
        parts.append("no unexplained differences")
    return "; ".join(parts) + f" ({summary['explained']} explained)"

def render_text(report: dict, limit: int = 50) -> str:
    lines = [f"verify: {report['target']} target — {headline(report)}"]
    if report.get("warning"):
        lines.append(f"warning: {report['warning']}")
    cols = ("staged", "migrated", "failed", "rolled_back", "target", "matched", "left_out", "missing",
            "duplicate", "unrecorded", "extra")
    lines.append(f"{'kind':<20}" + "".join(f"{c:>12}" for c in cols))
    for kind, c in report["counts"].items():
        lines.append(f"{kind:<20}" + "".join(f"{c.get(k, 0):>12}" for k in cols))
    t = report["tickets"]
    lines.append(f"tickets checked (comments, public/private, attachment hashes): {t['checked']}, "
                 f"with differences: {t['with_differences']}")
    def section(title: str, found: list[dict], total: int, more: str) -> None:
        if found:
            lines.append(f"\n{title} ({total}):")
            lines.extend("  " + _finding_line(f) for f in found[:limit])
            if len(found) > limit:
                lines.append(f"  … {len(found) - limit} more (see {more})")

    unexplained = [f for f in report["findings"] if _fails(f) and f["problem"] != "not_migrated"]
    section("Unexplained", unexplained, report["summary"]["unexplained"], "--json")
    not_migrated = [f for f in report["findings"] if f["problem"] == "not_migrated"]
    section("NOT migrated", not_migrated, report["summary"].get("not_migrated", len(not_migrated)),
            "--json or `hdmigrate report`")
    if report["summary"]["explained_by_code"]:
        lines.append("\nExplained:")
        for code, n in report["summary"]["explained_by_code"].items():
            lines.append(f"  {code}: {n}")
    m_s, m_t = report["metrics"]["source"], report["metrics"]["target"]
    lines.append(f"\n{'CX metric':<28}{'source':>24}{'target':>24}")
    for key in ("tickets", "comments"):
        lines.append(f"{key:<28}{m_s[key]:>24}{m_t[key]:>24}")
    for key in ("first_reply_time", "resolution_time"):
        for stat in ("median_s", "mean_s"):
            lines.append(f"{key + ' ' + stat[:-2]:<28}{_fmt_seconds(m_s[key][stat]):>24}{_fmt_seconds(m_t[key][stat]):>24}")
    lines.append(f"{'csat (0–100)':<28}{_fmt_number(m_s.get('csat_percent')):>24}{_fmt_number(m_t.get('csat_percent')):>24}")
    for key in ("csat", "channel_mix", "status_mix"):
        for value in sorted(set(m_s[key]) | set(m_t[key])):
            lines.append(f"{key + ' ' + value:<28}{m_s[key].get(value, 0):>24}{m_t[key].get(value, 0):>24}")
    for key, why in (report["metrics"].get("notes") or {}).items():
        lines.append(f"  {key} differs: {why}")
    side = report.get("side_archive")
    if side:
        lines.append(f"\nside archive: {side['path']} ({side['records']} records, {side['blobs']} files)")
    return "\n".join(lines)

def _fmt_number(value) -> str:
    return "–" if value is None else f"{value:g}"

def _fails(f: dict) -> bool:
    """Does this finding keep verify from passing (unexplained, or a record not migrated)?"""
    return f["problem"] == "not_migrated" or (not f["explained"] and f["problem"] != "extra")

def _finding_line(f: dict) -> str:
    where = f"{f['kind']} {f['id']}" + (f" (target {f['target_id']})" if f.get("target_id") else "")
    if f["problem"] == "differs":
        text = f"{where} {f['field']}: source {f.get('source')!r} ≠ target {f.get('target')!r}"
    else:
        text = f"{where}: {f['problem']}"
    if f.get("detail"):
        text += f" — {f['detail']}"
    if f.get("code"):
        text += f" [{f['code']}]"
    return text

def render_junit(report: dict) -> str:
    """JUnit XML: a case per kind (counts) and a failing case per record with unexplained
    differences, so CI can gate a cutover on it."""
    per_record: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for f in report["findings"]:
        if _fails(f):
            per_record[(f["kind"], f["id"])].append(f)
    cases = []
    for kind, c in report["counts"].items():
        cases.append(f'  <testcase classname="hdmigrate.verify.counts" name={quoteattr(kind)}>'
                     f'<system-out>{escape(repr(c))}</system-out></testcase>')
    for (kind, rid), fs in per_record.items():
        message = "; ".join(_finding_line(f) for f in fs)
        cases.append(f'  <testcase classname={quoteattr("hdmigrate.verify." + kind)} name={quoteattr(f"{kind} {rid}")}>\n'
                     f'    <failure message={quoteattr(message[:500])}>{escape(message)}</failure>\n'
                     f'  </testcase>')
    hidden = (report["summary"]["unexplained"] + report["summary"].get("not_migrated", 0)
              - sum(len(v) for v in per_record.values()))
    if hidden > 0:
        cases.append(f'  <testcase classname="hdmigrate.verify" name="more differences">\n'
                     f'    <failure message="{hidden} more unexplained differences (see --json)"/>\n  </testcase>')
    failures = len(per_record) + (1 if hidden > 0 else 0)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<testsuite name="hdmigrate.verify" tests="{len(cases)}" failures="{failures}" errors="0">\n'
            + "\n".join(cases) + "\n</testsuite>\n")
