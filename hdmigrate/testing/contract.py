"""The adapter contract suite: one set of checks, generated per adapter from its declared
capabilities (in the manner of a test factory). An adapter's tests give a `Harness` — how to point
a plan at its sandbox (or a directory), how to seed a source, where its recorded vendor
responses are — and bind the suite:

    from hdmigrate.testing.contract import Harness, contract_suite
    TestMyDeskContract = contract_suite(Harness(adapter="mydesk", target=..., source=...))

Each check is one test of the returned class; a check that cannot apply to the adapter (no target,
needs a real server, update not declared...) is skipped with the reason, never passed silently.
Test-only: this module imports pytest.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import pytest

from hdmigrate import registry
from hdmigrate.adapter import Capability, Target
from hdmigrate.canonical import validation_error
from hdmigrate.engine import Engine
from hdmigrate.plan import plan_from_dict
from hdmigrate.report import CollectingReporter
from hdmigrate.store import Store

FAST = {"source": 60000, "target": 60000}   # requests per minute: the sandboxes do not throttle


@dataclass
class TargetUnderTest:
    """A plan [target] table pointing at a fresh target, and a read-back of what it holds."""

    section: dict
    ticket: Callable[[str], dict | None]   # target id -> the stored ticket ({"subject": ...}) or None
    # An agent the target holds before any run (its e-mail) and a read-back of agents by target id:
    # the rollback check adds it to the dump, so the run matches it and rollback must keep it.
    existing_agent_email: str | None = None
    agent: Callable[[str], dict | None] | None = None
    # target id -> the stored comment with its privacy as canonical `public` (True/False), or None
    comment: Callable[[str], dict | None] | None = None
    # How many records of each kind the target holds now ({"ticket": 4, "comment": 8}); counted
    # kinds are those whose every stored record has exactly one done id-map row (kill -9 check)
    count: Callable[[], dict[str, int]] | None = None


@dataclass
class Harness:
    adapter: str                                   # the registered name (entry point)
    minimal_config: dict                           # smallest [source]/[target] table the schema accepts
    # A context manager giving a fresh TargetUnderTest in a scratch directory (credentials in os.environ).
    target: Callable[[Path], contextlib.AbstractContextManager[TargetUnderTest]] | None = None
    # A context manager giving a plan [source] table reading the given sample dump directory.
    source: Callable[[Path, Path], contextlib.AbstractContextManager[dict]] | None = None
    # (label, stream, raw payload) of every recorded vendor object, read from shared_dir.
    fixtures: Callable[[Path], Iterator[tuple[str, str, dict]]] | None = None
    # Why the write checks cannot run here (e.g. the target needs a real server); None: they run.
    server_needed: str | None = None
    # Known defects: check name -> reason; that generated case is marked xfail (strict) with it.
    known_defects: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def environment(values: dict[str, str]):
    """Set credentials for a sandbox while the block runs, then restore the environment."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def sample_dump(root: Path) -> dict[str, int]:
    from hdmigrate.testing.sample import write_dump
    return write_dump(root, tickets=4, comments_per_ticket=2, attachments=2, seed=5, defects=False)


def run_engine(tmp: Path, source: dict, target: dict, workdir: Path, **kw) -> dict:
    plan = plan_from_dict({"source": source, "target": target,
                           "run": {"workdir": str(workdir), "rate_limit": FAST}}, base_dir=tmp)
    engine = Engine(plan, workdir, CollectingReporter())
    try:
        return engine.run(**kw)
    finally:
        engine.store.close()


def read_store(workdir: Path, fn):
    store = Store(workdir, create=False)
    try:
        return fn(store)
    finally:
        store.close()


