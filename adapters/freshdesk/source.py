"""Freshdesk as a source: fetch (paged, resumable) and to_canonical (pure).

Streams and how they are read:
- `ticket_fields`, `contact_fields`, `company_fields` -> `custom_field` records (custom fields
  only; ticket fields keep their `cf_` key, contact/company fields their plain name). The ticket
  fields and agents lists are kept for the ticket stream's lookups (status names, number fields,
  which users are agents): each list is read once a run. Contacts' e-mails from the default list
  answer the cc lookups; only an address no list showed costs a `GET /contacts?email=`.
- `companies`, `groups`, `agents` (full lists), `contacts` (active, then `state=deleted`, then
  `state=blocked`; delta runs with `_updated_since`).
- `tickets`: `GET /tickets` shows only tickets created in the last 30 days unless
  `updated_since` is given, and stops at page 300. We always pass `updated_since` and
  `order_by=updated_at&order_type=asc`; when page 300 still has a next page, a new window starts
  at the last `updated_at` seen. Each listed ticket is read once more with
  `GET /tickets/{id}?include=conversations` (the list carries neither the description's
  attachments nor the conversations; one detail call gets both, plus up to 10 conversations; a
  ticket with 10 or more is completed from `/tickets/{id}/conversations`). The description
  becomes the ticket's first comment (id `<ticket id>-description`). Cost: 1 request and 2 API
  credits a ticket (the embed costs 1 more) plus ⌈n/100⌉ list pages at 1 credit; the list's
  `include=description` (2 more credits a page) is not used: the detail gives the description
  with its attachments, which no list has. 2 credits a ticket is the floor while the description's
  files are kept (View a Ticket for them, plus one more credit for the conversations, embedded or
  listed).
- `spam_and_deleted_tickets`: the default list leaves out spam and the trash; `filter=spam` and
  `filter=deleted` list them (same window and paging). Each is named in `describe()` (the run
  summary's `source_info`, so the report) and, only with `[source] spam_and_deleted = "migrate"`,
  read and staged like the others. Left out, their ratings are named with them and not staged;
  kept in the work directory, they are staged after all once a later run lists their ticket
  (taken out of spam or the trash, or `migrate` asked for): ratings are read by `created_since`,
  so no later read would bring them back.
- `satisfaction_ratings`: `GET /surveys/satisfaction_ratings?created_since=`. Read before the
  archived tickets: the ticket ids ratings name are evidence of tickets no list shows.
- `archived_tickets`: archived tickets appear in no list (and `GET /tickets/{id}` does not show
  them); only `GET /tickets/archived/{id}` and `.../conversations` do. The highest known ticket id
  comes from the lists, the ratings and the listed tickets' `associated_tickets_list`, not from
  the lists alone (a dormant account lists nothing). Every unlisted id from 1 to it is probed,
  then upward until ARCHIVE_MISS_RUN ids in a row answer 404 (404 = deleted or never used) -
  unless the newest listed ticket was created less than ARCHIVE_SAFE_DAYS ago: every ticket above
  it is younger still, and Freshdesk archives only long-inactive closed tickets. A
  403 means the plan has no Archive feature: nothing is archived. How the range was found is
  logged and kept in `describe()["archived_tickets"]` (the run summary's `source_info`).
Agents and contacts are both Freshdesk users with one id space; canonical ids are prefixed
(`a<id>` agents, `c<id>` contacts). Which user ids are agents is looked up at fetch time and
written into the raw payload (`_hdm_agent_ids`), so to_canonical stays pure.
Cursors are JSON strings committed by the engine after each page; an interrupted extract resumes
at the page after the last staged one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hdmigrate.adapter import Capability, Page, Source
from hdmigrate.errors import Cause, FatalApiError
from hdmigrate import times
from hdmigrate.http import UrlRefused
from hdmigrate.printable import id_list

from . import to_canonical
from . import values as m
from .to_canonical import inline_id, inline_images, ticket_records  # noqa: F401 - imported by tests
from .client import DEFAULT_RATE_LIMIT, FreshdeskClient

EPOCH = "1970-01-01T00:00:00Z"
MAX_LIST_PAGE = 300          # Freshdesk stops listing tickets here
CONVERSATIONS_IN_DETAIL = 10  # include=conversations returns at most this many

# Above the highest known ticket id, this many 404s in a row end the probe for archived tickets.
# Freshdesk hands out ticket ids in sequence; deleted tickets leave holes, rarely 50 in a row.
ARCHIVE_MISS_RUN = 50
ARCHIVE_PAGE = 20           # archived tickets per staged page
ARCHIVE_PROBES_PER_PAGE = 100  # the cursor advances at least this often, hits or not
# Freshdesk archives a *closed* ticket after it has been inactive for 120 days (API reference,
# "Archive Tickets"; "depending on the company's ticket traffic"). We assume no account archives
# sooner than a quarter of that: a ticket younger than this cannot be archived.
ARCHIVE_SAFE_DAYS = 30

# The list filters for tickets the default list leaves out (Freshdesk's "predefined filters").
SPAM_AND_DELETED = ("spam", "deleted")

STREAMS = ("ticket_fields", "contact_fields", "company_fields", "companies", "groups", "agents",
           "contacts", "tickets", "spam_and_deleted_tickets", "satisfaction_ratings", "archived_tickets")

class FreshdeskSource(Source):
    name = "freshdesk"
    capabilities = frozenset({Capability.INCREMENTAL, Capability.PRIVATE_NOTES, Capability.ATTACHMENTS,
                              Capability.INLINE_IMAGES, Capability.CUSTOM_FIELDS,
                              Capability.SATISFACTION_RATINGS})
    default_rate_limit = DEFAULT_RATE_LIMIT
    since_streams = frozenset({"tickets", "spam_and_deleted_tickets", "archived_tickets", "satisfaction_ratings"})  # contacts come whole
    # Files come from pre-signed storage URLs outside the API's rate limit: 4 at a time.
    download_workers = 4

    def __init__(self, ctx, transport=None):
        super().__init__(ctx)
        cfg = ctx.config
        self.client = FreshdeskClient(cfg.get("url", ""), ctx.secrets.get("api_key", ""),
                                      rate_limit=ctx.rate_limit, transport=transport, log=ctx.log)
        self.archived = cfg.get("archived", True)
        self.spam_and_deleted = cfg.get("spam_and_deleted", "report")     # or "migrate"
        self._left: dict[str, dict] | None = None
        self._left_file = self._work_file("spam-and-deleted")
        # Ratings held back with their spam or deleted ticket, whose ticket a later list showed:
        # staged by every ratings pass from then on (the same record again is unchanged).
        self._recovered_file = self._work_file("recovered-ratings")
        self._agent_ids: set[int] | None = None
        # Lists read once per run and shared: the agents and ticket fields (from their own streams
        # when those ran in this process, else one read each), contacts' e-mails (from the
        # contacts stream: the cc lookup asks Freshdesk only for an address it did not list).
        self._agents: list[dict] | None = None
        self._ticket_fields: list[dict] | None = None
        self._status_names: dict[int, str] | None = None
        self._number_fields: dict[str, str] | None = None     # ticket field name -> custom_number/decimal
        self._people_by_email: dict[str, str | None] = {}     # e-mail -> canonical person id
        self._agent_mails = False                              # agents' e-mails are in it
        self._seen_ticket_ids: set[int] = set()
        self._seen_file = self._work_file("ticket-ids")
        # Ticket ids other streams name ({"ratings": [...], "associated": [...]}) and how the
        # archived range was determined: both kept for resumed and delta runs.
        self._mentioned: dict[str, set[int]] = {}
        self._mentions_file = self._work_file("ticket-mentions")
        self._range_file = self._work_file("archived-range")
        self._range_info: dict | None = None
        # The listed ticket with the highest id (its id and created_at): whether any ticket above
        # it can be archived yet (see _archivable_above).
        self._newest: dict | None = None
        self._newest_file = self._work_file("newest-ticket")

    def _work_file(self, name: str) -> Path | None:
        """Where this source keeps what later runs need; a read-back of a Freshdesk *target*
        (verify) keeps its own, apart from the source's in the same work directory."""
        if not self.ctx.workdir:
            return None
        side = "" if getattr(self.ctx, "role", "source") == "source" else f"{self.ctx.role}-"
        return Path(self.ctx.workdir) / f"freshdesk-{side}{name}.json"

    # --- checks ---------------------------------------------------------------------------
    def check(self) -> None:
        me = self.client.get_json("agents/me")
        if not isinstance(me, dict) or "id" not in me:
            raise FatalApiError("freshdesk: /agents/me did not return an agent; check url and API key",
                                cause=Cause.AUTH)

    def discover(self) -> dict:
        fields = self.client.all("ticket_fields")
        status = next((f for f in fields if f.get("name") == "status"), {})
        return {
            "statuses": {k: v[0] if isinstance(v, list) else v for k, v in (status.get("choices") or {}).items()},
            "priorities": {str(k): v for k, v in m.PRIORITY_TO_CANONICAL.items()},
            "groups": [g["name"] for g in self.client.all("groups")],
            "agents": [a.get("contact", {}).get("email") for a in self.client.all("agents")],
            "fields": [f["name"] for f in fields if not f.get("default")],
            "counts": {},
        }

    def streams(self) -> list[str]:
        return list(STREAMS)

    def describe(self) -> dict:
        out = super().describe()
        info = self._range_info or _read_json(self._range_file)
        if isinstance(info, dict) and info:
            out["archived_tickets"] = info
        left = self._left_in_source()
        if left:
            out["spam_and_deleted"] = _left_summary(left)
        return out

    # --- lookups kept for the fetch ---------------------------------------------------------
    def agents(self) -> list[dict]:
        if self._agents is None:
            self._agents = self.client.all("agents")
        return self._agents

    def ticket_fields(self) -> list[dict]:
        if self._ticket_fields is None:
            self._ticket_fields = self.client.all("ticket_fields")
        return self._ticket_fields

    def agent_ids(self) -> set[int]:
        if self._agent_ids is None:
            self._agent_ids = {int(a["id"]) for a in self.agents()}
        return self._agent_ids

    def status_names(self) -> dict[int, str]:
        if self._status_names is None:
            names = {}
            for f in self.ticket_fields():
                if f.get("name") == "status" and isinstance(f.get("choices"), dict):
                    for code, labels in f["choices"].items():
                        try:
                            names[int(code)] = labels[0] if isinstance(labels, list) else str(labels)
                        except (TypeError, ValueError):
                            pass
            self._status_names = names
        return self._status_names

    def number_fields(self) -> dict[str, str]:
        """Ticket custom fields whose values are numbers (Freshdesk may return them as strings)."""
        if self._number_fields is None:
            self._number_fields = {f["name"]: f["type"] for f in self.ticket_fields()
                                   if f.get("type") in ("custom_number", "custom_decimal")}
        return self._number_fields

    def person_by_email(self, email: str) -> str | None:
        """The canonical id (a…/c…) of the agent or contact with this e-mail, or None."""
        key = (email or "").strip().lower()
        if not key:
            return None
        if not self._agent_mails:
            self._agent_mails = True
            for a in self.agents():
                mail = ((a.get("contact") or {}).get("email") or "").lower()
                if mail:
                    self._people_by_email[mail] = "a" + str(a["id"])
        if key not in self._people_by_email:
            found = self.client.get_json("contacts", {"email": key}) or []
            self._people_by_email[key] = "c" + str(found[0]["id"]) if found else None
        return self._people_by_email[key]

    # --- fetch ----------------------------------------------------------------------------
    def fetch(self, stream: str, cursor: str | None = None, since: str | None = None) -> Iterator[Page]:
        state = json.loads(cursor) if cursor else {}
        if stream in ("ticket_fields", "contact_fields", "company_fields", "companies", "groups", "agents"):
            yield from self._simple(stream, state)
        elif stream == "contacts":
            yield from self._contacts(state, since)
        elif stream == "tickets":
            yield from self._tickets(state, since)
        elif stream == "spam_and_deleted_tickets":
            yield from self._spam_and_deleted(state, since)
        elif stream == "archived_tickets":
            yield from self._archived(state)
        elif stream == "satisfaction_ratings":
            yield from self._ratings(state, since)
        else:
            raise ValueError(f"freshdesk: unknown stream {stream!r}")

    def _simple(self, stream: str, state: dict) -> Iterator[Page]:
        start = int(state.get("page", 1))
        got = False
        kept: list[dict] | None = [] if start == 1 and stream in ("agents", "ticket_fields") else None
        for page, items, has_next in self.client.pages(stream, start_page=start):
            got = True
            if kept is not None:
                kept.extend(items)
                if not has_next:        # the whole list: the ticket stream's lookups need no read
                    if stream == "agents":
                        self._agents, self._agent_ids = kept, None
                    else:
                        self._ticket_fields, self._status_names, self._number_fields = kept, None, None
            yield Page([(str(i.get("id", i.get("name"))), i) for i in items],
                       cursor=json.dumps({"page": page + 1}) if has_next else None, done=not has_next)
        if not got:
            yield Page([], None, True)

    def _contacts(self, state: dict, since: str | None) -> Iterator[Page]:
        phases = [None, "deleted", "blocked"]
        phase = int(state.get("phase", 0))
        page0 = int(state.get("page", 1))
        since = since or state.get("since")
        stamp = state.get("stamp")
        for i in range(phase, len(phases)):
            params = {}
            if phases[i]:
                params["state"] = phases[i]
            if since:
                params["_updated_since"] = since
            last = None
            for page, items, has_next in self.client.pages("contacts", params, start_page=page0 if i == phase else 1):
                for c in items:
                    stamp = max(stamp or "", c.get("updated_at") or "") or None
                if phases[i] is None:
                    self._index_contacts(items)
                last = (page, has_next)
                final = i == len(phases) - 1 and not has_next
                nxt = ({"phase": i, "page": page + 1} if has_next else {"phase": i + 1, "page": 1})
                nxt.update(since=since, stamp=stamp)
                if final:
                    nxt = {"since": stamp or since}
                yield Page([("c" + str(c["id"]), c) for c in items], cursor=json.dumps(nxt), done=final)
            if last is None and i == len(phases) - 1:
                yield Page([], json.dumps({"since": stamp or since}), True)

    def _index_contacts(self, contacts: list[dict]) -> None:
        """E-mails of listed contacts -> their ids: what `GET /contacts?email=` (the default list,
        unblocked and undeleted, primary and other e-mails) would answer, so no cc of a listed
        contact costs a request. An address not listed is still asked for."""
        for c in contacts:
            for mail in [c.get("email"), *(c.get("other_emails") or [])]:
                key = (mail or "").strip().lower()
                if key and key not in self._people_by_email:
                    self._people_by_email[key] = "c" + str(c["id"])

    # tickets -----------------------------------------------------------------------------
    def _ticket_payload(self, ticket: dict, archived: bool = False) -> dict:
        tid = ticket["id"]
        prefix = f"tickets/archived/{tid}" if archived else f"tickets/{tid}"
        if archived:
            detail = ticket
            convs = self.client.all(f"{prefix}/conversations")
        else:
            detail = self.client.get_json(prefix, {"include": "conversations"}, allow=(404,)) or dict(ticket)
            convs = detail.get("conversations")
            if convs is None or len(convs) >= CONVERSATIONS_IN_DETAIL:
                convs = self.client.all(f"{prefix}/conversations")
        detail = dict(detail)
        detail["conversations"] = convs
        agents = self.agent_ids()
        users = {detail.get("requester_id"), detail.get("responder_id")} | {c.get("user_id") for c in convs}
        detail["_hdm_agent_ids"] = sorted(int(u) for u in users if u is not None and int(u) in agents)
        name = self.status_names().get(int(detail.get("status") or 0))
        if name:
            detail["_hdm_status_name"] = name
        if archived:
            detail["_hdm_archived"] = True
        numbers = {k: t for k, t in self.number_fields().items() if k in (detail.get("custom_fields") or {})}
        if numbers:
            detail["_hdm_number_fields"] = numbers
        if detail.get("cc_emails"):
            detail["_hdm_cc_ids"] = {e: self.person_by_email(e) for e in detail["cc_emails"] if e}
        return detail

    def _list_tickets(self, which: str | None, window: str, page: int,
                      high: str | None) -> Iterator[tuple[list, tuple[str, int] | None, str | None]]:
        """Pages of `GET /tickets` (`filter=which`; None: the default list) updated since `window`,
        from `page`, oldest change first: (items, (window, page) to resume at, or None after the
        last page, the newest `updated_at` seen). Freshdesk stops at page 300: a new window then
        starts at the last `updated_at` seen."""
        while True:
            params = {"updated_since": window, "order_by": "updated_at", "order_type": "asc"}
            if which:
                params["filter"] = which
            restart = None
            for number, items, has_next in self.client.pages("tickets", params, start_page=page,
                                                             max_page=MAX_LIST_PAGE):
                for t in items:
                    high = max(high or "", t.get("updated_at") or "") or None
                if has_next and number >= MAX_LIST_PAGE:
                    last = items[-1].get("updated_at") or window
                    restart = last if last != window else _plus_one_second(window)
                    yield items, (restart, 1), high
                elif has_next:
                    yield items, (window, number + 1), high
                else:
                    yield items, None, high
                    return
            if restart is None:
                yield [], None, high
                return
            window, page = restart, 1

    def _tickets(self, state: dict, since: str | None) -> Iterator[Page]:
        window = since or state.get("since") or EPOCH
        self._load_seen()
        left = self._left_in_source()
        for items, resume, high in self._list_tickets(None, window, int(state.get("page", 1)), state.get("high")):
            out, listed_again = [], False
            for t in items:
                self._seen_ticket_ids.add(int(t["id"]))
                self._note_newest(t)
                before = left.pop(str(t["id"]), None)      # spam or deleted before, listed now
                if before is not None:
                    self._recover_ratings(before)
                    listed_again = True
                payload = self._ticket_payload(t)
                self._mention("associated", payload.get("associated_tickets_list"))
                out.append((str(t["id"]), payload))
            self._save_seen()
            self._save_mentions()
            _write_json(self._newest_file, self._newest)
            if listed_again or not resume:
                # with the page: a resumed run does not list these again, and their ratings must
                # not be held back a second time
                self._save_left(left)
            if resume:
                yield Page(out, cursor=json.dumps({"since": resume[0], "page": resume[1], "high": high}))
            else:
                yield Page(out, cursor=json.dumps({"since": high or window, "page": 1}), done=True)

    def _spam_and_deleted(self, state: dict, since: str | None) -> Iterator[Page]:
        """The tickets no default list shows: `filter=spam`, then `filter=deleted` (in the trash).
        Each is named in the run's report (`describe()["spam_and_deleted"]`) and, with
        `spam_and_deleted = "migrate"`, staged like any other ticket (its `extra` keeps `spam` /
        `deleted`). Either way its id counts as listed, so the archive probe skips it."""
        self._load_seen()
        left = self._left_in_source()
        nexts = dict(state.get("next") or {})          # filter -> updated_since of the next run
        phase = state.get("filter") or SPAM_AND_DELETED[0]
        for which in SPAM_AND_DELETED[SPAM_AND_DELETED.index(phase):]:
            resumed = state.get("filter") == which and "since" in state
            window = since or (state["since"] if resumed else nexts.get(which)) or EPOCH
            page, high = (int(state.get("page", 1)), state.get("high")) if resumed else (1, None)
            for items, resume, high in self._list_tickets(which, window, page, high):
                out = []
                for t in items:
                    self._seen_ticket_ids.add(int(t["id"]))
                    before = left.get(str(t["id"])) or {}
                    entry = {"state": which, "created_at": t.get("created_at"),
                             "updated_at": t.get("updated_at"), "migrated": self.spam_and_deleted == "migrate"}
                    if self.spam_and_deleted == "migrate":
                        out.append((str(t["id"]), self._ticket_payload(t)))
                        self._recover_ratings(before)        # held back by an earlier run
                    else:                                    # still named in the report
                        entry.update({k: before[k] for k in ("ratings", "held") if k in before})
                    left[str(t["id"])] = entry
                self._save_seen()
                self._save_left(left)
                if resume:
                    cur = {"filter": which, "since": resume[0], "page": resume[1], "high": high, "next": nexts}
                    yield Page(out, cursor=json.dumps(cur))
                    continue
                nexts[which] = high or window
                following = SPAM_AND_DELETED[SPAM_AND_DELETED.index(which) + 1:]
                cur = {"filter": following[0], "next": nexts} if following else {"next": nexts}
                yield Page(out, cursor=json.dumps(cur), done=not following)
            state = {}

    def _without_left_tickets(self, ratings: list[dict]) -> list[dict]:
        """The ratings of tickets not left out as spam or deleted; the others are named with
        their ticket in the report (a rating cannot be written without its ticket)."""
        left = self._left_in_source()
        kept = []
        for r in ratings:
            entry = left.get(str(r.get("ticket_id")))
            if entry is None or entry.get("migrated"):
                kept.append(r)
            elif str(r.get("id")) not in entry.setdefault("ratings", []):
                entry["ratings"].append(str(r.get("id")))
                entry.setdefault("held", {})[str(r.get("id"))] = r   # staged if the ticket comes back
        if len(kept) < len(ratings):
            self._save_left(left)
        return kept

    def _recover_ratings(self, entry: dict | None) -> None:
        """A left-out ticket is listed now: the ratings held back with it are staged by the ratings
        pass (kept in the work directory first, so a run killed in between loses none)."""
        held = (entry or {}).get("held") or {}
        if held:
            recovered = _read_json(self._recovered_file) or {}
            _write_json(self._recovered_file, {**recovered, **held})

    def _left_in_source(self) -> dict[str, dict]:
        """Spam and deleted tickets the lists showed (id -> state, times, migrated), kept in the
        work directory for resumed and delta runs and the report."""
        if self._left is None:
            data = _read_json(self._left_file)
            self._left = data if isinstance(data, dict) else {}
        return self._left

    def _save_left(self, left: dict) -> None:
        self._left = left
        _write_json(self._left_file, left)

    def _archived(self, state: dict) -> Iterator[Page]:
        if not self.archived:
            self._set_range({"method": "off", "summary": "tickets: archived tickets not read "
                                                         "(archived = false in the plan)"})
            yield Page([], None, True)
            return
        self._load_seen()
        self._load_mentions()
        listed = self._seen_ticket_ids
        known, method = self._highest_known()
        above, why_not = self._archivable_above(known)
        first = int(state.get("first", state.get("next", 1)))
        tid = int(state.get("next", 1))
        misses, found = int(state.get("misses", 0)), int(state.get("found", 0))
        last_hit, sent = int(state.get("last_hit", 0)), int(state.get("sent", 0))
        batch: list = []
        probes = 0

        def cursor() -> str:
            return json.dumps({"first": first, "next": tid, "misses": misses, "found": found,
                               "last_hit": last_hit, "sent": sent + probes})

        while tid <= known or (above and misses < ARCHIVE_MISS_RUN):
            if tid in listed:
                tid += 1
                continue
            r = self.client.get(f"tickets/archived/{tid}", allow=(403, 404))
            probes += 1
            t = r.json() if r.status_code == 200 and r.content else None
            if r.status_code == 403:
                # "require_feature": the plan has no Archive Tickets feature, so nothing is archived.
                self._set_range({"method": "unavailable", "highest_known": known, "found": found,
                                 "summary": f"tickets: archived tickets unavailable on this plan "
                                            f"(403 at tickets/archived/{tid}); {found} archived found"})
                yield Page(batch, cursor=None, done=True)
                return
            if isinstance(t, dict) and t.get("id") is not None:
                batch.append((str(t["id"]), self._ticket_payload(t, archived=True)))
                found, last_hit, misses = found + 1, tid, 0
            elif tid > known:
                misses += 1
            tid += 1
            if len(batch) >= ARCHIVE_PAGE or probes % ARCHIVE_PROBES_PER_PAGE == 0:
                yield Page(batch, cursor=cursor())
                batch = []
        self._range_done(method, known, first, tid - 1, found, last_hit, sent + probes, why_not)
        # A delta run probes again from just above the last hit: ids in the miss run may be used
        # by tickets created (and archived) later.
        again = max(known, last_hit) + 1
        tid, misses, found, first, sent, probes = again, 0, 0, again, 0, 0
        yield Page(batch, cursor=cursor(), done=True)

    def _range_done(self, method: str, known: int, first: int, last: int, found: int, last_hit: int,
                    sent: int, why_not: str) -> None:
        """Log and keep how the archived range was walked (`why_not`: why none above `known`)."""
        probed = (f"ids {first}..{last} probed ({sent} request{'' if sent == 1 else 's'}, listed ids skipped)" if last >= first
                  else "no id probed")
        self._set_range({
            "method": method, "highest_known": known, "first": first, "last": last, "found": found,
            "highest_archived": last_hit or None, "miss_run": 0 if why_not else ARCHIVE_MISS_RUN,
            "requests": sent,
            "summary": (f"tickets: {probed} for archived tickets (highest known id {known} from "
                        f"{method}, " + (f"none above it: {why_not})" if why_not else
                                         f"then {ARCHIVE_MISS_RUN} misses in a row)") + f", {found} archived found")})

    def _note_newest(self, ticket: dict) -> None:
        try:
            tid = int(ticket["id"])
        except (KeyError, TypeError, ValueError):
            return
        if self._newest is None:
            self._newest = _read_json(self._newest_file) if self._newest_file else None
            if not isinstance(self._newest, dict):
                self._newest = None
        if self._newest is None or tid >= int(self._newest.get("id") or 0):
            self._newest = {"id": tid, "created_at": ticket.get("created_at")}

    def _archivable_above(self, known: int) -> tuple[bool, str]:
        """Whether a ticket with an id above `known` could be archived, and if not, why.

        Ids are handed out in creation order, so every ticket above the newest listed one was
        created after it: after its `created_at` (an imported, backdated `created_at` only moves
        it earlier, never later). When that is less than ARCHIVE_SAFE_DAYS ago, every ticket
        above it has been inactive for less than that, and none can be archived: the miss run of
        probes above the highest known id is not needed. Otherwise (a dormant account) it runs."""
        newest = self._newest or _read_json(self._newest_file)
        if not isinstance(newest, dict) or int(newest.get("id") or 0) < known or known <= 0:
            return True, ""          # the highest known id came from elsewhere (ratings, associations)
        created = times.parse(newest.get("created_at"))
        if created is None:
            return True, ""
        age = datetime.now(timezone.utc) - created
        if age >= timedelta(days=ARCHIVE_SAFE_DAYS):
            return True, ""
        return False, (f"ticket {newest['id']} was created {age.days} days ago, and Freshdesk archives "
                       f"only tickets inactive for longer than {ARCHIVE_SAFE_DAYS} days")

    def _highest_known(self) -> tuple[int, str]:
        """The highest ticket id any stream has named, and which stream named it."""
        best, method = 0, "no known ticket id"
        for name, ids in (("the ticket lists", self._seen_ticket_ids),
                          ("satisfaction ratings", self._mentioned.get("ratings", set())),
                          ("associated tickets", self._mentioned.get("associated", set()))):
            if ids and max(ids) > best:
                best, method = max(ids), name
        return best, method

    def _set_range(self, info: dict) -> None:
        self._range_info = info
        self.ctx.log(f"freshdesk: {info['summary']}")
        _write_json(self._range_file, info)

    def _mention(self, stream: str, ids) -> None:
        for i in ids or []:
            try:
                self._mentioned.setdefault(stream, set()).add(int(i))
            except (TypeError, ValueError):
                pass

    def _load_mentions(self) -> None:
        data = _read_json(self._mentions_file)
        if isinstance(data, dict):
            for stream, ids in data.items():
                self._mention(stream, ids if isinstance(ids, list) else [])

    def _save_mentions(self) -> None:
        if self._mentioned:
            self._load_mentions()   # an earlier run's mentions stay
            _write_json(self._mentions_file, {k: sorted(v) for k, v in self._mentioned.items()})

    def _ratings(self, state: dict, since: str | None) -> Iterator[Page]:
        created_since = since or state.get("since") or EPOCH
        start = int(state.get("page", 1))
        high = state.get("high")
        got = False
        recovered = [r for r in (_read_json(self._recovered_file) or {}).values() if isinstance(r, dict)]
        if recovered:      # a later ticket list showed their ticket; created_since will not again
            yield Page([(str(r["id"]), r) for r in self._without_left_tickets(recovered)],
                       cursor=json.dumps(state or {"since": created_since}))
        for page, items, has_next in self.client.pages("surveys/satisfaction_ratings",
                                                       {"created_since": created_since}, start_page=start):
            got = True
            for r in items:
                high = max(high or "", r.get("updated_at") or r.get("created_at") or "") or None
            self._mention("ratings", [r.get("ticket_id") for r in items])
            self._save_mentions()
            items = self._without_left_tickets(items)
            cur = ({"since": created_since, "page": page + 1, "high": high} if has_next
                   else {"since": high or created_since})
            yield Page([(str(r["id"]), r) for r in items], cursor=json.dumps(cur), done=not has_next)
        if not got:
            yield Page([], json.dumps({"since": created_since}), True)

    def _load_seen(self) -> None:
        if not self._seen_ticket_ids and self._seen_file and self._seen_file.exists():
            try:
                self._seen_ticket_ids = set(json.loads(self._seen_file.read_text()))
            except (ValueError, OSError):
                pass

    def _save_seen(self) -> None:
        if self._seen_file:
            try:
                tmp = self._seen_file.with_suffix(".tmp")
                tmp.write_text(json.dumps(sorted(self._seen_ticket_ids)))
                tmp.replace(self._seen_file)
            except OSError:
                pass

    # --- attachments ----------------------------------------------------------------------
    def fetch_attachment(self, record: dict) -> bytes:
        extra = record.get("extra") or {}
        url = extra.get("attachment_url") or extra.get("inline_url")
        if not url:
            raise FatalApiError(f"freshdesk: attachment {record.get('id')} has no URL")
        try:
            return self.client.download(url)
        except UrlRefused:
            raise       # a host the plan never named: a fresh URL would point there again
        except Exception:
            # Freshdesk attachment URLs are pre-signed and expire after 5 minutes: re-read the
            # ticket (or its conversations) for a fresh URL and try once more.
            fresh = self._fresh_url(record)
            if not fresh or fresh == url:
                raise
            return self.client.download(fresh)

    def _fresh_url(self, record: dict) -> str | None:
        extra = record.get("extra") or {}
        tid = record.get("ticket_id")
        if not tid:
            return None
        prefix = f"tickets/archived/{tid}" if extra.get("archived") else f"tickets/{tid}"
        want = str(extra.get("freshdesk_id", record.get("id")))
        candidates = []
        t = self.client.get_json(prefix, allow=(404,)) or {}
        candidates += [("", t.get("description") or "", t.get("attachments") or [])]
        for c in self.client.all(f"{prefix}/conversations"):
            candidates.append(("", c.get("body") or "", c.get("attachments") or []))
        for _, html, atts in candidates:
            for a in atts:
                if str(a.get("id")) == want:
                    return a.get("attachment_url")
            for img in inline_images(html):
                if "inline-" + img["id"] == record.get("id"):
                    return img["url"]
        return None

    # --- to_canonical (pure) --------------------------------------------------------------
    def to_canonical(self, stream: str, payload: dict) -> Iterator[tuple[str, dict]]:
        yield from to_canonical.records(stream, payload)

    def close(self) -> None:
        self.client.close()


