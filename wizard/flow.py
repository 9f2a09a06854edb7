"""The wizard: a state machine over the steps of cli-and-plan.md, persisted in the work directory.

    source → target → scope → discover → mapping → dry-run → sample → migrate → verify

Every answer is saved to `<workdir>/wizard.json` as soon as it is given (answers only: names of
environment variables, never a secret), and every finished step is recorded there, so after
Ctrl-C, a closed terminal or a reboot `hdmigrate wizard` in the same work directory continues at
the first unfinished step. Secrets are typed hidden into this process's environment under the
variable name the plan records, or read from a variable the person names; after a restart a typed
secret is gone and is asked again.

The wizard writes `<workdir>/plan.toml` (its `[run] workdir` is the wizard's work directory) and
drives the same `Engine` as `hdmigrate run`: nothing is wizard-only except the questions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import tomli_w

from hdmigrate import estimate
from hdmigrate.adapter import Capability
from hdmigrate.canonical import KINDS
from hdmigrate.engine import Engine
from hdmigrate.errors import ConfigError, HdmError
from hdmigrate.plan import Plan, parse_since, plan_from_dict
from hdmigrate.private_files import write_private_text
from hdmigrate.store import Store, make_workdir
from hdmigrate import workdir_lock

from . import checks, fidelity, mapping
from .io import WizardIO
from .sides import SideSteps
from .state import SCRIPTED_TRIES, STEPS, WizardState, WizardStopped

TITLES = {
    "source": "1/9 source: the helpdesk to migrate from",
    "target": "2/9 target: the helpdesk to migrate to",
    "scope": "3/9 scope: what to migrate",
    "discover": "4/9 discovery of both sides",
    "mapping": "5/9 mapping proposals",
    "dry-run": "6/9 dry run: nothing is written",
    "sample": "7/9 sample migration",
    "migrate": "8/9 migration",
    "verify": "9/9 verification",
}
PLAN_FILE = "plan.toml"
LOADABLE_KINDS = [k for k in KINDS if k != "attachment"]
CLEAR = mapping.CLEAR        # the answer that clears a saved one


class Wizard(SideSteps):
    """Drive the steps with an IO (a person or a script). `run()` returns the exit code."""

    def __init__(self, workdir: Path | str, io: WizardIO, *, restart_from: str | None = None,
                 env=None, resume: bool | None = None, plan_overrides: dict | None = None):
        self.workdir = Path(workdir).resolve()
        self.io = io
        self.env = os.environ if env is None else env
        self.restart = restart_from
        self.resume = resume
        if restart_from is not None and restart_from not in STEPS:
            raise ConfigError(f"--restart-from {restart_from!r}: steps are {', '.join(STEPS)}")
        self.state = WizardState(self.workdir)
        if plan_overrides is not None:
            self.state.data["plan_overrides"] = plan_overrides
        self.plan_path = self.workdir / PLAN_FILE
        self.exit_code = 0
        self.summaries: dict[str, dict] = {}
        self.typed: set[str] = set()   # variables this session set from a hidden answer
        self.retype: set[str] = set()  # of those, the ones to ask for again (after a failed check)

    # -- the machine ----------------------------------------------------------------------------
    def run(self) -> int:
        make_workdir(self.workdir)
        # One session per work directory, for all its steps: a second wizard, `run` or `rollback`
        # on it stops at once with the pid holding it (exit 2).
        with workdir_lock.hold(self.workdir):
            return self._run()

    def _run(self) -> int:
        st = self.state
        if self.restart:
            st.restart_from(self.restart)
            self.io.say(f"Going back to step {self.restart!r} (earlier answers are offered as defaults).")
        elif st.exists and st.done:
            nxt = st.next_step()
            if nxt is None:
                self.io.say(f"The migration in {self.workdir} is finished.")
                self.io.say(f"Repeat it (a delta run: only what is new or changed): {self.run_command()}")
                if not self.io.confirm("wizard.again", "Run the dry run and the migration again now?", False):
                    return 0
                st.restart_from("dry-run")
            else:
                cont = self.resume if self.resume is not None else self.io.confirm(
                    "wizard.resume", f"A wizard stopped here before step {nxt!r}. Continue where it stopped?", True)
                if not cont:
                    back = self.io.ask("wizard.restart_from", "Go back to which step?", "source", STEPS)
                    st.restart_from(back)
                else:
                    self.io.say(f"Continuing at step {nxt!r}.")
        st.save()
        for role in ("source", "target"):
            if role in st.done:
                self._section(role)   # a secret typed in an earlier session is asked again now
        for step in STEPS:
            if step in st.done:
                continue
            self.io.step(step, TITLES[step])
            getattr(self, "step_" + step.replace("-", "_"))()
            st.mark_done(step)
        return self.exit_code

    # -- answers --------------------------------------------------------------------------------
    def ask(self, key, prompt, default=None, choices=None, *, clearable=False) -> str:
        """A free answer, saved at once; with `clearable`, '-' clears it (Enter keeps the default)."""
        previous = self.state.answers.get(key)
        value = self.io.ask(key, prompt, previous if previous is not None else default, choices)
        if clearable and value.strip() == CLEAR:
            value = ""
        self.state.answers[key] = value
        self.state.save()
        return value

    def ask_valid(self, key, prompt, default, parse, *, use_previous=True):
        """Ask until `parse(answer)` accepts it: it returns (value, answer to save) or raises
        ValueError with the reason. A refused answer is explained and asked again — never saved,
        so it is never the next default. A script gets a few tries, a person as many as needed."""
        previous = self.state.answers.get(key) if use_previous else None
        shown = previous if previous is not None else default
        tries = 0
        while True:
            answer = self.io.ask(key, prompt, shown)
            try:
                value, keep = parse(answer)
            except ValueError as e:
                self.io.say(f"  {e}")
                tries += 1
                if not self.io.interactive and tries >= SCRIPTED_TRIES:
                    raise ConfigError(f"{key}: no acceptable answer ({e})") from None
                continue
            self.state.answers[key] = keep
            self.state.save()
            return value

    def confirm(self, key, prompt, default=True) -> bool:
        previous = self.state.answers.get(key)
        value = self.io.confirm(key, prompt, previous if isinstance(previous, bool) else default)
        self.state.answers[key] = value
        self.state.save()
        return value


    # -- step 3: scope ---------------------------------------------------------------------------
    def step_scope(self) -> None:
        self.ask_valid("scope.kinds", f"Kinds to migrate, comma-separated ({', '.join(LOADABLE_KINDS)}) or 'all'",
                       "all", _parse_kinds)
        self._ask_since()
        self.ask("scope.tags", f"Only tickets with one of these tags, comma-separated ('{CLEAR}' or empty: all "
                 "tickets)", "", clearable=True)
        self.ask("options.tag_migrated", f"Tag stamped on every record the migration creates ('{CLEAR}': none)",
                 "hdmigrate", clearable=True)
        self.write_plan()
        self.io.say(f"Plan written: {self.plan_path}")

    def _ask_since(self, attempts: int = 5) -> None:
        """`since` read by the plan's one parser; an answer it refuses is asked again, never saved."""
        key, previous = "scope.since", self.state.answers.get("scope.since") or ""
        for _ in range(attempts):
            value = self.io.ask(key, "Tickets updated since (e.g. 2021-01-01 or 2021-01-01T00:00:00Z; "
                                     f"'{CLEAR}' or empty: all)", previous).strip()
            if value == CLEAR:
                value = ""
            try:
                if value:
                    parse_since(value, "since")
            except ConfigError as e:
                self.io.say(f"  {e}")
                continue
            self.state.answers[key] = value
            self.state.save()
            return
        raise ConfigError(f"{key}: no valid time given")

    # -- the plan --------------------------------------------------------------------------------
    def plan_data(self) -> dict:
        a = self.state.answers
        data: dict = {"source": self._section("source"), "target": self._section("target")}
        scope = {}
        kinds = a.get("scope.kinds", "all")
        if kinds and kinds.strip().lower() != "all":
            scope["kinds"] = _split(kinds)
        if a.get("scope.since"):
            scope["since"] = a["scope.since"]
        if a.get("scope.tags"):
            scope["tags"] = _split(a["scope.tags"])
        if scope:
            data["scope"] = scope
        if self.state.data.get("mapping"):
            data["mapping"] = self.state.data["mapping"]
        options = {}
        if a.get("options.tag_migrated"):
            options["tag_migrated"] = a["options.tag_migrated"]
        if options:
            data["options"] = options
        data["run"] = {"workdir": "."}
        for table, values in (self.state.data.get("plan_overrides") or {}).items():
            data[table] = {**data.get(table, {}), **values}
        return data

    def write_plan(self) -> Plan:
        data = self.plan_data()
        plan = plan_from_dict(data, self.workdir, self.plan_path)   # validates before writing
        text = ("# Written by `hdmigrate wizard`. Secrets are not here: the *_env keys name the\n"
                "# environment variables that hold them. Repeat the migration with:\n"
                f"#   hdmigrate run {self.plan_path} --yes\n" + tomli_w.dumps(data))
        write_private_text(self.plan_path, text)  # [mapping.users] names customers' e-mails
        return plan

    def plan(self, **options) -> Plan:
        data = self.plan_data()
        if options:
            data["options"] = {**data.get("options", {}), **options}
        return plan_from_dict(data, self.workdir, self.plan_path)

    def run_command(self) -> str:
        return f"hdmigrate run {self.plan_path} --yes"

    # -- step 4: discovery -----------------------------------------------------------------------
    def step_discover(self) -> None:
        plan = self.write_plan()
        found = {}
        for role in ("source", "target"):
            spec = plan.spec(role)
            adapter = None
            try:
                adapter = checks.open_adapter(spec, role, plan.data[role], self.workdir, log=self.io.say,
                                              rate_limit=self._rate(role))
                found[role] = _jsonable(adapter.discover() or {})
            except KeyboardInterrupt:
                raise
            except Exception as e:  # noqa: BLE001 - discovery is advisory; the run itself checks again
                self.io.say(f"  {role} discovery incomplete: {checks.classify(e).detail}")
                found[role] = {}
            finally:
                if adapter is not None:
                    try:
                        adapter.close()
                    except Exception:  # noqa: BLE001
                        pass
        self.state.data["discovery"] = found
        self.state.save()
        tgt = found.get("target") or {}
        for role, d in found.items():
            parts = [f"{k}: {len(v)}" for k, v in d.items() if isinstance(v, (list, dict)) and k != "counts" and v]
            self.io.say(f"{role}: " + (", ".join(parts) if parts else "no catalogue offered by the adapter"))
        for line in tgt.get("warnings") or []:
            self.io.say(f"  target warning: {line}")
        self.io.say("Reading the source into the staging database (nothing is written to the target) …")
        summary = self._engine(plan, dry_run=True, stop_after="normalize")
        store = Store(self.workdir)
        try:
            counts = store.count_records()
        finally:
            store.close()
        self.io.say("Staged from the source: " + (", ".join(f"{k} {counts[k]}" for k in KINDS if k in counts) or "nothing"))
        if summary["exit_code"] in (2, 3):
            raise WizardStopped(f"reading the source stopped: {summary.get('error')}", summary["exit_code"])

    # -- step 5: mapping -------------------------------------------------------------------------
    def step_mapping(self) -> None:
        plan = self.plan()
        disc = self.state.data.get("discovery") or {}
        target_cls = plan.spec("target").target
        store = Store(self.workdir)
        try:
            props = mapping.propose(store, disc.get("source") or {}, disc.get("target") or {},
                                    target_cls.capabilities, person_effect=target_cls.person_effect)
        finally:
            store.close()
        if self.state.data.get("mapping") is not None:
            # going back to this step shows what was accepted, not the fresh proposals
            mapping.apply_saved(props, self.state.data["mapping"], self.state.data.get("mapping_rows"))
            self.io.say("The mapping saved before (edit it below):")
        for line in mapping.render(props):
            self.io.say(line)
        if not self.confirm("mapping.accept", "Accept these proposals?", True):
            self._edit(props)
            for line in mapping.render(props):
                self.io.say(line)
        self.state.data["mapping"] = props.to_plan_mapping()
        self.state.data["mapping_rows"] = mapping.row_keys(props)
        self.state.save()
        self.write_plan()
        self.io.say(f"Mapping saved in the plan's [mapping.*] tables: {self.plan_path}")

    def _edit(self, props: mapping.Proposals) -> None:
        """Each row asked with its current value as default; only values the target offers are
        taken (by value or label), '-' drops the row back to the adapter's default."""
        self.io.say(f"Edit each proposal: type a target value, '{CLEAR}' for the adapter's default, "
                    "Enter keeps it.")

        def parse_with(choose):
            def parse(answer):
                value, problem = choose(answer)
                if problem:
                    raise ValueError(problem)
                return value, value if value is not None else CLEAR
            return parse

        for name, rows in props.enums.items():
            offered = ", ".join(mapping.label_of(props, name, c) for c, _ in props.options.get(name, []))
            for r in rows:
                r["target"] = self.ask_valid(
                    f"mapping.{name}.{r['value']}",
                    f"{name} {r['value']} → ({offered or 'the target offers no values'}; "
                    f"'{CLEAR}': {mapping.enum_outcome(props, name, {**r, 'target': None})})",
                    r["target"] or CLEAR, parse_with(lambda a, n=name: mapping.choose_enum(props, n, a)),
                    use_previous=False)
        for a in props.agents:
            if not a.get("email"):
                continue
            target = self.ask_valid(
                f"mapping.users.{a['email']}",
                f"agent {a['email']} → target agent's email ('{CLEAR}': "
                f"{mapping.agent_effect({**a, 'target': None})})",
                a["target"] or CLEAR, parse_with(lambda ans: mapping.choose_user(props, ans)), use_previous=False)
            mapping.set_agent(a, target)
        for f in props.fields:
            target = self.ask_valid(
                f"mapping.fields.{f['entity']}.{f['key']}", f"field {f['entity']}.{f['key']} → target field",
                f["target"] or CLEAR, parse_with(lambda ans, row=f: mapping.choose_field(props, row, ans)),
                use_previous=False)
            mapping.set_field(props, f, target)

    # -- step 6: dry run -------------------------------------------------------------------------
    def step_dry_run(self) -> None:
        plan = self.write_plan()
        summary = self._engine(plan, dry_run=True)
        if summary["exit_code"] in (2, 3, 4):
            raise WizardStopped(f"the dry run stopped: {summary.get('error')}", summary["exit_code"])
        store = Store(self.workdir)
        try:
            fid = fidelity.fidelity(summary, store.failures(summary["run_id"]), store.degradations(summary["run_id"]))
            pages = estimate.pages_extracted(store, summary["run_id"])
        finally:
            store.close()
        est = estimate.estimate(summary, source_pages=pages, source_cls=plan.spec("source").source,
                                target_cls=plan.spec("target").target, rate_limits=plan.run.get("rate_limit"))
        self.state.data["dry_run"] = {"run_id": summary["run_id"], "exit_code": summary["exit_code"],
                                      "estimate": est}
        self.state.save()
        for line in fidelity.render_fidelity(fid):
            self.io.say(line)
        for line in estimate.render(est):
            self.io.say(line)
        if summary["exit_code"] == 1:
            if not self.confirm("dry-run.continue", "Some records would fail (named above). Continue anyway?", True):
                raise WizardStopped("stopped after the dry run; fix the mapping with "
                                    "`hdmigrate wizard --restart-from mapping`", 1)

    # -- step 7: sample ---------------------------------------------------------------------------
    def step_sample(self) -> None:
        n_int = self.ask_valid("sample.tickets", "Migrate a sample of N tickets first, with everything they "
                               "reference (real writes, tagged; removable again where the target can delete)? "
                               "0 skips", "5", _parse_count)
        if n_int <= 0:
            self.io.say("No sample.")
            return
        tag = self.state.answers.get("options.tag_migrated") or "hdmigrate"
        plan = self.plan(sample=n_int, tag_migrated=tag)
        summary = self._engine(plan, dry_run=False, kind="sample")
        self.state.data["runs"]["sample"] = summary["run_id"]
        self.state.save()
        self._show_counts(summary)
        self.io.say(f"Sample written (run {summary['run_id']}), tagged {tag!r}. Look at it in the target now.")
        target_cls = plan.spec("target").target
        if Capability.DELETE not in target_cls.capabilities and not hasattr(target_cls, "tag_rolled_back"):
            # Not offered as reversible where it is not: the records stay, the full run skips them.
            self.io.say(f"The {plan.target['adapter']} target cannot delete records: the sample stays "
                        "(the full migration skips what it holds).")
            return
        if not self.confirm("sample.keep", "Keep the sample (the full migration then skips what it holds)? "
                            "No removes it from the target", True):
            from hdmigrate.rollback import rollback_run
            result = rollback_run(plan, self.workdir, summary["run_id"], say=self.io.say)
            self.io.say(f"Sample rolled back: {result['deleted']} removed, {result['failed']} failed, "
                        f"{result['kept_matched']} kept (they existed in the target before), "
                        f"{len(result['left'])} left in the target (listed above).")

    # -- step 8: migrate --------------------------------------------------------------------------
    def step_migrate(self) -> None:
        if not self.confirm("migrate.go", "Migrate everything now?", True):
            raise WizardStopped(f"not migrated yet; run `hdmigrate wizard --workdir {self.workdir}` again "
                                "to continue", 0)
        plan = self.write_plan()
        summary = self._engine(plan, dry_run=False, kind="migrate")
        self.state.data["runs"]["migrate"] = summary["run_id"]
        self.state.save()
        self._show_counts(summary)
        self.exit_code = summary["exit_code"]
        if summary["exit_code"] == 1:
            self.io.say("Some records failed; each is named in `hdmigrate report --workdir "
                        f"{self.workdir}`.")

    # -- step 9: verify ---------------------------------------------------------------------------
    def step_verify(self) -> None:
        plan = self.plan()
        result = _external_verify(plan, self.workdir, self.io.say)
        if result is not None:
            self.io.say("Read-back comparison (hdmigrate verify):")
            self.io.say(result["text"])
            if result.get("exit_code") == 5:
                # Exit code 5 belongs to `hdmigrate verify`; here the migration's code stands.
                self.io.say("The read-back found differences no recorded degradation explains (listed "
                            f"above); `hdmigrate verify --workdir {self.workdir}` shows them all.")
        store = Store(self.workdir)
        try:
            checked = store.get_state("internal_verify") or {}
        finally:
            store.close()
        missing = 0
        self.io.say("Internal check (staging against the id map):")
        self.io.say(f"{'kind':<22}{'staged':>8}{'written':>9}{'failed':>8}{'missing':>9}")
        for kind, v in checked.items():
            missing += v.get("missing", 0)
            self.io.say(f"{kind:<22}{v['staged']:>8}{v['done']:>9}{v['failed']:>8}{v['missing']:>9}")
        self.io.say("Nothing missing." if not missing else f"{missing} records missing: see `hdmigrate report`.")
        if missing and self.exit_code == 0:
            self.exit_code = 1
        self.io.say(f"\nPlan: {self.plan_path}")
        self.io.say(f"Report: hdmigrate report --workdir {self.workdir}")
        self.io.say(f"Repeat it in CI (same plan, same engine; a delta run when repeated):\n  {self.run_command()}")

    # -- helpers ----------------------------------------------------------------------------------
    def _engine(self, plan: Plan, *, dry_run: bool, stop_after: str | None = None, kind: str = "") -> dict:
        reporter = self.io.reporter()
        engine = Engine(plan, self.workdir, reporter)
        try:
            summary = engine.run(dry_run=dry_run, stop_after=stop_after)
        finally:
            reporter.close()
            engine.store.close()
        self.summaries[kind or ("dry-run" if dry_run else "run")] = summary
        if summary["exit_code"] == 4:
            raise KeyboardInterrupt
        if summary["exit_code"] in (2, 3) and not dry_run:
            raise WizardStopped(f"the {kind or 'run'} stopped: {summary.get('error')} — fix it and run "
                                f"`hdmigrate wizard --workdir {self.workdir}` to resume", summary["exit_code"])
        return summary

    def _show_counts(self, summary: dict) -> None:
        cols = ("created", "matched", "updated", "unchanged", "failed", "degraded")
        self.io.say(f"{'kind':<22}" + "".join(f"{c:>11}" for c in cols))
        for kind, c in (summary.get("kinds") or {}).items():
            self.io.say(f"{kind:<22}" + "".join(f"{c.get(k, 0):>11}" for k in cols))
        self._show_matches(summary.get("run_id"))

    def _show_matches(self, run_id, limit: int = 20) -> None:
        """The records the run found in the target and adopted as they are (never changed by it,
        never removed by rollback), so the user can check each match."""
        if not run_id:
            return
        store = Store(self.workdir)
        try:
            rows = store.matched_rows(run_id)
            if not rows:
                return
            self.io.say(f"Matched in the target (already there, kept as they are; rollback keeps them): {len(rows)}")
            for kind, sid, tid in rows[:limit]:
                record = store.record(kind, sid) or {}
                label = record.get("email") or record.get("name") or record.get("title") or ""
                self.io.say(f"  {kind} {sid} {label} -> target {tid}")
            if len(rows) > limit:
                self.io.say(f"  … {len(rows) - limit} more: `hdmigrate report --workdir {self.workdir}`")
        finally:
            store.close()


