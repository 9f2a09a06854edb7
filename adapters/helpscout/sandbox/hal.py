"""HAL+JSON as Help Scout answers it: pages, links, errors, and the stored records rendered.

Pages: `?page=N` from 1, 25 conversations or 50 other items per page, `page: {size,
totalElements, totalPages, number}`, `_links.first/last/self/page` and `next`/`previous` only
where they exist (developer.helpscout.com/mailbox-api/overview/pagination). Errors:
`{"logRef", "message", "_embedded": {"errors": [{"path", "message", "rejectedValue", "source"}]}}`
(…/overview/errors).
"""

from __future__ import annotations

import math
import uuid
from urllib.parse import urlencode

from hdmigrate.testing.sandbox import HttpAbort, Request

CONVERSATIONS_PER_PAGE = 25
ITEMS_PER_PAGE = 50
TAG_COLOR = "#929499"


def error(status: int, message: str, *problems: tuple[str, str, object]) -> HttpAbort:
    body = {"logRef": str(uuid.uuid4()), "message": message}
    if problems:
        body["_embedded"] = {"errors": [{"path": path, "message": text, "rejectedValue": value, "source": "JSON",
                                         "_links": {"about": {"href": "http://developer.helpscout.net/mailbox-api/overview/errors#" + path}}}
                                        for path, text, value in problems]}
    return HttpAbort(status, body)


def bad_request(path: str, text: str, value: object = None) -> HttpAbort:
    return error(400, "Bad request", (path, text, value))


def not_found(what: str) -> HttpAbort:
    return error(404, f"{what} not found")


def page(request: Request, base: str, key: str, items: list[dict], size: int = ITEMS_PER_PAGE,
         render=None) -> dict:
    """One HAL page of `items`; `render` (if given) turns only this page's items into their output."""
    raw = request.arg("page") or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise bad_request("page", "must be greater than or equal to 1", raw)
    number = int(raw)
    total_pages = max(1, math.ceil(len(items) / size)) if items else 0
    chunk = items[(number - 1) * size: number * size]
    if render is not None:
        chunk = [render(item) for item in chunk]
    query = {k: v[-1] for k, v in request.query.items() if k != "page"}

    def href(n: int) -> dict:
        return {"href": f"{base}{request.path}?{urlencode({**query, 'page': n})}"}

    links = {"self": href(number), "first": href(1), "last": href(max(1, total_pages)),
             "page": {"href": f"{base}{request.path}?{urlencode(query)}{'&' if query else ''}page={{page}}",
                      "templated": True}}
    if number < total_pages:
        links["next"] = href(number + 1)
    if number > 1:
        links["previous"] = href(number - 1)
    return {"_embedded": {key: chunk}, "_links": links,
            "page": {"size": size, "totalElements": len(items), "totalPages": total_pages, "number": number}}


def person_ref(person: dict | None, kind: str) -> dict | None:
    if person is None:
        return None
    return {"id": person["id"], "type": kind, "first": person.get("firstName"), "last": person.get("lastName"),
            "email": _primary_email(person)}


def _primary_email(person: dict) -> str | None:
    if person.get("email"):
        return person["email"]
    emails = person.get("emails") or []
    return emails[0]["value"] if emails else None


def customer_out(c: dict, base: str) -> dict:
    out = {k: v for k, v in c.items() if not k.startswith("_") and k not in ("emails", "phones")}
    out["_embedded"] = {"emails": c.get("emails") or [], "phones": c.get("phones") or [],
                        "chats": [], "social_profiles": [], "websites": [], "address": None}
    out["_links"] = {"self": {"href": f"{base}/v2/customers/{c['id']}"}}
    return out


def attachment_out(a: dict, base: str) -> dict:
    return {"id": a["id"], "filename": a["filename"], "mimeType": a["mimeType"], "size": len(a["_data"]),
            "width": 0, "height": 0,
            "_links": {"data": {"href": f"{base}/v2/conversations/{a['_conv']}/attachments/{a['id']}/data"},
                       "web": {"href": f"{base}/attachments/{a['id']}"}}}


def thread_out(t: dict, people, attachments: list[dict], base: str) -> dict:
    out = {k: v for k, v in t.items() if not k.startswith("_")}
    kind, pid = t["_by"]
    out["createdBy"] = person_ref(people(kind, pid), kind)
    out["customer"] = person_ref(people("customer", t.get("_customer")), "customer")
    out["_embedded"] = {"attachments": [attachment_out(a, base) for a in attachments]}
    out["_links"] = {"createdByUser" if kind == "user" else "createdByCustomer": {"href": f"{base}/v2/{kind}s/{pid}"}}
    return out


def conversation_out(c: dict, people, tags: dict[str, int], base: str, threads: list[dict] | None) -> dict:
    out = {k: v for k, v in c.items() if not k.startswith("_") and k not in ("tags", "fields")}
    out["tags"] = [{"id": tags.get(t, 0), "color": TAG_COLOR, "tag": t} for t in c.get("tags") or []]
    out["customFields"] = c.get("fields") or []
    out["threads"] = c.get("_thread_count", 0)
    customer = people("customer", c.get("_customer"))
    out["primaryCustomer"] = person_ref(customer, "customer")
    out["createdBy"] = person_ref(customer, "customer")
    if c.get("_assignee"):
        out["assignee"] = person_ref(people("user", c["_assignee"]), "user")
    if threads is not None:
        out["_embedded"] = {"threads": threads}
    out["_links"] = {"self": {"href": f"{base}/v2/conversations/{c['id']}"},
                     "threads": {"href": f"{base}/v2/conversations/{c['id']}/threads"},
                     "mailbox": {"href": f"{base}/v2/mailboxes/{c['mailboxId']}"},
                     "primaryCustomer": {"href": f"{base}/v2/customers/{c.get('_customer')}"}}
    return out
