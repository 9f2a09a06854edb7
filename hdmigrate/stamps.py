"""The stamp: how a record this tool wrote names the source record it came from.

A stamp is `(kind, source id)`. It is what `Target.find_existing` looks a record up by after a
lost answer or a lost work directory, and what `verify` reads back to pair target records with
their sources. This module is the only place that writes or reads one; targets choose *where*
they keep it (`Target.stamp_places`) and call the renderer for that place:

| place      | rendering                          | used where the target has …                    |
|------------|------------------------------------|------------------------------------------------|
| `external` | `hdm:<kind>:<id>`                  | an external-id field (Zendesk `external_id`)    |
| `external` | `hdm-<id>` (kind implied)          | a unique id whose kind is the record's own      |
| `tags`     | `hdm-<id>` (kind implied)          | tags only (Freshdesk tickets)                   |
| `body`     | `… [hdm-<id>]` at the end of the origin line `<p class="hdm-origin">` | nothing else (Freshdesk notes) |
| `stamp`    | `<prefix><id>`, read back as `extra.stamp` | a custom field or RT link the adapter reads back (`urn:hdmigrate:<prefix><id>`, `Ticket Opened [hdm:<prefix><id>]`) |

`<prefix>` is the target's `stamp_prefix` setting (one account shared by several migrations).
A record whose history is still being written carries `~partial` after its stamp: a partial
stamp is never taken for a finished record. Kind-implied stamps are accepted only for ids the
caller knows (a customer's own `hdm-…` tag is content, not ours).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

PARTIAL = "~partial"
LINK = "urn:hdmigrate:"
ORIGIN_CLASS = "hdm-origin"
PLACES = frozenset({"external", "stamp", "tags", "body"})

_EXTERNAL = re.compile(r"^hdm:([a-z_]+):(.+)$")
_KINDLESS = re.compile(r"^hdm-(.+)$")
_TAG_LIKE = re.compile(r"^hdm[-:]")
_BODY = re.compile(r'\s*(?:<div[^>]*>\s*)?<p class="hdm-origin"[^>]*>\s*(?:<small>)?[^<]*?\[hdm-([^\]\s<]+)\]')
_TITLE = re.compile(r"\s*\[hdm:([^\]]+)\]$")


# ------------------------------------------------------------------------------- rendering

def external(kind: str, source_id: str) -> str:
    """For an external-id field: `hdm:<kind>:<id>`."""
    return f"hdm:{kind}:{source_id}"


def kindless(source_id: str) -> str:
    """For a tag or a unique id of the record's own kind: `hdm-<id>`."""
    return f"hdm-{source_id}"


def origin_mark(source_id: str) -> str:
    """The mark that ends a body's origin line: `[hdm-<id>]`."""
    return f"[{kindless(source_id)}]"


def with_prefix(source_id: str, prefix: str = "", *, partial: bool = False) -> str:
    """For a custom field the adapter reads back as `extra.stamp`: `<prefix><id>[~partial]`."""
    return f"{prefix}{source_id}{PARTIAL if partial else ''}"


def link(stamp: str) -> str:
    """An RT-style link URI carrying a `with_prefix` stamp."""
    return LINK + stamp


def title_suffix(stamp: str) -> str:
    """The suffix a title carries where nothing else can: ` [hdm:<stamp>]`."""
    return f" [hdm:{stamp}]"


# ------------------------------------------------------------------------------- reading

def is_partial(stamp: str) -> bool:
    return stamp.endswith(PARTIAL)


def finished(stamp: str) -> str:
    """A stamp without its `~partial` suffix."""
    return stamp[:-len(PARTIAL)] if stamp.endswith(PARTIAL) else stamp


def from_link(url: str) -> str | None:
    """The finished stamp a link URI carries, or None (not ours, or still partial)."""
    if not url.startswith(LINK) or is_partial(url):
        return None
    return url[len(LINK):] or None


def from_title(title: str) -> str | None:
    found = _TITLE.search(title or "")
    return found.group(1) if found else None


def strip_title(title: str) -> str:
    return _TITLE.sub("", title or "").rstrip()


def looks_like_tag(tag: str) -> bool:
    """A tag in the shape of a stamp (the target's own, filtered out when tags are compared)."""
    return bool(_TAG_LIKE.match(str(tag)))


def stamp_of(record: dict, kind: str | None = None, prefix: str = "",
             places: frozenset[str] = PLACES) -> tuple[str | None, str] | None:
    """(kind, source id) of the first stamp a read-back record carries, or None."""
    return next(stamps_of(record, kind, prefix, places), None)


def stamps_of(record: dict, kind: str | None = None, prefix: str = "",
              places: frozenset[str] = PLACES) -> Iterator[tuple[str | None, str]]:
    """Every (kind, source id) stamp a read-back canonical record carries in `places`.
    Kind-implied stamps give `kind` (the read-back record's kind)."""
    extra = record.get("extra") if isinstance(record.get("extra"), dict) else {}
    for key, value in extra.items() if "external" in places else ():
        if "external" in key and isinstance(value, str):
            if m := _EXTERNAL.match(value):
                yield m.group(1), m.group(2)
            elif m := _KINDLESS.match(value):
                yield kind, m.group(1)
    value = extra.get("stamp") if "stamp" in places else None
    if isinstance(value, str) and value:
        value = finished(value)
        if value.startswith(prefix) and len(value) > len(prefix):
            yield kind, value[len(prefix):]
    for tag in record.get("tags") or [] if "tags" in places else ():
        if m := _KINDLESS.match(str(tag)):
            yield kind, m.group(1)
    body = record.get("body_html") if "body" in places else None
    if isinstance(body, str) and ORIGIN_CLASS in body and (m := _BODY.match(body)):
        yield kind, m.group(1)
