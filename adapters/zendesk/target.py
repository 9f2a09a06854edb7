"""Zendesk as a target: the Ticket Import API, bulk user/organization jobs, uploads.

- tickets: POST /api/v2/imports/tickets/create_many (<= 100 per call) with every comment of the
  ticket (authors, `public`, `created_at` kept) and their files; triggers do not run on imports.
  Closed tickets go to a separate call with `archive_immediately=true` when the plan asks.
- files: POST /api/v2/uploads right before the import that uses the tokens. A token is reused
  only for the same comment and blob when the import call itself failed (token lifetime 60 min),
  never across comments (Zendesk consumes a token when a comment uses it).
- users: looked up by e-mail first, never overwritten: an account of at most USER_INDEX_MAX users
  is listed once (GET /api/v2/users, pages of 100), a larger one searched per person (GET
  /api/v2/users/search?query=email:…); a user with our external_id is ours, any other with the
  e-mail is the account's own, returned `matched` and left exactly as it is (name, tags,
  suspension); only the missing ones are created (an item refused because another identity holds
  the e-mail is searched for and matched), with POST /api/v2/users/create_many (when
  bulk user import is not enabled on the account, 403, one by one with POST /api/v2/users).
  create_or_update(_many) is not used: it would replace a live user's name and tags.
- organizations: looked up by name first (an existing one is matched, not changed), the rest
  through /organizations/create_many; groups and custom fields one by one (an existing one by
  name is matched).
- every bulk call returns a job_status; the jobs of all lanes are polled together (one
  job_statuses/show_many per round; per job where the account lacks it), a job first when its
  items should be done at the pace earlier jobs of its kind had (client.JobWatcher); an item's
  error fails only that record.
- every created record carries external_id `hdm:<kind>:<source id>`, which find_existing looks up.
- creates are sent once (`idempotent=False`): an answer lost after the request went out is handed
  to the engine (per item for bulk calls: TransientApiError with status None), which looks the
  record up with find_existing before anything writes it again. What is Zendesk's own: the
  requester collision (409, nothing created) is resent by the client's retry rule; a look-up of
  a kind written by jobs first waits until the account's jobs are settled (a lost answer's job
  may still be importing); a ticket found so keeps the comment and file ids it was sent with.
- request bodies and their degradations: to_vendor.py, one function per kind, which degradations()
  (the dry run) and the writes both call.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from hdmigrate import degradations as codes
from hdmigrate import stamps
from hdmigrate.adapter import AdapterContext, Capability, Degradation, LoadContext, Target, WriteResult
from hdmigrate.canonical import CHANNELS
from hdmigrate.errors import RecordError, RecordRejected, TransientApiError

from . import to_vendor, values
from .values import ZD_STATUSES, _next
from .client import DEFAULT_RATE_LIMIT, MAX_WAIT, JobWatcher, check_account, make_client
from .fields import FieldLookups
from .files import FileWrites
from .updates import TicketUpdates

# Accounts with at most this many users are listed once (pages of 100) to find people by e-mail;
# larger ones are asked per person (users/search): whichever costs fewer requests, about.
USER_INDEX_MAX = 20_000


class ZendeskTarget(TicketUpdates, FileWrites, FieldLookups, Target):
    name = "zendesk"
    stamp_places = frozenset({"external"})   # where verify reads this target's stamp
    capabilities = frozenset({Capability.PRESERVE_TIMESTAMPS, Capability.PRESERVE_AUTHORS,
                              Capability.PRIVATE_NOTES, Capability.ATTACHMENTS,
                              Capability.CUSTOM_FIELDS, Capability.CREATE_CUSTOM_FIELDS,
                              Capability.EXTERNAL_ID_LOOKUP, Capability.BULK_WRITE,
                              Capability.ASYNC_WRITES, Capability.UPDATE})
    default_rate_limit = DEFAULT_RATE_LIMIT
    bundles_comments = True
    updatable_kinds = frozenset({"ticket", "comment"})
    batch_sizes = {"ticket": 100, "organization": 100, "agent": 100, "contact": 100}

    def __init__(self, ctx: AdapterContext, transport: Any = None, sleep=time.sleep, clock=time.monotonic):
        super().__init__(ctx)
        self._transport = transport
        self._client = None
        self._jobs: JobWatcher | None = None
        self._jobs_lock = threading.Lock()
        # lost answers (see _answer_lost, _settle_jobs): one unknown at the start, a killed run's job
        self._losses, self._settled = 1, 0
        self._lost: set[tuple[str, str]] = set()
        self._loss_lock, self._settle_lock = threading.Lock(), threading.Lock()
        # what a ticket import whose answer was lost sent with each ticket (children, degradations):
        # the engine's look-up (find_existing) returns them with the ticket it finds
        self._unanswered: dict[str, tuple[dict, list[Degradation]]] = {}
        self._sleep = sleep
        self._clock = clock
        self.archive_immediately = bool(ctx.config.get("archive_immediately", False))
        self.poll = float(ctx.config.get("job_poll_seconds", 1.0))
        self.job_timeout = float(ctx.config.get("job_timeout_seconds", 900))
        self.bulk_users = True
        # Shared by the load lanes (threads): only single-key reads, writes and pops, never an
        # iteration, which another lane's upload would break ("dictionary changed size").
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}   # (comment, file) -> (token, when)
        self._token_keys: dict[str, tuple[str, str]] = {}             # token -> its key above
        self._content_urls: dict[str, str | None] = {}   # upload token -> content_url
        self._fields: dict[str, list[dict]] = {}
        self._groups: list[dict] | None = None
        self._people: dict[str, tuple[str, str]] | bool | None = None   # e-mail -> (id, external id)
        self._people_lock = threading.Lock()
        self.uploads = 0

    @property
    def client(self):
        if self._client is None:
            self._client = make_client(self.ctx, self._transport)
        return self._client

    @property
    def jobs(self) -> JobWatcher:
        """The one job watcher of all lanes (they poll their jobs together)."""
        with self._jobs_lock:
            if self._jobs is None:
                self._jobs = JobWatcher(self.client, poll=self.poll, timeout=self.job_timeout,
                                        sleep=self._sleep, clock=self._clock, log=self.ctx.log)
            return self._jobs

    def _send(self, path: str, payload: dict, params: dict | None = None, allow: tuple[int, ...] = ()):
        """POST a create. The HTTP layer resends only what never left (and 429, 5xx and Zendesk's
        requester collision, client.ZendeskHttpClient); an answer lost after the request went out
        raises TransientApiError(status=None): the engine looks the record up (find_existing)
        before anything writes it again. No retry loop of this target's own."""
        return self.client.request("POST", path, json=payload, params=params, allow=allow, idempotent=False)

    def _answer_lost(self, error: Exception, key: tuple[str, str] | None = None) -> None:
        """Note a lost answer: a bulk job may still be running (the next look-up of a job kind
        waits for the account's jobs first); `key`: a group or field created under a name, so
        that the look-up knows the one it finds by that name is ours, not the account's own."""
        if isinstance(error, TransientApiError) and error.status is None:
            with self._loss_lock:
                self._losses += 1
                if key is not None:
                    self._lost.add(key)

    def _settle_jobs(self) -> None:
        """Before a look-up of a kind written by bulk jobs (tickets, users, organizations): if an
        answer was lost since the last look-up, or this process has not looked yet (a killed
        run's job may still be running), wait until the account has no queued or running job,
        so the engine's look-up cannot miss a record that is still being imported."""
        with self._settle_lock:
            losses = self._losses
            if losses == self._settled:
                return
            deadline, wait = self._clock() + self.job_timeout, self.poll
            while True:
                body = self.client.get_json("/api/v2/job_statuses") or {}
                running = [j for j in body.get("job_statuses") or [] if j.get("status") in ("queued", "working")]
                if running and self._clock() >= deadline:   # not waited for again (someone else's job?)
                    self.ctx.log(f"zendesk: {len(running)} job(s) of the account still running after "
                                 f"{self.job_timeout:.0f}s; looking up anyway")
                if not running or self._clock() >= deadline:
                    self._settled = losses
                    return
                if wait == self.poll:
                    self.ctx.log(f"zendesk: waiting for {len(running)} running job(s) of the account before "
                                 "looking records up (an import whose answer was lost may still run)")
                self._sleep(wait)
                wait = min(wait * 1.5, MAX_WAIT)

    def _mapping(self, ctx: LoadContext | None) -> dict:
        return (getattr(ctx, "mapping", None) if ctx is not None else None) or self.ctx.mapping or {}

    def _opt(self, ctx: LoadContext | None, name: str, default=None):
        options = (getattr(ctx, "options", None) if ctx is not None else None) or self.ctx.options or {}
        return options.get(name, default)

    # ------------------------------------------------------------ contract
    def check(self) -> None:
        check_account(self.client)

    def discover(self) -> dict:
        return {"statuses": sorted(ZD_STATUSES), "priorities": list(values.PRIORITIES),
                "types": list(values.TYPES),
                # written without a mapping (the wizard shows it); imported tickets always get via 'api'
                "defaults": {"status": {s: values.STATUS_OUT.get(s, "open") for s in values.STATUS_OUT},
                             "priority": {p: p for p in values.PRIORITIES},
                             "type": {t: t for t in values.TYPES},
                             "channel": {c: "api" for c in CHANNELS}},
                "groups": [g.get("name") for g in self._group_list()],
                "fields": [f.get("title") for f in self._field_list("ticket")]}

    def degradations(self, kind: str, record: dict, ctx: LoadContext) -> list[Degradation]:
        """What the write will degrade: the same to_vendor function the write calls (for a
        comment, its own; its files' are theirs)."""
        out = to_vendor.mapped(kind, record, ctx, self._mapping(ctx), self._opt(ctx, "tag_migrated")).degradations
        return [d for d in out if d.kind == kind]

    def find_existing(self, kind: str, record: dict, ctx: LoadContext) -> str | WriteResult | None:
        stamp = stamps.external(kind, record["id"])
        if kind in self.batch_sizes:
            self._settle_jobs()
        if kind == "ticket":
            body = self.client.get_json("/api/v2/tickets", params={"external_id": stamp}) or {}
            found = body.get("tickets") or []
            children, degraded = self._unanswered.pop(str(record["id"]), ({}, []))
            if not found:
                return None     # written again later: that write's ids count
            tid = str(found[0]["id"])
            return WriteResult(tid, children={k: v.replace("{ticket}", tid) for k, v in children.items()},
                               degradations=degraded)
        # Found by our external_id: ours; by e-mail or name only: the account's own (matched),
        # unless this process created it under that name and lost the answer.
        if kind == "organization":
            return self._find_org_result(stamp, record.get("name"))
        if kind in ("agent", "contact"):
            return self._find_user(stamp, record.get("email"))
        if kind == "group":
            for g in self._group_list():
                if (g.get("name") or "").lower() == (record.get("name") or "").lower():
                    return WriteResult(str(g["id"]), matched=("group", g["name"].lower()) not in self._lost)
            return None
        if kind == "custom_field":
            found = self._find_field(record, ctx)
            return WriteResult(found, matched=("custom_field", str(record["id"])) not in self._lost) if found else None
        return None

    def write(self, kind: str, record: dict, ctx: LoadContext) -> WriteResult:
        if kind in self.batch_sizes:
            result = self.write_batch(kind, [record], ctx)[0]
            if isinstance(result, Exception):
                raise result
            return result
        if kind == "group":
            existing = self.find_existing("group", record, ctx)
            if existing:
                return existing      # the account's own group of that name: matched, not changed
            try:
                answer = self._send("/api/v2/groups", {"group": to_vendor.group(record).body})
            except TransientApiError as e:
                self._answer_lost(e, ("group", record["name"].lower()))
                raise
            finally:
                self._groups = None   # listed again by the next look-up
            return WriteResult(str(answer.json()["group"]["id"]))
        if kind == "custom_field":
            return self._write_field(record, ctx)
        if kind == "satisfaction_rating":
            ticket = ctx.target_id("ticket", record.get("ticket_id"))
            return WriteResult(str(ticket or ""), degradations=to_vendor.satisfaction_rating(record).degradations)
        raise RecordError(f"zendesk target: cannot write kind {kind!r}", kind=kind, id=record.get("id"))

    def write_batch(self, kind: str, records: list[dict], ctx: LoadContext) -> list[WriteResult | Exception]:
        if kind == "organization":
            return self._orgs(records, ctx)
        if kind in ("agent", "contact"):
            return self._users(kind, records, ctx)
        if kind == "ticket":
            return self._tickets(records, ctx)
        return super().write_batch(kind, records, ctx)

    def count(self, kind: str) -> int | None:
        path = {"ticket": "tickets", "organization": "organizations", "group": "groups"}.get(kind)
        if path is None:
            return None
        body = self.client.get_json(f"/api/v2/{path}/count") or {}
        return (body.get("count") or {}).get("value")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # ------------------------------------------------------------ jobs
    def _job(self, path: str, payload: dict, n: int, params: dict | None = None,
             refused: tuple[int, ...] = ()) -> list[WriteResult | Exception] | None:
        """POST a bulk create once and wait for its job: per-item results. When the answer is
        lost (or the job did not finish in time), every item gets that TransientApiError
        (status None): the engine looks each one up. None when the account answers a status in
        `refused` (403: bulk import not enabled)."""
        try:
            response = self._send(path, payload, params=params, allow=refused)
            if response.status_code in refused:
                return None
            # Sent: while the job runs (seconds), its batch's bodies need not stay in memory.
            payload.clear()
            return self._job_results(path, response, n)
        except TransientApiError as e:
            self._answer_lost(e)
            return [e] * n
        except (RecordRejected, RecordError) as e:
            return [e] * n

    def _job_results(self, path: str, response, n: int) -> list[WriteResult | Exception]:
        job = (response.json() or {}).get("job_status") or {}
        status = self.jobs.wait(job, path, n)
        results: list[WriteResult | Exception | None] = [None] * n
        if status.get("status") != "completed":
            error = TransientApiError(f"job {job.get('id')} {status.get('status')}: {status.get('message')}")
            return [error] * n
        items = status.get("results") or []
        if isinstance(items, dict):
            items = []
        for position, item in enumerate(items):
            index = item.get("index", position)
            if not isinstance(index, int) or not 0 <= index < n:
                continue
            if item.get("error") or item.get("success") is False or item.get("status") == "Failed":
                detail = item.get("details") or item.get("error") or "failed"
                results[index] = RecordRejected(f"{path} item {index}: {item.get('error')}: {detail}",
                                                status=422, method="POST", excerpt=str(detail)[:500])
            elif item.get("id") is not None:
                results[index] = WriteResult(str(item["id"]))
        return [r if r is not None else RecordRejected(f"{path} item {i}: no result in job {job.get('id')}")
                for i, r in enumerate(results)]

    # ------------------------------------------------------------ organizations, users
    def _orgs(self, records: list[dict], ctx: LoadContext) -> list[WriteResult | Exception]:
        """Organizations the account already has (same name) are matched and left as they are;
        only the others are created."""
        tag = self._opt(ctx, "tag_migrated")
        keys = self._field_keys(ctx, "organization")
        out: list[WriteResult | Exception | None] = [self._existing_org(r) for r in records]
        todo = [i for i, r in enumerate(out) if r is None]
        if todo:
            bodies = [to_vendor.organization(records[i], tag, keys).body for i in todo]
            created = self._job("/api/v2/organizations/create_many", {"organizations": bodies}, len(todo))
            for i, result in zip(todo, created or []):
                out[i] = result
        return [r if r is not None else RecordRejected("organization not written") for r in out]

    def _existing_org(self, record: dict) -> WriteResult | None:
        """The organization of this source record already in Zendesk: ours (our external_id,
        from a lost answer) or the account's own of the same name (matched)."""
        # by name only: one lookup; a lost create's answer is recovered by the engine (find_existing)
        return self._find_org_result(stamps.external("organization", record["id"]), record.get("name"), by_stamp=False)

    def _users(self, kind: str, records: list[dict], ctx: LoadContext) -> list[WriteResult | Exception]:
        """Look up, then create only what is missing: a live user with the same e-mail keeps its
        name, tags and state (matched); one this tool created already is reused."""
        tag = self._opt(ctx, "tag_migrated")
        keys = self._field_keys(ctx, "contact")
        users_map = (getattr(ctx, "mapping", None) or {}).get("users") or {}
        bodies = []
        for r in records:
            org = ctx.target_id("organization", r.get("organization_id")) if r.get("organization_id") else None
            body = to_vendor.user(kind, r, org, tag, keys).body
            if body.get("email") in users_map:
                body["email"] = users_map[body["email"]]
            bodies.append(body)
        out: list[WriteResult | Exception | None] = [None] * len(bodies)
        for i, body in enumerate(bodies):
            if body.get("email"):
                out[i] = self._existing_user(body)
        todo = [i for i in range(len(bodies)) if out[i] is None]
        no_email = [i for i in todo if not bodies[i].get("email")]
        if no_email:   # people without an e-mail are found again only by this tool's external_id
            for i, uid in zip(no_email, self._find_by_stamps([bodies[i] for i in no_email])):
                if uid:
                    out[i] = WriteResult(uid)
            todo = [i for i in todo if out[i] is None]
        created = None
        if todo and self.bulk_users:
            created = self._job("/api/v2/users/create_many", {"users": [bodies[i] for i in todo]}, len(todo),
                                refused=(403,))
            if created is None:
                self.ctx.log("zendesk: bulk user import is not enabled on this account (403); "
                             "creating users one by one")
                self.bulk_users = False
        if todo and created is None:
            created = [self._create_user(bodies[i]) for i in todo]
        for i, result in zip(todo, created or []):
            if isinstance(result, RecordRejected) and bodies[i].get("email"):
                # taken by a user the listing did not show (another identity, created meanwhile)
                result = self._existing_user(bodies[i], search=True) or result
            out[i] = result
            if isinstance(result, WriteResult) and bodies[i].get("email"):
                self._remember_person(bodies[i]["email"], result.target_id, bodies[i]["external_id"])
        self._keep_suspension(kind, records, bodies, out)
        return [r if r is not None else RecordRejected("user not written") for r in out]

    def _keep_suspension(self, kind: str, records: list[dict], bodies: list[dict], out: list) -> None:
        """Inactive people are created `suspended` (ZD-OAS UserCreateInput). A server that did not
        keep it is asked once more (PUT /api/v2/users/{id}); if that does not stick either, the
        record says so (`value_unmapped` on `active`) instead of reading back active unexplained."""
        wanted = {i: r.target_id for i, r in enumerate(out)
                  if isinstance(r, WriteResult) and not r.matched and bodies[i].get("suspended")}
        if not wanted:
            return
        body = self.client.get_json("/api/v2/users/show_many",
                                    params={"ids": ",".join(wanted.values()), "include_deleted": "true"}) or {}
        kept = {str(u.get("id")) for u in body.get("users") or [] if u.get("suspended")}
        for i, uid in wanted.items():
            if uid in kept:
                continue
            try:
                answer = self.client.request("PUT", f"/api/v2/users/{uid}", json={"user": {"suspended": True}},
                                             allow=(404, 405, 422)).json() or {}
            except ValueError:
                answer = {}
            if not (answer.get("user") or {}).get("suspended"):
                out[i].degradations.append(Degradation(
                    kind, records[i]["id"], "active", codes.VALUE_UNMAPPED,
                    "the target did not keep the suspension of this inactive person (read back active)"))

    def _create_user(self, body: dict) -> WriteResult | Exception:
        """POST /api/v2/users, sent once; after a lost answer the engine looks the user up."""
        try:
            return WriteResult(str(self._send("/api/v2/users", {"user": body}).json()["user"]["id"]))
        except (RecordRejected, RecordError, TransientApiError) as e:
            return e

    def _users_by_stamp(self, stamps: list[str]) -> dict[str, str]:
        """external id (lower case) -> user id of the users this tool created (show_many, <= 100)."""
        out: dict[str, str] = {}
        for start in range(0, len(stamps), 100):
            chunk = stamps[start:start + 100]
            body = self.client.get_json("/api/v2/users/show_many", params={"external_ids": ",".join(chunk)}) or {}
            for user in body.get("users") or []:
                if user.get("external_id"):
                    out[str(user["external_id"]).lower()] = str(user["id"])
        return out

    def _find_by_stamps(self, bodies: list[dict]) -> list[str | None]:
        found = self._users_by_stamp([b["external_id"] for b in bodies])
        return [found.get(b["external_id"].lower()) for b in bodies]

    def _existing_user(self, body: dict, search: bool = False) -> WriteResult | Exception | None:
        """The user with this body's e-mail: ours (our external_id) or the account's own (matched)."""
        try:
            index = None if search else self._people_index()
            found = index.get(body["email"].lower()) if index is not None else self._user_by_email(body["email"])
        except (RecordRejected, RecordError) as e:
            return e
        if found is None:
            return None
        user_id, external_id = found
        return WriteResult(user_id, matched=external_id.lower() != body["external_id"].lower())

    def _people_index(self) -> dict[str, tuple[str, str]] | None:
        """E-mail -> (id, external id) of every user of an account of at most USER_INDEX_MAX users,
        listed once; None for a larger account (each person is then searched for)."""
        with self._people_lock:
            if self._people is None:
                count = ((self.client.get_json("/api/v2/users/count") or {}).get("count") or {}).get("value")
                if not isinstance(count, int) or count > USER_INDEX_MAX:
                    self._people = False
                else:
                    people: dict[str, tuple[str, str]] = {}
                    for page in self.client.paginate_next_url("/api/v2/users", {"page[size]": 100}, next_url=_next):
                        for user in (page or {}).get("users") or []:
                            if user.get("email"):
                                people.setdefault(user["email"].lower(), (str(user["id"]), str(user.get("external_id") or "")))
                    self._people = people
            return self._people if isinstance(self._people, dict) else None

    def _remember_person(self, email: str, user_id: str, external_id: str) -> None:
        with self._people_lock:
            if isinstance(self._people, dict):
                self._people[email.lower()] = (str(user_id), external_id)

    def _user_by_email(self, email: str) -> tuple[str, str] | None:
        """(user id, external id or "") of the user with this e-mail (primary or identity)."""
        body = self.client.get_json("/api/v2/users/search", params={"query": f"email:{email}"}) or {}
        users = body.get("users") or []
        exact = [u for u in users if (u.get("email") or "").lower() == email.lower()]
        for user in exact or users[:1]:
            return str(user["id"]), str(user.get("external_id") or "")
        return None

    def _org_search(self, params: dict) -> dict | None:
        found = (self.client.get_json("/api/v2/organizations/search", params=params) or {}).get("organizations") or []
        return found[0] if found else None

    def _find_user(self, stamp: str, email: str | None) -> WriteResult | None:
        body = self.client.get_json("/api/v2/users/search", params={"external_id": stamp}) or {}
        found = body.get("users") or []
        if found:
            return WriteResult(str(found[0]["id"]))
        live = self._user_by_email(email) if email else None
        return WriteResult(live[0], matched=live[1].lower() != stamp.lower()) if live else None

    def _find_org_result(self, stamp: str, name: str | None, *, by_stamp: bool = True) -> WriteResult | None:
        ours = self._org_search({"external_id": stamp}) if by_stamp else None
        if ours:
            return WriteResult(str(ours["id"]))
        same_name = self._org_search({"name": name}) if name else None
        if same_name is None:
            return None
        return WriteResult(str(same_name["id"]), matched=(same_name.get("external_id") or "").lower() != stamp.lower())

    # ------------------------------------------------------------ tickets
    def _tickets(self, records: list[dict], ctx: LoadContext) -> list[WriteResult | Exception]:
        out: list[WriteResult | Exception | None] = [None] * len(records)
        groups: dict[bool, tuple[list, list]] = {}     # archive? -> (bodies, (i, children, degraded, tokens))
        for i, record in enumerate(records):
            try:
                body, children, degraded = self._ticket_body(record, ctx)
            except Exception as e:  # noqa: BLE001 - one ticket's failure (an upload refused ...)
                out[i] = e
                continue
            finally:
                ctx.release(record["id"])    # its comments are in the body now (LoadContext.release)
            bodies, items = groups.setdefault(self.archive_immediately and body.get("status") == "closed", ([], []))
            bodies.append(body)
            items.append((i, children, degraded, _upload_tokens(body)))
        for archive in list(groups):
            bodies, items = groups.pop(archive)
            params = {"archive_immediately": "true"} if archive else None
            payload = {"tickets": bodies}
            del bodies            # _job empties the payload once sent: nothing holds the bodies meanwhile
            try:
                results = self._job("/api/v2/imports/tickets/create_many", payload, len(items), params)
            finally:
                # the call went out: Zendesk may have consumed these tokens
                for *_, tokens in items:
                    self._forget_tokens(tokens)
            for (i, children, degraded, _), result in zip(items, results):
                if isinstance(result, WriteResult):
                    tid = result.target_id
                    result.children = {key: value.replace("{ticket}", tid) for key, value in children.items()}
                    result.degradations = degraded
                elif isinstance(result, TransientApiError) and result.status is None:
                    self._unanswered[str(records[i]["id"])] = (children, degraded)   # for find_existing
                out[i] = result
        return [r if r is not None else RecordRejected("ticket not written") for r in out]

    def _ticket_body(self, record: dict, ctx: LoadContext) -> tuple[dict, dict, list[Degradation]]:
        """The import body (files uploaded first), the target ids of its comments and files
        (`{ticket}:<comment position>[:<file position>]`) and what the write degraded."""
        requester = self._person(ctx, record.get("requester_id"))
        if requester is None:
            raise RecordError(f"ticket {record['id']}: requester {record.get('requester_id')} has no "
                              "target id", kind="ticket", id=record["id"], field="requester_id")
        comments, children, degraded = self._comment_bodies(record, ctx, requester)
        refs = to_vendor.TicketRefs(
            requester=requester, assignee=self._target(ctx, "agent", record.get("assignee_id")),
            group=self._target(ctx, "group", record.get("group_id")),
            organization=self._target(ctx, "organization", record.get("organization_id")),
            ccs=tuple(c for c in (self._person(ctx, p) for p in record.get("cc_ids") or []) if c),
            field_ids=self._ticket_field_ids(record, ctx))
        body = to_vendor.ticket(record, self._mapping(ctx), refs, comments or [to_vendor.description(record, requester)],
                                self._opt(ctx, "tag_migrated")).body   # its degradations: degradations()
        return body, children, degraded

    def _comment_bodies(self, record: dict, ctx: LoadContext, requester: str):
        children: dict[tuple[str, str], str] = {}
        comments: list[dict] = []
        degraded: list[Degradation] = []
        uploaded: dict[str, str] = {}      # attachment id -> its content_url in this account
        earlier: list[dict] = []           # files of the ticket's earlier comments (quoted images)
        for position, comment in enumerate(ctx.comments(record["id"])):
            tokens = []
            pairs = list(ctx.attachments(comment))
            for position_a, (attachment, path) in enumerate(pairs):
                token = self._upload(comment, attachment, path, degraded)
                if token:
                    tokens.append(token)
                    children[("attachment", attachment["id"])] = f"{{ticket}}:{position}:{position_a}"
                    if self._content_urls.get(token):
                        uploaded[str(attachment["id"])] = self._content_urls[token]
            files = [a for a, _ in pairs]
            mapped = to_vendor.comment(comment, ctx, author=self._person(ctx, comment.get("author_id")),
                                       requester=requester, uploads=tokens, uploaded=uploaded, files=files,
                                       earlier=earlier)
            earlier += files
            comments.append(mapped.body)
            degraded += mapped.degradations
            children[("comment", comment["id"])] = f"{{ticket}}:{position}"
        return comments, children, degraded

    # ------------------------------------------------------------ delta runs
    def _person(self, ctx: LoadContext, source_id: str | None) -> str | None:
        if not source_id:
            return None
        found = ctx.person(source_id)
        return found[1] if found else None

    def _target(self, ctx: LoadContext, kind: str, source_id: str | None) -> str | None:
        return ctx.target_id(kind, source_id) if source_id else None


def _upload_tokens(body: dict) -> set[str]:
    """The upload tokens a ticket import body's comments use."""
    return {t for c in body.get("comments") or [] for t in c.get("uploads") or []}
