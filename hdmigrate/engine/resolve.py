"""Resolve: references checked against the id map, children gathered, the target's degradations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import degradations as codes
from .. import links, registry
from ..adapter import Degradation, Target
from ..canonical import content_hash, references
from ..filenames import file_name_change
from .common import _UNREFERENCED, _short

if TYPE_CHECKING:
    from .context import _LoadContext


class ResolveStep:
    """Mixed into Engine: reference resolution and the records written together."""

    def _resolve(self, kind: str, record: dict) -> tuple[dict, list[Degradation]] | None:
        """Check every reference against the id map. A broken required reference fails the
        record (named with the reason); a broken optional one is dropped with a degradation."""
        rid = record["id"]
        degradations: list[Degradation] = []
        out = record
        for ref, sid in list(references(kind, record)):
            status, why = self._ref_status(ref.kinds, str(sid))
            if status == "ok":
                continue
            label = "/".join(ref.kinds)
            reason = f"{ref.field} → {label} {sid}: {why}"
            if ref.required:
                self._fail(kind, rid, "load", f"reference failed: {reason}", ref.field)
                return None
            if out is record:
                out = dict(record)
            if ref.many:
                out[ref.field] = [x for x in out.get(ref.field) or [] if str(x) != str(sid)]
            else:
                out[ref.field] = None
            code = "reference_failed" if status == "failed" else "reference_missing"
            degradations.append(Degradation(kind, rid, ref.field, code, reason))
        if kind == "comment":
            out, found = self._links(out)
            degradations += found
        return out, degradations

    def _ref_status(self, kinds: tuple[str, ...], sid: str) -> tuple[str, str]:
        for k in kinds:
            if (k, sid) in self._done:
                return "ok", ""
        failed_reason = None
        for k in kinds:
            entry = self.store.id_entry(k, sid)
            if entry and entry["state"] == "done":
                self._remember(k, sid, entry["target_id"])
            if entry and entry["state"] == "done":
                return "ok", ""
            if self.dry_run and (k, sid) in self._dry_failed:
                failed_reason = "would fail"
            elif entry and entry["state"] == "failed" and not self.dry_run:
                failed_reason = entry["error"] or "failed"
        if failed_reason:
            return "failed", failed_reason
        for k in kinds:
            if self.store.has_record(k, sid):
                if self.dry_run:
                    return "ok", ""
                if self._selected(k, sid):
                    return "failed", "not loaded (excluded by [scope] kinds?)"
                return "failed", "not loaded"
        return "missing", "does not exist in the source"

    def _resolve_child(self, kind: str, record: dict, parent_id: str):
        """Resolve a bundled child; its parent is being written in the same call."""
        deg: list[Degradation] = []
        out = record
        for ref, sid in list(references(kind, record)):
            if ref.field == "ticket_id" and str(sid) == parent_id:
                continue
            status, why = self._ref_status(ref.kinds, str(sid))
            if status == "ok":
                continue
            reason = f"{ref.field} → {'/'.join(ref.kinds)} {sid}: {why}"
            if ref.required:
                self._fail(kind, record["id"], "load", f"reference failed: {reason}", ref.field)
                return None
            if out is record:
                out = dict(record)
            out[ref.field] = [x for x in out.get(ref.field) or [] if str(x) != str(sid)] if ref.many else None
            deg.append(Degradation(kind, record["id"], ref.field,
                                   "reference_failed" if status == "failed" else "reference_missing", reason))
        if kind == "comment":
            out, found = self._links(out)
            deg += found
        return out, deg

    # -- links between tickets inside bodies ([mapping] rewrite_links, hdmigrate/links.py) ---------
    def _links(self, record: dict) -> tuple[dict, list[Degradation]]:
        """A comment whose bodies link to the source's own tickets, pointed at their new tickets;
        each link found is recorded (rewritten, or left and why)."""
        rewriter = self._link_rewriter()
        if rewriter is None:
            return record, []
        out, changes = links.rewrite_record(record, rewriter)
        done, left = links.details(changes)
        return out, ([Degradation("comment", record["id"], "body", codes.LINK_REWRITTEN, done)] if done else []) + (
            [Degradation("comment", record["id"], "body", codes.LINK_NOT_REWRITTEN, left)] if left else [])

    def _link_rewriter(self) -> links.Rewriter | None:
        if "_rewriter" not in self.__dict__:
            self._rewriter = None
            pattern, hash_refs = links.source_pattern(registry.web_pages(self.plan.source), self.plan.source)
            if (self.plan.mapping or {}).get("rewrite_links", True) and (pattern is not None or hash_refs):
                pages = registry.web_pages(self.plan.target)
                self._rewriter = links.Rewriter(pattern, hash_refs, lambda old: self._new_ticket(old, pages))
        return self._rewriter

    def _new_ticket(self, old: str, pages) -> tuple[str, str | None] | None:
        """The new id and page of a source ticket a body links to; None while it has no target id.
        A dry run writes nothing, so a staged ticket stands for the one the real run will write."""
        if self.dry_run:
            return ("(new)", "(its-new-page)" if pages else None) if self.store.has_record("ticket", old) else None
        tid = self._done.get(("ticket", old))
        if tid is None:
            entry = self.store.id_entry("ticket", old)
            tid = entry["target_id"] if entry and entry["state"] == "done" else None
        if tid is None:
            return None
        return str(tid), (pages.url(self.plan.target, "ticket", str(tid)) if pages else None)

    def _target_degradations(self, target: Target, kind: str, record: dict, ctx) -> list[Degradation]:
        try:
            out = list(target.degradations(kind, record, ctx))
            if kind == "attachment":  # an unsafe name goes out renamed (Target.file_name)
                out += [d for d in [file_name_change(record, target.file_name(record))] if d]
            return out
        except Exception as e:  # noqa: BLE001 - a mapping bug becomes a report line, not a crash
            return [Degradation(kind, record["id"], "", codes.VALUE_UNMAPPED, f"degradation check failed: {_short(e)}")]

    def _children(self, kind: str, record: dict, target: Target, ctx: "_LoadContext",
                  degradations: list[Degradation]) -> list[tuple[str, dict, str]] | None:
        """Records written together with `record`: a comment's attachments; for bundling targets
        a ticket's comments and their attachments. Broken children fail alone."""
        children: list[tuple[str, dict, str]] = []
        if kind == "comment":
            for att, _path in ctx.attachments(record):
                degradations += self._target_degradations(target, "attachment", att, ctx)
                children.append(("attachment", att, content_hash(att)))
            return children
        if kind == "ticket" and target.bundles_comments:
            comments = []
            for comment in self.store.records_by_parent("comment", record["id"]):
                entry = self.store.id_entry("comment", comment["id"])
                if entry and entry["state"] == "done":
                    continue
                resolved = self._resolve_child("comment", comment, record["id"])
                if resolved is None:
                    continue
                comment, cdeg = resolved
                degradations += cdeg + self._target_degradations(target, "comment", comment, ctx)
                comments.append(comment)
                children.append(("comment", comment, content_hash(comment)))
                for att, _path in ctx.attachments(comment):
                    degradations += self._target_degradations(target, "attachment", att, ctx)
                    children.append(("attachment", att, content_hash(att)))
            ctx.set_bundle(record["id"], comments)
        return children

    def _children_for_done(self, kind, record, ctx) -> list[tuple[str, dict, str]]:
        """Children of a unit found already written (resume): they were written with it."""
        out = []
        if kind == "comment":
            out = [("attachment", a, content_hash(a)) for a, _ in ctx.attachments(record)]
        elif kind == "ticket" and self.target is not None and self.target.bundles_comments:
            for c in self.store.records_by_parent("comment", record["id"]):
                entry = self.store.id_entry("comment", c["id"])
                if entry and entry["state"] == "done":
                    continue
                out.append(("comment", c, content_hash(c)))
                out += [("attachment", a, content_hash(a)) for a, _ in ctx.attachments(c)]
        return out

    def _remember(self, kind: str, id: str, target_id: str) -> None:
        # A bounded cache of written records' target ids: references are resolved mostly from here.
        # Comments, files and ratings are referenced by nothing loaded after them (a comment's
        # files travel with it): kept out, the cache holds tickets, people and groups only.
        if kind in _UNREFERENCED:
            return
        self._done.remember(kind, id, target_id)
