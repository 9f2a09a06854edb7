"""Request Tracker 5 as a source: queues, users, ticket custom fields, tickets with full history."""

from __future__ import annotations


from collections.abc import Iterator

from hdmigrate.adapter import Capability, Page, Source
from hdmigrate.errors import ConfigError
from hdmigrate.http import PageGuard, ResponseTooLarge

from . import to_canonical, to_vendor, values
from .client import make_client, pages

TICKET_PAGE = 20   # tickets per staged page (each is enriched with history and attachments)


class RtSource(Source):
    name = "rt"
    capabilities = frozenset({Capability.INCREMENTAL, Capability.ATTACHMENTS, Capability.PRIVATE_NOTES,
                              Capability.CUSTOM_FIELDS})

    def __init__(self, ctx):
        super().__init__(ctx)
        token = ctx.secrets.get("token")
        if not token:
            raise ConfigError("rt: no API token (set token_env in the plan and export that variable)")
        self.http = make_client(ctx, token=token)
        self._privileged: dict[str, bool] = {}

    def check(self) -> None:
        self.http.get_json("rt")

    def streams(self) -> list[str]:
        return ["custom_fields", "queues", "users", "tickets"]

    def discover(self) -> dict:
        queues = [q["Name"] for items in pages(self.http, "GET", "queues/all", {"fields": "Name"}) for q in items]
        total = (self.http.get_json("tickets", params={"query": "id > 0", "per_page": 1}) or {}).get("total")
        return {"statuses": sorted(values.STATUS_TO_CANONICAL), "priorities": ["0-100"], "groups": queues,
                "agents": [], "fields": [], "counts": {"ticket": total}}

    # ---- people
    def _is_privileged(self, name: str) -> bool:
        if name not in self._privileged:
            user = self.http.get_json(f"user/{name}")
            self._privileged[name] = bool(int(user.get("Privileged") or 0))
        return self._privileged[name]

    def fetch(self, stream: str, cursor: str | None = None, since: str | None = None) -> Iterator[Page]:
        if stream == "custom_fields":
            body = [{"field": "LookupType", "value": "RT::Queue-RT::Ticket"}]
            fields = "Name,Type,MaxValues,Description,Disabled,LookupType"
            items = [cf for chunk in pages(self.http, "POST", "customfields", {"fields": fields, "find_disabled_rows": 1}, body)
                     for cf in chunk if cf.get("Name") != values.STAMP_CF]
            for cf in items:
                if cf.get("Type") in ("Select", "Autocomplete"):
                    listed = self.http.get_json(f"customfield/{cf['id']}/values", params={"per_page": 100}) or {}
                    cf["Values"] = [v.get("name") for v in listed.get("items", [])]
            yield Page([(f"ticket:{cf['Name']}", cf) for cf in items], None, True)
        elif stream == "queues":
            fields = "Name,Description,Lifecycle,Disabled"
            items = [q for chunk in pages(self.http, "GET", "queues/all", {"fields": fields, "find_disabled_rows": 1})
                     for q in chunk]
            yield Page([(str(q["id"]), q) for q in items], None, True)
        elif stream == "users":
            fields = "Name,EmailAddress,RealName,Organization,Disabled,Created"
            # Disabled users (inactive contacts, former agents) still own tickets and comments.
            for chunk in pages(self.http, "POST", "users", {"fields": fields, "find_disabled_rows": 1}, []):
                out = []
                for user in chunk:
                    if user.get("Name") in values.SYSTEM_USERS:
                        continue
                    full = self.http.get_json(f"user/{user['Name']}")
                    self._privileged[user["Name"]] = bool(int(full.get("Privileged") or 0))
                    full["Organization"] = user.get("Organization") or full.get("Organization")
                    out.append((str(full.get("id")), full))
                yield Page(out, None, False)
            yield Page([], None, True)
        elif stream == "tickets":
            yield from self._fetch_tickets(cursor, since)
        else:
            raise ConfigError(f"rt: unknown stream {stream!r}")

    def _fetch_tickets(self, cursor: str | None, since: str | None) -> Iterator[Page]:
        last = int(cursor or 0)
        guard = PageGuard("tickets")
        while True:
            guard.see(last, "last ticket id")    # ids must grow, or the search loops
            query = f"id > {last}"
            if since:
                query += f" AND LastUpdated >= '{to_vendor.sql_time(since)}'"
            data = self.http.get_json("tickets", params={"query": query, "orderby": "id", "order": "ASC",
                                                         "per_page": TICKET_PAGE, "page": 1})
            ids = [int(item["id"]) for item in (data or {}).get("items", [])]
            if not ids:
                yield Page([], str(last), True)
                return
            out = [(str(tid), self._ticket_payload(tid)) for tid in ids]
            last = ids[-1]
            yield Page(out, str(last), False)

    def _ticket_payload(self, tid: int) -> dict:
        ticket = self.http.get_json(f"ticket/{tid}")
        links = [h for h in ticket.pop("_hyperlinks", None) or [] if h.get("ref") == "refers-to"]
        history = [txn for chunk in pages(self.http, "GET", f"ticket/{tid}/history",
                                          {"fields": "Type,Creator,Created,Field,OldValue,NewValue,TimeTaken"})
                   for txn in chunk]
        keep = {str(t["id"]) for t in history if t.get("Type") in ("Create", "Correspond", "Comment")}
        atts = [a for chunk in pages(self.http, "GET", f"ticket/{tid}/attachments",
                                     {"fields": "Filename,ContentType,TransactionId,ContentLength"})
                for a in chunk if str(values.ref_id(a.get("TransactionId"))) in keep]
        bodies, files = {}, {}
        for att in atts:
            aid = str(att["id"])
            if att.get("Filename"):
                try:
                    data = self._attachment_bytes(aid)
                except ResponseTooLarge:
                    continue   # over the body cap: normalize fails this file alone, with the reason
                files[aid] = {"size": len(data), "sha256": to_canonical.sha256_hex(data)}
            elif att.get("ContentType") in ("text/plain", "text/html"):
                full = self.http.get_json(f"attachment/{aid}")
                raw = to_canonical.decode_content(full.get("Content"))
                bodies[aid] = raw.decode(to_canonical.charset_of(full.get("Headers")), errors="replace")
        names = {values.ref_id(x) for key in ("Requestor", "Cc", "AdminCc") for x in ticket.get(key) or []}
        names |= {values.ref_id(ticket.get("Owner")), values.ref_id(ticket.get("Creator"))}
        names |= {values.ref_id(t.get("Creator")) for t in history if str(t["id"]) in keep}
        people = {n: self._is_privileged(n) for n in names if n and n not in values.SYSTEM_USERS}
        return {"ticket": ticket, "history": history, "attachments": atts, "bodies": bodies,
                "files": files, "people": people, "links": links}

    def _attachment_bytes(self, aid: str) -> bytes:
        full = self.http.get_json(f"attachment/{aid}")
        return to_canonical.decode_content(full.get("Content"))

    def to_canonical(self, stream: str, payload: dict):
        if stream == "custom_fields":
            yield "custom_field", to_canonical.custom_field_to_canonical(payload)
        elif stream == "queues":
            yield "group", to_canonical.queue_to_canonical(payload)
        elif stream == "users":
            yield to_canonical.user_to_canonical(payload)
        elif stream == "tickets":
            yield from to_canonical.ticket_to_canonical(payload)
        else:
            raise ConfigError(f"rt: unknown stream {stream!r}")

    def fetch_attachment(self, record: dict) -> bytes:
        return self._attachment_bytes(str(record["id"]))

    def close(self) -> None:
        self.http.close()


