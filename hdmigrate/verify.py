"""`hdmigrate verify`: read the target back and compare it with staging, record by record.

The target is read through the *source* side of the target's own adapter, built from the plan's
[target] section (architecture.md, "Reading back"), so both sides are compared in canonical form.
Target ids are mapped back to source ids through the id map (reverse lookup); records the id map
cannot place directly (a target that returns no id for a comment written inside its ticket) are
paired by position within their parent. Then, per record:

- missing      written according to the id map, absent from the target;
- duplicate    two target records that are the same source record;
- unrecorded   in the target, recognisably ours (same id / our stamp), but the id map does not
               say it was written;
- differs      a field differs: timestamps to the second, authors, public/private, tags, custom
               fields, channel, attachment SHA-256 (of the bytes read back), bodies (where a
               target rewrites HTML, the normalised comparison decides and the difference is kept);
- per ticket   number of comments, public/private split, attachment hashes.

A difference is *explained* when a degradation recorded for that record covers the field, when the
target adapter does not declare the capability (e.g. no PRESERVE_TIMESTAMPS), or when the plan's
mapping changed the value on purpose. Anything else is unexplained and makes `verify` exit 5.
Private → public is never explained by a capability, only by a recorded `private_first_message`.

CX metrics (first reply time, resolution time, CSAT distribution, channel mix, status mix) are
computed over the migrated records on both sides and shown side by side.

The result is stored in staging (`state.verify_report`), so `hdmigrate report` shows it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from . import cx, inline_images, stamps
from .adapter import Capability, Source
from .blobfile import BlobFile, spool_downloads
from .canonical import KINDS, PERSON_KINDS, REFERENCES, in_selection, parse_time
from .errors import ApiError, ConfigError, FatalApiError, HdmError
from .plan import Plan
from .store import Store, now

EXIT_DIFFERENCES = 5
MAX_STORED_FINDINGS = 2000
# Targets that keep every field (unknown ones and `extra` included): compared on every key.
LOSSLESS_TARGETS = frozenset({"jsonl"})
TIME_FIELDS = ("created_at", "updated_at", "solved_at", "due_at")
# Fields compared for every target (besides references and per-kind specials below).
SKIP_ALWAYS = frozenset({"id", "extra"})
ENUM_FIELDS = ("status", "priority", "type", "channel")
# Kinds whose timestamps PRESERVE_TIMESTAMPS promises to keep (others get the target's own time).
TIMED_KINDS = frozenset({"ticket", "comment", "satisfaction_rating"})

# Codes meaning the record itself was left out of the target on purpose: they explain its absence
# and every field of it, and the parent's reference to it (a comment's attachment_ids, the
# ticket's attachment hashes).
LEFT_OUT_CODES = frozenset({"attachment_empty", "attachment_rejected", "attachment_too_large",
                            "csat_not_writable", "attachments_not_supported"})
# Id map states of records the run's report names as not in the target.
NOT_MIGRATED_STATES = {"failed": "record_failed", "rolled_back": "rolled_back"}
# Exit codes (cli-and-plan.md): 5 unexplained differences; 1 nothing unexplained, but records the
# report names (failed, rolled back) are not in the target.
EXIT_NOT_MIGRATED = 1

# Which fields a degradation code covers (besides the field recorded with it).
CODE_FIELDS: dict[str, frozenset[str]] = {
    "timestamp_not_preserved": frozenset(TIME_FIELDS),
    "author_not_preserved": frozenset({"author_id", "author_kind"}),
    "channel_not_preserved": frozenset({"channel"}),
    "private_first_message": frozenset({"public"}),
    "attachment_too_large": frozenset({"attachment_ids", "(record)", "sha256", "size"}),
    "attachment_empty": frozenset({"attachment_ids", "(record)", "sha256", "size"}),
    "attachment_rejected": frozenset({"attachment_ids", "(record)", "sha256", "size", "file_name"}),
    "field_type_changed": frozenset({"custom_fields"}),
    "value_unmapped": frozenset(),
    "csat_not_writable": frozenset({"(record)", "score", "scale", "comment", "contact_id"}),
    "inline_image_detached": frozenset({"body_html", "inline", "content_id", "attachment_ids"}),
    "inline_image_rehosted": frozenset({"inline", "content_id"}),  # bodies: _images_only decides
    "text_repaired": frozenset({"subject", "body_html", "body_text"}),
    "csat_scale_changed": frozenset({"score", "scale"}),
    "file_name_changed": frozenset({"file_name"}),
}
# What a missing capability of the target explains: capability -> (code, fields).
CAPABILITY_FIELDS: dict[Capability, tuple[str, frozenset[str]]] = {
    Capability.PRESERVE_TIMESTAMPS: ("timestamp_not_preserved", frozenset(TIME_FIELDS)),
    Capability.PRESERVE_AUTHORS: ("author_not_preserved", frozenset({"author_id", "author_kind"})),
    Capability.PRESERVE_CHANNEL: ("channel_not_preserved", frozenset({"channel"})),
    Capability.CUSTOM_FIELDS: ("custom_fields_not_supported", frozenset({"custom_fields"})),
    Capability.INLINE_IMAGES: ("inline_image_detached", frozenset({"inline", "content_id"})),
}
CAPABILITY_KINDS: dict[Capability, tuple[str, frozenset[str]]] = {
    Capability.SATISFACTION_RATINGS: ("csat_not_writable", frozenset({"satisfaction_rating"})),
    Capability.ATTACHMENTS: ("attachments_not_supported", frozenset({"attachment"})),
    Capability.CREATE_CUSTOM_FIELDS: ("custom_field_not_created", frozenset({"custom_field"})),
}
# Values a target assigns itself: kept in the side archive, explained here.
TARGET_ASSIGNED = {"ticket": {"number": "number_not_preserved"},
                   "custom_field": {"key": "field_key_assigned"}}


@dataclasses.dataclass
class Finding:
    kind: str
    id: str
    field: str
    problem: str                   # missing, duplicate, unrecorded, extra, differs, unreadable
    source: object = None
    target: object = None
    target_id: str | None = None
    explained: bool = False
    code: str = ""                 # the degradation / explanation code
    detail: str = ""

    def as_dict(self) -> dict:
        out = {"kind": self.kind, "id": self.id, "field": self.field, "problem": self.problem,
               "explained": self.explained, "code": self.code, "detail": self.detail}
        if self.target_id is not None:
            out["target_id"] = self.target_id
        if self.problem == "differs":
            out["source"] = _short_value(self.source)
            out["target"] = _short_value(self.target)
        return out


def _short_value(value, limit: int = 300):
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"… ({len(value)} characters)"
    if isinstance(value, (list, dict)):
        text = repr(value)
        if len(text) > limit:
            return text[:limit] + "…"
    return value


# -------------------------------------------------------------------------- normalisation helpers



def same_second(a, b) -> bool:
    da, db = parse_time(a), parse_time(b)
    if da is None or db is None:
        return a == b
    return int(da.timestamp()) == int(db.timestamp())


class _Text(HTMLParser):
    """Visible text of an HTML fragment (scripts and styles dropped), whitespace collapsed."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "li", "tr", "h1", "h2", "h3", "blockquote"):
            self.parts.append(" ")
        if tag == "img":
            src = dict(attrs).get("src") or ""
            self.parts.append(f" [img {src.split('/')[-1]}] " if src else " ")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_text(value: str | None) -> str:
    if not value:
        return ""
    parser = _Text()
    try:
        parser.feed(value)
        parser.close()
    except Exception:  # noqa: BLE001 - malformed markup: fall back to the raw string
        return " ".join(html.unescape(value).split())
    return " ".join("".join(parser.parts).split())


