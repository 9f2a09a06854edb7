"""How the contract suite reaches each built-in adapter: sandboxes, directories, recordings.
The recorded-response readers are the ones the mapping tests use (tests/test_zendesk_fixtures.py,
tests/test_freshdesk_mapping.py); here they only feed (label, stream, payload) to the suite."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from hdmigrate.canonical_dump import iter_records
from hdmigrate.testing.contract import Harness, TargetUnderTest, contract_suite, environment


# ------------------------------------------------------------------ jsonl
@contextlib.contextmanager
def jsonl_target(scratch: Path):
    out = scratch / "out"

    def ticket(target_id):
        if not (out / "ticket.jsonl").exists():
            return None
        return next((r for r in iter_records(out, "ticket") if str(r.get("id")) == str(target_id)), None)

    def comment(target_id):
        if not (out / "comment.jsonl").exists():
            return None
        return next((r for r in iter_records(out, "comment") if str(r.get("id")) == str(target_id)), None)

    def count():
        return {kind: sum(1 for _ in iter_records(out, kind)) if (out / f"{kind}.jsonl").exists() else 0
                for kind in ("ticket", "comment", "contact")}

    yield TargetUnderTest({"adapter": "jsonl", "path": str(out)}, ticket, comment=comment, count=count)


@contextlib.contextmanager
def jsonl_source(tmp: Path, dump: Path):
    yield {"adapter": "jsonl", "path": str(dump)}


# ------------------------------------------------------------------ zendesk
@contextlib.contextmanager
def zendesk_target(scratch: Path):
    from adapters.zendesk.sandbox import make_sandbox
    box = make_sandbox(seed=1).start()
    box.job_delay = 0.01
    try:
        with environment(box.env):
            yield TargetUnderTest({**box.plan_section, "job_poll_seconds": 0.05},
                                  lambda tid: box.store.get("ticket", tid),
                                  existing_agent_email=box.admin["email"], agent=lambda tid: box.store.get("user", tid),
                                  comment=lambda tid: _zendesk_comment(box, tid),
                                  count=lambda: {k: len(box.store.all(k, copy=False)) for k in ("ticket", "comment")})
    finally:
        box.stop()


def _zendesk_comment(box, target_id):
    """Zendesk comments have no id of their own in the id map: `<ticket id>:<position>`."""
    ticket, _, position = str(target_id).partition(":")
    comments = sorted(box.store.find("comment", _ticket_id=int(ticket)), key=lambda c: c["id"])
    return comments[int(position)] if position.isdigit() and int(position) < len(comments) else None


@contextlib.contextmanager
def sandbox_source(platform: str, dump: Path):
    """A vendor sandbox seeded from the dump, as a plan [source] section (credentials exported)."""
    import importlib
    box = importlib.import_module(f"adapters.{platform}.sandbox").make_sandbox(data=dump, seed=1).start()
    try:
        with environment(box.env):
            yield box.plan_section
    finally:
        box.stop()


def zendesk_source(tmp: Path, dump: Path):
    return sandbox_source("zendesk", dump)


def zendesk_fixtures(shared_dir: Path):
    from tests.test_zendesk_fixtures import _fixture_files, _interactions, _objects
    for path in _fixture_files(shared_dir):
        for method, uri, status, text in _interactions(path):
            if not text.strip() or (isinstance(status, int) and status >= 400):
                continue
            try:
                body = json.loads(text)
            except ValueError:
                continue
            for coll, obj, ticket_id in _objects(body, uri, path.name):
                label = f"{path.name}: {coll} {obj.get('id')}"
                if coll == "comments":
                    yield label, "ticket_events", {**obj, "ticket_id": obj.get("ticket_id", ticket_id)}
                elif coll in ("ticket_events", "audits"):
                    for child in obj.get("child_events") or obj.get("events") or []:
                        if child.get("event_type") == "Comment" or child.get("type") == "Comment":
                            yield label, "ticket_events", {"created_at": obj.get("created_at"), **child,
                                                           "ticket_id": obj.get("ticket_id")}
                else:
                    yield label, coll, obj


# ------------------------------------------------------------------ freshdesk
@contextlib.contextmanager
def freshdesk_target(scratch: Path):
    from adapters.freshdesk.sandbox import make_sandbox
    box = make_sandbox(seed=1).start()
    try:
        with environment(box.env):
            admin = box.store.get("agent", box.me)
            yield TargetUnderTest(box.plan_section, lambda tid: box.store.get("ticket", tid),
                                  existing_agent_email=admin["contact"]["email"] if "contact" in admin else admin.get("email"),
                                  agent=lambda tid: box.store.get("agent", tid),
                                  comment=lambda tid: _freshdesk_note(box, tid),
                                  count=lambda: {"ticket": len(box.store.all("ticket", copy=False))})
    finally:
        box.stop()


def _freshdesk_note(box, target_id):
    note = box.store.get("conversation", str(target_id).rpartition("#")[2])
    return None if note is None else {**note, "public": note.get("private") is False}


def freshdesk_source(tmp: Path, dump: Path):
    return sandbox_source("freshdesk", dump)


def freshdesk_fixtures(shared_dir: Path):
    from tests.test_freshdesk_mapping import _stream_of, cassette, fd_dir
    tickets, convs = {}, {}
    name = "freshdesk_import.yml"
    for method, uri, status, body in cassette(fd_dir(shared_dir) / "zammad-import-cassettes" / name):
        stream = _stream_of(uri)
        if stream and isinstance(body, list):
            for item in body:
                yield f"{name}: {uri}", stream, item
        elif "/tickets/" in uri and uri.rstrip("/").split("/")[-1].isdigit() and isinstance(body, dict):
            tickets[body["id"]] = body
        elif uri.split("?")[0].endswith("/conversations") and isinstance(body, list):
            convs[int(uri.split("/tickets/")[1].split("/")[0])] = body
    for tid, t in tickets.items():
        yield f"{name}: ticket {tid}", "tickets", {**t, "conversations": convs.get(tid, [])}
    root = fd_dir(shared_dir) / "python-freshdesk" / "v2"
    conversations = json.loads((root / "conversations.json").read_text())
    for path in sorted(root.glob("*.json")):
        stream = next((s for s in ("agents", "contacts", "companies", "groups") if path.name.startswith(s[:-1])
                       or path.name.startswith("search_" + s)), None)
        if path.name.startswith(("ticket", "all_tickets", "outbound_email", "search_tickets")):
            stream = "tickets"
        if stream is None:
            continue
        data = json.loads(path.read_text())
        items = data["results"] if isinstance(data, dict) and "results" in data else data
        for item in items if isinstance(items, list) else [items]:
            if isinstance(item, dict):
                yield path.name, stream, ({**item, "conversations": conversations} if stream == "tickets" else item)


# ------------------------------------------------------------------ helpscout
@contextlib.contextmanager
def helpscout_target(scratch: Path):
    from adapters.helpscout.sandbox import make_sandbox
    box = make_sandbox(seed=1).start()
    try:
        with environment(box.env):
            yield TargetUnderTest(box.plan_section, lambda tid: _helpscout_conversation(box, tid),
                                  existing_agent_email=box.owner["email"],
                                  agent=lambda tid: box.store.get("user", str(tid).lstrip("u")),
                                  comment=lambda tid: _helpscout_thread(box, tid),
                                  count=lambda: {"ticket": box.store.count("conversation"),
                                                 "comment": box.store.count("thread")})
    finally:
        box.stop()


def _helpscout_conversation(box, target_id):
    conv = box.store.get("conversation", target_id) if str(target_id).isdigit() else None
    return None if conv is None else {**conv, "tags": conv.get("tags") or []}


def _helpscout_thread(box, target_id):
    """Help Scout comment ids in the id map are `<conversation id>:<thread id>`."""
    _, _, thread_id = str(target_id).partition(":")
    thread = box.store.get("thread", thread_id) if thread_id.isdigit() else None
    return None if thread is None else {**thread, "public": thread["type"] != "note"}


def helpscout_source(tmp: Path, dump: Path):
    return sandbox_source("helpscout", dump)


def helpscout_fixtures(shared_dir: Path):
    """Every recorded Mailbox API 2.0 body that holds records (tests/test_helpscout_fixtures.py
    checks the others: token answers, request bodies, folders)."""
    from tests.test_helpscout_fixtures import recorded_records
    yield from recorded_records(shared_dir)


# ------------------------------------------------------------------ rt, django-helpdesk (real servers)
# One real server per test module (starting one takes minutes); each check gets its own stamp prefix
# and counts only the tickets created after it began, so checks never see each other's tickets.
REAL_SERVERS: dict[str, dict] = {}   # adapter -> credentials of the running server (set by a fixture)


def real_server_suite(h: Harness, *, needs_root: bool):
    """(module fixture, test class): the contract suite `h` against the real server of `h.adapter`,
    started on its own "contract" instance (.ci/real-helpdesks.sh, the way tests/real starts
    servers) once for the module and stopped after it; marked real_helpdesk (in CI: every built-in
    adapter passes the suite there, these two against their real servers). Bind both
    in the test module: `rt_contract_server, TestRtRealContract = real_server_suite(...)`."""
    import pytest

    @pytest.fixture(scope="module", name=f"{h.adapter}_contract_server")
    def server(shared_dir):
        from tests.real.conftest import _server, _stop
        REAL_SERVERS[h.adapter] = _server(shared_dir, h.adapter, "contract", needs_root)
        try:
            yield REAL_SERVERS[h.adapter]
        finally:
            REAL_SERVERS.pop(h.adapter, None)
            _stop(shared_dir, h.adapter, "contract")

    suite = pytest.mark.usefixtures(f"{h.adapter}_contract_server")(contract_suite(h))
    return server, pytest.mark.real_helpdesk(suite)


def _real_check_prefix() -> str:
    import uuid
    return f"k{uuid.uuid4().hex[:8]}-"


@contextlib.contextmanager
def rt_real_target(scratch: Path):
    import httpx
    info = REAL_SERVERS["rt"]
    api = httpx.Client(base_url=info["RT_URL"] + "/", headers={"Authorization": f"token {info['RT_TOKEN']}"},
                       timeout=60)

    def newest() -> int:
        items = api.get("tickets", params={"query": "id > 0", "orderby": "id", "order": "DESC",
                                           "per_page": 1}).json().get("items") or []
        return int(items[0]["id"]) if items else 0

    baseline = newest()

    def ticket(target_id):
        r = api.get(f"ticket/{target_id}")
        return {"subject": r.json().get("Subject")} if r.status_code == 200 else None

    def comment(target_id):
        tid, _, index = str(target_id).partition("#")
        history = api.get(f"ticket/{tid}/history", params={"fields": "Type", "per_page": 100}).json()
        txns = [t for t in history.get("items") or [] if t.get("Type") in ("Create", "Correspond", "Comment")]
        return {"public": txns[int(index)]["Type"] != "Comment"} if int(index or 0) < len(txns) else None

    def count():
        query = {"query": f"id > {baseline}", "per_page": 1}
        return {"ticket": int(api.get("tickets", params=query).json().get("total") or 0)}

    try:
        with environment({"RT_TOKEN": info["RT_TOKEN"]}):
            yield TargetUnderTest({"adapter": "rt", "url": info["RT_URL"], "token_env": "RT_TOKEN",
                                   "stamp_prefix": _real_check_prefix()}, ticket, comment=comment, count=count)
    finally:
        api.close()


@contextlib.contextmanager
def django_helpdesk_real_target(scratch: Path):
    import httpx
    info = REAL_SERVERS["django_helpdesk"]
    api = httpx.Client(base_url=info["HD_BASE_URL"] + "/helpdesk/api/", headers={"Accept": "application/json"},
                       auth=(info["HD_ADMIN_USER"], info["HD_ADMIN_PASSWORD"]), timeout=60)

    def ids() -> set[int]:
        return {t["id"] for t in api.get("tickets/", params={"page_size": 1000}).json()["results"]}

    before = ids()

    def ticket(target_id):
        r = api.get(f"tickets/{target_id}/")
        return {"subject": r.json().get("title")} if r.status_code == 200 else None

    def comment(target_id):
        r = api.get(f"followups/{target_id}/")
        return {"public": r.json().get("public") is True} if r.status_code == 200 else None

    def count():
        return {"ticket": len(ids() - before)}

    try:
        with environment({"HD_USER": info["HD_ADMIN_USER"], "HD_PASS": info["HD_ADMIN_PASSWORD"]}):
            yield TargetUnderTest({"adapter": "django_helpdesk", "url": info["HD_BASE_URL"], "username_env": "HD_USER",
                                   "password_env": "HD_PASS", "stamp_prefix": _real_check_prefix()},
                                  ticket, comment=comment, count=count)
    finally:
        api.close()
