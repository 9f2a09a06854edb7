"""What a target sees while writing (the load context): references resolved through the id map."""

from __future__ import annotations

import orjson

from ..canonical import PERSON_KINDS, loads


class _LoadContext:
    """What a target sees while writing: references resolved through the id map."""

    def __init__(self, engine):   # the Engine (run.py); not imported: it imports this module
        self.engine = engine
        self.store = engine.store
        self.options = engine.plan.options
        self.mapping = engine.plan.mapping
        self.run_id = engine.run_id
        self.dry_run = engine.dry_run
        self.source_info = engine.source.describe() if engine.source is not None else {}
        self._bundle: dict[str, list[dict]] = {}
        self._comments: dict[str, list[dict]] = {}
        self._with_attachments: set[str] | None = None  # comment ids that have staged files
        self._fields: dict | None = None

    def refresh(self) -> None:
        """Forget what was read of staging: records staged since (custom fields, files) count."""
        self._comments.clear()
        self._with_attachments = None
        self._fields = None

    def target_id(self, kinds, source_id):
        if source_id is None:
            return None
        if isinstance(kinds, str):
            kinds = (kinds,)
        done = self.engine._done  # written records' target ids (no SQL for the common case)
        for kind in kinds:
            found = done.get((kind, str(source_id)))
            if found is not None:
                return found
        for kind in kinds:
            entry = self.store.id_entry(kind, str(source_id))
            if entry and entry["state"] == "done":
                return entry["target_id"]
        if self.dry_run:
            for kind in kinds:
                if self.store.has_record(kind, str(source_id)):
                    return f"(new {kind} {source_id})"
        return None

    def person(self, source_id):
        if source_id is None:
            return None
        done = self.engine._done
        for kind in PERSON_KINDS:
            found = done.get((kind, str(source_id)))
            if found is not None:
                return kind, found
        for kind in PERSON_KINDS:
            entry = self.store.id_entry(kind, str(source_id))
            if entry and entry["state"] == "done":
                return kind, entry["target_id"]
        if self.dry_run:
            for kind in PERSON_KINDS:
                if self.store.has_record(kind, str(source_id)):
                    return kind, f"(new {kind} {source_id})"
        return None

    def record(self, kind, source_id):
        return self.store.record(kind, str(source_id))

    def custom_field(self, entity: str, key: str) -> tuple[dict, str | None] | None:
        """The staged custom_field record of (entity, key) and its target id (None if unwritten)."""
        if self._fields is None:
            fields = {}
            for field in self.store.staged_json("custom_field"):
                fields[(field.get("entity"), str(field.get("key")))] = field
            self._fields = fields
        field = self._fields.get((entity, str(key)))
        if field is None:
            return None
        return field, self.target_id("custom_field", field["id"])

    def comments(self, ticket_id):
        bundle = self._bundle.get(ticket_id)
        if bundle is not None:
            return loads(bundle) if isinstance(bundle, bytes) else bundle
        # Targets that write comments one by one ask for the ticket's comments on every one of
        # them (is this the description?): the last few tickets' lists are kept, read-only.
        cached = self._comments.get(ticket_id)
        if cached is None:
            cached = self.store.records_by_parent("comment", ticket_id)
            if len(self._comments) >= 64:
                self._comments.clear()
            self._comments[ticket_id] = cached
        return [dict(c) for c in cached]

    def set_bundle(self, ticket_id, comments):
        # A prepared batch may wait behind its lane for seconds: its tickets' comments wait as
        # JSON text (one block each, outside Python's small-object arenas, which keep the
        # high-water of such bursts for the rest of the run), parsed when the target builds
        # its request.
        try:
            self._bundle[ticket_id] = orjson.dumps(comments)
        except (TypeError, orjson.JSONEncodeError):
            self._bundle[ticket_id] = comments      # not plain JSON: kept as it is

    def release(self, ticket_id):
        """The target has built its request for this ticket (LoadContext.release)."""
        self._bundle.pop(ticket_id, None)

    def forget_bundle(self, ticket_id=None):
        if ticket_id is None:
            self._bundle.clear()
        else:
            self._bundle.pop(ticket_id, None)

    def attachments(self, comment):
        if self._with_attachments is None:
            self._with_attachments = self.store.parents_of("attachment")
        if comment["id"] not in self._with_attachments:
            return []
        staged = {a["id"]: a for a in self.store.records_by_parent("attachment", comment["id"])}
        order = [str(x) for x in comment.get("attachment_ids") or []]
        ordered = [staged.pop(a) for a in order if a in staged] + sorted(staged.values(), key=lambda a: a["id"])
        out = []
        for att in ordered:
            path = self.store.blob_path(att["sha256"])
            if path.exists():
                out.append((att, path))
        return out
