"""RT REST2 payload ↔ canonical mapping (pure; no server)."""

from hdmigrate.canonical import validation_error

from adapters.rt import to_canonical, to_vendor, values


def payload():
    user = lambda n: {"id": n, "type": "user"}  # noqa: E731
    return {
        "ticket": {"id": 7, "Subject": "Printer", "Status": "stalled", "Priority": "80", "Queue": {"id": "3"},
                   "Created": "2019-01-02T03:04:05Z", "LastUpdated": "2020-01-01T00:00:00Z",
                   "Resolved": "1970-01-01T00:00:00Z", "Due": "1970-01-01T00:00:00Z",
                   "Creator": user("alice"), "Owner": user("bob"), "Requestor": [user("alice"), user("dave@x.test")],
                   "Cc": [user("carol@x.test")], "AdminCc": [],
                   "CustomFields": [{"name": "Severity", "values": ["high"]},
                                    {"name": values.STAMP_CF, "values": ["OLD-1"]}]},
        "history": [{"id": 10, "Type": "Create", "Creator": user("root"), "Created": "2026-01-01T00:00:00Z"},
                    {"id": 11, "Type": "EmailRecord", "Creator": user("RT_System"), "Created": "2026-01-01T00:00:00Z"},
                    {"id": 12, "Type": "Comment", "Creator": user("bob"), "Created": "2026-01-02T00:00:00Z"}],
        "attachments": [{"id": "1", "TransactionId": "10", "ContentType": "text/plain", "Filename": ""},
                        {"id": "2", "TransactionId": "12", "ContentType": "multipart/mixed", "Filename": ""},
                        {"id": "3", "TransactionId": "12", "ContentType": "text/plain", "Filename": ""},
                        {"id": "4", "TransactionId": "12", "ContentType": "application/octet-stream",
                         "Filename": "x.bin", "ContentLength": "4"}],
        "bodies": {"1": "Opening", "3": "Private note"},
        "files": {"4": {"size": 4, "sha256": "a" * 64}},
        "people": {"alice": False, "bob": True, "dave@x.test": False, "carol@x.test": False},
    }


def test_ticket_comments_and_files_map_and_validate():
    out = list(to_canonical.ticket_to_canonical(payload()))
    for kind, rec in out:
        assert validation_error(kind, rec) is None, (kind, rec, validation_error(kind, rec))
    ticket = next(r for k, r in out if k == "ticket")
    assert ticket["status"] == "pending" and ticket["extra"]["source_status"] == "stalled"
    assert ticket["priority"] == "high" and ticket["extra"]["source_priority"] == 80
    assert ticket["requester_id"] == "c:alice" and ticket["extra"]["additional_requester_ids"] == ["c:dave@x.test"]
    assert ticket["assignee_id"] == "a:bob" and ticket["cc_ids"] == ["c:carol@x.test"]
    assert ticket["creator_id"] == "c:alice" and ticket["custom_fields"] == {"Severity": "high"}
    assert ticket["extra"]["stamp"] == "OLD-1" and ticket["solved_at"] is None
    comments = [r for k, r in out if k == "comment"]
    assert [c["id"] for c in comments] == ["10", "12"]          # EmailRecord is not a comment
    assert comments[0]["author_id"] == "c:alice"                 # Create: the ticket's Creator
    assert comments[0]["created_at"] == "2019-01-02T03:04:05Z"
    assert comments[0]["public"] and not comments[1]["public"]
    assert comments[1]["body_text"] == "Private note" and comments[1]["attachment_ids"] == ["4"]
    att = next(r for k, r in out if k == "attachment")
    assert att["file_name"] == "x.bin" and att["sha256"] == "a" * 64