def _norm_tag(tag) -> str:
    return str(tag).strip().lower().replace(" ", "_")


# -------------------------------------------------------------------------- reading the target

@dataclasses.dataclass
class TargetRecord:
    kind: str
    record: dict            # as read back (target ids)
    source_id: str | None = None
    translated: dict | None = None
    actual_sha: str | None = None      # SHA-256 of the bytes read back (attachments)
    fetch_error: str | None = None


def target_source(plan: Plan, workdir: Path, log: Callable[[str], None] = lambda m: None) -> Source:
    """The source side of the target's adapter, built from the plan's [target] section."""
    spec = plan.spec("target")
    if spec.source is None:
        raise ConfigError(f"the {spec.name} adapter has no source side: verify cannot read the target back")
    ctx = plan.adapter_context("target", workdir, log)
    return spec.source(ctx)


def read_back(source: Source, findings: list[Finding]) -> Iterator[tuple[str, dict]]:
    """Every canonical record the target holds. A payload that cannot be mapped is a finding
    (`unreadable`), not a crash; a fatal API error stops verify (exit 3)."""
    source.check()
    for stream in source.streams():
        for page in source.fetch(stream):
            for raw_id, payload in page.items:
                try:
                    produced = list(source.to_canonical(stream, payload))
                except FatalApiError:
                    raise
                except Exception as e:  # noqa: BLE001 - reported per record
                    findings.append(Finding(stream, str(raw_id), "(record)", "unreadable",
                                            detail=f"cannot read back: {str(e)[:300]}"))
                    continue
                yield from produced


