"""Help Scout source: fetch only (the mapping is to_canonical.py).

Streams: mailboxes (groups), mailbox fields (custom fields), users (agents), organizations,
customers (contacts), conversations (tickets with their threads embedded: `embed=threads`, 25
per page, every status). The cursor of each stream is its next page number; delta runs ask for
conversations by `modifiedSince`. Satisfaction ratings are not exported, and `check()` and
`describe()` say so: Mailbox API 2.0 has no list of ratings. A rating is read by id
(`GET /v2/ratings/{id}`, "Get Satisfaction Rating"), listed only by the Happiness Ratings report
of Plus and Pro plans, and since 2023-09-12 threads "contain rating information if available"
(changelog) -- but the stored documents show neither the report's result fields nor the
thread's rating field, so reading them would be a guess (docs/helpscout.md).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

from hdmigrate import times
from hdmigrate.adapter import Capability, Page, Source
from hdmigrate.errors import FatalApiError, RecordError, RecordRejected

from . import to_canonical
from .client import HelpScoutClient

STREAMS = {   # stream -> (path, HAL key)
    "mailboxes": ("/v2/mailboxes", "mailboxes"),
    "users": ("/v2/users", "users"),
    "organizations": ("/v2/organizations", "organizations"),
    "customers": ("/v2/customers", "customers"),
    "conversations": ("/v2/conversations", "conversations"),
}
NOT_EXPORTED = ("satisfaction ratings: Help Scout's Mailbox API 2.0 has no list of them (a rating is read "
                "by id; the Happiness Ratings report of Plus/Pro plans lists them); this version does not "
                "export them, they are not migrated")


class HelpScoutSource(Source):
    name = "helpscout"
    capabilities = frozenset({Capability.INCREMENTAL, Capability.ATTACHMENTS, Capability.PRIVATE_NOTES,
                              Capability.CUSTOM_FIELDS})
    default_rate_limit = 200.0
    since_streams = frozenset({"conversations"})

    def __init__(self, ctx):
        super().__init__(ctx)
        self._client: HelpScoutClient | None = None

    @property
    def client(self) -> HelpScoutClient:
        if self._client is None:
            self._client = HelpScoutClient(self.ctx)
        return self._client

    def check(self) -> None:
        self.client.refresh_token()
        self.client.get_json("/v2/users/me")
        self.ctx.log(f"helpscout source: {NOT_EXPORTED}")

    def describe(self) -> dict:
        return {"source": self.name, "not_exported": [NOT_EXPORTED]}

    def streams(self) -> list[str]:
        return ["mailboxes", "fields", "users", "organizations", "customers", "conversations"]

    def _mailbox_ids(self) -> list[int]:
        wanted = self.ctx.config.get("mailbox")
        boxes = self.client.all("/v2/mailboxes", "mailboxes")
        return [b["id"] for b in boxes if wanted in (None, "") or str(wanted) in (str(b["id"]), b.get("name"))]

    def fetch(self, stream: str, cursor: str | None = None, since: str | None = None) -> Iterator[Page]:
        if stream == "fields":
            yield from self._fetch_fields()
            return
        path, key = STREAMS[stream]
        params: dict = {}
        if stream == "conversations":
            params = {"status": "all", "embed": "threads", "sortField": "createdAt", "sortOrder": "asc"}
            if since:
                params["modifiedSince"] = times.utc_text(times.parse(since) or times.to_datetime(since))
            mailbox = self.ctx.config.get("mailbox")
            if mailbox not in (None, ""):
                params["mailbox"] = ",".join(str(m) for m in self._mailbox_ids())
        start = int(cursor) if cursor and str(cursor).isdigit() else 1
        try:
            for number, items, last in self.client.pages(path, key, params, start):
                yield Page([(str(i.get("id")), i) for i in items], cursor=str(number + 1), done=last)
        except (FatalApiError, RecordRejected) as e:     # 404 is a RecordRejected, 403 a FatalApiError
            if stream == "organizations" and e.status in (403, 404):
                self.ctx.log("helpscout source: this account has no organizations endpoint; none exported")
                yield Page([], done=True)
                return
            raise

    def _fetch_fields(self) -> Iterator[Page]:
        items = []
        for mid in self._mailbox_ids():
            for f in self.client.all(f"/v2/mailboxes/{mid}/fields", "fields"):
                items.append((f"{mid}:{f['id']}", {**f, "_mailbox_id": mid}))
        yield Page(items, done=True)

    def to_canonical(self, stream: str, payload: dict) -> Iterator[tuple[str, dict]]:
        if stream == "conversations":
            yield from to_canonical.conversation(payload)
        elif stream == "fields":
            item = {k: v for k, v in payload.items() if k != "_mailbox_id"}
            yield "custom_field", to_canonical.field(item, payload.get("_mailbox_id"))
        elif stream in ONE:
            kind, fn = ONE[stream]
            yield kind, fn(payload)
        else:
            raise RecordError(f"helpscout: unknown stream {stream!r}")

    def fetch_attachment(self, record: dict) -> bytes:
        url = (record.get("extra") or {}).get("data_url")
        if not url or not url.startswith(("http://", "https://", "/")):
            url = f"/v2/conversations/{record.get('ticket_id')}/attachments/{record['id']}/data"
        body = self.client.get_json(url) or {}
        try:
            return base64.b64decode(body.get("data") or "", validate=True)
        except ValueError:
            raise RecordError(f"attachment {record['id']}: the data endpoint answered no valid base64",
                              kind="attachment", id=record["id"]) from None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


ONE = {"mailboxes": ("group", to_canonical.mailbox), "users": ("agent", to_canonical.user),
       "customers": ("contact", to_canonical.customer), "organizations": ("organization", to_canonical.organization)}