def _parse_kinds(answer: str):
    text = (answer or "").strip() or "all"
    if text.lower() != "all":
        unknown = [k for k in _split(text) if k not in KINDS]
        if unknown:
            raise ValueError(f"unknown kinds: {', '.join(unknown)}; kinds are {', '.join(LOADABLE_KINDS)} or 'all'")
    return text, text


def _parse_count(answer: str):
    try:
        n = int((answer or "").strip())
    except ValueError:
        raise ValueError(f"{answer!r} is not a number of tickets (0 skips the sample)") from None
    if n < 0:
        raise ValueError(f"{n} is not a number of tickets (0 skips the sample)")
    return n, str(n)


def _split(text: str) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def _external_verify(plan: Plan, workdir: Path, say) -> dict | None:
    """`hdmigrate verify` (read the target back, compare with staging) when this version has it;
    None when it does not (the engine's internal check is shown either way)."""
    try:
        from hdmigrate import verify as verify_lib  # noqa: PLC0415 - optional feature
    except ModuleNotFoundError:
        return None
    store = Store(workdir)
    try:
        report = verify_lib.verify(store, plan, log=say)
        text = verify_lib.render_text(report)
    except HdmError as e:
        return {"exit_code": e.exit_code, "text": f"read-back verification could not run: {e}"}
    finally:
        store.close()
    return {"exit_code": report.get("exit_code", 0), "text": text}