def _scope(store: Store, plan: Plan) -> tuple[set[str] | None, dict[str, set[str]] | None]:
    """The kinds and records the run meant to write: `[scope] kinds` and the sample / tag
    selection, decided the way the engine decides them (staged records outside it are not lost)."""
    from .engine import Engine
    engine = Engine(plan, store.workdir, store=store)
    try:
        kinds = set(engine._kinds_to_load(None)) if plan.scope.get("kinds") else None
        selection = engine._select()
    except (AttributeError, TypeError):  # an engine that decides otherwise: everything staged counts
        return None, None
    if kinds is not None and "comment" in kinds:
        kinds.add("attachment")
    return kinds, selection


# -------------------------------------------------------------------------- the verifier

class Verifier:
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
        self.lossless = spec.name in LOSSLESS_TARGETS
        self.tag_migrated = _norm_tag(plan.options.get("tag_migrated")) if plan.options.get("tag_migrated") else None
        self.field_keys = {entity: {str(t): str(s) for s, t in (keys or {}).items()}
                           for entity, keys in (plan.mapping.get("fields") or {}).items()}
        # id map: kind -> source id -> target id (done), and reverse
        self.done: dict[str, dict[str, str]] = defaultdict(dict)
        self.rev: dict[str, dict[str, str]] = defaultdict(dict)
        self.states: dict[str, dict[str, str]] = defaultdict(dict)
        for kind, sid, tid, state in store.id_map_rows():
            self.states[kind][sid] = state
            if state == "done" and tid is not None:
                self.done[kind][sid] = tid
                self.rev[kind].setdefault(str(tid), sid)
        self.degradations: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for d in store.degradations():
            self.degradations[(d["kind"], d["id"])].append(d)
        self.source_reader: Source | None = None
        self.stamp_prefix = str(plan.target.get("stamp_prefix") or "")
        self.original_time_fields = cx.original_time_fields(plan.mapping)
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
                    f.detail = f.detail or f"the {self.target_name} target does not declare {cap.value}"
                    return f
            if root in ENUM_FIELDS and f.source is None and f.target is not None and not self.lossless:
                f.explained, f.code = True, "target_default"
                f.detail = f"the source has no {root}; the target filled in its default"
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
                    f.detail = f"the {self.target_name} target does not declare {cap.value}"
                    return f
        return f

    def add(self, f: Finding) -> None:
        self.findings.append(f if f.explained else self.explain(f))

    # -- reading and placing target records ------------------------------------------------------
    def _read_target(self) -> dict[str, list[TargetRecord]]:
        self.source_reader = target_source(self.plan, self.workdir, self.log)
        by_kind: dict[str, list[TargetRecord]] = defaultdict(list)
        try:
            for kind, record in read_back(self.source_reader, self.findings):
                if kind in KINDS and isinstance(record, dict) and record.get("id") is not None:
                    by_kind[kind].append(TargetRecord(kind, record))
        except (ApiError, HdmError):
            raise
        if self.check_bytes:
            for tr in by_kind.get("attachment", ()):
                self._hash_bytes(tr)
        return by_kind

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

    def _place(self, by_kind: dict[str, list[TargetRecord]]) -> None:
        """Give every target record its source id (id map reverse lookup, then the stamp, then
        position within the parent for comments and attachments)."""
        # Person kinds: a target may read an agent back as a contact or the other way round.
        taken: dict[str, set[str]] = defaultdict(set)
        for kind in KINDS:
            for tr in by_kind.get(kind, ()):
                kinds = PERSON_KINDS if kind in PERSON_KINDS else (kind,)
                stamped = self._stamp_owner(kind, tr.record)
                for k in kinds:
                    sid = self._rev_lookup(k, tr.record["id"])
                    if sid is None and stamped and stamped[0] == k and stamped[1] in self.done[k] \
                            and stamped[1] not in taken[k]:
                        sid = stamped[1]
                    if sid is not None:
                        tr.source_id = sid
                        taken[k].add(sid)
                        if k != kind:
                            tr.kind = k
                        break
        # Re-home person records under the kind they were written as.
        persons = [tr for k in PERSON_KINDS for tr in by_kind.get(k, ())]
        for k in PERSON_KINDS:
            by_kind[k] = [tr for tr in persons if tr.kind == k]
        # Children without a direct id match: pair by position within the parent.
        for kind, parent_field, parent_kind in (("comment", "ticket_id", "ticket"),
                                                ("attachment", "comment_id", "comment")):
            self._index_aliases(by_kind)
            self._place_by_position(by_kind, kind, parent_field, parent_kind)
        self._index_aliases(by_kind)
        # Custom field keys: the target may key values by its own field id.
        for sid, tid in self.done["custom_field"].items():
            record = self.store.record("custom_field", sid) or {}
            if record.get("key") is None:
                continue
            entity = record.get("entity") or ""
            names = {str(tid), str(tid).split(":")[-1]}
            for tr in by_kind.get("custom_field", ()):
                if tr.source_id == sid and tr.record.get("key") is not None:
                    names.add(str(tr.record["key"]))
            for name in names:
                self.key_back.setdefault(entity, {}).setdefault(name, str(record["key"]))

    def _index_aliases(self, by_kind) -> None:
        """Read-back id -> source id for every placed record (references in read-back records use
        the read-back form of ids, which may differ from the id map's, e.g. `u17` for user 17)."""
        for kind in KINDS:
            for tr in by_kind.get(kind, ()):
                if tr.source_id is not None:
                    self.alias[tr.kind].setdefault(str(tr.record["id"]), tr.source_id)

    def _rev_lookup(self, kind: str, target_id) -> str | None:
        """Source id of a read-back id: the id map's target id, or the same id in another common
        spelling (`ticket:17`, `u17` for 17) when that spelling is unambiguous."""
        tid = str(target_id)
        if tid in self.alias[kind]:
            return self.alias[kind][tid]
        if tid in self.rev[kind]:
            return self.rev[kind][tid]
        for form in (tid.split(":")[-1], tid.lstrip("abcdefghijklmnopqrstuvwxyz-_")):
            if form and form != tid and form in self.rev[kind]:
                return self.rev[kind][form]
        return None

    def _parent_source_id(self, parent_kind: str, target_parent_id, by_kind) -> str | None:
        if target_parent_id is None:
            return None
        return self.rev[parent_kind].get(str(target_parent_id)) or self._placed_child(by_kind, parent_kind, target_parent_id)

    def _placed_child(self, by_kind, kind, target_id) -> str | None:
        for tr in by_kind.get(kind, ()):
            if str(tr.record["id"]) == str(target_id):
                return tr.source_id
        return None

    def _place_by_position(self, by_kind, kind, parent_field, parent_kind) -> None:
        unplaced = [tr for tr in by_kind.get(kind, ()) if tr.source_id is None]
        if not unplaced:
            return
        placed_ids = {tr.source_id for tr in by_kind.get(kind, ()) if tr.source_id}
        parent_index: dict[str, dict[str, str]] = {}
        if parent_kind == "comment":
            parent_index = {str(tr.record["id"]): tr.source_id for tr in by_kind.get("comment", ()) if tr.source_id}
        groups: dict[str, list[TargetRecord]] = defaultdict(list)
        for tr in unplaced:
            tparent = tr.record.get(parent_field)
            sparent = self._rev_lookup(parent_kind, tparent) if tparent is not None else None
            sparent = sparent or parent_index.get(str(tparent))
            if sparent:
                groups[sparent].append(tr)
        for sparent, trs in groups.items():
            candidates = [r for r in self.store.records_by_parent(kind, sparent)
                          if r["id"] in self.done[kind] and r["id"] not in placed_ids]
            if kind == "attachment":
                by_sha: dict[str, list[dict]] = defaultdict(list)
                for r in candidates:
                    by_sha[r.get("sha256")].append(r)
                rest = []
                for tr in trs:
                    match = by_sha.get(tr.record.get("sha256"))
                    if match:
                        tr.source_id = match.pop(0)["id"]
                    else:
                        rest.append(tr)
                trs = rest
                candidates = [r for group in by_sha.values() for r in group]
            # ties on created_at (a target that keeps seconds only) go by id, numbers as numbers
            trs = sorted(trs, key=lambda tr: (_sortable(tr.record.get("created_at")), _id_order(tr.record["id"])))
            for tr, r in zip(trs, candidates):
                tr.source_id = r["id"]

    def _translate(self, kind: str, record: dict) -> dict:
        """A read-back record with source ids in its references (unknown ones marked)."""
        out = dict(record)
        for ref in REFERENCES[kind]:
            value = record.get(ref.field)
            if value is None:
                continue
            values = value if ref.many else [value]
            mapped = []
            for v in values:
                sid = None
                for k in ref.kinds:
                    sid = self._rev_lookup(k, v)
                    if sid is not None:
                        break
                mapped.append(sid if sid is not None else f"(target {v}: not in the id map)")
            out[ref.field] = mapped if ref.many else mapped[0]
        if kind == "attachment" and record.get("ticket_id") is not None:
            sid = self._rev_lookup("ticket", record["ticket_id"])
            out["ticket_id"] = sid if sid is not None else f"(target {record['ticket_id']}: not in the id map)"
        if kind == "comment" and isinstance(record.get("attachment_ids"), list):
            out["attachment_ids"] = [self._rev_lookup("attachment", a) or f"(target {a})" for a in record["attachment_ids"]]
        if isinstance(out.get("custom_fields"), dict):
            entity = {"ticket": "ticket", "contact": "contact", "organization": "organization"}.get(kind)
            back = self.field_keys.get(entity or "", {})
            ids = self.key_back.get(entity or "", {})
            out["custom_fields"] = {back.get(k, ids.get(str(k), k)): v for k, v in out["custom_fields"].items()}
        return out

    # -- comparison ------------------------------------------------------------------------------
    def _fields(self, kind: str, src: dict, tgt: dict) -> list[str]:
        import schemas
        props = set((schemas.load(kind).get("properties") or {}).keys())
        if self.lossless:
            props |= set(src) | set(tgt)
        else:
            props.discard("updated_at")  # a target touches it when it writes children
        props -= SKIP_ALWAYS
        if self.lossless:
            props.add("extra")
        return sorted(props)

    def compare(self, kind: str, sid: str, tid: str, src: dict, tgt: dict) -> None:
        for field in self._fields(kind, src, tgt):
            a, b = src.get(field), tgt.get(field)
            if field in TIME_FIELDS:
                if not same_second(a, b):
                    f = Finding(kind, sid, field, "differs", a, b, tid, detail="compared to the second")
                    if not self.lossless and kind not in TIMED_KINDS:
                        f.explained, f.code = True, "timestamp_not_preserved"
                        f.detail = f"the target sets its own {field} on {kind} records"
                    self.add(f)
                continue
            if field == "tags":
                self._compare_tags(kind, sid, tid, a, b)
                continue
            if field == "custom_fields" and (isinstance(a, dict) or isinstance(b, dict)):
                a, b = a or {}, b or {}
                for key in sorted(set(a) | set(b), key=str):
                    if not _same(a.get(key), b.get(key)):
                        self.add(Finding(kind, sid, f"custom_fields.{key}", "differs", a.get(key), b.get(key), tid))
                continue
            if kind == "comment" and field == "body_html":
                self._compare_body(sid, tid, src, tgt)
                self._check_image_hosts(sid, tid, tgt)
                continue
            if kind == "comment" and field == "body_text":
                if src.get("body_html") is not None or tgt.get("body_html") is not None:
                    continue  # the body comparison covers it
                if a != b:
                    if " ".join(str(a or "").split()) == " ".join(str(b or "").split()):
                        self.add(Finding(kind, sid, field, "differs", a, b, tid, explained=True,
                                         code="whitespace_normalised", detail="equal after whitespace normalisation"))
                    else:   # an origin line added before the whole original text is explained there
                        self._compare_body(sid, tid, src, tgt, field="body_text")
                continue
            if kind == "comment" and field == "attachment_ids":
                # Order and membership; files the target dropped are findings of their own.
                if list(a or []) != list(b or []):
                    left = {str(x): self._left_out("attachment", str(x)) for x in a or []}
                    left = {x: code for x, code in left.items() if code}
                    if left and [x for x in a or [] if str(x) not in left] == list(b or []):
                        self.add(Finding(kind, sid, field, "differs", a, b, tid, explained=True,
                                         code=sorted(set(left.values()))[0],
                                         detail=f"attachments {sorted(left)} were left out on purpose "
                                                f"({', '.join(sorted(set(left.values())))} recorded by the run)"))
                    else:
                        self.add(Finding(kind, sid, field, "differs", a, b, tid))
                continue
            if not _same(a, b):
                self.add(Finding(kind, sid, field, "differs", a, b, tid))

    def _compare_tags(self, kind, sid, tid, a, b) -> None:
        a, b = list(a or []), list(b or [])
        if sorted(map(str, a)) == sorted(map(str, b)):
            return
        na = {_norm_tag(t) for t in a}
        nb = {_norm_tag(t) for t in b} - ({self.tag_migrated} if self.tag_migrated and self.tag_migrated not in na else set())
        nb = {t for t in nb if t in na or not stamps.looks_like_tag(t)}  # the target's own stamp tag
        noted = {}
        for d in self.degradations.get((kind, sid), ()):
            for t in nb - na:
                if t in (d["detail"] or ""):
                    noted[t] = d["code"]
        if na == nb:
            self.add(Finding(kind, sid, "tags", "differs", a, b, tid, explained=True, code="tags_normalised",
                             detail="equal after the target's tag normalisation (case, spaces) and the migration stamp"))
        elif na <= nb and set(noted) == nb - na:
            self.add(Finding(kind, sid, "tags", "differs", a, b, tid, explained=True,
                             code=sorted(set(noted.values()))[0],
                             detail=f"tags {sorted(noted)} added by the target to keep a degraded value"))
        else:
            self.add(Finding(kind, sid, "tags", "differs", a, b, tid,
                             detail=f"only in source: {sorted(na - nb)}; only in target: {sorted(nb - na)}"))

    def _compare_body(self, sid, tid, src, tgt, field: str = "body_html") -> None:
        sh, th = src.get("body_html"), tgt.get("body_html")
        if sh == th and (sh is not None or src.get("body_text") == tgt.get("body_text")):
            return
        s_bytes = (sh if sh is not None else src.get("body_text") or "").encode("utf-8", "surrogatepass")
        t_bytes = (th if th is not None else tgt.get("body_text") or "").encode("utf-8", "surrogatepass")
        if s_bytes == t_bytes:
            return  # same bytes, one side calls it text
        if field == "body_html" and self._images_only(sid, tid, sh, th):
            return
        s_norm = html_text(sh) if sh is not None else " ".join((src.get("body_text") or "").split())
        t_norm = html_text(th) if th is not None else " ".join((tgt.get("body_text") or "").split())
        detail = (f"{len(s_bytes)} bytes (sha256 {hashlib.sha256(s_bytes).hexdigest()[:12]}) in source, "
                  f"{len(t_bytes)} bytes (sha256 {hashlib.sha256(t_bytes).hexdigest()[:12]}) in target")
        if s_norm == t_norm:
            self.add(Finding("comment", sid, field, "differs", sh, th, tid, explained=True,
                             code="html_rewritten",
                             detail="the target rewrote the HTML; the normalised text is equal; " + detail))
        elif s_norm and s_norm in t_norm and not self.lossless:
            self.add(Finding("comment", sid, field, "differs", s_norm, t_norm, tid, explained=True,
                             code="body_annotated",
                             detail="the whole original text is in the target, with lines the target adapter added "
                                    "(e.g. an origin line); " + detail))
        else:
            self.add(Finding("comment", sid, field, "differs", s_norm, t_norm, tid,
                             detail="normalised text differs; " + detail))

    def _images_only(self, sid, tid, sh, th) -> bool:
        """Bodies that differ only in image URLs, where the run re-hosted the images (recorded
        `inline_image_rehosted`): explained, with the text compared as everywhere else."""
        rehosted = [d for d in self.degradations.get(("comment", sid), ()) if d["code"] == "inline_image_rehosted"]
        if not rehosted or sh is None or th is None:
            return False
        if len(inline_images.image_refs(sh)) != len(inline_images.image_refs(th)):
            return False
        s_norm, t_norm = html_text(inline_images.masked(sh)), html_text(inline_images.masked(th))
        if s_norm != t_norm and not (s_norm and s_norm in t_norm and not self.lossless):
            return False
        self.add(Finding("comment", sid, "body_html", "differs", sh, th, tid, explained=True,
                         code="inline_image_rehosted",
                         detail="only the image URLs differ: " + (rehosted[0]["detail"] or "re-hosted on the target")))
        return True

    def _check_image_hosts(self, sid, tid, tgt) -> None:
        """An image the target still loads from the source account breaks when that account
        closes: a finding, explained only by the run's own `inline_image_detached` on the comment."""
        target = inline_images.origin(self.plan.target.get("url"))
        # the source account's host, and the hosts it served this comment's files from (a CDN)
        hosts = {inline_images.origin(self.plan.source.get("url"))}
        hosts |= {inline_images.origin(u) for a in self.store.records_by_parent("attachment", sid)
                  for u in inline_images.source_urls(a)}
        hosts -= {None, target}
        stale = [src for host in sorted(hosts) for src in inline_images.images_on(tgt.get("body_html"), host)]
        if not stale:
            return
        f = Finding("comment", sid, "body_html.img_src", "differs", None, stale[:5], tid,
                    detail=f"{len(stale)} image(s) in the target still load from the source account "
                           f"({', '.join(sorted(hosts))}); they break when it closes")
        for d in self.degradations.get(("comment", sid), ()):
            if d["code"] == "inline_image_detached":
                f.explained, f.code, f.detail = True, d["code"], f.detail + "; " + (d["detail"] or "")
                break
        self.findings.append(f)

    def _check_bytes(self, sid: str, tid: str, src: dict, tr: TargetRecord) -> None:
        if not self.check_bytes:
            return
        if tr.fetch_error:
            self.add(Finding("attachment", sid, "bytes", "differs", src.get("sha256"), None, tid,
                             detail=f"bytes not readable from the target: {tr.fetch_error}"))
        elif tr.actual_sha != src.get("sha256"):
            self.add(Finding("attachment", sid, "bytes", "differs", src.get("sha256"), tr.actual_sha, tid,
                             detail="the bytes read back from the target hash differently"))

    # -- the run ---------------------------------------------------------------------------------
    def run(self) -> dict:
        started = now()
        try:
            by_kind = self._read_target()
        finally:
            pass
        try:
            self._place(by_kind)
            report = self._compare_all(by_kind)
        finally:
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
            for tr in by_kind.get(kind, ()):
                if tr.source_id is None:
                    self._unplaced(kind, tr, c)
                    continue
                if tr.source_id in target_by_sid[kind]:
                    c["duplicate"] += 1
                    self.add(Finding(kind, tr.source_id, "(record)", "duplicate", target_id=str(tr.record["id"]),
                                     detail=f"{kind} {tr.source_id} is in the target more than once"))
                    continue
                target_by_sid[kind][tr.source_id] = tr
            staged_ids = set()
            for record, _h in self.store.iter_records(kind):
                sid = record["id"]
                staged_ids.add(sid)
                c["staged"] += 1
                state = self.states[kind].get(sid)
                if state in NOT_MIGRATED_STATES:
                    self._not_migrated(kind, sid, state, c)
                    continue
                if state != "done":
                    if not self._in_scope(kind, sid):
                        c["not_loaded"] += 1      # outside [scope] kinds / the sample: not meant to be written
                        continue
                    c["missing"] += 1
                    self.add(Finding(kind, sid, "(record)", "missing", detail=(
                        f"staged for this migration but never written and not named as failed "
                        f"(id map: {state or 'no entry'})")))
                    continue
                c["migrated"] += 1
                tid = self.done[kind][sid]
                tr = target_by_sid[kind].get(sid)
                if tr is None:
                    f = Finding(kind, sid, "(record)", "missing", target_id=tid,
                                detail=f"written as {kind} {tid} according to the id map; not found in the target")
                    self.add(f)
                    # left out on purpose (recorded, or a capability the target lacks) is not a loss
                    c["left_out" if f.explained else "missing"] += 1
                    continue
                c["matched"] += 1
                tr.translated = self._translate(kind, tr.record)
                self.compare(kind, sid, tid, record, tr.translated)
                if kind == "attachment":
                    self._check_bytes(sid, tid, record, tr)
            # Records that failed before staging (normalize) are named in the report too.
            for sid, state in self.states[kind].items():
                if sid not in staged_ids and state in NOT_MIGRATED_STATES:
                    self._not_migrated(kind, sid, state, c)
        per_ticket = self._per_ticket(target_by_sid)
        metrics = {"source": self._metrics_source(), "target": self._metrics_target(target_by_sid)}
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
            state = self.states[skind].get(ours)
            f = Finding(skind, ours, "(record)", "unrecorded", target_id=tid,
                        detail=f"in the target, but the id map says {state or 'nothing'}")
            if state == "rolled_back" and any((v or {}).get("tagged") for v in self._rollback_states()):
                f.explained, f.code = True, "rolled_back_tagged"
                f.detail = "rolled back by tagging (the target cannot delete): still in the target, tagged"
            self.add(f)
        else:
            c["extra"] += 1

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
                if sid in self.states[k] or self.store.has_record(k, sid):
                    return k, sid
        return None

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

    def _per_ticket(self, target_by_sid) -> dict:
        """Per ticket: comment count, public/private split and attachment hashes, both sides."""
        checked = differing = 0
        src_comments: dict[str, list[dict]] = defaultdict(list)
        for comment, _h in self.store.iter_records("comment"):
            if comment["id"] in self.done["comment"]:
                src_comments[str(comment.get("ticket_id"))].append(comment)
        tgt_comments: dict[str, list[dict]] = defaultdict(list)
        for sid, tr in target_by_sid["comment"].items():
            t = tr.translated or self._translate("comment", tr.record)
            tgt_comments[str(t.get("ticket_id"))].append(dict(t, id=sid))
        src_atts: dict[str, list[str]] = defaultdict(list)
        for att, _h in self.store.iter_records("attachment"):
            if att["id"] in self.done["attachment"] and not self._left_out("attachment", att["id"]):
                src_atts[str(att.get("comment_id"))].append(att.get("sha256"))
        tgt_atts: dict[str, list[str]] = defaultdict(list)
        for sid, tr in target_by_sid["attachment"].items():
            t = tr.translated or self._translate("attachment", tr.record)
            tgt_atts[str(t.get("comment_id"))].append(t.get("sha256"))
        for tid in self.done["ticket"]:
            checked += 1
            s, t = src_comments.get(tid, []), tgt_comments.get(tid, [])
            sp = sum(1 for c in s if c.get("public")), sum(1 for c in s if not c.get("public"))
            tp = sum(1 for c in t if c.get("public")), sum(1 for c in t if not c.get("public"))
            s_sha = sorted(x for c in s for x in src_atts.get(c["id"], []) if x)
            t_sha = sorted(x for c in t for x in tgt_atts.get(str(c.get("id")), []) if x)
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
            children = {(c_kind, cid) for c_kind, ids in (("comment", [c["id"] for c in s]),) for cid in ids}
            children |= {("attachment", a["id"]) for c in s for a in self.store.records_by_parent("attachment", c["id"])}
            child_findings = [f for f in self.findings if (f.kind, f.id) in children]
            all_explained = bool(child_findings) and all(f.explained for f in child_findings)
            for field, a, b in problems:
                f = Finding("ticket", tid, field, "differs", a, b, self.done["ticket"][tid])
                if all_explained:
                    f.explained, f.code = True, "explained_by_records"
                    f.detail = "every difference among this ticket's comments and files is explained"
                    self.findings.append(f)
                else:
                    self.add(f)
        return {"checked": checked, "with_differences": differing}

    # -- CX metrics ------------------------------------------------------------------------------
    def _metrics_source(self) -> dict:
        tickets = [r for r, _ in self.store.iter_records("ticket") if r["id"] in self.done["ticket"]]
        comments = [r for r, _ in self.store.iter_records("comment") if r["id"] in self.done["comment"]]
        ratings = [r for r, _ in self.store.iter_records("satisfaction_rating")
                   if r["id"] in self.done["satisfaction_rating"]]
        return cx.metrics(tickets, comments, ratings, set(self.done["agent"]), self.original_time_fields)

    def _metrics_target(self, target_by_sid) -> dict:
        def records(kind):
            return [tr.translated or self._translate(kind, tr.record) for tr in target_by_sid[kind].values()]
        for kind in ("ticket", "comment", "satisfaction_rating"):
            for sid, tr in target_by_sid[kind].items():
                if tr.translated is None:
                    tr.translated = self._translate(kind, tr.record)
        tickets = [dict(tr.translated, id=sid) for sid, tr in target_by_sid["ticket"].items()]
        comments = [dict(tr.translated, id=sid) for sid, tr in target_by_sid["comment"].items()]
        ratings = [dict(tr.translated, id=sid) for sid, tr in target_by_sid["satisfaction_rating"].items()]
        del records
        return cx.metrics(tickets, comments, ratings, set(target_by_sid["agent"]), self.original_time_fields)


