"""django-helpdesk values both mapping directions share: the stamp's places and person ids.

The API has no user listing: people are derived from tickets. Contacts are submitter e-mail
addresses (`c:<email>`); staff are known only by their user id on follow-ups and assignments
(`a:<id>`), with a placeholder e-mail in the reserved `.invalid` domain (flagged in extra).
"""

from __future__ import annotations

from hdmigrate import stamps

STAMP_FIELD = "hdmigrate_source_id"   # ticket custom field holding the migration stamp
PARTIAL = stamps.PARTIAL
# Without that field the stamp ends the opening follow-up's title: "Ticket Opened [hdm:<stamp>]"
# (hdmigrate.stamps.title_suffix / from_title).
OPENING_TITLE = "Ticket Opened"


def agent_id(user_id) -> str:
    return f"a:{user_id}"


def contact_id(email: str) -> str:
    return f"c:{email}"
