"""Zendesk target: the account's custom fields and groups (lists, matching, creates, key maps)."""

from __future__ import annotations


from hdmigrate.adapter import LoadContext, WriteResult
from hdmigrate.errors import RecordError, TransientApiError

from . import to_vendor, values
from .values import FIELD_ENDPOINTS, _next


class FieldLookups:
    """Mixin of ZendeskTarget: finding, creating and mapping custom fields; the group list."""

    def _field_list(self, entity: str, refresh: bool = False) -> list[dict]:
        if refresh or entity not in self._fields:
            path, _ = FIELD_ENDPOINTS[entity]
            items: list[dict] = []
            for body in self.client.paginate_next_url(f"/api/v2/{path}", {"page[size]": 100},
                                                      next_url=_next):
                items += (body or {}).get(path) or []
            self._fields[entity] = items
        return self._fields[entity]

    def _group_list(self) -> list[dict]:
        if self._groups is None:
            items: list[dict] = []
            for body in self.client.paginate_next_url("/api/v2/groups", {"page[size]": 100}, next_url=_next):
                items += (body or {}).get("groups") or []
            self._groups = items
        return self._groups

    def _mapped_key(self, ctx: LoadContext | None, entity: str, key: str) -> str | None:
        fields = ((getattr(ctx, "mapping", None) if ctx is not None else None) or self.ctx.mapping or {}).get("fields") or {}
        return (fields.get(entity) or {}).get(key)

    def _match_field(self, entity: str, key: str, title: str | None, mapped: str | None) -> dict | None:
        for f in self._field_list(entity):
            if mapped is not None and (str(f.get("id")) == str(mapped) or f.get("key") == mapped
                                       or f.get("title") == mapped):
                return f
        if mapped is not None:
            return None
        for f in self._field_list(entity):
            if entity != "ticket" and f.get("key") == values.field_key(key):
                return f
            if entity == "ticket" and title and f.get("title") == title and \
                    f.get("type") not in values.SYSTEM_TICKET_FIELDS:
                return f
        return None

    def _find_field(self, record: dict, ctx: LoadContext | None) -> str | None:
        entity = record["entity"]
        found = self._match_field(entity, record["key"], record.get("title"),
                                  self._mapped_key(ctx, entity, record["key"]))
        if found is None:
            return None
        return str(found["id"]) if entity == "ticket" else str(found.get("key"))

    def _write_field(self, record: dict, ctx: LoadContext) -> WriteResult:
        existing = self._find_field(record, ctx)
        if existing is not None:
            return WriteResult(existing, matched=True)
        mapped = self._mapped_key(ctx, record["entity"], record["key"])
        if mapped is not None:
            raise RecordError(f"custom field {record['key']!r} is mapped to {mapped!r}, which the "
                              "target does not have", kind="custom_field", id=record["id"], field="key")
        path, single = FIELD_ENDPOINTS[record["entity"]]
        try:
            answer = self._send(f"/api/v2/{path}", {single: to_vendor.custom_field(record).body})
        except TransientApiError as e:
            self._answer_lost(e, ("custom_field", str(record["id"])))
            self._fields.pop(record["entity"], None)   # listed again by the engine's look-up
            raise
        created = answer.json()[single]
        self._fields.setdefault(record["entity"], []).append(created)
        return WriteResult(str(created["id"]) if record["entity"] == "ticket" else str(created["key"]))

    def _field_keys(self, ctx: LoadContext, entity: str) -> dict | None:
        """Canonical custom field keys -> target user/org field keys (mapping, else same key)."""
        explicit = (((getattr(ctx, "mapping", None) or {}).get("fields") or {}).get(entity)) or {}
        return None if not explicit else {**explicit}

    def _ticket_field_ids(self, record: dict, ctx: LoadContext) -> dict[str, int]:
        out: dict[str, int] = {}
        for key in (record.get("custom_fields") or {}):
            mapped = self._mapped_key(ctx, "ticket", key)
            target = None
            staged = ctx.custom_field("ticket", key) if hasattr(ctx, "custom_field") else None
            if staged is not None:
                target = staged[1]
            for candidate in (key, f"ticket:{key}"):
                if target:
                    break
                target = ctx.target_id("custom_field", candidate)
            if mapped is not None:
                found = self._match_field("ticket", key, None, mapped)
                target = str(found["id"]) if found else None
            if target and str(target).isdigit():
                out[key] = int(target)
        return out
