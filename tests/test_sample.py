"""The sample helpdesk (hdmigrate.testing.sample): valid, consistent, deterministic, streaming, and
carrying every real-world text defect on purpose."""

from __future__ import annotations

import collections
import hashlib
import json
import tracemalloc
from datetime import datetime

import pytest

from hdmigrate.canonical_dump import count_lines, iter_records, read_manifest
from hdmigrate.testing import sample
from hdmigrate.testing.sample import files
from hdmigrate.canonical import (CHANNELS, KINDS, PRIORITIES, TICKET_STATUSES, TICKET_TYPES, references,
                                 validation_error)
from hdmigrate.errors import ConfigError


def collect(**kw):
    """Records by kind (lists) plus the stream order and blobs, for small datasets only."""
    out = collections.defaultdict(list)
    stream = []
    for kind, rec in sample.generate(**kw):
        out[kind].append(rec)
        stream.append((kind, rec))
    return out, stream


@pytest.fixture(scope="module")
def default():
    return collect()


def when(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


CASES = [dict(), dict(tickets=20, seed=1), dict(tickets=300, comments_per_ticket=2.5, attachments=45, seed=3,
                                                empty_files=3),
         dict(tickets=120, seed=11, defects=False), dict(tickets=40, comments_per_ticket=1, seed=5)]


@pytest.mark.parametrize("kw", CASES)
def test_every_record_validates(kw):
    for kind, rec in sample.generate(**kw):
        if kind == "blob":
            assert isinstance(rec, bytes)
            continue
        assert kind in KINDS
        assert validation_error(kind, rec) is None, (kind, rec.get("id"), validation_error(kind, rec))


@pytest.mark.parametrize("kw", CASES)
def test_references_resolve_and_parents_come_first(kw):
    seen: dict[str, set] = collections.defaultdict(set)
    for kind, rec in sample.generate(**kw):
        if kind == "blob":
            continue
        assert rec["id"] not in seen[kind], (kind, rec["id"])
        for ref, source_id in references(kind, rec):
            assert any(source_id in seen[k] for k in ref.kinds), (kind, rec["id"], ref.field, source_id)
        seen[kind].add(rec["id"])
    assert not (seen["agent"] & seen["contact"])
    assert all(x.startswith("a") for x in seen["agent"]) and all(x.startswith("c") for x in seen["contact"])


def test_conversations_are_plausible(default):
    recs, _ = default
    tickets = {t["id"]: t for t in recs["ticket"]}
    people = {p["id"]: kind for kind in ("agent", "contact") for p in recs[kind]}
    by_ticket = collections.defaultdict(list)
    for c in recs["comment"]:
        by_ticket[c["ticket_id"]].append(c)
        assert people[c["author_id"]] == c["author_kind"]
        if not c["public"]:
            assert c["author_kind"] == "agent"
    assert set(by_ticket) == set(tickets)
    for tid, comments in by_ticket.items():
        t = tickets[tid]
        created, updated = when(t["created_at"]), when(t["updated_at"])
        assert updated >= created
        comments.sort(key=lambda c: when(c["created_at"]))
        first = comments[0]
        assert first["author_id"] == t["requester_id"] and first["public"] is True
        assert first["channel"] == t["channel"]
        assert when(first["created_at"]) == created
        for c in comments:
            assert created <= when(c["created_at"]) <= updated
            # within a ticket the string order is the time order too
        assert [c["created_at"] for c in comments] == sorted(c["created_at"] for c in comments)
        if t["solved_at"]:
            assert t["status"] in ("solved", "closed") and when(t["solved_at"]) <= updated
        if t["assignee_id"]:
            assert people[t["assignee_id"]] == "agent"
    kinds = collections.Counter((c["author_kind"], c["public"]) for c in recs["comment"])
    assert kinds[("agent", True)] and kinds[("agent", False)] and kinds[("contact", True)]


def test_enumerations_and_variety_are_covered(default):
    recs, _ = default
    t = recs["ticket"]
    assert {x["status"] for x in t} == set(TICKET_STATUSES)
    assert {x["priority"] for x in t} == set(PRIORITIES) | {None}
    assert {x["type"] for x in t} == set(TICKET_TYPES) | {None}
    assert {x["channel"] for x in t} == set(CHANNELS)
    assert any(x["tags"] for x in t) and any(x["cc_ids"] for x in sample_tickets(300))
    ts = [r["created_at"] for k in KINDS for r in recs[k] if r.get("created_at")]
    assert any(x.endswith("Z") for x in ts) and any(x[-6] in "+-" for x in ts)
    years = {when(x["created_at"]).year for x in t}
    assert len(years) >= 5
    text = json.dumps([recs["contact"], recs["agent"], recs["comment"]], ensure_ascii=False)
    for marker in ("ü", "ß", "é", "田中", "お問い合わせ", "订单"):
        assert marker in text, marker


def sample_tickets(n):
    return [r for k, r in sample.generate(tickets=n) if k == "ticket"]


def test_custom_fields_cover_types_and_values_use_keys(default):
    recs, _ = default
    fields = {(f["entity"], f["key"]): f for f in recs["custom_field"]}
    ticket_types = {f["type"] for (e, _), f in fields.items() if e == "ticket"}
    assert {"dropdown", "checkbox", "text", "integer", "date", "multiselect"} <= ticket_types
    assert fields[("contact", "customer_number")]["type"] == "text"
    assert fields[("organization", "tier")]["type"] == "dropdown"
    assert len({f["id"] for f in recs["custom_field"]}) == len(recs["custom_field"])
    for entity, kind in (("ticket", "ticket"), ("contact", "contact"), ("organization", "organization")):
        used = set()
        for rec in recs[kind]:
            for key, value in rec.get("custom_fields", {}).items():
                f = fields[(entity, key)]
                used.add(f["type"])
                if value is None:
                    continue
                options = {o["value"] for o in f.get("options", [])}
                check = {"checkbox": lambda x: isinstance(x, bool),
                         "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
                         "decimal": lambda x: isinstance(x, (int, float)),
                         "date": lambda x: bool(datetime.strptime(x, "%Y-%m-%d")),
                         "dropdown": lambda x: x in options,
                         "multiselect": lambda x: isinstance(x, list) and set(x) <= options}
                assert check.get(f["type"], lambda x: isinstance(x, str))(value), (key, value)
        if entity == "ticket":
            assert {"dropdown", "checkbox", "text", "integer", "date", "multiselect"} <= used


def test_attachments_blobs_and_inline_images():
    recs, stream = collect(tickets=200, attachments=30, empty_files=2)
    assert len(recs["attachment"]) == 32
    comments = {c["id"]: c for c in recs["comment"]}
    last_blob = None
    for kind, rec in stream:
        if kind == "blob":
            last_blob = rec
        elif kind == "attachment":
            assert last_blob is not None
            assert rec["size"] == len(last_blob) and rec["sha256"] == hashlib.sha256(last_blob).hexdigest()
            c = comments[rec["comment_id"]]
            assert rec["id"] in c["attachment_ids"] and rec["ticket_id"] == c["ticket_id"]
            if rec["inline"]:
                assert rec["content_id"] and f'src="cid:{rec["content_id"]}"' in c["body_html"]
                assert last_blob[:8] == b"\x89PNG\r\n\x1a\n" or last_blob[:6] == b"GIF89a"
            if rec["content_type"] == "application/pdf" and rec["size"]:
                assert last_blob.startswith(b"%PDF-1.4") and last_blob.rstrip().endswith(b"%%EOF")
            last_blob = None
    ids = {a["id"] for a in recs["attachment"]}
    assert {x for c in recs["comment"] for x in c["attachment_ids"]} == ids
    types = {a["content_type"] for a in recs["attachment"]}
    assert {"image/png", "image/gif", "application/pdf", "text/plain", "text/csv"} <= types
    assert sum(a["size"] == 0 for a in recs["attachment"]) == 2


def test_default_set_has_no_empty_files_and_one_file_per_ten_tickets(default):
    recs, _ = default
    assert len(recs["attachment"]) == 6
    assert all(a["size"] > 0 for a in recs["attachment"])
    assert any(a["inline"] for a in recs["attachment"])


def test_png_is_decodable():
    import struct
    import zlib
    data = files._png(24, 16, 3)
    w, h = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        n, tag = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        assert zlib.crc32(tag + body) == struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]
        if tag == b"IDAT":
            idat += body
        pos += 12 + n
    assert len(zlib.decompress(idat)) == h * (1 + 3 * w)


