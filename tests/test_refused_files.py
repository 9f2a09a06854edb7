"""One file a vendor refuses never fails its ticket or comment (issue 14.2): Zendesk refusing an
upload (422) and Freshdesk refusing the files of a note (400 naming `attachments`) leave the file
out, named `attachment_rejected`, and write the rest. respx, shapes from the vendors' documents."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import respx

from adapters.freshdesk.target import FreshdeskTarget
from adapters.zendesk.target import ZendeskTarget
from hdmigrate.adapter import AdapterContext


class Ctx:
    mapping: dict = {}
    options: dict = {}
    dry_run = False
    source_info: dict = {}

    def __init__(self, comments, files):
        self._comments, self._files = comments, files

    def comments(self, ticket_id):
        return self._comments

    def attachments(self, comment):
        return self._files.get(comment["id"], [])

    def target_id(self, kinds, source_id):
        return {"t1": "900"}.get(source_id)

    def person(self, source_id):
        return ("agent", "42") if source_id == "a1" else None

    def record(self, kind, source_id):
        return None

    def custom_field(self, entity, key):
        return None


def _files(tmp_path: Path):
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ\x90\x00 not really")
    att = {"id": "f1", "comment_id": "k2", "ticket_id": "t1", "file_name": "tool.exe", "size": exe.stat().st_size,
           "content_type": "application/x-msdownload", "sha256": "0" * 64}
    note = {"id": "k2", "ticket_id": "t1", "author_id": "a1", "public": False, "body_text": "see the file",
            "created_at": "2020-01-01T00:00:00Z", "attachment_ids": ["f1"]}
    first = {"id": "k1", "ticket_id": "t1", "author_id": "a1", "public": True, "body_text": "hello",
             "created_at": "2019-12-31T00:00:00Z", "attachment_ids": []}
    return [first, note], {"k2": [(att, exe)]}


def test_freshdesk_note_is_written_without_a_file_the_account_refuses(tmp_path):
    comments, files = _files(tmp_path)
    ctx = Ctx(comments, files)
    target = FreshdeskTarget(AdapterContext(config={"url": "https://acme.freshdesk.com"},
                                            secrets={"api_key": "k"}, role="target", workdir=tmp_path))
    with respx.mock(base_url="https://acme.freshdesk.com/api/v2", assert_all_called=False) as router:
        sent = []

        def notes(request):
            multipart = b"attachments[]" in request.content
            sent.append("multipart" if multipart else "json")
            if multipart:   # FD-DOC: 400 Validation failed, per field
                return httpx.Response(400, json={"description": "Validation failed", "errors": [
                    {"field": "attachments", "message": "It should be a valid file type", "code": "invalid_value"}]})
            assert json.loads(request.content)["private"] is True
            return httpx.Response(201, json={"id": 5001, "attachments": []})

        router.post("/tickets/900/notes").mock(side_effect=notes)
        result = target.write("comment", comments[1], ctx)
    assert result.target_id == "5001" and sent == ["multipart", "json"]
    assert [(d.kind, d.id, d.code) for d in result.degradations] == [("attachment", "f1", "attachment_rejected")]
    assert ("attachment", "f1") not in result.children


def test_freshdesk_other_refusals_still_fail_the_record(tmp_path):
    comments, files = _files(tmp_path)
    target = FreshdeskTarget(AdapterContext(config={"url": "https://acme.freshdesk.com"},
                                            secrets={"api_key": "k"}, role="target", workdir=tmp_path))
    with respx.mock(base_url="https://acme.freshdesk.com/api/v2", assert_all_called=False) as router:
        router.post("/tickets/900/notes").respond(400, json={"description": "Validation failed", "errors": [
            {"field": "user_id", "message": "There is no contact matching the given user_id", "code": "invalid_value"}]})
        try:
            target.write("comment", comments[1], Ctx(comments, files))
        except Exception as e:  # noqa: BLE001 - the record fails with the server's reason
            assert "user_id" in str(e)
        else:
            raise AssertionError("a refusal that is not about the files must fail the record")


def test_zendesk_upload_refused_leaves_the_file_out_and_names_it(tmp_path):
    comments, files = _files(tmp_path)
    target = ZendeskTarget(AdapterContext(config={"url": "https://acme.zendesk.com"},
                                          secrets={"email": "a@acme.com", "token": "t"}, role="target"),
                           sleep=lambda s: None)
    degraded: list = []
    with respx.mock(base_url="https://acme.zendesk.com", assert_all_called=False) as router:
        router.post("/api/v2/uploads").respond(422, json={"error": "RecordInvalid",
                                                          "description": "File type not allowed"})
        token = target._upload(comments[1], files["k2"][0][0], files["k2"][0][1], degraded)
    assert token is None
    assert [(d.kind, d.id, d.code) for d in degraded] == [("attachment", "f1", "attachment_rejected")]
