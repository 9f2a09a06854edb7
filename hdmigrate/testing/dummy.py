"""A dummy target with failure knobs, for engine tests (yours too): it keeps writes in memory
(class-level, so a test can inspect them across runs) and fails on request.

    from hdmigrate.testing.dummy import DummyTarget, registered
    with registered():                       # adapter "dummy" in plans
        DummyTarget.knobs = {"reject": {"t3"}, "interrupt_after": 5}

Knobs: `reject` (ids answered 422), `fatal` (ids answered 401: the run stops), `interrupt_after`
(Ctrl-C after N writes), `bundles` (writes comments with their ticket), `ticket_batch` (batch size).
"""

from __future__ import annotations

import contextlib
from unittest import mock

from hdmigrate import degradations as codes
from hdmigrate import registry
from hdmigrate.adapter import AdapterSpec, Capability, Degradation, Target, WriteResult
from hdmigrate.errors import FatalApiError, RecordRejected


class DummyTarget(Target):
    """Keeps writes in memory (class-level, so a test can inspect them across runs)."""

    name = "dummy"
    capabilities = frozenset({Capability.PRIVATE_NOTES, Capability.ATTACHMENTS, Capability.UPDATE})
    updatable_kinds = frozenset({"ticket", "comment"})
    written: dict = {}
    calls: list = []
    knobs: dict = {}

    def __init__(self, ctx):
        super().__init__(ctx)
        self.bundles_comments = self.knobs.get("bundles", False)
        self.batch_sizes = {"ticket": self.knobs.get("ticket_batch", 1)}

    def degradations(self, kind, record, ctx):
        if kind == "comment" and record.get("created_at"):
            return [Degradation(kind, record["id"], "created_at", codes.TIMESTAMP_NOT_PRESERVED, "dummy")]
        return []

    def find_existing(self, kind, record, ctx):
        return self.written.get((kind, record["id"]), {}).get("target_id")

    def write(self, kind, record, ctx):
        self.calls.append((kind, record["id"]))
        if record["id"] in self.knobs.get("reject", ()):
            raise RecordRejected(f"422 {kind} {record['id']} invalid", status=422)
        if record["id"] in self.knobs.get("fatal", ()):
            raise FatalApiError("401 bad credentials", status=401)
        interrupt_at = self.knobs.get("interrupt_after")
        if interrupt_at is not None and len(self.calls) > interrupt_at:
            raise KeyboardInterrupt
        tid = f"T-{kind}-{record['id']}"
        body = {"target_id": tid, "record": record}
        children = {}
        if kind == "ticket" and self.bundles_comments:
            body["comments"] = [c["id"] for c in ctx.comments(record["id"])]
            for c in ctx.comments(record["id"]):
                children[("comment", c["id"])] = f"T-comment-{c['id']}"
        if kind == "comment":
            body["attachments"] = [(a["id"], p.read_bytes()) for a, p in ctx.attachments(record)]
            body["ticket_target"] = ctx.target_id("ticket", record["ticket_id"])
        self.written[(kind, record["id"])] = body
        return WriteResult(tid, children)

    def update(self, kind, target_id, record, ctx):
        self.written[(kind, record["id"])]["record"] = record
        return WriteResult(target_id)


SPEC = AdapterSpec(name="dummy", description="test target", target=DummyTarget)


@contextlib.contextmanager
def registered():
    """The dummy adapter registered (beside the installed ones) while the block runs, fresh."""
    adapters = dict(registry.all_adapters())
    adapters["dummy"] = SPEC
    DummyTarget.written, DummyTarget.calls, DummyTarget.knobs = {}, [], {}
    with mock.patch.object(registry, "all_adapters", lambda: adapters):
        yield DummyTarget