def test_every_defect_class_is_present_in_the_default_dataset(default):
    recs, _ = default
    bodies = [(c.get("body_html") or "") + "\x00" + (c.get("body_text") or "") for c in recs["comment"]]
    markers = sample.defect_markers()
    assert set(markers) == set(sample.DEFECT_CLASSES) | {"long"}
    for cls, marker in markers.items():
        assert any(marker in b for b in bodies), cls
    # concrete shapes of the defects
    assert any("f\u00c3\u00bcr" in b or "\u00c3\u00bc" in b for b in bodies)          # fÃ¼r
    assert any("\\u00fc" in b and "\\n" in b for b in bodies)                         # JSON escapes
    assert any("\U0001F3FD" in b or "\U0001F3FB" in b for b in bodies)                 # skin tones
    assert any("\uff0c" in b and "\u3002" in b for b in bodies)                        # ，。
    assert any("Unterstutzung" in b or "Rucksendung" in b for b in bodies)
    assert any('<a href="' in b for b in bodies)
    assert max(len(b) for b in bodies) > sample.LONG_BODY_CHARS
    subjects = [t["subject"] for t in recs["ticket"]]
    assert any("\u00c3" in s for s in subjects)                                        # mojibake subject
    names = [c["name"] for c in recs["contact"]]
    assert any("u\u0308" in n for n in names)                                          # NFD name


