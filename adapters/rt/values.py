"""Request Tracker values both mapping directions share: the stamp's places, system users,
statuses, person ids.

Person ids: RT numbers users in one space, but the canonical model splits agents (privileged
users) from contacts (unprivileged), so ids are prefixed: `a:<Name>` / `c:<Name>` (RT user names
are unique and are what REST2 puts in role lists and transaction creators).
"""

from __future__ import annotations

from hdmigrate import stamps

STAMP_CF = "hdmigrate-source-id"     # ticket custom field holding the migration stamp
PARTIAL = stamps.PARTIAL             # stamp suffix while a ticket's history is still being written
# Every ticket this tool creates also refers to `urn:hdmigrate:<stamp>` (an RT link). Links need no
# admin step (a custom field must be applied to queues, which REST2 cannot do) and TicketSQL
# finds them (`RefersTo = '...'`), so resumed runs find their tickets on any RT.
STAMP_LINK = stamps.LINK
SYSTEM_USERS = {"Nobody", "RT_System"}

STATUS_TO_CANONICAL = {"new": "new", "open": "open", "stalled": "pending", "resolved": "solved",
                       "rejected": "closed", "deleted": "closed"}


def person_id(name: str, privileged: bool) -> str:
    return f"{'a' if privileged else 'c'}:{name}"


def user_name(pid: str) -> str:
    """The RT user name inside a person id made by `person_id`."""
    return pid.split(":", 1)[1] if pid[:2] in ("a:", "c:") else pid


def ref_id(value) -> str | None:
    """`{"id": "alice", "type": "user", ...}` → "alice"."""
    if isinstance(value, dict):
        value = value.get("id")
    return None if value in (None, "") else str(value)


def stamp_link(stamp: str) -> str:
    return stamps.link(stamp)


def stamp_from_links(hyperlinks) -> str | None:
    """The stamp of a complete ticket from REST2 `_hyperlinks` (refers-to urn:hdmigrate:…)."""
    for link in hyperlinks or []:
        if isinstance(link, dict) and link.get("ref") == "refers-to":
            found = stamps.from_link(link.get("_url") or "")
            if found:
                return found
    return None