def test_times_statuses_and_people():
    assert to_vendor.sql_time("2019-02-03T04:05:06+02:00") == "2019-02-03 02:05:06"
    assert to_canonical.rt_time("1970-01-01T00:00:00Z") is None
    for rt_status, canonical in values.STATUS_TO_CANONICAL.items():
        assert canonical in to_vendor.STATUS_TO_RT
    kind, rec = to_canonical.user_to_canonical({"id": 14, "Name": "root", "Privileged": 1, "EmailAddress": ""})
    assert kind == "agent" and rec["id"] == "a:root" and rec["email"].endswith(".invalid")
    assert validation_error(kind, rec) is None
    assert values.user_name("c:alice") == "alice"


def test_times_follow_the_one_failure_rule():
    """hdmigrate.times: absent → None, present but not a time → RecordError naming the value (before,
    a garbage REST2 date went into the canonical record as it was)."""
    import pytest
    from hdmigrate.errors import RecordError
    assert to_canonical.rt_time(None) is None and to_canonical.rt_time("") is None
    assert to_canonical.rt_time("2019-01-02T03:04:05Z") == "2019-01-02T03:04:05Z"
    with pytest.raises(RecordError, match="yesterday"):
        to_canonical.rt_time("yesterday")
    with pytest.raises(RecordError, match="soon"):
        to_vendor.sql_time("soon")


def test_stamp_link_bytes_unchanged():
    """Tickets of earlier runs must still be found: the link and partial suffix are byte-identical."""
    assert values.stamp_link("p-7~partial") == "urn:hdmigrate:p-7~partial"
    assert values.stamp_from_links([{"ref": "refers-to", "_url": "urn:hdmigrate:p-7~partial"}]) is None
    assert values.stamp_from_links([{"ref": "refers-to", "_url": "urn:hdmigrate:p-7"}]) == "p-7"


def test_what_an_rt_version_keeps_on_create():
    """Known: Debian bookworm's 5.0.3 revisions (deb12u7, the security release, and later drop
    Created and Creator); anything else is not known (learned from the first ticket read back)."""
    assert to_vendor.keeps_create_fields("5.0.3+dfsg-3~deb12u7") is False
    assert to_vendor.keeps_create_fields("5.0.3+dfsg-3~deb12u9") is False
    assert to_vendor.keeps_create_fields("5.0.3+dfsg-3~deb12u6") is True
    for version in ("5.0.3", "5.0.7", "6.0.0", "", None, "5.0.3+dfsg-3~deb12u7-local"):
        assert to_vendor.keeps_create_fields(version) is None, version


def test_ticket_body_and_degradations_come_from_one_call():
    server = to_vendor.Server(keeps_created=False, keeps_creator=False)
    ticket = {"id": "t1", "subject": "Printer", "created_at": "2019-01-02T03:04:05Z", "tags": ["x"],
              "custom_fields": {"tier": "gold", "Severity": "high"}}
    comments = [{"id": "k1", "ticket_id": "t1", "public": False, "body_text": "Opening"}]
    mapped = to_vendor.ticket(ticket, comments, queue="3", queue_cfs={"Severity"}, stamp="t1", creator="alice",
                              server=server)
    keys = {(d.kind, d.id, d.field, d.code) for d in mapped.degradations}
    assert keys == {("ticket", "t1", "created_at", "timestamp_not_preserved"),
                    ("ticket", "t1", "tags", "value_unmapped"),
                    ("ticket", "t1", "creator_id", "author_not_preserved"),
                    ("comment", "k1", "author_id", "author_not_preserved"),
                    ("ticket", "t1", "custom_fields.tier", "value_unmapped"),
                    ("comment", "k1", "public", "private_first_message")}
    assert mapped.body["CustomFields"] == {"Severity": "high"} and mapped.body["Created"] == "2019-01-02 03:04:05"
    assert mapped.body["Content"].endswith("\n\nOpening") and mapped.body["RefersTo"] == "urn:hdmigrate:t1~partial"
    # the API user as creator: nothing is lost where RT drops Creator
    same = to_vendor.ticket(ticket, comments, queue="3", queue_cfs=set(), stamp="t1", creator="root", server=server)
    assert not [d for d in same.degradations if d.field in ("creator_id", "author_id")]
