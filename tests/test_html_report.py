"""`hdmigrate report --format html`: a self-contained page for the client, rendered in headless
Chromium: the screenshot is a real, non-blank PNG and the numbers in the rendered page equal the
JSON summary. Values from the data (ids holding `<script>`) are shown as text, never run.

Needs Chromium (Debian: `apt-get install chromium`). Outside CI the browser tests are skipped
with that message when it is missing; in CI (CI=true) they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hdmigrate.html_report import render_html
from hdmigrate.testing.sample import write_dump

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-c", "from hdmigrate.commands.cli import main; main()"]
COUNT_KEYS = ("created", "updated", "unchanged", "failed", "degraded")
EVIL_ID = '<script>alert("owned")</script>'
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def hdm(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + [str(a) for a in args], cwd=cwd, env={**os.environ, "PYTHONPATH": str(REPO)},
                          input="", capture_output=True, text=True, timeout=300)


def chromium() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    message = ("headless Chromium is needed to render the HTML report (Debian/Ubuntu: "
               "`apt-get install -y chromium`); not found on PATH as " + ", ".join(BROWSERS))
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def run_browser(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", f"--user-data-dir={profile}"]
    return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=180)


class Numbers(HTMLParser):
    """The numbers a page carries in data attributes and ids, and any element that could run."""

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, dict]] = []
        self.counts: dict[tuple[str, str], str] = {}
        self.totals: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        self.metrics: dict[tuple[str, str], str] = {}
        self.text: dict[int, str] = {}
        self.scripts = 0
        self.handlers = 0
        self.external = []
        self._open: list[tuple[dict, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        self.handlers += sum(1 for k in a if k.startswith("on"))
        for k in ("src", "href"):
            if a.get(k) and not a[k].startswith("#"):
                self.external.append(a[k])
        if tag == "link":
            self.external.append(a.get("href"))
        if any(k in a for k in ("data-count", "data-total", "data-metric", "id")):
            self._open.append((a, []))
        else:
            self._open.append((None, []))

    def handle_endtag(self, tag):
        if not self._open:
            return
        a, text = self._open.pop()
        content = "".join(text).strip()
        if self._open:
            self._open[-1][1].append(content)
        if a is None:
            return
        if "data-count" in a and "data-kind" in a:
            self.counts[(a["data-kind"], a["data-count"])] = content
        if "data-total" in a:
            self.totals[a["data-total"]] = content
        if "data-metric" in a:
            self.metrics[(a["data-metric"], a["data-side"])] = a.get("data-value", "")
        if "id" in a:
            self.ids[a["id"]] = a.get("data-value", content)

    def handle_data(self, data):
        if self._open:
            self._open[-1][1].append(data)


def parse(html_text: str) -> Numbers:
    p = Numbers()
    p.feed(html_text)
    p.close()
    return p


def assert_numbers_match(page: Numbers, doc: dict) -> None:
    summary = doc["summary"]
    assert page.ids["exit-code"] == str(doc["run"]["exit_code"]) == str(summary["exit_code"])
    assert page.ids["run-id"] == str(doc["run"]["id"])
    for kind, counts in summary["kinds"].items():
        for key in COUNT_KEYS:
            assert page.counts[(kind, key)] == str(counts[key]), (kind, key)
    assert {k for k, _ in page.counts} == set(summary["kinds"])
    for key in COUNT_KEYS:
        assert page.totals[key] == str(summary["totals"][key]), key
    assert page.ids["failures-count"] == str(len(doc["failures"]))
    assert page.ids["degradations-count"] == str(len(doc["degradations"]))
    assert page.ids["degraded-records"] == str(len({(d["kind"], d["id"]) for d in doc["degradations"]}))


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    """A migration with failures (one holding markup in its id) and degradations (repaired text)."""
    root = tmp_path_factory.mktemp("html")
    write_dump(root / "src", tickets=20, comments_per_ticket=3, attachments=2, seed=9)
    path = root / "src" / "ticket.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    bad = json.loads(lines[3])
    bad["id"] = EVIL_ID
    del bad["subject"]
    lines.append(json.dumps(bad, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    plan = root / "client.toml"
    plan.write_text('[source]\nadapter = "jsonl"\npath = "src"\n\n[target]\nadapter = "jsonl"\npath = "dst"\n\n'
                    '[options]\nrepair_text = true\n', encoding="utf-8")
    run = hdm("run", plan, "--yes", "--json", cwd=root)
    assert run.returncode == 1, run.stderr
    summary = json.loads(run.stdout.splitlines()[-1])
    doc = json.loads(hdm("report", "--plan", plan, "--format", "json", cwd=root).stdout)
    out = hdm("report", "--plan", plan, "--format", "html", "--output", root / "report.html", cwd=root)
    assert out.returncode == 0, out.stderr
    return {"root": root, "summary": summary, "doc": doc, "html": (root / "report.html").read_text(encoding="utf-8")}


def test_page_is_self_contained_and_escapes_the_data(migrated):
    html_text, doc = migrated["html"], migrated["doc"]
    assert doc["failures"] and doc["degradations"], "the run has failures and degradations to show"
    page = parse(html_text)
    assert page.scripts == 0 and page.handlers == 0, "no script elements, no event handlers"
    assert page.external == [], "no external assets"
    assert EVIL_ID not in html_text and "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;" in html_text
    assert "<svg" in html_text and "<style>" in html_text
    assert_numbers_match(page, doc)
    # the summary the run streamed is the one the report shows
    assert migrated["summary"]["kinds"] == doc["summary"]["kinds"]
    # the plan used, and source-side CX metrics computed from staging (no verify yet)
    assert 'repair_text = true' in html_text
    staged_tickets = sum(1 for _ in (migrated["root"] / "src" / "ticket.jsonl").open()) - 1   # one is invalid
    assert page.metrics[("tickets", "source")] == str(staged_tickets)
    channel_total = sum(int(v) for (m, side), v in page.metrics.items() if m.startswith("channel_mix.") and side == "source")
    assert channel_total == staged_tickets
    assert ("first_reply_time.median_s", "target") not in page.metrics


def _png_pixels(data: bytes) -> tuple[int, int, set]:
    """Width, height and the distinct pixel values of an 8-bit RGB/RGBA PNG (filters undone)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if ctype == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6), (depth, color)
            bpp = 3 if color == 2 else 4
        elif ctype == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    colors = set()
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if y % 4 == 0:
            colors.update(bytes(line[i:i + bpp]) for i in range(0, stride, bpp * 2))
        prev = line
    return width, height, colors


