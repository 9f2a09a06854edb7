"""Canonical records -> Zendesk request bodies (pure: no client, no writes).

Every body a created record gets carries its stamp (`hdmigrate.stamps.external`:
`hdm:<kind>:<source id>`) in external_id, which `ZendeskTarget.find_existing` looks up.
What needs the account (target ids, field ids, the plan's value maps) arrives as plain values.
"""

from __future__ import annotations

from typing import Any

from hdmigrate.stamps import external as stamp

from .values import FIELD_TYPES_OUT, STATUS_OUT, field_key


def custom_field_body(record: dict, mapping_key: str | None = None) -> dict:
    """A canonical custom_field as a Zendesk *_fields create body."""
    entity = record["entity"]
    body: dict[str, Any] = {"type": FIELD_TYPES_OUT.get(record["type"], "text"),
                            "title": record.get("title") or record["key"],
                            "active": record.get("active", True)}
    if entity != "ticket":
        body["key"] = field_key(mapping_key or record["key"])
    if record.get("options"):
        body["custom_field_options"] = [
            {"name": o.get("label") or str(o["value"]), "value": str(o["value"])}
            for o in record["options"]]
    if record.get("required"):
        body["required"] = True
    return body


def _tags(tags: list[str] | None, tag_migrated: str | None) -> list[str]:
    out = [t.replace(" ", "_") for t in (tags or []) if t]
    if tag_migrated and tag_migrated not in out:
        out.append(tag_migrated)
    return out


def organization_body(record: dict, tag_migrated: str | None = None,
                      field_keys: dict | None = None) -> dict:
    body = {"name": record["name"], "external_id": stamp("organization", record["id"]),
            "domain_names": record.get("domains") or [], "notes": record.get("notes") or "",
            "tags": _tags(record.get("tags"), tag_migrated)}
    fields = _map_keys(record.get("custom_fields"), field_keys)
    if fields:
        body["organization_fields"] = fields
    return body


def group_body(record: dict) -> dict:
    body = {"name": record["name"]}
    if record.get("description"):
        body["description"] = record["description"]
    return body


def _map_keys(values: dict | None, keys: dict | None) -> dict:
    if not values:
        return {}
    if not keys:
        return dict(values)
    return {keys[k]: v for k, v in values.items() if k in keys and keys[k]}


def user_body(kind: str, record: dict, organization_id: str | None = None,
              tag_migrated: str | None = None, field_keys: dict | None = None) -> dict:
    body: dict[str, Any] = {"name": record["name"], "external_id": stamp(kind, record["id"]),
                            "verified": True}
    if record.get("email"):
        body["email"] = record["email"]
    if kind == "agent":
        body["role"] = "admin" if record.get("role") == "admin" else "agent"
    else:
        body["role"] = "end-user"
        if record.get("phones"):
            body["phone"] = record["phones"][0]
        if organization_id:
            body["organization_id"] = int(organization_id)
        if record.get("notes"):
            body["notes"] = record["notes"]
        if record.get("language"):
            body["locale"] = record["language"]
        if record.get("time_zone"):
            body["time_zone"] = record["time_zone"]
        identities = [{"type": "email", "value": e} for e in record.get("emails") or []]
        identities += [{"type": "phone_number", "value": p} for p in (record.get("phones") or [])[1:]]
        if identities:
            body["identities"] = identities
        fields = _map_keys(record.get("custom_fields"), field_keys)
        if fields:
            body["user_fields"] = fields
    body["tags"] = _tags(record.get("tags"), tag_migrated)
    if record.get("active") is False:
        body["suspended"] = True
    return body


def ticket_body(record: dict, *, requester: str, assignee: str | None, group: str | None,
                organization: str | None, ccs: list[str], comments: list[dict],
                tag_migrated: str | None, status_map: dict, priority_map: dict, type_map: dict,
                field_ids: dict[str, int] | None) -> dict:
    """A TicketImportInput for /imports/tickets(/create_many). `comments` are already Zendesk
    comment bodies. `field_ids` maps canonical custom field keys to target ticket field ids."""
    status = status_map.get(record["status"]) or STATUS_OUT.get(record["status"], "open")
    body: dict[str, Any] = {
        "external_id": stamp("ticket", record["id"]),
        "subject": record.get("subject") or "(no subject)",
        "status": status, "requester_id": int(requester),
        "tags": _tags(record.get("tags"), tag_migrated),
        "comments": comments,
    }
    if record.get("priority"):
        body["priority"] = priority_map.get(record["priority"], record["priority"])
    if record.get("type"):
        body["type"] = type_map.get(record["type"], record["type"])
    if assignee:
        body["assignee_id"] = int(assignee)
    if group:
        body["group_id"] = int(group)
    if organization:
        body["organization_id"] = int(organization)
    if ccs:
        body["collaborator_ids"] = [int(c) for c in ccs]
    for key in ("created_at", "updated_at", "solved_at"):
        if record.get(key):
            body[key] = record[key]
    if record.get("due_at") and body.get("type") == "task":
        body["due_at"] = record["due_at"]
    values = record.get("custom_fields") or {}
    if values and field_ids:
        body["custom_fields"] = [{"id": field_ids[k], "value": v} for k, v in values.items()
                                 if k in field_ids]
    return body


def comment_body(record: dict, author: str, uploads: list[str]) -> dict:
    body: dict[str, Any] = {"author_id": int(author), "public": record.get("public") is True}
    if record.get("body_html"):
        body["html_body"] = record["body_html"]
    else:
        body["value"] = record.get("body_text") or ""
    if record.get("created_at"):
        body["created_at"] = record["created_at"]
    if uploads:
        body["uploads"] = uploads
    return body
