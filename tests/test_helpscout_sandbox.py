"""The Help Scout sandbox answers as Help Scout documents it: token endpoint, bearer auth, HAL pages
(25 conversations, 50 other items, no `next` on the last page, active conversations unless
asked), writes counting double with X-RateLimit-*-Minute headers and 429 + X-RateLimit-Retry-After,
`imported` threads (createdAt only with it; without it e-mails counted and a customer thread
re-opens the conversation), 412 past 100 threads, 413 past 10 MB, the error shape; seeding."""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest

from adapters.helpscout.sandbox import APP_ID, APP_SECRET, make_sandbox
from adapters.helpscout.sandbox import limits as sandbox_limits
from hdmigrate.canonical_dump import blob_path, iter_records
from hdmigrate.testing.sample import write_dump


@pytest.fixture
def box():
    b = make_sandbox(seed=1).start()
    yield b
    b.stop()


def _token(box) -> dict:
    r = httpx.post(f"{box.url}/v2/oauth2/token", data={"grant_type": "client_credentials",
                                                      "client_id": APP_ID, "client_secret": APP_SECRET})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _customer(box, auth) -> int:
    r = httpx.post(f"{box.url}/v2/customers", headers=auth,
                   json={"firstName": "Ann", "emails": [{"type": "work", "value": "ann@example.com"}]})
    assert r.status_code == 201
    return int(r.headers["Resource-ID"])


def _conversation(box, auth, customer: int, **extra) -> int:
    body = {"subject": "Hello", "mailboxId": box.mailbox["id"], "type": "email", "status": "active",
            "customer": {"id": customer}, "imported": True, "createdAt": "2020-01-02T03:04:05Z",
            "threads": [{"type": "customer", "customer": {"id": customer}, "text": "<p>Hi</p>"}], **extra}
    r = httpx.post(f"{box.url}/v2/conversations", headers=auth, json=body)
    assert r.status_code == 201, r.text
    return int(r.headers["Resource-ID"])


def test_token_and_bearer_auth(box):
    bad = httpx.post(f"{box.url}/v2/oauth2/token", data={"grant_type": "client_credentials",
                                                         "client_id": APP_ID, "client_secret": "wrong"})
    # as the recorded v2 token failure (helpscoutv2-node fixtures): 400, status and message
    assert bad.status_code == 400 and bad.json() == {"status": 400, "message": f"{APP_ID} is not a valid API Key"}
    assert httpx.get(f"{box.url}/v2/mailboxes").status_code == 401
    auth = _token(box)
    assert httpx.get(f"{box.url}/v2/mailboxes", headers=auth).json()["_embedded"]["mailboxes"][0]["name"] == "Support"
    box.expire_tokens()
    assert httpx.get(f"{box.url}/v2/mailboxes", headers=auth).status_code == 401


def test_imported_threads_keep_their_time_and_send_nothing(box):
    auth = _token(box)
    cid = _customer(box, auth)
    conv = _conversation(box, auth, cid)
    r = httpx.post(f"{box.url}/v2/conversations/{conv}/reply", headers=auth,
                   json={"text": "<p>Answer</p>", "customer": {"id": cid}, "imported": True,
                         "createdAt": "2020-01-03T00:00:00Z"})
    assert r.status_code == 201 and box.emails_sent == 0
    threads = httpx.get(f"{box.url}/v2/conversations/{conv}/threads", headers=auth).json()["_embedded"]["threads"]
    assert [(t["type"], t["createdAt"]) for t in threads] == [("message", "2020-01-03T00:00:00Z"),
                                                              ("customer", "2020-01-02T03:04:05Z")]


def test_threads_without_imported_are_counted_as_emails_and_reopen(box):
    auth = _token(box)
    cid = _customer(box, auth)
    conv = _conversation(box, auth, cid, status="closed")
    refused = httpx.post(f"{box.url}/v2/conversations/{conv}/customer", headers=auth,
                         json={"text": "x", "customer": {"id": cid}, "createdAt": "2020-01-01T00:00:00Z"})
    assert refused.status_code == 400
    assert refused.json()["_embedded"]["errors"][0]["path"] == "createdAt" and "logRef" in refused.json()
    httpx.post(f"{box.url}/v2/conversations/{conv}/customer", headers=auth, json={"text": "again", "customer": {"id": cid}})
    httpx.post(f"{box.url}/v2/conversations/{conv}/reply", headers=auth, json={"text": "ok", "customer": {"id": cid}})
    assert box.emails_sent == 2 and [e["thread"] for e in box.emails] == ["customer", "message"]
    assert box.store.get("conversation", conv)["status"] == "active"


