"""django-helpdesk target over respx (issue 14.2): a file the server refuses (empty, too large, a
type it does not take) is left out with a degradation on the attachment; the ticket and every
follow-up are written. The missing stamp field is said once, in check(), with what to do."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import respx

from adapters.django_helpdesk.target import DjangoHelpdeskTarget
from hdmigrate.adapter import AdapterContext
from hdmigrate.http import reset_limiters

BASE = "https://hd.test/helpdesk/api"


@pytest.fixture(autouse=True)
def _fresh_limiters():
    reset_limiters()


class Ctx:
    """The LoadContext a bundling target sees: one ticket, its comments, their files."""

    options: dict = {}
    mapping: dict = {}
    source_info: dict = {}
    dry_run = False

    def __init__(self, comments, files):
        self._comments, self._files = comments, files

    def comments(self, ticket_id):
        return self._comments

    def attachments(self, comment):
        return self._files.get(comment["id"], [])

    def person(self, source_id):
        return ("contact", "carl@example.org")

    def record(self, kind, source_id):
        return {"id": source_id, "email": "carl@example.org"}

    def target_id(self, kinds, source_id):
        return None


def _target(log=None, **config):
    ctx = AdapterContext(config={"url": "https://hd.test", **config}, secrets={"username": "u", "password": "p"},
                         log=log or (lambda m: None), role="target")
    return DjangoHelpdeskTarget(ctx)


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _ticket_with_files(tmp_path):
    comments = [{"id": "m1", "ticket_id": "t1", "author_id": "c1", "public": True, "body_text": "Opening",
                 "attachment_ids": ["f0", "f1", "f2", "f3"]},
                {"id": "m2", "ticket_id": "t1", "author_id": "a1", "public": False, "body_text": "Note"}]
    files = {"m1": [({"id": "f0", "file_name": "empty.txt", "size": 0, "sha256": "e3"}, _file(tmp_path, "0", b"")),
                    ({"id": "f1", "file_name": "scan.pdf", "size": 4, "sha256": "a"}, _file(tmp_path, "1", b"%PDF")),
                    ({"id": "f2", "file_name": "huge.pdf", "size": 9, "sha256": "b"}, _file(tmp_path, "2", b"123456789")),
                    ({"id": "f3", "file_name": "virus.pdf", "size": 3, "sha256": "c"}, _file(tmp_path, "3", b"MZ!"))]}
    return comments, files


@respx.mock
def test_refused_files_are_left_out_and_the_ticket_is_written(tmp_path):
    respx.get(f"{BASE}/tickets/").mock(return_value=httpx.Response(200, json={"results": [], "next": None}))
    respx.post(f"{BASE}/tickets/").mock(return_value=httpx.Response(201, json={
        "id": 5, "followup_set": [{"id": 50}], "custom_hdmigrate_source_id": "t1~partial"}))
    followup = respx.post(f"{BASE}/followups/").mock(return_value=httpx.Response(201, json={"id": 51}))
    uploads = []

    def upload(request):
        body = request.content
        uploads.append(body)
        if b"huge.pdf" in body:
            return httpx.Response(413, text="Request Entity Too Large")
        if b"virus.pdf" in body:
            return httpx.Response(400, json={"file": ["This file type is not allowed."]})
        return httpx.Response(201, json={"id": 700})

    respx.post(f"{BASE}/followups-attachments/").mock(side_effect=upload)
    patch = respx.patch(f"{BASE}/tickets/5/").mock(return_value=httpx.Response(200, json={"id": 5}))
    comments, files = _ticket_with_files(tmp_path)
    result = _target().write("ticket", {"id": "t1", "subject": "Invoice", "status": "open", "requester_id": "c1"},
                             Ctx(comments, files))
    assert result.target_id == "5"
    assert result.children[("comment", "m1")] == "50" and result.children[("comment", "m2")] == "51"
    assert followup.called and patch.called                      # the follow-up and the final PATCH went out
    assert ("attachment", "f1") in result.children               # the good file is there
    assert not any(("attachment", f) in result.children for f in ("f0", "f2", "f3"))
    codes = {d.id: d.code for d in result.degradations if d.kind == "attachment"}
    assert codes == {"f0": "attachment_empty", "f2": "attachment_too_large", "f3": "attachment_rejected"}
    assert len(uploads) == 3                                     # the empty file is never sent
    assert "not allowed" in next(d.detail for d in result.degradations if d.id == "f3")
    final = json.loads(patch.calls.last.request.content)
    assert final["custom_hdmigrate_source_id"] == "t1" and final["submitter_email"] == "carl@example.org"


@respx.mock
def test_server_saying_empty_is_a_degradation_not_a_failure(tmp_path):
    """A file the server finds empty (e.g. the bytes did not arrive) is reported like one we found."""
    respx.get(f"{BASE}/tickets/").mock(return_value=httpx.Response(200, json={"results": [], "next": None}))
    respx.post(f"{BASE}/tickets/").mock(return_value=httpx.Response(201, json={"id": 6, "followup_set": [{"id": 60}],
                                                                          "custom_hdmigrate_source_id": ""}))
    respx.post(f"{BASE}/followups-attachments/").mock(
        return_value=httpx.Response(400, json={"file": ["The submitted file is empty."]}))
    respx.patch(f"{BASE}/tickets/6/").mock(return_value=httpx.Response(200, json={"id": 6}))
    comments = [{"id": "m1", "ticket_id": "t2", "author_id": "c1", "public": True, "body_text": "x",
                 "attachment_ids": ["f1"]}]
    files = {"m1": [({"id": "f1", "file_name": "a.txt", "size": 1, "sha256": "d"}, _file(tmp_path, "a", b"x"))]}
    result = _target().write("ticket", {"id": "t2", "subject": "s", "status": "open", "requester_id": "c1"},
                             Ctx(comments, files))
    assert result.target_id == "6"
    assert [(d.id, d.code) for d in result.degradations if d.kind == "attachment"] == [("f1", "attachment_empty")]


def test_dry_run_names_an_empty_file():
    target = _target()
    codes = [d.code for d in target.degradations("attachment", {"id": "f", "file_name": "a.txt", "size": 0}, None)]
    assert "attachment_empty" in codes


@respx.mock
def test_without_the_stamp_field_check_says_so_once_and_resumes_find_the_tickets():
    said = []
    respx.get(f"{BASE}/").mock(return_value=httpx.Response(200, json={}))
    respx.options(f"{BASE}/tickets/").mock(return_value=httpx.Response(200, json={
        "actions": {"POST": {"id": {}, "queue": {}, "title": {}, "description": {}, "followup_set": {}}}}))
    listing = {"results": [], "next": None}
    respx.get(f"{BASE}/tickets/").mock(side_effect=lambda request: httpx.Response(200, json=listing))
    created = iter([5, 6])

    def create(request):
        tid = next(created)
        return httpx.Response(201, json={"id": tid, "followup_set": [{"id": tid * 10, "title": "Ticket Opened"}]})

    respx.post(f"{BASE}/tickets/").mock(side_effect=create)
    titles = []
    respx.patch(url__regex=rf"{BASE}/followups/\d+/").mock(
        side_effect=lambda request: titles.append(json.loads(request.content)["title"]) or httpx.Response(200, json={}))
    respx.patch(url__regex=rf"{BASE}/tickets/\d+/").mock(return_value=httpx.Response(200, json={}))
    target = _target(log=said.append)
    target.check()
    comments = [{"id": "m1", "ticket_id": "t1", "author_id": "c1", "public": True, "body_text": "x"}]
    for rid in ("t1", "t2"):
        target.write("ticket", {"id": rid, "subject": "s", "status": "open", "requester_id": "c1"},
                     Ctx([{**comments[0], "ticket_id": rid}], {}))
    # the fields keeping original times are missing too: said once, separately (original_times.py)
    assert len([m for m in said if "hdm_original_created_at" in m]) == 1
    said = [m for m in said if "hdm_original_created_at" not in m]
    assert len(said) == 1 and "hdmigrate_source_id" in said[0] and "admin" in said[0]
    # marked partial first, complete last
    assert titles == ["Ticket Opened [hdm:t1~partial]", "Ticket Opened [hdm:t1]",
                      "Ticket Opened [hdm:t2~partial]", "Ticket Opened [hdm:t2]"]
    # a resumed run (new process) finds both through the ticket list, and a partial one to redo
    listing["results"] = [
        {"id": 5, "followup_set": [{"id": 50, "title": "Ticket Opened [hdm:t1]", "date": "2024-01-01T00:00:00Z"}]},
        {"id": 6, "followup_set": [{"id": 60, "title": "Ticket Opened [hdm:t2~partial]", "date": "2024-01-01T00:00:00Z"},
                                   {"id": 61, "title": "Comment [hdm:zz]", "date": "2024-01-02T00:00:00Z"}]}]
    resumed = _target()
    assert resumed.find_existing("ticket", {"id": "t1"}, None) == "5"
    assert resumed.find_existing("ticket", {"id": "t2"}, None) is None     # partial: deleted and written again
    assert resumed._load_stamps()["t2~partial"] == "6"


@respx.mock
def test_the_dry_run_declares_what_the_write_reports(tmp_path):
    """degradations() (the dry run) and write() make the same to_vendor call: with the server's
    ticket fields read by check() (OPTIONS), every degradation the write reports was declared
    before it; people with an address, the queue and the fields are matched_existing up front."""
    respx.get(f"{BASE}/").mock(return_value=httpx.Response(200, json={}))
    respx.options(f"{BASE}/tickets/").mock(return_value=httpx.Response(200, json={"actions": {"POST": {
        "id": {}, "queue": {}, "title": {}, "custom_hdmigrate_source_id": {}, "custom_tier": {}}}}))
    respx.get(f"{BASE}/tickets/").mock(return_value=httpx.Response(200, json={"results": [], "next": None}))
    respx.post(f"{BASE}/tickets/").mock(return_value=httpx.Response(201, json={
        "id": 7, "followup_set": [{"id": 70}], "custom_hdmigrate_source_id": "t1~partial", "custom_tier": ""}))
    respx.post(f"{BASE}/followups/").mock(return_value=httpx.Response(201, json={"id": 71}))
    respx.post(f"{BASE}/followups-attachments/").mock(return_value=httpx.Response(201, json={"id": 700}))
    patch = respx.patch(f"{BASE}/tickets/7/").mock(return_value=httpx.Response(200, json={"id": 7}))
    comments = [{"id": "m1", "ticket_id": "t1", "author_id": "c1", "public": False, "body_text": "Opening",
                 "created_at": "2020-01-01T00:00:00Z", "attachment_ids": ["f1"]},
                {"id": "m2", "ticket_id": "t1", "author_id": "a1", "public": True, "body_html": "<p>Hi</p>"}]
    files = {"m1": [({"id": "f1", "file_name": "run.sh", "size": 2, "sha256": "d"}, _file(tmp_path, "s", b"ok"))]}
    ticket = {"id": "t1", "subject": "s", "status": "pending", "requester_id": "c1", "tags": ["x"],
              "custom_fields": {"tier": "gold", "colour": "red"}}
    ctx = Ctx(comments, files)
    target = _target()
    target.check()
    predicted = target.degradations("ticket", ticket, ctx)
    for c in comments:
        predicted += target.degradations("comment", c, ctx)
        for att, _ in files.get(c["id"], []):
            predicted += target.degradations("attachment", att, ctx)
    keys = {(d.kind, d.id, d.field, d.code) for d in predicted}
    result = target.write("ticket", ticket, ctx)
    written = {(d.kind, d.id, d.field, d.code) for d in result.degradations}
    assert written <= keys, f"only in the write: {sorted(written - keys)}"
    assert ("ticket", "t1", "custom_fields.colour", "value_unmapped") in keys           # no such field
    assert ("ticket", "t1", "custom_fields.tier", "value_unmapped") not in keys         # the server has it
    assert ("attachment", "f1", "file_name", "attachment_renamed") in keys
    assert ("comment", "m1", "public", "private_first_message") in keys
    assert json.loads(patch.calls.last.request.content)["custom_tier"] == "gold"
    for kind, record in (("contact", {"id": "c1", "email": "carl@example.org"}), ("group", {"id": "g1", "name": "X"}),
                         ("custom_field", {"id": "f", "key": "tier"})):
        assert "matched_existing" in [d.code for d in target.degradations(kind, record, ctx)]
        assert target.write(kind, record, ctx).matched
    assert target.degradations("contact", {"id": "c2"}, ctx) == []           # no address: nothing matched
    assert not target.write("contact", {"id": "c2"}, ctx).matched
