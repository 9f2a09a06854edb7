"""django-helpdesk as a source: tickets with their follow-ups and files (people derived from them)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from hdmigrate.adapter import Capability, Page, Source
from hdmigrate.errors import ConfigError, RecordError
from hdmigrate.http import by_number

from . import to_canonical
from .client import make_client

PAGE_SIZE = 50


class DjangoHelpdeskSource(Source):
    name = "django_helpdesk"
    capabilities = frozenset({Capability.ATTACHMENTS, Capability.PRIVATE_NOTES, Capability.CUSTOM_FIELDS})

    def __init__(self, ctx):
        super().__init__(ctx)
        self.http = make_client(ctx)

    def check(self) -> None:
        self.http.get_json("")

    def streams(self) -> list[str]:
        return ["tickets"]

    def discover(self) -> dict:
        data = self.http.get_json("tickets/", params={"page_size": 1}) or {}
        return {"statuses": ["Open", "Reopened", "Resolved", "Closed", "Duplicate"],
                "priorities": [1, 2, 3, 4, 5], "groups": [], "agents": [], "fields": [],
                "counts": {"ticket": data.get("count")}}

    def fetch(self, stream: str, cursor: str | None = None, since: str | None = None) -> Iterator[Page]:
        if stream != "tickets":
            raise ConfigError(f"django_helpdesk: unknown stream {stream!r}")
        def get(url: str, query: dict):
            r = self.http.request("GET", url, params=query, allow=(404,))
            return (None if r.status_code == 404 else r.json()), r

        # The committed cursor is the last page read (DRF's `next` says whether another follows).
        for page in by_number(get, "tickets/", items=lambda data: data.get("results", []),
                              has_next=lambda data, r, number: bool(data and data.get("next")),
                              size_param="page_size", size=PAGE_SIZE, start=int(cursor or 0) + 1,
                              stop_on_empty=False, stream="tickets"):
            if page.status == 404:              # "Invalid page": past the end
                yield Page([], str(page.number - 1), True)
                return
            yield Page([(str(t["id"]), self._payload(t)) for t in page.items], str(page.number), page.done)

    def _payload(self, ticket: dict) -> dict:
        files = {}
        for f in ticket.get("followup_set") or []:
            for a in f.get("followupattachment_set") or []:
                try:
                    data = self.http.download(a["file"])
                except RecordError:
                    continue   # refused URL or over the cap: normalize downloads it and says why
                files[str(a["id"])] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        return {"ticket": ticket, "files": files}

    def to_canonical(self, stream: str, payload: dict):
        yield from to_canonical.ticket_to_canonical(payload)

    def fetch_attachment(self, record: dict) -> bytes:
        url = (record.get("extra") or {}).get("url")
        if not url:
            data = self.http.get_json(f"followups-attachments/{record['id']}/")
            url = data["file"]
        return self.http.download(url)

    def close(self) -> None:
        self.http.close()