def _left_summary(left: dict[str, dict]) -> dict:
    """The report's entry for the spam and deleted tickets: every id, by state; the summary names
    those not migrated (a later run with `migrate` may have moved some)."""
    def ids(which: str, migrated: bool) -> list[str]:
        return sorted((i for i, v in left.items() if v.get("state") == which and bool(v.get("migrated")) == migrated),
                      key=lambda i: (len(i), i))
    by = {which: sorted(ids(which, False) + ids(which, True), key=lambda i: (len(i), i)) for which in SPAM_AND_DELETED}
    kept_out = {which: ids(which, False) for which in SPAM_AND_DELETED}
    migrated = sum(1 for v in left.values() if v.get("migrated"))
    ratings = {r: i for i, v in left.items() for r in v.get("ratings") or ()}
    parts = []
    if any(kept_out.values()):
        counts = " and ".join(f"{len(i)} {'in the trash (deleted)' if which == 'deleted' else which}"
                              for which, i in kept_out.items() if i)
        with_ratings = (f", with their {len(ratings)} satisfaction rating{'' if len(ratings) == 1 else 's'}"
                        if ratings else "")
        shown = "; ".join(f"{which} {id_list(i)}" for which, i in kept_out.items() if i)
        parts.append(f"{counts} in the source, not migrated{with_ratings} ([source] spam_and_deleted = "
                     f"\"migrate\" moves them): {shown}")
    if migrated:
        parts.append(f"{migrated} spam or deleted migrated like the others (their extra keeps spam / deleted): "
                     + "; ".join(f"{which} {id_list(i)}" for which in SPAM_AND_DELETED
                                 if (i := ids(which, True))))
    return {**by, "migrated": migrated, "ratings_not_migrated": ratings, "summary": "tickets: " + "; ".join(parts)}


def _read_json(path: Path | None):
    if path is None or not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return None


def _write_json(path: Path | None, value) -> None:
    """Atomically, owner-only (ticket ids are customer data)."""
    if path is None:
        return
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(value))
        tmp.replace(path)
    except OSError:
        pass


def _plus_one_second(stamp: str) -> str:
    t = times.parse(stamp)
    return (t + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ") if t else stamp
