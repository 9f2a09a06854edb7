"""Zendesk as a source: incremental exports, comments from the ticket-events export.

Requests: the ticket, user and organization exports return up to 1000 items per page, and the
comments of every ticket come from the ticket-events export with the `comment_events` sideload
(also up to 1000 events per page), so a full extract costs a handful of requests per thousand
tickets instead of one per ticket. Only tickets whose comments the events export did not carry
(seen in the ticket export of this process, no comment event seen) are read one by one through
/api/v2/tickets/{id}/comments.

Cursors: tickets and users use Zendesk's opaque `after_cursor`; organizations and ticket events
are time-based (`t:<end_time>`). A page's cursor is committed by the engine with the page, so an
interrupted extract resumes at the page it was fetching. The cursor of the last page is kept
(`done=True`), so a later run of the same plan continues from there (delta run).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hdmigrate import times
from hdmigrate.adapter import AdapterContext, Capability, Page, Source, StreamedPage
from hdmigrate.errors import RecordError
from hdmigrate.http import PageGuard
from hdmigrate.intset import IntSet
from hdmigrate.printable import id_list

from . import to_canonical, values
from .client import DEFAULT_RATE_LIMIT, check_account, make_client

FIELD_STREAMS = {"ticket_fields": "ticket", "user_fields": "contact",
                 "organization_fields": "organization"}


class ZendeskSource(Source):
    name = "zendesk"
    capabilities = frozenset({Capability.INCREMENTAL, Capability.ATTACHMENTS, Capability.INLINE_IMAGES,
                              Capability.CUSTOM_FIELDS, Capability.PRIVATE_NOTES,
                              Capability.SATISFACTION_RATINGS})
    default_rate_limit = DEFAULT_RATE_LIMIT
    since_streams = frozenset({"tickets", "ticket_events"})  # users/organizations come whole
    # A ticket's comments come in their order (the events export runs in time order, the
    # per-ticket fallback after it): a target writing comments one by one may start on a ticket
    # once its first comment is staged, while the export goes on (the engine's flow).
    ordered_streams = frozenset({"ticket_events"})
    # Files: their content_url, redirected to Zendesk's file hosts; 4 at a time (the HTTP
    # layer's limiter still paces each host).
    download_workers = 4

    def __init__(self, ctx: AdapterContext, transport: Any = None):
        super().__init__(ctx)
        self._transport = transport
        self._client = None
        self.zone = (ctx.options or {}).get("time_zone") or "UTC"
        self.page_size = int(ctx.config.get("page_size") or 1000)
        # Non-deleted tickets this process exported that no comment has come for yet (the
        # tickets stream runs before ticket_events): the per-ticket fallback reads those.
        self.without_comments = IntSet()          # ticket ids as ints (_key): a bit each, not ~100 bytes
        self._agent_ids: set[str] | None = None
        # the users export's agents and contacts by id (_key): a bit per user, not a dict entry
        self._user_kinds = {"agent": IntSet(), "contact": IntSet()}
        self._file_urls: dict[str, set[str]] = {}     # ticket id -> its comments' image URLs (if any)
        self.report: dict[str, list[str]] = {"deleted_tickets": [], "deleted_users": [],
                                             "suspended_users": [], "fallback_comment_tickets": []}

    def describe(self) -> dict:
        """The run summary's `source_info` (the report's "source:" lines): the deleted tickets the
        exports named, each by id (Zendesk keeps only their id and times: nothing to migrate)."""
        out = super().describe()
        deleted = sorted(set(self.report["deleted_tickets"]), key=_num)
        if deleted:
            out["deleted_tickets"] = {
                "ids": deleted,
                "summary": (f"tickets: {len(deleted)} deleted in the source, not migrated (the export keeps "
                            f"only their id and times; one migrated by an earlier run stays in the target): {id_list(deleted)}")}
        return out

    @property
    def client(self):
        if self._client is None:
            self._client = make_client(self.ctx, self._transport)
        return self._client

    # ------------------------------------------------------------ contract
    def check(self) -> None:
        check_account(self.client)

    def discover(self) -> dict:
        groups = [g.get("name") for g in self._list("/api/v2/groups", "groups")]
        fields = [f.get("title") for f in self._list("/api/v2/ticket_fields", "ticket_fields")]
        agents = []
        for role in ("admin", "agent"):
            agents += [u.get("email") for u in self._list("/api/v2/users", "users", {"role": role})]
        return {"statuses": list(values.STATUS_IN), "priorities": list(values.PRIORITIES),
                "groups": groups, "agents": agents, "fields": fields, "counts": {}}

    def streams(self) -> list[str]:
        # tickets before ticket_events: the per-ticket comment fallback needs the tickets seen.
        return ["ticket_fields", "user_fields", "organization_fields", "groups", "organizations",
                "users", "tickets", "ticket_events"]

    def fetch(self, stream: str, cursor: str | None = None, since: str | None = None) -> Iterator[Page]:
        start = times.unix(since) if since else 0
        if stream in FIELD_STREAMS or stream == "groups":
            yield from self._fetch_list(stream, cursor)
        elif stream == "organizations":
            yield from self._fetch_time_based("/api/v2/incremental/organizations", "organizations",
                                              cursor, start)
        elif stream == "users":
            yield from self._fetch_cursor_based("/api/v2/incremental/users/cursor", "users", cursor,
                                                start, include="identities")
        elif stream == "tickets":
            yield from self._fetch_cursor_based("/api/v2/incremental/tickets/cursor", "tickets",
                                                cursor, start, include="metric_sets")
        elif stream == "ticket_events":
            yield from self._fetch_events(cursor, start)
        else:
            raise RecordError(f"zendesk: unknown stream {stream!r}")

    def to_canonical(self, stream: str, payload: dict) -> Iterator[tuple[str, dict]]:
        zone = self.zone
        if stream in FIELD_STREAMS:
            record = to_canonical.custom_field(FIELD_STREAMS[stream], payload, zone)
            if record is not None:
                yield "custom_field", record
        elif stream == "groups":
            yield "group", to_canonical.group(payload, zone)
        elif stream == "organizations":
            yield "organization", to_canonical.organization(payload, zone)
        elif stream == "users":
            kind, record = to_canonical.user(payload, zone)
            if record["extra"].get("deleted"):
                self.report["deleted_users"].append(record["id"])
            if payload.get("suspended"):
                self.report["suspended_users"].append(record["id"])
            yield kind, record
        elif stream == "tickets":
            record = to_canonical.ticket(payload, zone)
            if record is None:
                self.report["deleted_tickets"].append(str(payload.get("id")))
                self.ctx.log(f"zendesk: ticket {payload.get('id')} is deleted in the source; "
                             "not migrated")
                return
            yield "ticket", record
            rating = to_canonical.satisfaction_rating(payload, zone)
            if rating is not None:
                yield "satisfaction_rating", rating
        elif stream == "ticket_events":
            # one set of image URLs per ticket: an image a reply quotes is not a new file of it
            key = str(payload.get("ticket_id"))
            shown = self._file_urls.get(key) or set()
            record, attachments = to_canonical.comment(payload, zone, shown)
            if shown:
                self._file_urls[key] = shown     # most tickets show no image: no set kept for them
            yield "comment", record
            for attachment in attachments:
                yield "attachment", attachment
        else:
            raise RecordError(f"zendesk: unknown stream {stream!r}")

    def fetch_attachment(self, record: dict) -> bytes:
        extra = record.get("extra") or {}
        url = extra.get("content_url") or extra.get("mapped_content_url")
        if not url:
            raise RecordError(f"attachment {record.get('id')} has no content_url", kind="attachment",
                              id=record.get("id"), field="content_url")
        return self.client.download(url)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # ------------------------------------------------------------ streams
    def _list(self, path: str, key: str, params: dict | None = None) -> list[dict]:
        return [item for page in self.client.pages_by_next_url(
                    path, {**(params or {}), "page[size]": 100}, items=lambda body: _items_of(body, key),
                    next_url=_cursor_next, stream=key) for item in page.items]

    def _fetch_list(self, stream: str, cursor: str | None) -> Iterator[Page]:
        # The committed cursor is the next link; a resumed run starts there.
        for page in self.client.pages_by_next_url(f"/api/v2/{stream}", {"page[size]": 100}, cursor=cursor,
                                                  items=lambda body: _items_of(body, stream),
                                                  next_url=_cursor_next, stream=stream):
            yield Page([(str(item.get("id")), item) for item in page.items], cursor=page.cursor, done=page.done)

    def _fetch_cursor_based(self, path: str, key: str, cursor: str | None, start: int,
                            include: str | None) -> Iterator[Page]:
        params: dict[str, Any] = {"per_page": self.page_size}
        if include:
            params["include"] = include
        # The committed cursor is Zendesk's after_cursor (the last page keeps it for delta runs).
        for page in self.client.pages_by_cursor_field(
                path, params, items=lambda body: _items_of(body, key), cursor=cursor, stream=key,
                next_cursor=lambda body: body.get("after_cursor"), done=lambda body: body.get("end_of_stream"),
                start_params={"start_time": start}):
            items = []
            side = _sideloads(page.body, key)
            for item in page.items:
                item = {**item, **side.get(item.get("id"), {})}
                if key == "tickets" and item.get("status") != "deleted":
                    self.without_comments.add(_key(item.get("id")))
                if key == "users":
                    role, uid = to_canonical.user_kind(item), _key(item.get("id"))
                    for kind, ids in self._user_kinds.items():     # the latest read of a user decides
                        if kind == role:
                            ids.add(uid)
                        else:
                            ids.discard(uid)
                items.append((str(item.get("id")), item))
            yield Page(items, cursor=page.cursor, done=page.done)

    def _fetch_time_based(self, path: str, key: str, cursor: str | None, start: int,
                          include: str | None = None, transform=None,
                          may_end: bool = True) -> Iterator[StreamedPage]:
        """The pages of a time-based export, each parsed item by item while the feed takes them
        (StreamedPage). `may_end=False`: no page says the stream is done (the caller follows)."""
        start_time = int(cursor[2:]) if cursor and cursor.startswith("t:") else start
        guard = PageGuard(key)
        before: dict = {}        # the previous page's items: id -> version (at most a page of them)
        while True:
            guard.see(start_time, "start_time")
            params: dict[str, Any] = {"start_time": start_time, "per_page": self.page_size}
            if include:
                params["include"] = include
            answer = self.client.get_json_items(path, key, params=params)
            seen: dict = {}
            served = [0]

            def items(settle, answer=answer, before=before, seen=seen, served=served):
                for i in answer.items:
                    served[0] += 1
                    # A page starts at the previous one's end_time, so that second's items come
                    # again (Zendesk's export guide, "Excluding duplicate items"). Staging would
                    # keep one, but a read-back (verify) would count each repeated comment twice
                    # and pair the ticket's later comments with the wrong ones: a repeat of the
                    # same version is dropped here (an item changed since is kept: it is newer).
                    if isinstance(i, dict) and i.get("id") is not None:
                        seen[i["id"]] = _version(i)
                        if i["id"] in before and before[i["id"]] == _version(i):
                            continue
                    yield from transform(i) if transform else ((str(i.get("id")), i),)
                settle(*_export_end(answer.head, start_time, served[0], may_end))

            page = StreamedPage(items)
            yield page
            page.drain()                 # whatever the consumer left: the answer's end is after it
            before = seen
            cursor, done = _export_end(answer.head, start_time, served[0], True)
            if done:
                return
            next_start = int(cursor[2:])
            if next_start <= start_time and served[0]:
                # Zendesk's time-based exports can repeat a second's items; never loop on one.
                next_start = start_time + 1
            start_time = next_start

    def _fetch_events(self, cursor: str | None, start: int) -> Iterator[Page]:
        last = None
        # the events export's last page is not the stream's end: the fallback follows
        for page in self._fetch_time_based("/api/v2/incremental/ticket_events", "ticket_events",
                                           cursor, start, include="comment_events",
                                           transform=self._comments_of_event, may_end=False):
            last = page
            yield page
        pending = sorted((str(t) for t in self.without_comments), key=_num)
        self.without_comments = IntSet()
        if pending:
            self.report["fallback_comment_tickets"] += pending
            self.ctx.log(f"zendesk: {len(pending)} tickets had no comment in the ticket-events "
                         "export; reading their comments one by one")
        final = last.cursor if last else cursor
        for ticket_id in pending:
            items = []
            for page in self.client.pages_by_next_url(f"/api/v2/tickets/{ticket_id}/comments",
                                                      {"page[size]": 100}, next_url=_cursor_next,
                                                      items=lambda body: _items_of(body, "comments"),
                                                      stream=f"ticket_events (comments of ticket {ticket_id})"):
                for c in page.items:
                    items.append((str(c.get("id")), self._author_kind({**c, "ticket_id": _int_or(ticket_id)})))
            yield Page(items, cursor=final, done=False)
        yield Page([], cursor=final, done=True)

    def parts_served(self, ticket: dict, positions: dict[str, str | None]) -> bool:
        """A ticket's comments come from the ticket-events export only (its rating comes with
        the ticket), ordered by event time: a page's cursor `t:N` says every event before N was
        served. Every comment (an audit) updates its ticket, so none is later than the ticket's
        `updated_at` or its `generated_timestamp` (the export's own stamp, the later of the two):
        once the cursor is past both, the ticket's comments are staged. Until the events export
        has begun, or during its fallback (tickets the export had no comment for wait for it), no."""
        if "ticket_events" not in positions:
            return True
        cursor = positions["ticket_events"] or ""
        if not cursor.startswith("t:") or not cursor[2:].isdigit():
            return False
        updated = times.unix(ticket.get("updated_at"))
        if updated is None:
            return False
        generated = (ticket.get("extra") or {}).get("generated_timestamp")
        stamp = max(updated, generated) if isinstance(generated, int) and not isinstance(generated, bool) else updated
        return stamp < int(cursor[2:])

    def agent_ids(self) -> set[str]:
        """Ids of the users read as agents, from List Users. The role filter only narrows the
        listing; each returned user's own `role` decides (`to_canonical.user_kind`), so an API that
        ignores the filter does not make every comment author an agent."""
        if self._agent_ids is None:
            ids: set[str] = set()
            for role in ("admin", "agent"):
                ids |= {str(u.get("id")) for u in self._list("/api/v2/users", "users", {"role": role})
                        if to_canonical.user_kind(u) == "agent"}
            self._agent_ids = ids
        return self._agent_ids

    def _author_kind(self, payload: dict) -> dict:
        """A comment's `author_kind` from its author's role: the users export of this process
        when it carried the author, else List Users (a resumed extract, a user not exported)."""
        author = payload.get("author_id")
        if author in (None, -1):
            return payload
        key = _key(author)
        kind = next((k for k, ids in self._user_kinds.items() if key in ids), None)
        if kind is None:
            kind = "agent" if str(author) in self.agent_ids() else "contact"
        return {**payload, "_hdm_author_kind": kind}

    def _comments_of_event(self, event) -> Iterator[tuple[str, dict]]:
        if not isinstance(event, dict):
            return
        ticket_id = event.get("ticket_id")
        for child in event.get("child_events") or []:
            if child.get("event_type") == "Comment" or child.get("type") == "Comment":
                payload = self._author_kind({**child, "ticket_id": ticket_id})
                payload.setdefault("created_at", event.get("created_at"))
                yield str(child.get("id")), payload
                self.without_comments.discard(_key(ticket_id))


def _items_of(body: Any, key: str) -> list:
    return (body.get(key) or []) if isinstance(body, dict) else []


def _cursor_next(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    meta = body.get("meta") or {}
    if meta and not meta.get("has_more"):
        return None
    links = body.get("links") or {}
    return links.get("next") or body.get("next_page")


def _sideloads(body: dict, key: str) -> dict[Any, dict]:
    """Sideloaded data merged into each item: user identities, ticket metric sets."""
    out: dict[Any, dict] = {}
    if key == "users":
        for identity in body.get("identities") or []:
            out.setdefault(identity.get("user_id"), {"identities": []})["identities"].append(identity)
    if key == "tickets":
        for metric in body.get("metric_sets") or []:
            out[metric.get("ticket_id")] = {"metric_set": metric}
    return out


def _export_end(head: dict, start_time: int, served: int, may_end: bool) -> tuple[str, bool]:
    """A time-based export page's cursor and whether the stream ends with it, from the answer's
    members besides its items."""
    end_time = head.get("end_time")
    done = bool(head.get("end_of_stream")) or end_time is None or end_time == start_time and not served
    next_start = int(end_time) if end_time is not None else start_time
    return f"t:{next_start}", done and may_end


def _version(item: dict) -> tuple:
    """What tells two reads of an export item apart: its times (an event never changes; an
    organization updated again has a later `updated_at`)."""
    return item.get("timestamp"), item.get("updated_at"), item.get("created_at")


def _key(value):
    """A ticket id as the int it spells (an IntSet keeps those in a bit), else as text."""
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() and (len(text) == 1 or text[0] != "0") else text


def _num(value: str):
    return (0, int(value)) if value.isdigit() else (1, value)


def _int_or(value: str):
    return int(value) if value.isdigit() else value