def test_no_defects_when_switched_off():
    recs, _ = collect(defects=False)
    text = json.dumps(recs["comment"] + recs["ticket"] + recs["contact"], ensure_ascii=False)
    for cls, marker in sample.defect_markers().items():
        assert marker not in text, cls
    assert "\u00c3" not in text


def test_mojibake_helper():
    assert sample.mojibake("für") == "fÃ¼r"
    assert sample.mojibake("läuft darüber", sample._ISO8859_16) == "lĂ€uft darĂŒber"


def digest(**kw) -> str:
    h = hashlib.sha256()
    for kind, rec in sample.generate(**kw):
        h.update(kind.encode())
        h.update(rec if isinstance(rec, bytes) else json.dumps(rec, sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()


def test_deterministic():
    assert digest() == digest()
    assert digest(tickets=150, seed=9, attachments=20) == digest(tickets=150, seed=9, attachments=20)
    assert digest(seed=1) != digest(seed=2)


@pytest.mark.parametrize("tickets,cpt", [(20, 6.0), (60, 6.0), (500, 3.5), (200, 10.0)])
def test_counts_roughly_as_requested(tickets, cpt):
    counts = collections.Counter(k for k, _ in sample.generate(tickets=tickets, comments_per_ticket=cpt))
    assert counts["ticket"] == tickets
    assert abs(counts["comment"] - tickets * cpt) <= 0.1 * tickets * cpt + 6
    assert counts["attachment"] == counts["blob"] == tickets // 10
    assert counts["satisfaction_rating"] > 0


def test_satisfaction_ratings(default):
    recs, _ = collect(tickets=200)
    tickets = {t["id"]: t for t in recs["ticket"]}
    scales = collections.Counter(r["scale"] for r in recs["satisfaction_rating"])
    assert scales["good_bad"] and scales["1-5"]
    for r in recs["satisfaction_rating"]:
        t = tickets[r["ticket_id"]]
        assert t["status"] in ("solved", "closed") and r["contact_id"] == t["requester_id"]
        assert when(r["created_at"]) >= when(t["solved_at"])
        assert r["score"] in ("good", "bad") if r["scale"] == "good_bad" else r["score"] in range(1, 6)


def test_generation_streams():
    # the first record of a huge dataset comes at once, and memory does not grow with size
    gen = sample.generate(tickets=10_000_000)
    assert next(gen)[0] == "custom_field"

    def peak(n):
        tracemalloc.start()
        for _ in sample.generate(tickets=n, comments_per_ticket=1.5):
            pass
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(200), peak(1600)
    assert large < small * 2 + 2_000_000


def test_write_dump(tmp_path):
    root = tmp_path / "dump"
    counts = sample.write_dump(root, tickets=80, attachments=12)
    manifest = read_manifest(root)
    assert manifest["source"] == "sample" and manifest["counts"] == counts
    for kind, n in counts.items():
        assert count_lines(root, kind) == n
    assert counts["ticket"] == 80 and counts["attachment"] == 12
    for a in iter_records(root, "attachment"):
        data = (root / "attachments" / a["sha256"]).read_bytes()
        assert len(data) == a["size"] and hashlib.sha256(data).hexdigest() == a["sha256"]
    # records read back equal the generated ones (byte-identical text after JSON decoding)
    generated = [r for k, r in sample.generate(tickets=80, attachments=12) if k == "comment"]
    assert list(iter_records(root, "comment")) == generated
    with pytest.raises(ConfigError):
        sample.write_dump(root, tickets=5)


def test_start_and_time_spread():
    tickets = [r for k, r in sample.generate(tickets=30, start="2021-06-01T00:00:00+02:00") if k == "ticket"]
    first = min(when(t["created_at"]) for t in tickets)
    assert first >= when("2021-06-01T00:00:00+02:00")
    created = [when(t["created_at"]) for t in tickets]
    assert created == sorted(created)                      # ticket ids follow creation time
    assert (created[-1] - created[0]).days > 4 * 365        # spread over years


def test_tiny_and_empty_datasets_are_consistent():
    for kw in (dict(tickets=0), dict(tickets=1, comments_per_ticket=0.2), dict(tickets=3, attachments=7)):
        recs, _ = collect(**kw)
        assert len(recs["ticket"]) == kw["tickets"]
        assert len(recs["attachment"]) == (kw.get("attachments") or 0 if kw["tickets"] else 0)
        for kind in KINDS:
            for rec in recs[kind]:
                assert validation_error(kind, rec) is None
