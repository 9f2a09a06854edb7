"""django-helpdesk API payload → canonical mapping and target degradations (pure; no server)."""

from hdmigrate.adapter import AdapterContext
from hdmigrate.canonical import validation_error

from adapters.django_helpdesk import to_canonical as mapping, to_vendor
from adapters.django_helpdesk.target import DjangoHelpdeskTarget


def test_ticket_with_followups_maps_and_validates():
    t = {"id": 3, "queue": 1, "title": "Hi", "description": "Opening", "submitter_email": "a@x.test", "status": 2,
         "priority": 1, "assigned_to": 4, "due_date": None, "resolution": None, "on_hold": False, "merged_to": None,
         "custom_hdmigrate_source_id": "9", "custom_legacy": "L-1",
         "followup_set": [
             {"id": 5, "user": 1, "comment": "Opening", "public": True, "date": "2020-01-01T00:00:00Z",
              "followupattachment_set": []},
             {"id": 6, "user": 4, "comment": "secret", "public": False, "date": "2020-01-02T00:00:00Z",
              "followupattachment_set": [{"id": 8, "filename": "a.txt", "mime_type": "text/plain", "size": 3,
                                          "file": "http://127.0.0.1/media/a.txt"}]}]}
    out = list(mapping.ticket_to_canonical({"ticket": t, "files": {"8": {"size": 3, "sha256": "b" * 64}}}))
    for kind, rec in out:
        assert validation_error(kind, rec) is None, (kind, rec)
    ticket = next(r for k, r in out if k == "ticket")
    assert ticket["status"] == "open" and ticket["extra"]["source_status"] == 2
    assert ticket["priority"] == "urgent" and ticket["requester_id"] == "c:a@x.test"
    assert ticket["custom_fields"] == {"legacy": "L-1"} and ticket["created_at"] == "2020-01-01T00:00:00Z"
    comments = [r for k, r in out if k == "comment"]
    assert [c["public"] for c in comments] == [True, False] and comments[1]["author_id"] == "a:4"


def test_target_lists_what_it_cannot_keep():
    ctx = AdapterContext(config={"url": "http://127.0.0.1:1"}, secrets={"username": "u", "password": "p"})
    target = DjangoHelpdeskTarget(ctx)

    class Ctx:
        def comments(self, ticket_id):
            return [{"id": "1"}]

    codes = {d.code for d in target.degradations("comment", {"id": "1", "ticket_id": "t", "public": False,
                                                             "created_at": "2020-01-01T00:00:00Z"}, Ctx())}
    assert codes == {"timestamp_not_preserved", "author_not_preserved", "private_first_message"}
    att = target.degradations("attachment", {"id": "a", "file_name": "x.bin"}, Ctx())
    assert [d.code for d in att] == ["attachment_renamed"]
    assert target.degradations("attachment", {"id": "a", "file_name": "x.pdf"}, Ctx()) == []
    assert [d.code for d in target.degradations("satisfaction_rating", {"id": "s"}, Ctx())] == ["csat_not_writable"]


def test_title_stamp_bytes_unchanged():
    """Tickets stamped by earlier runs must still be found: "Ticket Opened [hdm:<stamp>]", a partial
    stamp replaced by the finished one, read back through hdmigrate.stamps."""
    assert to_vendor.stamped_title(None, "p-4~partial") == "Ticket Opened [hdm:p-4~partial]"
    assert to_vendor.stamped_title("Ticket Opened [hdm:p-4~partial]", "p-4") == "Ticket Opened [hdm:p-4]"
    ticket = {"followup_set": [{"id": 2, "date": "2024-01-01T00:00:01Z", "title": "Comment"},
                               {"id": 1, "date": "2024-01-01T00:00:00Z", "title": "Ticket Opened [hdm:p-4]"}]}
    assert mapping.title_stamp(ticket) == "p-4"