def _edit_dump(root: Path, kind: str, rid: str, **changes) -> None:
    path = root / f"{kind}.jsonl"
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("id") == rid:
            record.update(changes)
        lines.append(json.dumps(record, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _later_public_comment(root: Path) -> str:
    """A public comment that is not its ticket's opening message (that one may be the ticket)."""
    by_ticket: dict[str, list[dict]] = {}
    with open(root / "comment.jsonl", encoding="utf-8") as f:
        for line in f:
            c = json.loads(line)
            by_ticket.setdefault(c["ticket_id"], []).append(c)
    for comments in by_ticket.values():
        comments.sort(key=lambda c: (c.get("created_at") or "", c["id"]))
        for c in comments[1:]:
            if c.get("public") is True:
                return c["id"]
    raise AssertionError("the sample dump has no public reply after an opening message")


def _write_plan(tmp: Path, source: dict, target: dict, workdir: Path, per_minute: int) -> Path:
    import tomli_w
    path = tmp / "contract-plan.toml"
    path.write_text(tomli_w.dumps({"source": source, "target": target, "run": {
        "workdir": str(workdir), "rate_limit": {"source": 60000, "target": per_minute}}}), encoding="utf-8")
    return path


def _kill_during_a_write(plan: Path, workdir: Path, wait_s: float = 300.0) -> str:
    """Run `hdmigrate run PLAN` in a child process that kills itself (SIGKILL) right after the
    target answered its second ticket write, before the id map recorded it: the engine's test
    seam (hdmigrate/engine/write.py, KILL_ENV), so the crash lands there on any machine."""
    from hdmigrate.engine.write import KILL_ENV
    errors = open(plan.with_suffix(".stderr"), "w+b")
    try:
        child = subprocess.run([sys.executable, "-m", "hdmigrate", "run", str(plan), "--yes", "--json"],
                               stdout=subprocess.DEVNULL, stderr=errors, timeout=wait_s,
                               env={**os.environ, KILL_ENV: "ticket:2"})
        errors.seek(0)
        if child.returncode != -signal.SIGKILL:
            raise AssertionError(f"the run was not killed at its second ticket write (exit {child.returncode}); "
                                 f"its stderr ends: {errors.read()[-1500:].decode(errors='replace')}")
    finally:
        errors.close()
    return "written, not yet recorded"


def _first_id(root: Path, kind: str) -> str:
    with open(root / f"{kind}.jsonl", encoding="utf-8") as f:
        return json.loads(f.readline())["id"]


class _Checks:
    """The contract checks for one adapter; `contract_suite` binds each to a pytest test."""

    def __init__(self, h: Harness):
        self.h = h
        self.spec = registry.get(h.adapter)

    def needs_target(self):
        if self.spec.target is None:
            pytest.skip(f"{self.h.adapter} has no target")
        if self.h.server_needed:
            pytest.skip(self.h.server_needed)
        assert self.h.target is not None, f"{self.h.adapter}: the harness names no way to build a target"

    def defect(self, request, name):
        if name in self.h.known_defects:
            request.applymarker(pytest.mark.xfail(reason=self.h.known_defects[name], strict=True))

    @contextlib.contextmanager
    def written(self, tmp: Path, *, with_existing_agent: bool = False):
        """A fresh target holding the sample dump, written by the engine once."""
        dump = tmp / "dump"
        counts = sample_dump(dump)
        with self.h.target(tmp / "target") as tut:
            if with_existing_agent and tut.existing_agent_email:
                from hdmigrate.canonical_dump import DumpWriter
                writer = DumpWriter(dump, source="sample")
                writer.add("agent", {"id": "contract-existing", "name": "Existing Agent",
                                     "email": tut.existing_agent_email, "role": "agent"})
                writer.close()
            report = run_engine(tmp, {"adapter": "jsonl", "path": str(dump)}, tut.section, tmp / "work")
            assert report["exit_code"] in (0, 1), report
            yield dump, counts, tut, report

    def refuses_rollback(self, tmp: Path) -> None:
        """No DELETE and no tagging: rollback stops with a one-line reason and removes nothing."""
        from hdmigrate.errors import ConfigError
        from hdmigrate.rollback import rollback_run
        with self.written(tmp) as (dump, counts, tut, first):
            work = tmp / "work"
            plan = plan_from_dict({"source": {"adapter": "jsonl", "path": str(dump)}, "target": tut.section,
                                   "run": {"workdir": str(work), "rate_limit": FAST}}, base_dir=tmp)
            tickets = [tid for kind, _, tid in read_store(work, lambda s: list(s.done_entries(matched=False)))
                       if kind == "ticket"]
            with pytest.raises(ConfigError, match="cannot delete"):
                rollback_run(plan, work)
            assert tickets and all(tut.ticket(t) is not None for t in tickets)


    def config_schema(self, request):
        """1. The config schema is a JSON Schema; the minimal config passes; unknown keys are
        refused when the schema closes its properties."""
        self.defect(request, "config_schema")
        schema = self.spec.config_schema
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(schema)
        problems = [e.message for e in validator.iter_errors(self.h.minimal_config)]
        assert not problems, f"the minimal config is refused: {problems}"
        if schema.get("additionalProperties") is False:
            assert list(validator.iter_errors({**self.h.minimal_config, "no_such_key_xyz": 1})), \
                "additionalProperties is false yet an unknown key passes"

    def source_output_validates(self, request, tmp_path):
        """2. Every to_canonical output of the source, run over its seeded sandbox, validates."""
        if self.spec.source is None:
            pytest.skip(f"{self.h.adapter} has no source")
        if self.h.source is None:
            pytest.skip(self.h.server_needed or f"{self.h.adapter}: the harness gives no seeded source")
        self.defect(request, "source_output")
        dump = tmp_path / "dump"
        sample_dump(dump)
        with self.h.source(tmp_path, dump) as section:
            plan = plan_from_dict({"source": section, "target": {"adapter": "jsonl", "path": str(tmp_path / "out")},
                                   "run": {"workdir": str(tmp_path / "work"), "rate_limit": FAST}},
                                  base_dir=tmp_path)
            source = self.spec.source(plan.adapter_context("source", tmp_path / "work", lambda m: None))
            seen: dict[str, int] = {}
            try:
                source.check()
                for stream in source.streams():
                    for page in source.fetch(stream):
                        for _, payload in page.items:
                            for kind, record in source.to_canonical(stream, payload):
                                _assert_valid(kind, record, f"{stream} {record.get('id')}")
                                seen[kind] = seen.get(kind, 0) + 1
            finally:
                source.close()
        assert seen.get("ticket", 0) >= 4 and seen.get("comment", 0) >= 4, seen

    def recorded_fixtures_parse(self, request, shared_dir):
        """3. Every recorded vendor object maps to canonical records that validate."""
        if self.h.fixtures is None:
            pytest.skip(f"{self.h.adapter}: no recorded vendor responses (not a vendor API)")
        self.defect(request, "fixtures")
        from hdmigrate.errors import RecordError
        source = self.spec.source(_offline_context(self.h))
        n, refused = 0, []
        for label, stream, payload in self.h.fixtures(shared_dir):
            try:   # a RecordError names the record and why: the engine reports it, an allowed outcome
                pairs = list(source.to_canonical(stream, payload))
            except RecordError as e:
                refused.append(f"{label}: {e}")
                continue
            for kind, record in pairs:
                _assert_valid(kind, record, label)
                n += 1
        print(f"\n{self.h.adapter}: {n} canonical records from recordings; refused with a reason: {len(refused)}")
        assert n > 0, "the harness found no recorded objects"

    def written_records_found_again(self, request, tmp_path):
        """4. With the work directory lost, a second run finds what the first wrote (a ticket
        and a contact at least) by find_existing: the same target ids, nothing created twice."""
        self.needs_target()
        self.defect(request, "find_existing")
        with self.written(tmp_path) as (dump, counts, tut, first):
            assert first["exit_code"] == 0, first
            before = read_store(tmp_path / "work", lambda s: {k: s.id_states(k) for k in ("ticket", "contact")})
            shutil.rmtree(tmp_path / "work")
            second = run_engine(tmp_path, {"adapter": "jsonl", "path": str(dump)}, tut.section, tmp_path / "work")
            assert second["exit_code"] == 0, second
            after = read_store(tmp_path / "work", lambda s: {k: s.id_states(k) for k in ("ticket", "contact")})
        for kind in ("ticket", "contact"):
            assert before[kind], f"the first run wrote no {kind}"
            moved = {sid: (before[kind][sid][1], after[kind].get(sid, (None, None))[1])
                     for sid in before[kind] if before[kind][sid][1] != after[kind].get(sid, (None, None))[1]}
            assert not moved, f"{kind} records not found again (source id: first, second target id): {moved}"

    def update(self, request, tmp_path):
        """5. A changed ticket is updated in the target when UPDATE covers tickets; otherwise the
        delta run reports update_not_applied for it and never counts it updated."""
        self.needs_target()
        self.defect(request, "update")
        fixed = [k for k in ("contact", "organization", "group")
                 if not (Capability.UPDATE in self.spec.target.capabilities and k in self.spec.target.updatable_kinds)]
        with self.written(tmp_path) as (dump, counts, tut, first):
            tid = _first_id(dump, "ticket")
            _edit_dump(dump, "ticket", tid, subject="Changed by the contract suite")
            others = {k: _first_id(dump, k) for k in fixed}
            for k, rid in others.items():
                _edit_dump(dump, k, rid, name=f"Renamed {k} by the contract suite")
            cid = _later_public_comment(dump)
            _edit_dump(dump, "comment", cid, public=False)   # made private in the source
            delta = run_engine(tmp_path, {"adapter": "jsonl", "path": str(dump)}, tut.section, tmp_path / "work")
            entry = read_store(tmp_path / "work", lambda s: s.id_entry("ticket", tid))
            centry = read_store(tmp_path / "work", lambda s: s.id_entry("comment", cid))
            failed = read_store(tmp_path / "work", lambda s: s.failures(delta["run_id"]))
            matched = read_store(tmp_path / "work", lambda s: {(k, sid): (s.id_entry(k, sid) or {}).get("matched")
                                                               for k, sid in others.items()})
            degraded = read_store(tmp_path / "work", lambda s: s.degradations(delta["run_id"]))
            stored = tut.ticket(entry["target_id"])
            stored_comment = tut.comment(centry["target_id"]) if tut.comment and centry["target_id"] else None
        _privacy_change_applied_or_failed(delta, failed, stored_comment, cid, tut.comment is not None)
        updated = delta["kinds"].get("ticket", {}).get("updated", 0)
        if Capability.UPDATE in self.spec.target.capabilities and "ticket" in self.spec.target.updatable_kinds:
            assert updated == 1, delta["kinds"].get("ticket")
            assert stored and stored.get("subject") == "Changed by the contract suite", stored
        else:
            assert updated == 0, delta["kinds"].get("ticket")
            others["ticket"] = tid
        for kind, rid in others.items():   # kinds the target declares it cannot update
            assert delta["kinds"].get(kind, {}).get("updated", 0) == 0, (kind, delta["kinds"].get(kind))
            if matched.get((kind, rid)):
                # the target held it before (e-mail, name): its values stay the target's, said as "matched"
                assert delta["kinds"].get(kind, {}).get("matched", 0) >= 1, (kind, delta["kinds"].get(kind))
                continue
            assert any(d["kind"] == kind and d["id"] == rid and d["code"] == "update_not_applied"
                       for d in degraded), f"{kind} {rid} changed, not updatable, yet not reported: {degraded}"

    def kill_9_during_a_write_then_resume(self, request, tmp_path):
        """8. kill -9 of a real `hdmigrate run` while a ticket is being written, then a resumed
        run: every record the target holds is in the id map once, nothing was created twice."""
        self.needs_target()
        self.defect(request, "kill_resume")
        dump = tmp_path / "dump"
        write_dump_for_kill(dump)
        src = {"adapter": "jsonl", "path": str(dump)}
        with self.h.target(tmp_path / "target") as tut:
            if tut.count is None:
                pytest.fail(f"{self.h.adapter}: the harness gives no TargetUnderTest.count to find duplicates")
            work = tmp_path / "work"
            # slow writes (3 a second) so the kill lands inside the ticket writes
            moment = _kill_during_a_write(_write_plan(tmp_path, src, tut.section, work, 60000), work)
            resumed = run_engine(tmp_path, src, tut.section, work)
            assert resumed["exit_code"] in (0, 1), resumed
            held = tut.count()
            mapped = read_store(work, lambda s: {k: {t for st, t, _ in s.id_states(k).values()
                                                     if st == "done" and t} for k in held})
        assert held.get("ticket"), f"the target holds no ticket after the resumed run: {held}"
        extra = {k: (n, len(mapped[k])) for k, n in held.items() if n != len(mapped[k])}
        assert not extra, (f"killed with a ticket {moment}; target holds vs id map knows (duplicates or "
                           f"lost records) per kind: {extra}")

    def delete_declared_and_rollback_scope(self, request, tmp_path):
        """6. delete() is overridden exactly when DELETE is declared; rollback removes (without
        DELETE: tags, or refuses and removes nothing) what the run created, keeps what it matched."""
        if self.spec.target is None:
            pytest.skip(f"{self.h.adapter} has no target")
        self.defect(request, "delete")
        declared = Capability.DELETE in self.spec.target.capabilities
        overridden = self.spec.target.delete is not Target.delete
        assert declared == overridden, f"DELETE declared: {declared}, delete() overridden: {overridden}"
        if self.h.server_needed:
            pytest.skip(f"static part passed; rollback scope: {self.h.server_needed}")
        from hdmigrate.rollback import rollback_run
        if not declared and not hasattr(self.spec.target, "tag_rolled_back"):
            self.refuses_rollback(tmp_path)
            return
        with self.written(tmp_path, with_existing_agent=True) as (dump, counts, tut, first):
            work = tmp_path / "work"
            created = read_store(work, lambda s: list(s.done_entries(first["run_id"], matched=False)))
            matched = read_store(work, lambda s: list(s.done_entries(first["run_id"], matched=True)))
            plan = plan_from_dict({"source": {"adapter": "jsonl", "path": str(dump)}, "target": tut.section,
                                   "run": {"workdir": str(work), "rate_limit": FAST}}, base_dir=tmp_path)
            result = rollback_run(plan, work)
            assert result["failed"] == 0, result
            tickets = [tid for kind, _, tid in created if kind == "ticket"]
            assert tickets, "the run created no ticket"
            if declared:
                assert all(tut.ticket(t) is None for t in tickets), "created tickets left in the target"
            else:   # no DELETE: the created records are tagged, not removed
                assert result["tagged"], result
                stored = [tut.ticket(t) for t in tickets]
                assert all(t is not None and "hdmigrate-rolled-back" in (t.get("tags") or []) for t in stored), \
                    "created tickets were not tagged rolled back"
            left = {(k, s) for k, s, _ in read_store(work, lambda st: list(st.done_entries(matched=True)))}
            if tut.existing_agent_email:
                kept = [tid for kind, sid, tid in matched if (kind, sid) == ("agent", "contract-existing")]
                assert kept, f"the agent the target already held ({tut.existing_agent_email}) was not matched"
                assert tut.agent(kept[0]) is not None, "rollback removed an agent the target held before"
        assert {(k, s) for k, s, _ in matched} <= left, "rollback touched matched records"

    def dry_run_degradations_equal_real(self, request, tmp_path):
        """7. A dry run records the same (kind, id, field, code) degradations as the real write."""
        self.needs_target()
        self.defect(request, "dry_run")
        dump = tmp_path / "dump"
        sample_dump(dump)
        src = {"adapter": "jsonl", "path": str(dump)}
        with self.h.target(tmp_path / "target") as tut:
            # separate work directories: the degradations table keeps one row per
            # (kind, id, field, code), re-labelled with the latest run that recorded it
            dry = run_engine(tmp_path, src, tut.section, tmp_path / "work-dry", dry_run=True)
            real = run_engine(tmp_path, src, tut.section, tmp_path / "work-real")
        key = lambda d: (d["kind"], d["id"], d["field"], d["code"])  # noqa: E731
        planned = {key(d) for d in read_store(tmp_path / "work-dry", lambda s: s.degradations(dry["run_id"]))}
        done = {key(d) for d in read_store(tmp_path / "work-real", lambda s: s.degradations(real["run_id"]))}
        assert planned == done, (f"only in the dry run: {sorted(planned - done)}; "
                                 f"only in the real write: {sorted(done - planned)}")


def contract_suite(h: Harness) -> type:
    """The contract checks bound to one adapter, as a pytest test class (one test per check)."""
    checks = _Checks(h)

    class ContractSuite:
        adapter = h.adapter

        def test_config_schema(self, request):
            checks.config_schema(request)

        def test_source_output_validates(self, request, tmp_path):
            checks.source_output_validates(request, tmp_path)

        def test_recorded_fixtures_parse(self, request, shared_dir):
            checks.recorded_fixtures_parse(request, shared_dir)

        def test_written_records_found_again(self, request, tmp_path):
            checks.written_records_found_again(request, tmp_path)

        def test_update(self, request, tmp_path):
            checks.update(request, tmp_path)

        def test_kill_9_during_a_write_then_resume(self, request, tmp_path):
            checks.kill_9_during_a_write_then_resume(request, tmp_path)

        def test_delete_declared_and_rollback_scope(self, request, tmp_path):
            checks.delete_declared_and_rollback_scope(request, tmp_path)

        def test_dry_run_degradations_equal_real(self, request, tmp_path):
            checks.dry_run_degradations_equal_real(request, tmp_path)

    for name in vars(ContractSuite):
        if name.startswith("test_"):
            getattr(ContractSuite, name).__doc__ = getattr(checks, name[5:]).__doc__
    ContractSuite.__name__ = ContractSuite.__qualname__ = f"Contract_{h.adapter}"
    return ContractSuite


def write_dump_for_kill(root: Path) -> dict[str, int]:
    from hdmigrate.testing.sample import write_dump
    return write_dump(root, tickets=5, comments_per_ticket=2, attachments=1, seed=8, defects=False)


def _privacy_change_applied_or_failed(delta: dict, failures: list[dict], stored: dict | None, cid: str,
                                      readable: bool) -> None:
    """A comment made private in the source: updated only if its copy is private now; otherwise
    the delta run fails it (a person must make it private by hand), never "updated" or silent.
    (Its id-map row stays `done`: the copy exists, rollback must still remove it.)"""
    counts = delta["kinds"].get("comment", {})
    if counts.get("updated", 0):
        assert readable, "the target claims a privacy update; the harness must give TargetUnderTest.comment to check it"
        assert stored is not None and stored.get("public") is False, \
            f"comment {cid} counted updated, but its copy in the target is {stored}"
    else:
        assert any(f["kind"] == "comment" and f["id"] == cid for f in failures) and counts.get("failed", 0) >= 1, \
            f"comment {cid} made private in the source: neither updated nor failed ({failures}, {counts})"


def _assert_valid(kind: str, record: dict, label: str) -> None:
    if kind == "attachment" and "sha256" not in record:   # the engine hashes the downloaded bytes
        record = {**record, "sha256": "0" * 64}
    problem = validation_error(kind, record)
    assert problem is None, f"{label}: {kind} {record.get('id')}: {problem}"


def _offline_context(h: Harness):
    from hdmigrate.adapter import AdapterContext
    return AdapterContext(config=dict(h.minimal_config), secrets={"token": "t", "api_key": "k"})
