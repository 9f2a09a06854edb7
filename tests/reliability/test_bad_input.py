"""The bad-input corpus: each case is a small jsonl dump with one bad thing in it among good
records. A case that cannot be migrated yields one clear per-record line (kind, id, reason), no
traceback, exit code 1, and every other record arrives; a case a lossless archive must carry
(hostile file names, scripts in HTML, mojibake, odd dates, odd e-mails, empty files …) arrives
unchanged and verifies; a broken optional reference is a degradation line.

`pytest tests/reliability/test_bad_input.py -s` prints the number of cases tried."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import rkit
from hdmigrate.commands.cli import cli
from hdmigrate.store import Store

BASE = dict(tickets=5, comments=3, seed=21, attachment_every=4)


def _append(root: Path, kind: str, raw: bytes) -> str:
    """Append one raw line; returns the jsonl source's id for it (`line N`)."""
    path = root / f"{kind}.jsonl"
    n = path.read_bytes().count(b"\n") if path.exists() else 0
    with open(path, "ab") as f:
        f.write(raw)
    return f"line {n + 1}"


def _ticket(**over):
    base = {"id": "tx", "subject": "bad one", "status": "open", "requester_id": "c0",
            "created_at": "2021-03-01T10:00:00Z"}
    base.update(over)
    return {k: v for k, v in base.items() if v is not ...}


def _comment(**over):
    base = {"id": "cx", "ticket_id": "t0", "author_id": "a0", "public": True, "body_html": "<p>x</p>",
            "created_at": "2021-03-01T10:00:00Z"}
    base.update(over)
    return {k: v for k, v in base.items() if v is not ...}


