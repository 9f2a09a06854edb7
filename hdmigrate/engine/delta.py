"""Delta: a record changed since it was written is updated in the target, or reported as not updated."""

from __future__ import annotations

from .. import degradations as codes
from ..adapter import Degradation, Target
from ..canonical import content_hash
from ..errors import FatalApiError
from .common import _short


class DeltaStep:
    """Mixed into Engine: updates of records written by an earlier run."""

    def _update(self, kind, record, rhash, target_id, target: Target, ctx) -> None:
        rid = record["id"]
        resolved = self._resolve(kind, record)
        if resolved is None:
            return
        record, degradations = resolved
        degradations += self._target_degradations(target, kind, record, ctx)
        new_files = self._new_files(kind, record, ctx)
        if not target.can_update(kind):
            self._not_updated(kind, record, target_id, target, degradations, new_files)
            return
        if self.dry_run:
            self.counts.add(kind, "updated")
            self._degrade(degradations)
            return
        try:
            result = target.update(kind, target_id, record, ctx)
        except FatalApiError:
            raise
        except Exception as e:  # noqa: BLE001 - one record's failure never stops the run
            self._fail(kind, rid, "load", f"update failed: {_short(e)}")
            return
        entries = [(kind, rid, result.target_id or target_id, rhash)]
        reported = {(d.kind, d.id) for d in result.degradations}
        for att in new_files:
            # Like a file left out of a first write: done, with the degradation that says why.
            written = result.children.get(("attachment", att["id"]))
            entries.append(("attachment", att["id"], str(written or f"{target_id}#attachment:{att['id']}"),
                            content_hash(att)))
            if written:
                self.counts.add("attachment", "created")
            elif ("attachment", att["id"]) not in reported:
                degradations.append(Degradation(
                    "attachment", att["id"], "", codes.UPDATE_NOT_APPLIED,
                    f"added in the source to {kind} {rid}, which the target already holds; "
                    f"the {target.name} target did not add it (the file stays in staging)"))
        self.store.mark_done(self.run_id, entries)
        self.counts.add(kind, "updated")
        self._degrade(degradations + list(result.degradations))

    def _new_files(self, kind: str, record: dict, ctx) -> list[dict]:
        """Attachments of a changed comment that no earlier run wrote (added in the source since)."""
        if kind != "comment":
            return []
        out = []
        for att, _path in ctx.attachments(record):
            entry = self.store.id_entry("attachment", att["id"])
            if not (entry and entry["state"] == "done"):
                out.append(att)
        return out

    def _not_updated(self, kind, record, target_id, target: Target, degradations, new_files) -> None:
        """A changed record of a kind the target cannot update: the target keeps what an earlier
        run wrote, and the record says so (never "updated"). The id map keeps the written version's
        hash, so every later delta run reports it again. A comment that is private now may have
        been written public: that is a failure, for a person to make it private by hand."""
        rid = record["id"]
        why = f"the {target.name} target cannot update {kind} records"
        if kind == "comment" and record.get("public") is not True:
            self._fail(kind, rid, "load",
                       f"not updated: {why}, and this comment is private in the source: if its copy in the "
                       f"target (id {target_id}) was written public it is still public; make it private there by hand",
                       "public")
            return
        degradations = degradations + [Degradation(
            kind, rid, "", codes.UPDATE_NOT_APPLIED,
            f"not updated: {why}; it keeps the version written earlier (target id {target_id})")]
        degradations += [Degradation("attachment", att["id"], "", codes.UPDATE_NOT_APPLIED,
                                     f"added in the source to {kind} {rid}, which the target already holds; "
                                     f"not written: {why}") for att in new_files]
        self._degrade(degradations)
        if new_files and not self.dry_run:   # left out, and said so: not "neither written nor failed"
            self.store.mark_done(self.run_id, [("attachment", att["id"], f"{target_id}#attachment:{att['id']}",
                                                content_hash(att)) for att in new_files])
