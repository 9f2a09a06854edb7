"""The continuity report (issue 18 item 3) and the id map as a CSV (item 4, ids part): the history
per month from staging, in the HTML report and as CSV, computed as verify computes it."""

from __future__ import annotations

import csv
import io
import json
import stat

from click.testing import CliRunner

from hdmigrate import cx
from hdmigrate.canonical_dump import iter_records
from hdmigrate.commands.cli import cli
from hdmigrate.continuity_csv import ids_csv, read_ids_csv
from hdmigrate.html_report import render_html
from hdmigrate.report import collect
from hdmigrate.store import Store
from hdmigrate.testing.sample import write_dump


def _migrated(tmp_path):
    write_dump(tmp_path / "src", tickets=40, seed=4)
    (tmp_path / "plan.toml").write_text(
        '[source]\nadapter = "jsonl"\npath = "src"\n[target]\nadapter = "jsonl"\npath = "out"\n'
        '[run]\nworkdir = "work"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "plan.toml"), "--yes"])
    assert result.exit_code == 0, result.output
    return tmp_path / "work"


def test_history_per_month_as_csv_equals_the_metrics_of_the_dump(tmp_path):
    work = _migrated(tmp_path)
    out = tmp_path / "history.csv"
    result = CliRunner().invoke(cli, ["report", "--workdir", str(work), "--format", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    src = tmp_path / "src"
    expected = cx.monthly(list(iter_records(src, "ticket")), list(iter_records(src, "comment")),
                          list(iter_records(src, "satisfaction_rating")), {a["id"] for a in iter_records(src, "agent")})
    assert [r["month"] for r in rows] == [m["month"] for m in expected] and len(rows) > 3
    assert sum(int(r["tickets"]) for r in rows) == 40
    for got, want in zip(rows, expected):
        assert got["first_reply_median_s"] == ("" if want["first_reply_median_s"] is None else str(want["first_reply_median_s"]))
        assert json.loads(got["channel_mix"]) == want["channel_mix"]


def test_the_html_report_has_the_continuity_section(tmp_path):
    work = _migrated(tmp_path)
    store = Store(work)
    try:
        page = render_html(collect(store))
    finally:
        store.close()
    assert 'id="continuity-section"' in page and 'id="chart-continuity-tickets"' in page
    assert page.count('<tr data-month="') == len({r["month"] for r in cx.monthly(*_staged(work))})


def _staged(work):
    from hdmigrate.html_report import staged_history
    return staged_history(work / "staging.db")


def test_the_id_map_as_csv(tmp_path):
    work = _migrated(tmp_path)
    result = CliRunner().invoke(cli, ["report", "--workdir", str(work), "--format", "csv", "--ids"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    tickets = [r for r in rows if r["kind"] == "ticket"]
    assert len(tickets) == 40 and all(r["state"] == "done" and r["target_id"] for r in tickets)
    # ids come from the source: one that looks like a formula is said as text
    text = ids_csv([("contact", "=HYPERLINK(\"http://x\")", "-5", "done")])
    assert text.splitlines()[1] == "contact,\"'=HYPERLINK(\"\"http://x\"\")\",,'-5,,done"


def test_ids_without_csv_is_a_clear_error(tmp_path):
    work = _migrated(tmp_path)
    result = CliRunner().invoke(cli, ["report", "--workdir", str(work), "--ids"])
    assert result.exit_code == 2 and "--ids goes with --format csv" in result.output


def test_the_id_map_names_each_tickets_old_and_new_page():
    """Old and new URLs come from each side's adapter (its web UI's page for that kind); persons
    with prefixed canonical ids, unwritten records and adapters without pages get none."""
    from hdmigrate.continuity_csv import page_finder
    plan = {"source": {"adapter": "zendesk", "url": "https://acme.zendesk.com/"},
            "target": {"adapter": "freshdesk", "url": "https://acme.freshdesk.com"}}
    rows = [("ticket", "101", "9001", "done"), ("organization", "7", "55", "done"),
            ("contact", "u12", "c77", "done"), ("ticket", "102", None, "failed")]
    text = ids_csv(rows, page_finder(plan, "source"), page_finder(plan, "target"))
    got = {(r["kind"], r["source_id"]): r for r in csv.DictReader(io.StringIO(text))}
    assert got[("ticket", "101")]["source_url"] == "https://acme.zendesk.com/agent/tickets/101"
    assert got[("ticket", "101")]["target_url"] == "https://acme.freshdesk.com/a/tickets/9001"
    assert got[("organization", "7")]["target_url"] == "https://acme.freshdesk.com/a/companies/55"
    assert got[("contact", "u12")]["source_url"] == "" == got[("contact", "u12")]["target_url"]
    assert got[("ticket", "102")]["source_url"].endswith("/102") and got[("ticket", "102")]["target_url"] == ""
    rt = page_finder({"target": {"adapter": "rt", "url": "http://127.0.0.1:8080/REST/2.0/"}}, "target")
    assert rt("ticket", "5") == "http://127.0.0.1:8080/Ticket/Display.html?id=5"
    dh = page_finder({"target": {"adapter": "django_helpdesk", "url": "http://h/helpdesk/api"}}, "target")
    assert dh("ticket", "5") == "http://h/helpdesk/tickets/5/"
    assert page_finder({"source": {"adapter": "jsonl", "path": "x"}}, "source") is None
    assert page_finder({"source": {"adapter": "gone"}}, "source") is None


def test_the_id_map_csv_round_trips(tmp_path):
    """Read back, the CSV is the id map exactly — hostile and formula-looking ids included."""
    work = _migrated(tmp_path)
    result = CliRunner().invoke(cli, ["report", "--workdir", str(work), "--format", "csv", "--ids"])
    store = Store(work)
    try:
        rows = store.id_map_rows()
    finally:
        store.close()
    assert sorted(read_ids_csv(result.output)) == sorted(tuple(r) for r in rows) and len(rows) > 40
    odd = [("contact", "=SUM(A1)", "-5", "done"), ("contact", "'quoted", "'=x", "done"),
           ("ticket", "a,b\n\"c\"", None, "failed"), ("ticket", "@home", "+1", "done"), ("ticket", "7", "", "failed")]
    back = read_ids_csv(ids_csv(odd))
    assert back == sorted([r[:2] + ((r[2] or None),) + r[3:] for r in odd], key=lambda r: (r[0], r[1]))
