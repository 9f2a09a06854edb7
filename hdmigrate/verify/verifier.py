"""The Verifier: reads the target, pairs, compares, counts what is missing, measures CX."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

from .. import cx, stamps
from ..adapter import Source
from ..blobfile import BlobFile, spool_downloads
from ..canonical import KINDS, PERSON_KINDS, in_selection
from ..errors import FatalApiError
from ..plan import Plan
from ..store import Store, now

from .readback import TargetRecord, _scope, read_back, target_source
from .metric_notes import metric_notes
from .placing import _Placing
from .compare import _Comparing
from .rules import (CAPABILITY_FIELDS, CAPABILITY_KINDS, CODE_FIELDS, ENUM_FIELDS, EXIT_DIFFERENCES, EXIT_NOT_MIGRATED,
                    LEFT_OUT_CODES, LOSSLESS_TARGETS, MAX_STORED_FINDINGS, NOT_MIGRATED_STATES, TARGET_ASSIGNED,
                    Finding, _id_order, _norm_tag, shorten_values)


# Read-back tickets and comments (nearly all of a target) wait on disk, whole, in an unlinked
# owner-only file in the work directory, from the read until their record is compared. In memory
# each keeps only what pairing reads (PLACING: ids, parents, times, hashes; the stamps in `extra`,
# the tags and, for a target that stamps bodies, the first HEAD characters of `body_html`, where
# Freshdesk's origin line is). After the comparison a record keeps what the per-ticket counts and
# the metrics read (SLIM_KEPT, or all but SLIM_DROPPED).
SPOOLED_KINDS = frozenset({"ticket", "comment"})
PLACING = ("id", "ticket_id", "comment_id", "created_at", "sha256", "tags")
HEAD = 1024
SLIM_DROPPED = frozenset({"body_html", "body_text", "extra", "subject"})
SLIM_KEPT = {"comment": ("id", "ticket_id", "created_at", "public", "author_id", "author_kind"),
             "attachment": ("id", "comment_id", "sha256")}


def _slim(record: dict, kind: str | None = None) -> dict:
    kept = SLIM_KEPT.get(kind or "")
    if kept:
        return {k: record[k] for k in kept if k in record}
    return {k: v for k, v in record.items() if k not in SLIM_DROPPED}


class _Degradation:
    """A recorded degradation as verify reads it (`d["code"]`), in slots: a run records one per
    comment or more, and most share their code and detail text (kept once: _degradations)."""

    __slots__ = ("field", "code", "detail")

    def __init__(self, field, code, detail):
        self.field, self.code, self.detail = field, code, detail

    def __getitem__(self, key: str):
        return getattr(self, key)


def _degradations(store: Store) -> dict[tuple[str, str], list[_Degradation]]:
    by_record: dict[tuple[str, str], list[_Degradation]] = defaultdict(list)
    same: dict = {}                        # one copy of each repeated string
    for d in store.degradations():
        key = (same.setdefault(d["kind"], d["kind"]), d["id"])
        by_record[key].append(_Degradation(*(same.setdefault(d[k], d[k]) for k in ("field", "code", "detail"))))
    return by_record


class Verifier(_Placing, _Comparing):
    """Compares the target with staging. `run()` returns the report (and stores it)."""

    def __init__(self, store: Store, plan: Plan, workdir: Path | None = None,
                 log: Callable[[str], None] = lambda m: None, check_bytes: bool = True):
        self.store = store
        self.plan = plan
        self.workdir = Path(workdir or store.workdir)
        self.log = log
        self.check_bytes = check_bytes
        self.findings: list[Finding] = []
        spec = plan.spec("target")
        self.target_name = spec.name
        self.target_caps = frozenset(spec.target.capabilities) if spec.target else frozenset()
        self.target_cls = spec.target
        self.lossless = spec.name in LOSSLESS_TARGETS
        self.tag_migrated = _norm_tag(plan.options.get("tag_migrated")) if plan.options.get("tag_migrated") else None
        self.field_keys = {entity: {str(t): str(s) for s, t in (keys or {}).items()}
                           for entity, keys in (plan.mapping.get("fields") or {}).items()}
        # id map: kind -> source id -> target id (done), and reverse; the other states apart
        # (`_state`: nearly every entry is done, kept once)
        self.done: dict[str, dict[str, str]] = defaultdict(dict)
        self.rev: dict[str, dict[str, str]] = defaultdict(dict)
        self.states: dict[str, dict[str, str]] = defaultdict(dict)
        for kind, sid, tid, state in store.id_map_rows():
            if state == "done" and tid is not None:
                self.done[kind][sid] = tid
                self.rev[kind].setdefault(str(tid), sid)
            else:
                self.states[kind][sid] = state
        self.degradations = _degradations(store)
        self.source_reader: Source | None = None
        self.stamp_prefix = str(plan.target.get("stamp_prefix") or "")
        self.original_time_fields = cx.original_time_fields(plan.mapping)
        self.kept_time_keys: set[str] = set()   # read-back ticket field keys keeping original times
        self.stamp_places = frozenset(spec.target.stamp_places)
        # Failures the run's report names (any run): kind, id -> reason.
        self.failure_reasons: dict[tuple[str, str], str] = {}
        for row in store.failures():
            self.failure_reasons[(row["kind"], row["id"])] = row["reason"] or ""
        self.errors = store.id_map_errors()
        self.rollbacks = store.rollback_states()
        self.scope_kinds, self.selection = _scope(store, plan)
        self.alias: dict[str, dict[str, str]] = defaultdict(dict)
        self.key_back: dict[str, dict[str, str]] = {}
        self._spool = None
        self._texts: dict[str, str] = {}

    # -- explanations ----------------------------------------------------------------------------
    def explain(self, f: Finding) -> Finding:
        root = f.field.split(".", 1)[0]
        for d in self.degradations.get((f.kind, f.id), ()):
            covered = CODE_FIELDS.get(d["code"], frozenset())
            dfield = d["field"] or ""
            if f.field == "(record)" and not (f.problem == "missing" and (
                    d["code"] in LEFT_OUT_CODES or "(record)" in covered)):
                continue  # a degraded field never explains a lost, duplicated or unrecorded record
            if (dfield == "" or d["code"] in LEFT_OUT_CODES or dfield == f.field or f.field.startswith(dfield + ".") or root == dfield
                    or root in covered or f.field in covered):
                if f.problem == "differs" and root == "public" and f.source is False and f.target is True \
                        and d["code"] != "private_first_message":
                    continue  # privacy: only the explicit degradation explains it
                f.explained, f.code = True, d["code"]
                f.detail = f.detail or (d["detail"] or "")
                return f
        if f.problem == "differs":
            if root == "public":
                return f  # never explained by a capability
            for cap, (code, fields) in CAPABILITY_FIELDS.items():
                if cap not in self.target_caps and root in fields:
                    f.explained, f.code = True, code
                    f.detail = f.detail or self._text(f"the {self.target_name} target does not declare {cap.value}")
                    return f
            if root in ENUM_FIELDS and f.source is None and f.target is not None and not self.lossless:
                f.explained, f.code = True, "target_default"
                f.detail = self._text(f"the source has no {root}; the target filled in its default")
                return f
            if root in ENUM_FIELDS:
                mapped = (self.plan.mapping.get(root) or {})
                if isinstance(mapped, dict) and str(f.source) in mapped:
                    f.explained, f.code = True, "value_mapped"
                    f.detail = f"[mapping.{root}] maps {f.source!r} to {mapped[str(f.source)]!r}"
                    return f
            code = TARGET_ASSIGNED.get(f.kind, {}).get(root)
            if code and not self.lossless:
                f.explained, f.code = True, code
                f.detail = f.detail or "assigned by the target; the original is kept in the side archive"
                return f
        if f.problem == "missing":
            for cap, (code, kinds) in CAPABILITY_KINDS.items():
                if cap not in self.target_caps and f.kind in kinds:
                    f.explained, f.code = True, code
                    f.detail = self._text(f"the {self.target_name} target does not declare {cap.value}")
                    return f
        return f

    def _text(self, text: str) -> str:
        """One copy of an explanation many findings share (one finding per comment is common)."""
        return self._texts.setdefault(text, text)

    def add(self, f: Finding) -> None:
        f = f if f.explained else self.explain(f)
        shorten_values(f)          # after explain: it reads the values whole
        self.findings.append(f)

    # -- reading and placing target records ------------------------------------------------------
    def _read_target(self) -> dict[str, list[TargetRecord]]:
        self.source_reader = target_source(self.plan, self.workdir, self.log)
        self._spool = tempfile.TemporaryFile(dir=self.workdir)      # mode 0600, unlinked at once
        by_kind: dict[str, list[TargetRecord]] = defaultdict(list)
        for kind, record in read_back(self.source_reader, self.findings):
            if kind in KINDS and isinstance(record, dict) and record.get("id") is not None:
                by_kind[kind].append(self._spooled(TargetRecord(kind, record)))
        if self.check_bytes:
            for tr in by_kind.get("attachment", ()):
                self._hash_bytes(tr)
        return by_kind

    def _spooled(self, tr: TargetRecord) -> TargetRecord:
        """A ticket or comment written to the spool whole; in memory what pairing reads."""
        if tr.kind not in SPOOLED_KINDS:
            return tr
        record = tr.record
        try:
            data = json.dumps(record, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError):
            return tr                  # not plain JSON: kept as it is
        self._spool.seek(0, 2)
        tr.spooled = (self._spool.tell(), len(data))
        self._spool.write(data)
        view = {k: record[k] for k in PLACING if k in record}
        extra = record.get("extra")
        if isinstance(extra, dict):
            stamps_in = {k: v for k, v in extra.items() if "external" in k or k == "stamp"}
            if stamps_in:
                view["extra"] = stamps_in
        if "body" in self.stamp_places and isinstance(record.get("body_html"), str):
            view["body_html"] = record["body_html"][:HEAD]
        tr.record = view
        return tr

    def _unspooled(self, tr: TargetRecord) -> dict:
        """The record as read back, whole."""
        if tr.spooled is None:
            return tr.record
        offset, length = tr.spooled
        self._spool.seek(offset)
        return json.loads(self._spool.read(length).decode("utf-8"))

    def _hash_bytes(self, tr: TargetRecord) -> None:
        """Download one attachment from the target and hash it; a target whose read-back records
        carry no sha256 gets the computed one (and size) filled in."""
        try:
            with spool_downloads(self.workdir / "blobs" / "incoming"):   # hashed on disk, not in memory
                data = self.source_reader.fetch_attachment(tr.record)
        except FatalApiError:
            raise
        except Exception as e:  # noqa: BLE001 - reported per record
            tr.fetch_error = str(e)[:200]
            return
        if isinstance(data, BlobFile):
            data.discard()
            tr.actual_sha, size = data.sha256, data.size
        else:
            tr.actual_sha, size = hashlib.sha256(data).hexdigest(), len(data)
        if not tr.record.get("sha256"):
            tr.record = dict(tr.record, sha256=tr.actual_sha)
            if tr.record.get("size") is None:
                tr.record["size"] = size

    # -- the run ---------------------------------------------------------------------------------
    def run(self) -> dict:
        started = now()
        try:
            by_kind = self._read_target()
            self._place(by_kind)
            report = self._compare_all(by_kind)
        finally:      # also when the read fails: the spool and the reader's connections
            if self._spool is not None:
                self._spool.close()
            if self.source_reader is not None:
                try:
                    self.source_reader.close()
                except Exception:  # noqa: BLE001
                    pass
        report["started_at"] = started
        report["finished_at"] = now()
        return report

    def _compare_all(self, by_kind: dict[str, list[TargetRecord]]) -> dict:
        counts: dict[str, dict[str, int]] = {}
        target_by_sid: dict[str, dict[str, TargetRecord]] = defaultdict(dict)
        for kind in KINDS:
            c = counts.setdefault(kind, dict.fromkeys(
                ("staged", "migrated", "failed", "rolled_back", "not_loaded", "target", "matched", "left_out",
                 "missing", "duplicate", "unrecorded", "extra"), 0))
            c["target"] = len(by_kind.get(kind, ()))
            self._index_target(kind, by_kind.get(kind, ()), target_by_sid[kind], c)
            for record, _h in self.store.iter_records(kind):
                self._compare_staged(kind, record, target_by_sid[kind], c)
            # Records that failed before staging (normalize) are named in the report too.
            for sid, state in self.states[kind].items():
                if state in NOT_MIGRATED_STATES and not self.store.has_record(kind, sid):
                    self._not_migrated(kind, sid, state, c)
        threads = self._target_threads(target_by_sid)
        per_ticket = self._per_ticket(target_by_sid, threads)
        m_s, m_t = self._metrics_source(), self._metrics_target(target_by_sid, threads)
        return self._report(counts, per_ticket, {"source": m_s, "target": m_t, "notes": metric_notes(self, m_s, m_t)})

    def _index_target(self, kind: str, records, by_sid: dict[str, TargetRecord], c: dict) -> None:
        """Target records by the source id they were placed at; unplaced and duplicates named."""
        for tr in records:
            if tr.source_id is None:
                self._unplaced(kind, tr, c)
            elif tr.source_id in by_sid:
                c["duplicate"] += 1
                self.add(Finding(kind, tr.source_id, "(record)", "duplicate", target_id=str(tr.record["id"]),
                                 detail=f"{kind} {tr.source_id} is in the target more than once"))
            else:
                by_sid[tr.source_id] = tr

    def _compare_staged(self, kind: str, record: dict, by_sid: dict[str, TargetRecord], c: dict) -> None:
        """One staged record: not migrated (named), not meant to be written, missing, or compared."""
        sid = record["id"]
        c["staged"] += 1
        state = self._state(kind, sid)
        if state in NOT_MIGRATED_STATES:
            self._not_migrated(kind, sid, state, c)
            return
        if state != "done":
            if not self._in_scope(kind, sid):
                c["not_loaded"] += 1      # outside [scope] kinds / the sample: not meant to be written
                return
            c["missing"] += 1
            self.add(Finding(kind, sid, "(record)", "missing", detail=(
                f"staged for this migration but never written and not named as failed "
                f"(id map: {state or 'no entry'})")))
            return
        c["migrated"] += 1
        tid = self.done[kind][sid]
        tr = by_sid.get(sid)
        if tr is None:
            f = Finding(kind, sid, "(record)", "missing", target_id=tid,
                        detail=f"written as {kind} {tid} according to the id map; not found in the target")
            self.add(f)
            # left out on purpose (recorded, or a capability the target lacks) is not a loss
            c["left_out" if f.explained else "missing"] += 1
            return
        c["matched"] += 1
        translated = self._translate(kind, self._unspooled(tr))
        self.compare(kind, sid, tid, record, translated)
        if kind == "attachment":
            self._check_bytes(sid, tid, record, tr)
        # what the per-ticket counts and the metrics read, no more (the whole record is on disk);
        # nothing reads the read-back form of a compared record again
        tr.translated, tr.record, tr.spooled = _slim(translated, kind), None, None

    def _report(self, counts: dict, per_ticket: dict, metrics: dict) -> dict:
        not_migrated = [f for f in self.findings if f.problem == "not_migrated"]
        unexplained = [f for f in self.findings if not f.explained and f.problem not in ("extra", "not_migrated")]
        explained = [f for f in self.findings if f.explained]
        by_code = Counter(f.code or f.problem for f in explained)
        by_problem = Counter(f"{f.problem} {f.kind}.{f.field}" if f.problem == "differs" else f"{f.problem} {f.kind}"
                             for f in unexplained)
        nm_by_kind: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for f in not_migrated:
            nm_by_kind[f.kind][f.code] += 1
        exit_code = EXIT_DIFFERENCES if unexplained else EXIT_NOT_MIGRATED if not_migrated else 0
        kind_order = {k: i for i, k in enumerate(KINDS)}
        ordered = sorted(self.findings, key=lambda f: (f.problem != "not_migrated" and f.explained,
                                                       f.problem == "not_migrated", kind_order.get(f.kind, 99),
                                                       _id_order(f.id), f.field))
        return {
            "target": self.target_name,
            "ok": exit_code == 0,
            "exit_code": exit_code,
            "counts": {k: v for k, v in counts.items() if any(v.values())},
            "tickets": per_ticket,
            "summary": {"unexplained": len(unexplained), "explained": len(explained),
                        "not_migrated": len(not_migrated),
                        "not_migrated_by_kind": {k: dict(v) for k, v in nm_by_kind.items()},
                        "explained_by_code": dict(sorted(by_code.items())),
                        "unexplained_by_problem": dict(sorted(by_problem.items()))},
            "findings": [f.as_dict() for f in ordered[:MAX_STORED_FINDINGS]],
            "findings_total": len(self.findings),
            "metrics": metrics,
        }

    def _not_migrated(self, kind: str, sid: str, state: str, c: dict) -> None:
        """A record the run's report names as not in the target: failed (with its reason) or
        rolled back. Not a silent loss, but never a clean migration either."""
        if state == "rolled_back":
            c["rolled_back"] += 1
            detail = "removed from the target by `hdmigrate rollback`"
        else:
            c["failed"] += 1
            reason = self.failure_reasons.get((kind, sid)) or self.errors.get((kind, sid))
            if not reason:
                self.add(Finding(kind, sid, "(record)", "missing",
                                 detail="failed, but no reason is recorded in the run's report"))
                return
            detail = f"failed: {reason}"
        self.findings.append(Finding(kind, sid, "(record)", "not_migrated", code=NOT_MIGRATED_STATES[state],
                                     detail=detail))

    def _unplaced(self, kind: str, tr: TargetRecord, c: dict) -> None:
        """A target record no source record was placed on: a duplicate or an unrecorded write when
        it carries our stamp (or, in a lossless target, a staged id), else someone else's."""
        tid = str(tr.record["id"])
        stamped = self._stamp_owner(kind, tr.record)
        skind, ours = stamped if stamped else (kind, None)
        if ours is None and self.lossless and self.store.has_record(kind, tid):
            ours = tid
        if ours is not None and ours in self.done[skind]:
            c["duplicate"] += 1
            self.add(Finding(skind, ours, "(record)", "duplicate", target_id=tid,
                             detail=f"a second target record carries source {skind} {ours} "
                                    f"(the id map names {self.done[skind][ours]})"))
        elif ours is not None:
            c["unrecorded"] += 1
            state = self._state(skind, ours)
            f = Finding(skind, ours, "(record)", "unrecorded", target_id=tid,
                        detail=f"in the target, but the id map says {state or 'nothing'}")
            if state == "rolled_back" and any((v or {}).get("tagged") for v in self._rollback_states()):
                f.explained, f.code = True, "rolled_back_tagged"
                f.detail = "rolled back by tagging (the target cannot delete): still in the target, tagged"
            self.add(f)
        elif not (kind == "custom_field" and str(tr.record.get("key")) in self.kept_time_keys):
            c["extra"] += 1      # (the fields the run created for the original times are its own)

    def _rollback_states(self) -> list[dict]:
        import json as _json
        out = []
        for value in self.rollbacks.values():
            try:
                out.append(_json.loads(value) if isinstance(value, str) else value)
            except ValueError:
                continue
        return out

    def _stamp_owner(self, kind: str, record: dict) -> tuple[str, str] | None:
        """(kind, source id) a read-back record's stamp names. Stamps with a kind (Zendesk) are
        ours whatever the id; kindless ones (Freshdesk, RT, django-helpdesk) only for ids staging or
        the id map knows, so a customer's own `hdm-…` tag is not taken for ours."""
        kinds = PERSON_KINDS if kind in PERSON_KINDS else (kind,)
        for skind, sid in stamps.stamps_of(record, None, self.stamp_prefix, self.stamp_places):
            if skind is not None:
                if skind in kinds:
                    return skind, sid
                continue
            for k in kinds:
                if self._state(k, sid) is not None or self.store.has_record(k, sid):
                    return k, sid
        return None

    def _state(self, kind: str, sid: str) -> str | None:
        """The id map's state of a record (None: no entry)."""
        return "done" if sid in self.done[kind] else self.states[kind].get(sid)

    def _in_scope(self, kind: str, sid: str) -> bool:
        if self.scope_kinds is not None and kind not in self.scope_kinds:
            return False
        return in_selection(self.selection, kind, sid)

    def _left_out(self, kind: str, sid: str) -> str | None:
        """The code of a recorded degradation saying this record was left out on purpose."""
        for d in self.degradations.get((kind, sid), ()):
            if d["code"] in LEFT_OUT_CODES:
                return d["code"]
        return None

    def _target_threads(self, target_by_sid) -> dict[str, list[str]]:
        """Source ticket id -> the source ids of its read-back comments (what the per-ticket
        counts and the metrics walk, a ticket at a time)."""
        threads: dict[str, list[str]] = defaultdict(list)
        for sid, tr in target_by_sid["comment"].items():
            threads[str(self._translated("comment", tr).get("ticket_id"))].append(sid)
        return threads

    def _translated(self, kind: str, tr: TargetRecord) -> dict:
        """A read-back record's slim translation (made once; compared records have theirs)."""
        if tr.translated is None:
            tr.translated = _slim(self._translate(kind, self._unspooled(tr)), kind)
        return tr.translated

    def _per_ticket(self, target_by_sid, threads: dict[str, list[str]]) -> dict:
        """Per ticket: comment count, public/private split and attachment hashes, both sides. The
        source side is read from staging a ticket at a time (ids, flags and hashes alone)."""
        checked = differing = 0
        done = self.done
        tgt_atts: dict[str, list[str]] = defaultdict(list)
        for sid, tr in target_by_sid["attachment"].items():
            t = self._translated("attachment", tr)
            tgt_atts[str(t.get("comment_id"))].append(t.get("sha256"))
        findings_of: dict | None = None       # (kind, id) -> findings, made at the first need
        for tid in done["ticket"]:
            checked += 1
            s = [(cid, public) for cid, public in self.store.comment_flags(tid) if cid in done["comment"]]
            t = [(csid, self._translated("comment", target_by_sid["comment"][csid]).get("public"))
                 for csid in threads.get(tid, ())]
            sp = sum(1 for _, public in s if public), sum(1 for _, public in s if not public)
            tp = sum(1 for _, public in t if public), sum(1 for _, public in t if not public)
            files = self.store.file_hashes(tid)
            written = {cid for cid, _ in s}
            s_sha = sorted(sha for cid, aid, sha in files
                           if cid in written and aid in done["attachment"] and sha and not self._left_out("attachment", aid))
            t_sha = sorted(x for csid, _ in t for x in tgt_atts.get(str(csid), []) if x)
            problems = []
            if len(s) != len(t):
                problems.append(("comments.count", len(s), len(t)))
            if sp != tp:
                problems.append(("comments.public_private", list(sp), list(tp)))
            if s_sha != t_sha:
                problems.append(("attachments.sha256", s_sha, t_sha))
            if not problems:
                continue
            differing += 1
            if findings_of is None:
                findings_of = defaultdict(list)
                for f in self.findings:
                    findings_of[(f.kind, f.id)].append(f)
            children = [("comment", cid) for cid, _ in s]
            children += [("attachment", aid) for cid, aid, _ in files if cid in written]
            child_findings = [f for key in children for f in findings_of.get(key, ())]
            all_explained = bool(child_findings) and all(f.explained for f in child_findings)
            for field, a, b in problems:
                f = Finding("ticket", tid, field, "differs", a, b, done["ticket"][tid])
                if all_explained:
                    f.explained, f.code = True, "explained_by_records"
                    f.detail = "every difference among this ticket's comments and files is explained"
                    shorten_values(f)
                    self.findings.append(f)
                else:
                    self.add(f)
        return {"checked": checked, "with_differences": differing}

    # -- CX metrics ------------------------------------------------------------------------------
    def _metrics_source(self) -> dict:
        """The source side, a ticket at a time from staging: written tickets, with their written comments."""
        done = self.done
        total = cx.MetricsSum(set(done["agent"]), self.original_time_fields)
        for ticket, _h in self.store.iter_records("ticket"):
            if ticket["id"] in done["ticket"]:
                thread = [_slim(c, "comment") for c in self.store.records_by_parent("comment", ticket["id"])
                          if c["id"] in done["comment"]]
                total.add_ticket(_slim(ticket), thread)
        total.add_comments(self.store.written_count("comment"))
        for rating, _h in self.store.iter_records("satisfaction_rating"):
            if rating["id"] in done["satisfaction_rating"]:
                total.add_rating(rating)
        return total.result()

    def _metrics_target(self, target_by_sid, threads: dict[str, list[str]]) -> dict:
        """The target side, a ticket at a time over the paired read-back records."""
        total = cx.MetricsSum(set(target_by_sid["agent"]), self.original_time_fields)
        comments = target_by_sid["comment"]
        for sid, tr in target_by_sid["ticket"].items():
            thread = [dict(self._translated("comment", comments[c]), id=c) for c in threads.get(sid, ())]
            total.add_ticket(dict(self._translated("ticket", tr), id=sid), thread)
        total.add_comments(len(comments))
        for sid, tr in target_by_sid["satisfaction_rating"].items():
            total.add_rating(self._translated("satisfaction_rating", tr))
        return total.result()
