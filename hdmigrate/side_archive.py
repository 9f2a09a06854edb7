"""The side archive: what the target cannot hold, kept beside the run as a jsonl dump.

`write_side_archive(store, plan, verify_report)` writes `<workdir>/side-archive/` in the jsonl
dump format (manifest.json, <kind>.jsonl, attachments/<sha256>), so any tool that reads a dump
reads it. It holds the *original* staged record of:

- every record with a recorded degradation (timestamps, authors, channel, private first message,
  oversize or empty attachments, changed field types, unmapped values, repaired text …);
- satisfaction ratings the target cannot hold (no SATISFACTION_RATINGS capability, or a
  `csat_not_writable` degradation);
- comments whose HTML the target rewrote, and tickets whose number the target reassigned (both
  found by `verify`);
- attachments that failed because of their size or were never written: their record, and their
  bytes when staging has them (degraded attachments the target refused keep their blob).

Each archived record gets `extra.side_archive` = {"reasons": [codes], "target_id": the target
record it belongs to (the record itself, or its ticket/comment when the record was not written)},
so the archive points at the target; the target is not written to. Audit events have no canonical
kind; sources keep them in `extra` of the ticket, which the staged original holds.

Called by `verify` (after the comparison, so its findings feed the archive); `hdmigrate verify
--no-side-archive` skips it. Running it again rewrites the archive from scratch (atomically: a
new directory is built and swapped in).
"""

from __future__ import annotations

import os
import shutil
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from .adapter import Capability
from .canonical import KINDS
from .plan import Plan
from .store import Store

ARCHIVE_DIR = "side-archive"
FINDING_CODES = ("html_rewritten", "number_not_preserved", "csat_not_writable", "attachments_not_supported")
SIZE_WORDS = ("over the limit", "too large", "is empty", "0 bytes")


def _parent_target(store: Store, kind: str, record: dict) -> str | None:
    """The target id the archived record belongs to: its own, else its ticket's or comment's."""
    entry = store.id_entry(kind, record["id"])
    if entry and entry["state"] == "done" and entry["target_id"]:
        return entry["target_id"]
    for field, parent_kind in (("comment_id", "comment"), ("ticket_id", "ticket")):
        pid = record.get(field)
        if pid is not None:
            parent = store.id_entry(parent_kind, str(pid))
            if parent and parent["state"] == "done":
                return parent["target_id"]
    return None


def collect_reasons(store: Store, plan: Plan, verify_report: dict | None,
                    findings: Iterable[tuple[str, str, str]] | None = None) -> dict[tuple[str, str], set[str]]:
    """(kind, id) -> reason codes. `findings`: (kind, id, code) of every finding of the verify
    run; without it the report's, which stores only the first MAX_STORED_FINDINGS of them."""
    reasons: dict[tuple[str, str], set[str]] = defaultdict(set)
    for d in store.degradations():
        reasons[(d["kind"], d["id"])].add(d["code"])
    target_caps = frozenset()
    try:
        spec = plan.spec("target")
        target_caps = frozenset(spec.target.capabilities) if spec.target else frozenset()
    except Exception:  # noqa: BLE001 - an unknown adapter: archive what is recorded
        pass
    if Capability.SATISFACTION_RATINGS not in target_caps:
        for record, _h in store.iter_records("satisfaction_rating"):
            reasons[("satisfaction_rating", record["id"])].add("csat_not_writable")
    if findings is None:
        findings = ((f["kind"], f["id"], f.get("code")) for f in (verify_report or {}).get("findings", []))
    for kind, rid, code in findings:
        if code in FINDING_CODES:
            reasons[(kind, rid)].add(code)
    for failure in store.failures():
        text = (failure.get("reason") or "").lower()
        if failure["kind"] == "attachment" and any(w in text for w in SIZE_WORDS):
            reasons[("attachment", failure["id"])].add("attachment_not_written")
    return reasons


def write_side_archive(store: Store, plan: Plan, verify_report: dict | None = None,
                       path: Path | None = None, findings: Iterable[tuple[str, str, str]] | None = None) -> dict:
    """Write the side archive; returns {"path", "records", "blobs", "by_reason"}."""
    from hdmigrate.canonical_dump import DumpWriter

    root = Path(path or store.workdir / ARCHIVE_DIR)
    building = root.with_name(root.name + ".building")
    if building.exists():
        shutil.rmtree(building)
    old_umask = os.umask(0o077)  # the archive holds customer data, like staging
    try:
        writer = DumpWriter(building, source=str(plan.source.get("adapter") or "hdmigrate"))
        reasons = collect_reasons(store, plan, verify_report, findings)
        counts: dict[str, int] = defaultdict(int)
        by_reason: dict[str, int] = defaultdict(int)
        blobs = 0
        for kind in KINDS:
            keys = sorted(rid for (k, rid) in reasons if k == kind)
            for rid in keys:
                record = store.record(kind, rid)
                if record is None:
                    continue
                codes = sorted(reasons[(kind, rid)])
                archived = dict(record)
                extra = dict(archived.get("extra") or {}) if isinstance(archived.get("extra"), dict) else {}
                extra["side_archive"] = {"reasons": codes, "target_id": _parent_target(store, kind, record)}
                archived["extra"] = extra
                writer.add(kind, archived)
                counts[kind] += 1
                for code in codes:
                    by_reason[code] += 1
                if kind == "attachment" and record.get("sha256"):
                    try:
                        blob = store.blob_path(record["sha256"])
                    except ValueError:
                        continue
                    if blob.exists():
                        writer.copy_blob(blob, record["sha256"])
                        blobs += 1
        writer.close(dict(counts))
    finally:
        os.umask(old_umask)
    if root.exists():
        shutil.rmtree(root)
    os.replace(building, root)
    return {"path": str(root), "records": sum(counts.values()), "blobs": blobs,
            "by_kind": dict(counts), "by_reason": dict(sorted(by_reason.items()))}