def test_limits_threads_and_file_size(box, monkeypatch):
    auth = _token(box)
    cid = _customer(box, auth)
    conv = _conversation(box, auth, cid)
    with httpx.Client(headers=auth) as keep_alive:
        for n in range(98):        # created with one thread: added up to 99 ...
            assert keep_alive.post(f"{box.url}/v2/conversations/{conv}/notes",
                                   json={"text": f"n{n}", "imported": True}).status_code == 201
        # ... "add a thread to a conversation that has 99 threads or more" answers 412
        refused = keep_alive.post(f"{box.url}/v2/conversations/{conv}/notes", json={"text": "one too many", "imported": True})
        assert refused.status_code == 412 and len(box.threads_held(conv)) == 99
        # created at once, a conversation takes 100 threads, not 101
        mailbox = box.mailbox["id"]
        many = [{"type": "note", "text": f"t{n}"} for n in range(100)]
        made = keep_alive.post(f"{box.url}/v2/conversations", json={
            "subject": "s", "customer": {"id": cid}, "mailboxId": mailbox, "status": "active", "imported": True,
            "threads": many})
        assert made.status_code == 201 and len(box.threads_held(int(made.headers["Resource-ID"]))) == 100
        assert keep_alive.post(f"{box.url}/v2/conversations", json={
            "subject": "s", "customer": {"id": cid}, "mailboxId": mailbox, "status": "active", "imported": True,
            "threads": many + [{"type": "note", "text": "t100"}]}).status_code == 412
    monkeypatch.setattr(sandbox_limits, "MAX_FILE_BYTES", 10)
    other = _conversation(box, auth, cid)
    big = {"fileName": "a.bin", "mimeType": "application/octet-stream", "data": base64.b64encode(b"x" * 11).decode()}
    r = httpx.post(f"{box.url}/v2/conversations/{other}/notes", headers=auth,
                   json={"text": "file", "imported": True, "attachments": [big]})
    assert r.status_code == 413


def test_rate_limit_headers_writes_count_double_and_429(box):
    limited = make_sandbox(rate_limit=6, seed=1).start()
    try:
        auth = _token(limited)       # the token endpoint is outside the budget
        first = httpx.get(f"{limited.url}/v2/mailboxes", headers=auth)
        assert first.headers["X-RateLimit-Limit-Minute"] == "6" and first.headers["X-RateLimit-Remaining-Minute"] == "5"
        write = httpx.post(f"{limited.url}/v2/customers", headers=auth, json={"firstName": "A"})
        assert write.headers["X-RateLimit-Remaining-Minute"] == "3"
        statuses = [httpx.get(f"{limited.url}/v2/users", headers=auth).status_code for _ in range(4)]
        assert statuses[-1] == 429
        refused = httpx.get(f"{limited.url}/v2/users", headers=auth)
        assert int(refused.headers["X-RateLimit-Retry-After"]) >= 1
    finally:
        limited.stop()


def test_hal_pages_and_default_status(box):
    auth = _token(box)
    cid = _customer(box, auth)
    for n in range(27):
        _conversation(box, auth, cid, status="closed" if n == 0 else "active")
    active = httpx.get(f"{box.url}/v2/conversations", headers=auth).json()
    assert active["page"] == {"size": 25, "totalElements": 26, "totalPages": 2, "number": 1}
    assert "next" in active["_links"] and len(active["_embedded"]["conversations"]) == 25
    last = httpx.get(f"{box.url}/v2/conversations", headers=auth, params={"status": "all", "page": 2}).json()
    assert len(last["_embedded"]["conversations"]) == 2 and "next" not in last["_links"]
    assert httpx.get(f"{box.url}/v2/conversations", headers=auth, params={"page": 0}).status_code == 400


def test_seeded_from_a_dump(tmp_path):
    dump = tmp_path / "dump"
    counts = write_dump(dump, tickets=5, comments_per_ticket=2, attachments=3, seed=4, defects=False)
    seeded = make_sandbox(data=dump, seed=1)
    assert seeded.store.count("conversation") == counts["ticket"]
    assert seeded.store.count("thread") == counts["comment"]
    stored = sorted(hashlib.sha256(a["_data"]).hexdigest() for a in seeded.store.all("attachment"))
    assert stored == sorted(a["sha256"] for a in iter_records(dump, "attachment"))
    assert all(blob_path(dump, s).exists() for s in stored)
    private = sum(not c["public"] for c in iter_records(dump, "comment"))
    assert sum(t["type"] == "note" for t in seeded.store.all("thread")) == private


def test_create_statuses_and_auto_reply(box):
    # Create Conversation: status "one of active closed pending"; "When autoReply is set to true, an
    # auto reply will be sent as long as there is at least one customer thread"; imported sends nothing.
    auth = _token(box)
    cid = _customer(box, auth)
    body = {"subject": "s", "mailboxId": box.mailbox["id"], "type": "email", "customer": {"id": cid},
            "threads": [{"type": "customer", "customer": {"id": cid}, "text": "hi"}]}
    refused = httpx.post(f"{box.url}/v2/conversations", headers=auth, json={**body, "status": "spam"})
    assert refused.status_code == 400 and refused.json()["_embedded"]["errors"][0]["path"] == "status"
    assert httpx.post(f"{box.url}/v2/conversations", headers=auth,
                      json={**body, "status": "active", "imported": True, "autoReply": True}).status_code == 201
    assert box.emails_sent == 0
    assert httpx.post(f"{box.url}/v2/conversations", headers=auth,
                      json={**body, "status": "active", "autoReply": True}).status_code == 201
    assert [e["why"] for e in box.emails] == ["notifies the team of a customer message",
                                              "auto reply to the customer (autoReply)"]