def test_rendered_in_headless_chromium(migrated, tmp_path):
    browser = chromium()
    report = migrated["root"] / "report.html"
    shot = tmp_path / "report.png"
    p = run_browser(browser, tmp_path / "profile-shot", "--hide-scrollbars", "--window-size=1200,2400",
                    f"--screenshot={shot}", report.as_uri())
    assert shot.exists() and shot.stat().st_size > 0, p.stderr[-2000:]
    width, height, colors = _png_pixels(shot.read_bytes())
    assert (width, height) == (1200, 2400)
    assert len(colors) > 20, "the screenshot is not blank"
    artifacts = os.environ.get("HDMIGRATE_ARTIFACTS")
    if artifacts:                                # keep it for people to look at (CI uploads it)
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / "html-report.png")
        shutil.copy(report, Path(artifacts) / "html-report.html")
    print(f"\nscreenshot: {shot}")

    # the DOM as the browser built it carries the same numbers as the JSON summary
    dom = run_browser(browser, tmp_path / "profile-dom", "--dump-dom", report.as_uri())
    assert dom.returncode == 0 and "<html" in dom.stdout, dom.stderr[-2000:]
    page = parse(dom.stdout)
    assert page.scripts == 0, "the <script> in a ticket id stayed text"
    assert_numbers_match(page, migrated["doc"])
    assert EVIL_ID in dom.stdout.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')


def test_verify_metrics_are_shown_before_and_after():
    metrics = {
        "source": {"tickets": 3, "comments": 9, "first_reply_time": {"n": 3, "median_s": 7200.0, "mean_s": 8000.0},
                   "resolution_time": {"n": 2, "median_s": 86400.0, "mean_s": 90000.0},
                   "csat": {"good_bad:good": 2, "good_bad:bad": 1}, "channel_mix": {"email": 2, "<chat>": 1},
                   "status_mix": {"solved": 2, "open": 1}},
        "target": {"tickets": 3, "comments": 9, "first_reply_time": {"n": 3, "median_s": 7200.0, "mean_s": 8000.0},
                   "resolution_time": {"n": 2, "median_s": 86400.0, "mean_s": 90000.0},
                   "csat": {"good_bad:good": 2}, "channel_mix": {"email": 3},
                   "status_mix": {"solved": 2, "open": 1}},
    }
    doc = {"run": {"id": 4, "status": "completed", "dry_run": False, "exit_code": 0, "started_at": "2024-01-01T00:00:00Z",
                   "finished_at": "2024-01-01T00:01:00Z", "since": None},
           "summary": {"kinds": {"ticket": dict(zip(COUNT_KEYS, (3, 0, 0, 0, 1)))},
                       "totals": dict(zip(COUNT_KEYS, (3, 0, 0, 0, 1))), "exit_code": 0},
           "failures": [], "degradations": [{"kind": "ticket", "id": "7", "field": "channel",
                                             "code": "channel_not_preserved", "detail": "<chat> → email"}],
           "verify": {"ok": True, "summary": {"unexplained": 0, "explained": 1}, "metrics": metrics},
           "plan": {"path": "client.toml", "data": {"source": {"adapter": "zendesk"}, "target": {"adapter": "freshdesk"}}}}
    html_text = render_html(doc)
    page = parse(html_text)
    assert page.scripts == 0 and "&lt;chat&gt;" in html_text and "<chat>" not in html_text
    assert_numbers_match(page, doc)
    assert page.metrics[("first_reply_time.median_s", "source")] == "7200.0"
    assert page.metrics[("first_reply_time.median_s", "target")] == "7200.0"
    assert page.metrics[("channel_mix.email", "target")] == "3"
    assert page.metrics[("channel_mix.<chat>", "source")] == "1"
    assert page.metrics[("csat.good_bad:bad", "target")] == "0"
    assert page.ids["verify-unexplained"] == "0"
    assert "Migration report: zendesk → freshdesk" in html_text
