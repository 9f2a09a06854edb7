"""Pairing target records with source records: id map, aliases, stamps, position in the parent."""

from __future__ import annotations

from collections import defaultdict

from ..canonical import KINDS, PERSON_KINDS

from .readback import TargetRecord
from .rules import _id_order, _sortable


class _Placing:
    """Mixed into Verifier: where each target record belongs."""

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
        self._place_original_time_fields(by_kind)

    def _place_original_time_fields(self, by_kind) -> None:
        """The ticket fields a target created to keep the original times (cx.ORIGINAL_TIME_FIELDS,
        labelled with the plan's names): their values are read under those names."""
        names = {n.lower(): n for n in self.original_time_fields.values()}
        for tr in by_kind.get("custom_field", ()):
            rec = tr.record
            name = names.get(str(rec.get("title") or "").lower()) or names.get(str(rec.get("key") or "").lower())
            if rec.get("entity") == "ticket" and name and rec.get("key") is not None:
                self.key_back.setdefault("ticket", {}).setdefault(str(rec["key"]), name)
                self.kept_time_keys.add(str(rec["key"]))

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