def _att(data: bytes, **over):
    base = {"id": "fx", "comment_id": "t0-m1", "ticket_id": "t0", "file_name": "x.txt",
            "content_type": "text/plain", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    base.update(over)
    return {k: v for k, v in base.items() if v is not ...}


# Each case: (name, build, expectation). build(records, blobs) mutates the records before the dump
# is written and may return a post(root) hook for raw bytes; it returns (post, kind, id).
def _rec(kind, record):
    def build(records, blobs):
        records[kind].append(record)
        return None, kind, record["id"]
    return build


def _raw(kind, raw: bytes):
    def build(records, blobs):
        holder = {}

        def post(root):
            holder["id"] = _append(root, kind, raw)
        return post, kind, holder
    return build


def _att_case(data: bytes, store_bytes: bytes | None = None, **over):
    def build(records, blobs):
        att = _att(data, **over)
        records["attachment"].append(att)
        if store_bytes is not None:
            def post(root):
                sha = att["sha256"]
                (root / "attachments" / sha).write_bytes(store_bytes)
            return post, "attachment", att["id"]
        if over.get("sha256", "") is not ... and "sha256" not in over:
            blobs[hashlib.sha256(data).hexdigest()] = data
        return None, "attachment", att["id"]
    return build


FAIL = [
    ("malformed_json", _raw("ticket", b'{"id": "t99", "subject": \n'), "malformed JSON"),
    ("truncated_line", _raw("comment", b'{"id": "c98", "ticket_id": "t0"'), "truncated line"),
    ("invalid_utf8", _raw("ticket", b'{"id": "t97", "subject": "\xff\xfe caf\xe9"}\n'), "invalid UTF-8"),
    ("not_an_object", _raw("contact", b'[1, 2, 3]\n'), "not a JSON object"),
    ("no_id", _raw("ticket", json.dumps(_ticket(id=...)).encode() + b"\n"), "without a string id"),
    ("integer_id", _raw("ticket", json.dumps(_ticket(id=5)).encode() + b"\n"), "without a string id"),
    ("ticket_missing_subject", _rec("ticket", _ticket(subject=...)), "subject"),
    ("ticket_missing_requester", _rec("ticket", _ticket(requester_id=...)), "requester_id"),
    ("ticket_unknown_status", _rec("ticket", _ticket(status="frozen")), "status"),
    ("ticket_tags_not_list", _rec("ticket", _ticket(tags="vip,billing")), "tags"),
    ("ticket_extra_not_object", _rec("ticket", _ticket(extra="{}")), "extra"),
    ("naive_timestamp", _rec("ticket", _ticket(created_at="2021-03-01 10:00:00")), "created_at"),
    ("garbage_timestamp", _rec("ticket", _ticket(created_at="yesterday")), "created_at"),
    ("requester_deleted", _rec("ticket", _ticket(requester_id="c-deleted")), "requester_id"),
    ("comment_no_body", _rec("comment", _comment(body_html=...)), "body"),
    ("comment_missing_author", _rec("comment", _comment(author_id=...)), "author_id"),
    ("comment_public_not_bool", _rec("comment", _comment(public="yes")), "public"),
    ("comment_author_deleted", _rec("comment", _comment(author_id="a-deleted")), "author_id"),
    ("orphan_comment", _rec("comment", _comment(ticket_id="t-gone")), "ticket_id"),
    ("orphan_attachment", _att_case(b"orphan bytes", comment_id="c-gone"), "comment_id"),
    ("attachment_sha_mismatch", _att_case(b"declared bytes", store_bytes=b"other bytes"), "hash"),
    ("attachment_bytes_missing", _att_case(b"never stored", sha256=hashlib.sha256(b"nowhere").hexdigest()),
     "missing"),
    ("attachment_invalid_sha", _att_case(b"x", sha256="../../etc/passwd"), "sha256"),
    ("attachment_missing_content_type", _att_case(b"ctype", content_type=...), "content_type"),
    ("attachment_over_limit", _att_case(b"B" * 5000), "over the limit"),
    ("attachment_missing_name", _att_case(b"noname", file_name=...), "file_name"),
    ("rating_orphan", _rec("satisfaction_rating", {"id": "rx", "ticket_id": "t-gone", "score": 5}), "ticket_id"),
    ("rating_without_score", _rec("satisfaction_rating", {"id": "rx", "ticket_id": "t0"}), "score"),
    ("custom_field_unknown_type", _rec("custom_field", {"id": "cf-geo", "entity": "ticket", "key": "geo",
                                                        "type": "geolocation"}), "type"),
    ("custom_field_unknown_entity", _rec("custom_field", {"id": "cf-x", "entity": "planet", "key": "x",
                                                          "type": "text"}), "entity"),
    ("agent_missing_email", _rec("agent", {"id": "a-x", "name": "No Mail"}), "email"),
    ("agent_invalid_email", _rec("agent", {"id": "a-y", "name": "Short Mail", "email": "x"}), "email"),
    ("contact_empty_name", _rec("contact", {"id": "c-x", "name": ""}), "name"),
]

CARRY = [
    ("hostile_file_names", "attachment"),
    ("html_with_script", "comment"),
    ("mojibake", "ticket"),
    ("date_before_1970", "ticket"),
    ("date_in_future", "ticket"),
    ("duplicate_emails", "contact"),
    ("invalid_contact_email", "contact"),
    ("merged_ticket", "ticket"),
    ("zero_byte_attachment", "attachment"),
    ("nul_in_body", "comment"),
    ("unknown_custom_field_value", "ticket"),
]

DEGRADE = [
    ("cc_deleted", "ticket", "cc_ids"),
    ("contact_org_deleted", "contact", "organization_id"),
    ("assignee_deleted", "ticket", "assignee_id"),
]


def _run(tmp_path, records, blobs, post=None, options=None):
    rkit.write_dump(tmp_path / "src", records, blobs)
    if post:
        post(tmp_path / "src")
    plan = rkit.write_plan(tmp_path, {"adapter": "jsonl", "path": "src"}, {"adapter": "jsonl", "path": "out"},
                           options=options)
    result = CliRunner().invoke(cli, ["run", str(plan), "--yes", "--json"])
    return result, rkit.events(result.stdout)


@pytest.mark.parametrize("name,build,reason", FAIL, ids=[c[0] for c in FAIL])
def test_bad_record_fails_alone(tmp_path, name, build, reason):
    records, blobs = rkit.build_records(**BASE)
    post, kind, rid = build(records, blobs)
    options = {"max_attachment_bytes": 3000} if name == "attachment_over_limit" else None
    result, evs = _run(tmp_path, records, blobs, post, options)
    rid = rid["id"] if isinstance(rid, dict) else rid
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    assert result.exit_code == 1, (result.exit_code, result.stderr[-2000:])
    failed = [e for e in evs if e["event"] == "record_failed"]
    mine = [e for e in failed if e["kind"] == kind and e["id"] == rid]
    assert mine, failed
    assert reason.lower() in mine[0]["reason"].lower(), mine[0]
    # every other record arrived: only the bad record (and what hangs on it) is missing
    store = Store(tmp_path / "state")
    try:
        failures = {(f["kind"], f["id"]) for f in store.failures()}
    finally:
        store.close()
    assert (kind, rid) in failures
    dependents = {(k, i) for k, i in failures if (k, i) != (kind, rid)}
    for k, i in dependents:  # anything else that failed must reference the bad record
        record = next((r for r in records[k] if r["id"] == i), None)
        assert record is not None and rid in json.dumps(record), (k, i)
    expect_missing: dict[str, set] = {}
    for k, i in failures:
        expect_missing.setdefault(k, set()).add(i)
    clean = {k: [r for r in v if isinstance(r.get("id"), str)] for k, v in records.items()}
    rkit.assert_dump_complete(clean, tmp_path / "out", expect_missing=expect_missing)
    report = CliRunner().invoke(cli, ["report", "--workdir", str(tmp_path / "state")])
    assert f"{kind} {rid}" in report.output
    # verify is a gate: nothing unexplained, and the failed records are named NOT migrated (exit 1)
    code, doc, _ = rkit.verify_inproc(tmp_path / "state")
    not_migrated = {(f["kind"], f["id"]) for f in doc["findings"] if f["problem"] == "not_migrated"}
    assert doc["summary"]["unexplained"] == 0, doc.get("summary")
    assert not_migrated <= failures, (not_migrated, failures)
    assert code == (1 if not_migrated else 0), doc.get("summary")


def _carry(name, records, blobs):
    t0 = records["ticket"][0]
    c1 = next(c for c in records["comment"] if c["ticket_id"] == t0["id"] and c["id"].endswith("m1"))
    if name == "hostile_file_names":
        for i, fname in enumerate(["../../../etc/passwd", "a\u0000b.txt", "CON", "NUL.txt", "x" * 300 + ".txt",
                                   "..\\..\\windows\\system32\\evil.dll", "/abs/path.txt"]):
            data = f"hostile {i}".encode()
            records["attachment"].append(_att(data, id=f"fh{i}", comment_id=c1["id"], file_name=fname))
            blobs[hashlib.sha256(data).hexdigest()] = data
        return "attachment", "fh0"
    if name == "html_with_script":
        c1["body_html"] = '<p>hi</p><script>alert(document.cookie)</script><img src=x onerror="alert(1)">'
        return "comment", c1["id"]
    if name == "mojibake":
        t0["subject"] = "GrÃ¼ÃŸe aus KÃ¶ln â€“ Drucker"
        return "ticket", t0["id"]
    if name == "date_before_1970":
        t0["created_at"] = "1965-05-01T08:00:00Z"
        return "ticket", t0["id"]
    if name == "date_in_future":
        t0["updated_at"] = "2199-12-31T23:59:59+14:00"
        return "ticket", t0["id"]
    if name == "duplicate_emails":
        records["contact"][1]["email"] = records["contact"][0]["email"]
        return "contact", records["contact"][1]["id"]
    if name == "invalid_contact_email":
        records["contact"][2]["email"] = "not an e-mail@@"
        return "contact", records["contact"][2]["id"]
    if name == "merged_ticket":
        records["ticket"][1].update(status="closed", extra={"merged_into": t0["id"], "source_status": "merged"})
        return "ticket", records["ticket"][1]["id"]
    if name == "zero_byte_attachment":
        records["attachment"].append(_att(b"", id="f-empty", comment_id=c1["id"]))
        blobs[hashlib.sha256(b"").hexdigest()] = b""
        return "attachment", "f-empty"
    if name == "nul_in_body":
        c1["body_html"] = "<p>before\u0000after</p>"
        return "comment", c1["id"]
    if name == "unknown_custom_field_value":
        t0["custom_fields"] = {**t0.get("custom_fields", {}), "mystery": {"nested": [1, {"deep": None}]}}
        return "ticket", t0["id"]
    raise AssertionError(name)


@pytest.mark.parametrize("name,kind", CARRY, ids=[c[0] for c in CARRY])
def test_odd_but_valid_input_is_carried_unchanged(tmp_path, name, kind):
    records, blobs = rkit.build_records(**BASE)
    kind, rid = _carry(name, records, blobs)
    result, evs = _run(tmp_path, records, blobs)
    assert "Traceback" not in result.stderr
    assert result.exit_code == 0, result.stderr[-2000:]
    rkit.assert_dump_complete(records, tmp_path / "out")
    original = next(r for r in records[kind] if r["id"] == rid)
    assert rkit.dump_records(tmp_path / "out", kind)[rid] == original
    if kind == "attachment":  # bytes by hash only: nothing named after the user's file name
        names = {p.name for p in (tmp_path / "out").rglob("*")}
        assert not any(n in names for n in ("passwd", "CON", "NUL.txt", "evil.dll", "path.txt"))
        assert not (tmp_path / "etc").exists() and not Path("/abs/path.txt").exists()
    code, doc, _ = rkit.verify_inproc(tmp_path / "state")
    assert code == 0, doc.get("summary")


@pytest.mark.parametrize("name,kind,field", DEGRADE, ids=[c[0] for c in DEGRADE])
def test_broken_optional_reference_is_a_degradation_line(tmp_path, name, kind, field):
    records, blobs = rkit.build_records(**BASE)
    if name == "cc_deleted":
        records["ticket"][0]["cc_ids"] = ["c-deleted"]
        rid = records["ticket"][0]["id"]
    elif name == "assignee_deleted":
        records["ticket"][0]["assignee_id"] = "a-deleted"
        rid = records["ticket"][0]["id"]
    else:
        records["contact"][0]["organization_id"] = "o-deleted"
        rid = records["contact"][0]["id"]
    result, evs = _run(tmp_path, records, blobs)
    assert "Traceback" not in result.stderr
    assert result.exit_code == 0, result.stderr[-2000:]
    lines = [e for e in evs if e["event"] == "record_degraded" and e["kind"] == kind and e["id"] == rid]
    assert lines and lines[0]["field"] == field and "deleted" in lines[0]["reason"], lines
    rkit.assert_dump_complete(records, tmp_path / "out")
    code, doc, _ = rkit.verify_inproc(tmp_path / "state")
    assert code == 0, doc.get("summary")


def test_whole_corpus_in_one_dump(tmp_path):
    """All failing cases at once: each is named, the run completes, all good records arrive."""
    records, blobs = rkit.build_records(**BASE)
    posts, wanted = [], []
    for i, (name, build, _reason) in enumerate(FAIL):
        if name == "attachment_over_limit":
            continue  # needs its own plan option
        before = {k: len(v) for k, v in records.items()}
        post, kind, rid = build(records, blobs)
        # give each injected record its own id so they do not collide
        if not isinstance(rid, dict):
            added = records[kind][before[kind]:]
            for r in added:
                if isinstance(r.get("id"), str):
                    r["id"] = f"{r['id']}-{i}"
            rid = added[0]["id"] if added and isinstance(added[0].get("id"), str) else rid
        if post:
            posts.append(post)
        wanted.append((kind, rid))
    result, evs = _run(tmp_path, records, blobs, post=lambda root: [p(root) for p in posts])
    assert "Traceback" not in result.stderr
    assert result.exit_code == 1
    failed = {(e["kind"], e["id"]) for e in evs if e["event"] == "record_failed"}
    for kind, rid in wanted:
        rid = rid["id"] if isinstance(rid, dict) else rid
        assert (kind, rid) in failed, (kind, rid)
    good = {k: [r for r in v if isinstance(r.get("id"), str)] for k, v in records.items()}
    store = Store(tmp_path / "state")
    try:
        expect_missing: dict[str, set] = {}
        for f in store.failures():
            expect_missing.setdefault(f["kind"], set()).add(f["id"])
    finally:
        store.close()
    rkit.assert_dump_complete(good, tmp_path / "out", expect_missing=expect_missing)
    print(f"\nbad-input corpus: {len(FAIL)} failing cases, {len(CARRY)} carried, {len(DEGRADE)} degraded "
          f"= {len(FAIL) + len(CARRY) + len(DEGRADE)} cases")