def _same(a, b) -> bool:
    if a == b:
        return True
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return float(a) == float(b)
    if a in (None, [], {}, "") and b in (None, [], {}, ""):
        return True
    return False


def _id_order(value) -> tuple:
    text = str(value)
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


def _sortable(value) -> str:
    dt = parse_time(value)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f") if dt else str(value or "")


# -------------------------------------------------------------------------- entry points

def stored_plan(store: Store) -> Plan:
    """The plan the last run used (the engine keeps it in staging state `plan`)."""
    from .plan import plan_from_dict
    saved = store.get_state("plan")
    if not saved:
        raise ConfigError(f"{store.workdir}: no plan recorded in staging (run `hdmigrate run PLAN` "
                          "first, or give --plan PLAN)")
    data = dict(saved["data"])
    if isinstance(data.get("run"), dict):
        data["run"] = {k: v for k, v in data["run"].items() if k != "include"}  # already merged
    return plan_from_dict(data, Path(saved.get("base_dir") or store.workdir),
                          Path(saved["path"]) if saved.get("path") else None)


def verify(store: Store, plan: Plan | None = None, *, log: Callable[[str], None] = lambda m: None,
           side_archive: bool = True, check_bytes: bool = True) -> dict:
    """Read the target back, compare, compute metrics, write the side archive, store the report."""
    plan = plan or stored_plan(store)
    run = store.last_run(dry_run=False)
    if run is None:
        raise ConfigError(f"{store.workdir}: no migration run yet; nothing to verify")
    report = Verifier(store, plan, store.workdir, log, check_bytes=check_bytes).run()
    report["run_id"] = run["id"]
    report["run_status"] = run["status"]
    if run["status"] != "completed":
        report["warning"] = f"the last run is {run['status']}: resume it before a cutover"
    if side_archive:
        from .side_archive import write_side_archive
        report["side_archive"] = write_side_archive(store, plan, report)
    store.set_state("verify_report", report)
    return report


# -------------------------------------------------------------------------- rendering

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
