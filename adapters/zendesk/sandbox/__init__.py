"""A loopback emulation of the Zendesk Support API, seeded from any jsonl dump.

Built to Zendesk's documents (developer.zendesk.com and its OpenAPI file), not to this package's
adapter: tests check its answers against ../shared/api-specs/zendesk/support-oas.yaml.

Served, both ways:
- auth: Basic `{email}/token:{token}` (401 "Couldn't authenticate you" otherwise; /users/me answers
  200 with an anonymous user, as Zendesk does);
- exports: /incremental/tickets/cursor and /incremental/users/cursor (opaque cursors,
  `after_cursor`, `end_of_stream`, sideloads `metric_sets` and `identities`), time-based
  /incremental/organizations and /incremental/ticket_events (`comment_events` sideload);
- lists with cursor pagination (`page[size]`, `meta.has_more`, `links.next`): groups, ticket,
  user and organization fields, /tickets/{id}/comments; search and show-many by external_id;
- writes: uploads (tokens, 60 minutes, consumed when a comment uses them), ticket import (single
  and create_many with `archive_immediately`), users create_or_update(_many) (matched by
  external_id, then email), organizations create_many, groups, fields; bulk calls answer a
  job_status that completes asynchronously (a worker thread) with per-item results, read per job
  or many at once (/job_statuses/show_many?ids=a,b); the `job_fail` fault fails single items;
- inline images of seeded comments (`cid:` or the dump's own URL of the file) are served from the
  account's own /attachments/token/ URLs (an inline image is a file of the account: ZD-OAS
  AttachmentBaseObject.inline);
- errors: 422 `RecordInvalid` with `details` keyed by field; 429 with Retry-After; per-response
  `X-Rate-Limit` / `X-Rate-Limit-Remaining`; incremental exports limited to 10 of the account's
  700 per minute (scaled to `--rate-limit`).
"""

from .routes import ZendeskSandbox, make_sandbox
from .state import EMAIL, TOKEN

__all__ = ["EMAIL", "TOKEN", "ZendeskSandbox", "make_sandbox"]
