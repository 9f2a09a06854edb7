"""Attachment names are made safe and length-capped for targets, the rename is recorded as
`file_name_changed`, and the jsonl archive keeps the original name without using it as a path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.zendesk.sandbox import make_sandbox
from hdmigrate.engine import Engine
from hdmigrate.filenames import safe_file_name
from hdmigrate.plan import plan_from_dict
from hdmigrate.testing.sample import write_dump
from hdmigrate.verify import CODE_FIELDS


@pytest.mark.parametrize("name,safe", [
    ("report.pdf", "report.pdf"),
    ("Résumé 2024 (final).docx", "Résumé 2024 (final).docx"),
    ("../../etc/passwd", "passwd"),
    ("..\\..\\Windows\\win.ini", "win.ini"),
    ("C:\\Users\\x\\notes.txt", "notes.txt"),
    ("CON", "_CON"),
    ("con.txt", "_con.txt"),
    ("NUL.tar.gz", "_NUL.tar.gz"),
    ("lpt1", "_lpt1"),
    ("a\x00b\x1b[31m\r\n.txt", "a_b_[31m__.txt"),
    ("invoice\u202efdp.exe", "invoice_fdp.exe"),
    ('what?:"<x>|*.csv', "what____x___.csv"),
    (" trailing dot. ", "trailing dot"),
    ("", "file"),
    (None, "file"),
    ("..", "file"),
    ("/", "file"),
    (".hidden", "hidden"),
])
def test_safe_file_name(name, safe):
    assert safe_file_name(name) == safe
    assert safe_file_name(safe) == safe, "a safe name stays as it is"


@pytest.mark.parametrize("stem,ext", [("x", ".pdf"), ("é", ".docx"), ("日本", ".xlsx"), ("y", "")])
def test_long_names_are_capped_at_255_bytes_keeping_the_extension(stem, ext):
    name = stem * 300 + ext
    safe = safe_file_name(name)
    assert len(safe.encode("utf-8")) <= 255 and len(safe.encode("utf-8")) > 240
    assert safe.endswith(ext) and safe.startswith(stem)
    safe.encode("utf-8").decode("utf-8")  # never half a character
    assert safe_file_name(name, max_bytes=20).endswith(ext)


def test_verify_explains_the_rename():
    assert "file_name" in CODE_FIELDS["file_name_changed"]


HOSTILE = ["../../etc/passwd", "CON", "x" * 300 + ".pdf", "bad\x1b]0;t\x07name.txt"]


def _dump_with_hostile_names(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    dump = tmp_path / "dump"
    write_dump(dump, tickets=2, comments_per_ticket=2, attachments=len(HOSTILE), defects=False)
    path = dump / "attachment.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= len(HOSTILE)
    names = {}
    for row, name in zip(rows, HOSTILE):
        row["file_name"] = name
        names[row["id"]] = name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return dump, names


def _run(plan) -> tuple[dict, list[dict]]:
    engine = Engine(plan, Path(plan.run["workdir"]))
    try:
        summary = engine.run()
        degradations = engine.store.degradations()
    finally:
        engine.store.close()
    return summary, degradations


def _zendesk_names(box) -> list[str]:
    return [a["file_name"] for _t, comments in box.tickets_with_comments()
            for c in comments for a in c.get("attachments") or []]


def _freshdesk_names(box) -> list[str]:
    return [a["name"] for kind in box.store.kinds() for r in box.store.all(kind)
            for a in (r.get("attachments") if isinstance(r.get("attachments"), list) else [])
            if isinstance(a, dict) and "name" in a]


def _zendesk():
    box = make_sandbox()
    box.job_delay = 0.01
    return box, {"job_poll_seconds": 0.05}, _zendesk_names


def _freshdesk():
    from adapters.freshdesk.sandbox import make_sandbox as make_freshdesk
    return make_freshdesk(), {}, _freshdesk_names


@pytest.mark.parametrize("make", [_zendesk, _freshdesk], ids=["zendesk", "freshdesk"])
def test_targets_get_safe_names_and_the_rename_is_recorded(tmp_path, monkeypatch, make):
    dump, names = _dump_with_hostile_names(tmp_path)
    box, extra, names_in = make()
    box.start()
    try:
        for k, v in box.env.items():
            monkeypatch.setenv(k, v)
        plan = plan_from_dict({"source": {"adapter": "jsonl", "path": str(dump)},
                               "target": {**box.plan_section, **extra},
                               "run": {"workdir": str(tmp_path / "work"),
                                       "rate_limit": {"source": 600000, "target": 600000}}}, base_dir=tmp_path)
        summary, degradations = _run(plan)
        sent = names_in(box)
    finally:
        box.stop()
    assert summary["exit_code"] == 0, summary
    for name in HOSTILE:
        assert safe_file_name(name) in sent
        assert name not in sent
    renamed = {d["id"]: d for d in degradations if d["code"] == "file_name_changed"}
    assert set(renamed) == set(names), "each renamed attachment is named in the report"
    assert all(d["kind"] == "attachment" and d["field"] == "file_name" for d in renamed.values())
    assert "sent as 'passwd'" in next(d["detail"] for i, d in renamed.items() if names[i] == HOSTILE[0])


def test_jsonl_archive_keeps_original_names_and_never_uses_them_as_paths(tmp_path):
    dump, names = _dump_with_hostile_names(tmp_path)
    out = tmp_path / "deep" / "er" / "out"
    plan = plan_from_dict({"source": {"adapter": "jsonl", "path": str(dump)},
                           "target": {"adapter": "jsonl", "path": str(out)},
                           "run": {"workdir": str(tmp_path / "work")}}, base_dir=tmp_path)
    summary, degradations = _run(plan)
    assert summary["exit_code"] == 0
    written = {json.loads(line)["id"]: json.loads(line)["file_name"]
               for line in (out / "attachment.jsonl").read_text(encoding="utf-8").splitlines()}
    assert {i: written[i] for i in names} == names
    assert not [d for d in degradations if d["code"] == "file_name_changed"]
    everything = [p.name for p in tmp_path.rglob("*")]
    assert "passwd" not in everything and "CON" not in everything
    assert all(len(p.name) == 64 for p in (out / "attachments").iterdir())
