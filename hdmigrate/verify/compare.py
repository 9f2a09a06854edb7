"""Field by field comparison of a paired record, with the explanations that apply."""

from __future__ import annotations

import hashlib

from .. import cx, inline_images, links, registry, stamps
from ..canonical import REFERENCES

from .rules import (SKIP_ALWAYS, TIME_FIELDS, TIMED_KINDS, Finding, _norm_tag, _same, html_text,
                    same_second, shorten_values)
from .readback import TargetRecord


class _Comparing:
    """Mixed into Verifier: the comparison of one paired record."""

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
        if kind == "comment":
            src = self._as_written(sid, tid, src)
        for field in self._fields(kind, src, tgt):
            a, b = src.get(field), tgt.get(field)
            if field in TIME_FIELDS:
                if not same_second(a, b):
                    f = Finding(kind, sid, field, "differs", a, b, tid, detail="compared to the second")
                    if not self.lossless and kind not in TIMED_KINDS:
                        f.explained, f.code = True, "timestamp_not_preserved"
                        f.detail = self._text(f"the target sets its own {field} on {kind} records")
                    self.add(f)
                continue
            if field == "tags":
                self._compare_tags(kind, sid, tid, a, b)
                continue
            if field == "custom_fields" and (isinstance(a, dict) or isinstance(b, dict)):
                a, b = a or {}, b or {}
                if kind == "ticket":
                    b = self._check_kept_times(sid, tid, src, a, b)
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
                    # a lossless target keeps the source's list: a left-out id it names resolves to nothing
                    echoed = {f"(target {x})" for x in left}
                    if left and [x for x in a or [] if str(x) not in left] == [y for y in b or [] if y not in echoed]:
                        self.add(Finding(kind, sid, field, "differs", a, b, tid, explained=True,
                                         code=sorted(set(left.values()))[0],
                                         detail=f"attachments {sorted(left)} were left out on purpose "
                                                f"({', '.join(sorted(set(left.values())))} recorded by the run)"))
                    else:
                        self.add(Finding(kind, sid, field, "differs", a, b, tid))
                continue
            if not _same(a, b):
                self.add(Finding(kind, sid, field, "differs", a, b, tid))

    def _check_kept_times(self, sid: str, tid: str, src: dict, a: dict, b: dict) -> dict:
        """The fields keeping a ticket's original times (a target that cannot backdate) hold the
        source's times to the second, by the rule the metrics use (cx.original_times); the other
        custom fields are returned for the usual comparison."""
        fields = {name: field for field, name in self.original_time_fields.items() if name not in a}
        if not any(name in b for name in fields):
            return b
        thread = self.store.records_by_parent("comment", sid)
        times = cx.original_times(src, thread, set(self.done["agent"]), self.original_time_fields)
        for name, field in fields.items():
            if name not in b:
                continue
            want = times.get(field)
            want_text = cx.format_time(want) if want is not None else None
            if not same_second(want_text, b[name]):
                self.add(Finding("ticket", sid, f"custom_fields.{name}", "differs", want_text, b[name], tid,
                                 detail=f"the target field keeping the original {field} holds another time"))
        return {k: v for k, v in b.items() if k not in fields}

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

    def _as_written(self, sid: str, tid: str, src: dict) -> dict:
        """The staged comment as the load wrote it: with exactly the links its `link_rewritten`
        record names pointed at their new tickets (explained); every other byte compared as staged."""
        rewrites: dict[str, tuple[str, str]] = {}
        for d in self.degradations.get(("comment", sid), ()):
            if d["code"] == "link_rewritten":
                rewrites.update(links.recorded(d["detail"]))
        if not rewrites:
            return src
        pattern, hash_refs = links.source_pattern(registry.web_pages(self.plan.source), self.plan.source)
        written, _ = links.rewrite_record(src, links.Rewriter(pattern, hash_refs, rewrites.get))
        if written is not src:
            self.add(Finding("comment", sid, "body", "differs", None, sorted(rewrites), tid, explained=True,
                             code="link_rewritten",
                             detail="links to source tickets point at their new tickets: " + "; ".join(
                                 f"{old} → {new}" for old, (new, _url) in sorted(rewrites.items()))))
        return written

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
        shorten_values(f)
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
