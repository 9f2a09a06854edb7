"""A loopback emulation of Freshdesk API v2, built to Freshdesk's documents (api-facts.md section 2)
and to the recorded responses in ../shared/vendor-fixtures/freshdesk (same keys and types).

Behaviours emulated:
- Basic auth `api_key:X`; 401 `{"code": "invalid_credentials", "message": ...}` as recorded.
- `page`/`per_page` (default 30, max 100; more is a 400) with `link: <...>; rel="next"` and no
  link on the last page; `GET /tickets` shows only tickets created in the last 30 days unless
  `updated_since` is given, and refuses pages beyond 300; archived tickets are in no list and
  only under `/tickets/archived/{id}`.
- Account limit per minute (`--rate-limit`) with the documented per-endpoint limits beneath it
  (Growth/Pro/Enterprise tables, ratios otherwise): create, update, tickets list, contacts list.
  Every answer has `X-Ratelimit-Total/-Remaining/-Used-CurrentRequest` of the bucket that
  applies (the recorded responses show 40 on /tickets and /contacts where the account had 100);
  `include=` on lists costs 2 extra credits; over the limit: 429 + Retry-After.
- 400 validation errors `{"description": "Validation failed", "errors": [{field, message, code}]}`,
  409 on duplicate contact e-mail / company / group names, 404 with an empty body.
- Multipart `attachments[]` on tickets, notes and replies; all files of one ticket <= 20 MB.
- Custom fields: `POST /admin/ticket_fields` (and `/contact_fields`, `/company_fields`) name a new
  field `cf_<label slug>` (ticket) or `<label slug>`, 409 on a label taken; with `sandbox.admin =
  False` the API key's agent is no admin and `/admin/...` answers 403 `access_denied`. Values
  are checked against each field's type (number, checkbox, dropdown choices, date).
- Notifications: replies e-mail the requester, notes e-mail `notify_emails`; both are counted in
  `sandbox.notifications` so tests can prove a migration sent none.
"""

from .routes import FreshdeskSandbox, make_sandbox
from .state import API, API_KEY, FreshdeskState, now_iso

__all__ = ["API", "API_KEY", "FreshdeskSandbox", "FreshdeskState", "make_sandbox", "now_iso"]
