"""The HTTP layer over respx: retries, Retry-After, status mapping, redaction, pagination, limiter."""

from __future__ import annotations

import base64
import email.utils
import threading

import httpx
import pytest
import respx

from hdmigrate.errors import ConfigError, FatalApiError, RecordError, RecordRejected, TransientApiError
from hdmigrate.http import (HttpClient, PaginationLoop, RateLimiter, RatePolicy, UrlRefused, limiter_for, parse_retry_after,
                            rate_limit_info, redact)

BASE = "https://acme.zendesk.com"
TOKEN = "s3cr3t-T0ken-value"


class FakeTime:
    """A monotonic clock advanced only by its own sleep; records every wait."""

    def __init__(self, start: float = 1000.0):
        self.now = start
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
            self.now += seconds


@pytest.fixture
def fake():
    return FakeTime()


@pytest.fixture
def logs():
    return []


@pytest.fixture
def client(fake, logs):
    c = HttpClient(BASE, auth=("agent@acme.test/token", TOKEN), sleep=fake.sleep, clock=fake.clock,
                   log=logs.append, max_attempts=4)
    yield c
    c.close()


# ---------------------------------------------------------------- retries

@respx.mock
def test_429_waits_retry_after_then_succeeds(client, fake):
    route = respx.get(f"{BASE}/api/v2/users/me.json").mock(side_effect=[
        httpx.Response(429, headers={"Retry-After": "7"}, text="Too many requests, slow down"),
        httpx.Response(200, json={"user": {"id": 1}}),
    ])
    assert client.get_json("/api/v2/users/me.json") == {"user": {"id": 1}}
    assert route.call_count == 2
    assert fake.waits == [7.0]
    assert client.stats.rate_limited == 1 and client.stats.retries == 1
    assert client.stats.by_status == {429: 1, 200: 1}


@respx.mock
def test_429_pauses_the_hosts_limiter_for_every_client(fake):
    respx.get(f"{BASE}/a").mock(side_effect=[httpx.Response(429, headers={"Retry-After": "30"}),
                                             httpx.Response(200)])
    respx.get(f"{BASE}/b").mock(return_value=httpx.Response(200))
    # Two workers on one clock; neither sleep moves time, so the pause is still on when b asks.
    a_waits: list[float] = []
    b_waits: list[float] = []
    a = HttpClient(BASE, sleep=a_waits.append, clock=fake.clock)
    b = HttpClient(BASE, sleep=b_waits.append, clock=fake.clock)
    assert a.limiter is b.limiter
    a.request("GET", "/a")
    assert a_waits == [30.0] and a.limiter.held_for() == pytest.approx(30.0)
    b.request("GET", "/b")
    assert b_waits == [pytest.approx(30.0)]


@respx.mock
def test_retry_after_as_http_date(fake):
    wall = 1_700_000_000.0
    when = email.utils.formatdate(wall + 42, usegmt=True)
    respx.get(f"{BASE}/x").mock(side_effect=[httpx.Response(503, headers={"Retry-After": when}),
                                             httpx.Response(200, json=[])])
    c = HttpClient(BASE, sleep=fake.sleep, clock=fake.clock, wall_clock=lambda: wall)
    assert c.get_json("/x") == []
    assert fake.waits == [pytest.approx(42.0)]


@respx.mock
def test_5xx_backs_off_exponentially_then_succeeds(client, fake):
    route = respx.get(f"{BASE}/flaky").mock(side_effect=[httpx.Response(500), httpx.Response(502),
                                                         httpx.Response(200, json={"ok": True})])
    assert client.get_json("/flaky") == {"ok": True}
    assert route.call_count == 3
    first, second = fake.waits
    # Jittered between half and all of 0.5s, then of 1s.
    assert 0.25 <= first <= 0.5 and 0.5 <= second <= 1.0


@respx.mock
def test_retries_exhausted_raise_transient(client, fake, logs):
    route = respx.get(f"{BASE}/down").mock(return_value=httpx.Response(503, text="<html>Maintenance</html>"))
    with pytest.raises(TransientApiError) as info:
        client.get_json("/down")
    assert route.call_count == 4
    assert len(fake.waits) == 3
    assert info.value.status == 503 and "Maintenance" in info.value.excerpt
    assert "4 attempts" in str(info.value)
    assert sum("retrying" in line for line in logs) == 3


@respx.mock
def test_dropped_connection_and_timeout_are_retried(client, fake):
    route = respx.post(f"{BASE}/api/v2/tickets.json").mock(side_effect=[
        httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
        httpx.ReadTimeout("timed out"),
        httpx.Response(201, json={"ticket": {"id": 9}}),
    ])
    response = client.request("POST", "/api/v2/tickets.json", json={"ticket": {"subject": "x"}})
    assert response.json()["ticket"]["id"] == 9
    assert route.call_count == 3
    assert client.stats.transport_errors == 2


@respx.mock
def test_non_idempotent_write_is_not_resent_after_a_drop(client):
    route = respx.post(f"{BASE}/api/v2/tickets.json").mock(side_effect=[
        httpx.ConnectError("refused"),                       # never sent: safe to retry
        httpx.RemoteProtocolError("peer closed connection"),  # may have been written
        httpx.Response(201, json={}),
    ])
    with pytest.raises(TransientApiError, match="not retried"):
        client.request("POST", "/api/v2/tickets.json", json={}, idempotent=False)
    assert route.call_count == 2


@respx.mock
def test_connect_errors_exhausted_raise_transient(client):
    respx.get(f"{BASE}/x").mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(TransientApiError, match="ConnectError"):
        client.request("GET", "/x")


@respx.mock
def test_retry_after_beyond_max_wait_gives_up(fake):
    respx.get(f"{BASE}/x").mock(return_value=httpx.Response(429, headers={"Retry-After": "3600"}))
    c = HttpClient(BASE, sleep=fake.sleep, clock=fake.clock, max_wait=300)
    with pytest.raises(TransientApiError) as info:
        c.request("GET", "/x")
    assert info.value.retry_after == 3600 and fake.waits == []


@respx.mock
def test_429_on_an_injected_endpoint_limiter_pauses_the_host_too(fake):
    endpoint = limiter_for("acme.zendesk.com#search", 10, clock=fake.clock, sleep=fake.sleep)
    searcher = HttpClient(BASE, limiter=endpoint, clock=fake.clock, sleep=lambda s: None)
    respx.get(f"{BASE}/search").mock(side_effect=[httpx.Response(429, headers={"Retry-After": "20"}),
                                                  httpx.Response(200)])
    searcher.request("GET", "/search")
    assert endpoint.held_for() == pytest.approx(20)
    assert limiter_for("acme.zendesk.com", None, clock=fake.clock).held_for() == pytest.approx(20)


@respx.mock
def test_429_of_an_endpoint_class_pauses_that_class_only(fake):
    # Zendesk's incremental exports have a budget and a 429 of their own: the pause must not
    # hold the downloads and lists that share the account for the rest of the minute.
    def incremental(path):
        return "incremental" if "/incremental/" in path else None
    a_waits: list[float] = []
    b_waits: list[float] = []
    # Two workers on one clock; neither sleep moves time, so a pause is still on when b asks.
    a = HttpClient(BASE, sleep=a_waits.append, clock=fake.clock, throttle_class=incremental)
    b = HttpClient(BASE, sleep=b_waits.append, clock=fake.clock, throttle_class=incremental)
    respx.get(f"{BASE}/api/v2/incremental/ticket_events").mock(side_effect=[
        httpx.Response(429, headers={"Retry-After": "24", "X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "650"},
                       json={"error": "APIRateLimitExceeded"}),
        httpx.Response(200, json={}), httpx.Response(200, json={})])
    respx.get(f"{BASE}/api/v2/groups").mock(return_value=httpx.Response(200, json={}))
    a.request("GET", "/api/v2/incremental/ticket_events")
    assert a_waits == [24.0]
    assert a.limiter.held_for() == 0
    assert limiter_for("acme.zendesk.com#incremental", None, clock=fake.clock).held_for() == pytest.approx(24)
    b.request("GET", "/api/v2/groups")
    assert b_waits == []                                    # the account goes on
    b.request("GET", "/api/v2/incremental/ticket_events")
    assert b_waits == [pytest.approx(24.0)]                 # the exports wait


# ---------------------------------------------------------------- status mapping

@respx.mock
def test_401_is_fatal_and_names_the_call(client):
    respx.get(f"{BASE}/api/v2/users/me.json").mock(return_value=httpx.Response(401, json={"error": "Couldn't authenticate you"}))
    with pytest.raises(FatalApiError) as info:
        client.get_json("/api/v2/users/me.json")
    message = str(info.value)
    assert "bad credentials" in message and "GET" in message and "/api/v2/users/me.json" in message
    assert info.value.status == 401


@respx.mock
def test_403_is_fatal_missing_rights(client):
    respx.get(f"{BASE}/x").mock(return_value=httpx.Response(403, text="Forbidden"))
    with pytest.raises(FatalApiError, match="missing rights"):
        client.request("GET", "/x")


@respx.mock
def test_422_is_record_rejected_with_vendor_details(client):
    body = {"error": "RecordInvalid", "description": "Record validation errors",
            "details": {"requester": [{"description": "Requester: Email is invalid"}]}}
    respx.post(f"{BASE}/api/v2/tickets.json").mock(return_value=httpx.Response(422, json=body))
    with pytest.raises(RecordRejected) as info:
        client.request("POST", "/api/v2/tickets.json", json={})
    assert info.value.status == 422
    assert '"details":{"requester"' in info.value.excerpt
    assert "Email is invalid" in str(info.value)


@respx.mock
def test_freshdesk_400_errors_kept(client):
    body = {"description": "Validation failed",
            "errors": [{"field": "email", "message": "It should be a valid email address", "code": "invalid_value"}]}
    respx.post(f"{BASE}/api/v2/contacts").mock(return_value=httpx.Response(400, json=body))
    with pytest.raises(RecordRejected) as info:
        client.request("POST", "/api/v2/contacts", json={})
    assert '"field":"email"' in info.value.excerpt and '"code":"invalid_value"' in info.value.excerpt


@respx.mock
def test_allowed_status_is_returned_untouched(client):
    respx.get(f"{BASE}/api/v2/users/5.json").mock(return_value=httpx.Response(404, json={"error": "RecordNotFound"}))
    response = client.request("GET", "/api/v2/users/5.json", allow=(404,))
    assert response.status_code == 404
    with pytest.raises(RecordRejected):
        client.request("GET", "/api/v2/users/5.json")


@respx.mock
def test_unexpected_status_is_fatal(client):
    respx.get(f"{BASE}/x").mock(return_value=httpx.Response(418, text="teapot"))
    with pytest.raises(FatalApiError, match="unexpected HTTP 418"):
        client.request("GET", "/x")


# ---------------------------------------------------------------- security

def test_redact_plain_urlencoded_and_basic_auth_forms():
    basic = base64.b64encode(f"me@x.test/token:{TOKEN}".encode()).decode()
    text = (f"token {TOKEN} url https://h/?a=1&token={TOKEN}x header Authorization: Basic {basic} "
            f"quoted {TOKEN.replace('-', '%2D')} api_key=abc123")
    out = redact(text, [TOKEN])
    assert TOKEN not in out and basic not in out and "abc123" not in out
    assert out.startswith("token *** url https://h/?a=1&token=***")
    # Any other offset of the secret inside base64 is caught by decoding.
    for prefix in ("a:", "ab:", "abc:"):
        encoded = base64.b64encode(f"{prefix}{TOKEN}".encode()).decode()
        assert encoded not in redact(f"x {encoded} y", [TOKEN])


@respx.mock
def test_token_never_leaks_into_logs_errors_or_excerpts(fake):
    logs: list[str] = []
    c = HttpClient(BASE, auth=("agent/token", TOKEN), headers={"X-Api-Token": "hdr-" + TOKEN},
                   sleep=fake.sleep, clock=fake.clock, log=logs.append, max_attempts=3)
    echo = {"error": f"bad token {TOKEN}", "auth": "Basic " + base64.b64encode(f"agent/token:{TOKEN}".encode()).decode()}
    respx.get(f"{BASE}/err").mock(return_value=httpx.Response(503, json=echo))
    respx.get(f"{BASE}/rej").mock(return_value=httpx.Response(422, json=echo))
    respx.get(f"{BASE}/auth").mock(return_value=httpx.Response(401, json=echo))
    respx.get(f"{BASE}/drop").mock(side_effect=httpx.ReadError(f"boom {TOKEN}"))
    errors = []
    for path in (f"/err?token={TOKEN}", "/rej", "/auth", "/drop"):
        with pytest.raises((TransientApiError, RecordRejected, FatalApiError)) as info:
            c.request("GET", path)
        errors.append(info.value)
    assert logs, "retries should have been logged"
    texts = logs + [str(e) for e in errors] + [e.excerpt or "" for e in errors] + [e.url or "" for e in errors]
    basic = base64.b64encode(f"agent/token:{TOKEN}".encode()).decode()
    for text in texts:
        assert TOKEN not in text and basic not in text, text
    assert any("***" in t for t in texts)


@respx.mock
def test_api_key_as_basic_user_is_redacted_and_placeholder_password_is_not(fake):
    key = "fdApiKey0123456789"
    logs: list[str] = []
    c = HttpClient("https://acme.freshdesk.com", auth=(key, "X"), sleep=fake.sleep, clock=fake.clock,
                   log=logs.append, max_attempts=2)
    respx.get("https://acme.freshdesk.com/api/v2/tickets").mock(
        return_value=httpx.Response(500, text=f"X-Request failed for key {key}"))
    with pytest.raises(TransientApiError) as info:
        c.request("GET", "/api/v2/tickets")
    for text in logs + [str(info.value)]:
        assert key not in text
    assert "X-Request failed for key ***" in info.value.excerpt


def test_plain_http_refused_except_loopback():
    with pytest.raises(ConfigError, match="refusing plain HTTP to acme.example.com"):
        HttpClient("http://acme.example.com")
    for url in ("http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9", "http://127.5.0.1"):
        HttpClient(url).close()
    c = HttpClient(BASE)
    with pytest.raises(ConfigError, match="refusing plain HTTP"):
        c.request("GET", "http://evil.example.com/steal")


@respx.mock
def test_download_follows_redirect_without_sending_credentials_elsewhere(client):
    respx.get(f"{BASE}/attachments/token/abc/?name=a.png").mock(
        return_value=httpx.Response(302, headers={"Location": "https://cdn.example.net/a.png?sig=xyz"}))
    cdn = respx.get("https://cdn.example.net/a.png").mock(return_value=httpx.Response(200, content=b"PNGDATA"))
    assert client.download(f"{BASE}/attachments/token/abc/?name=a.png") == b"PNGDATA"
    assert "authorization" not in cdn.calls.last.request.headers
    with pytest.raises(RecordError, match="more than the 3 bytes"):
        client.download(f"{BASE}/attachments/token/abc/?name=a.png", max_bytes=3)


@respx.mock
def test_download_to_plain_http_redirect_refused(client):
    respx.get(f"{BASE}/f").mock(return_value=httpx.Response(302, headers={"Location": "http://cdn.example.net/f"}))
    with pytest.raises(UrlRefused, match="from https to plain http"):
        client.download("/f")


# ---------------------------------------------------------------- pagination

@respx.mock
def test_link_header_pagination(client):
    respx.get(f"{BASE}/api/v2/tickets", params={"page": "2"}).mock(
        return_value=httpx.Response(200, json=[{"id": 3}]))
    respx.get(f"{BASE}/api/v2/tickets", params={"per_page": "2"}).mock(
        return_value=httpx.Response(200, json=[{"id": 1}, {"id": 2}],
                                    headers={"Link": f'<{BASE}/api/v2/tickets?page=2>; rel="next"'}))
    pages = [r.json() for r in client.paginate_link_header("/api/v2/tickets", {"per_page": 2})]
    assert pages == [[{"id": 1}, {"id": 2}], [{"id": 3}]]


@respx.mock
def test_next_url_pagination_and_loop_guard(client):
    respx.get(f"{BASE}/api/v2/users.json", params={"page[after]": "c2"}).mock(
        return_value=httpx.Response(200, json={"users": [{"id": 2}], "meta": {"has_more": True},
                                               "links": {"next": f"{BASE}/api/v2/users.json?page[after]=c2"}}))
    respx.get(f"{BASE}/api/v2/users.json").mock(
        return_value=httpx.Response(200, json={"users": [{"id": 1}], "meta": {"has_more": True},
                                               "links": {"next": f"{BASE}/api/v2/users.json?page[after]=c2"}}))
    bodies = []
    with pytest.raises(PaginationLoop, match="stream users: the source repeated the next link"):
        for body in client.paginate_next_url("/api/v2/users.json", next_url=lambda b: b["links"]["next"],
                                             stream="users"):
            bodies.append(body)
    # The second page points at itself: fetched once, then the loop guard stops the stream.
    assert [b["users"][0]["id"] for b in bodies] == [1, 2]


@respx.mock
def test_offset_pagination_stops_on_short_page(client):
    route = respx.get(f"{BASE}/api/v2/contacts").mock(side_effect=[
        httpx.Response(200, json=[{"id": 1}, {"id": 2}]), httpx.Response(200, json=[{"id": 3}])])
    pages = list(client.paginate_offset("/api/v2/contacts", size=2, items=lambda body: body))
    assert pages == [[{"id": 1}, {"id": 2}], [{"id": 3}]]
    assert [dict(c.request.url.params) for c in route.calls] == [
        {"page": "1", "per_page": "2"}, {"page": "2", "per_page": "2"}]


# ---------------------------------------------------------------- limiter

def test_limiter_paces_requests(fake):
    limiter = RateLimiter(60, clock=fake.clock, sleep=fake.sleep)   # one per second, burst 1
    for _ in range(4):
        limiter.acquire()
    assert fake.waits == [1.0, 1.0, 1.0]


def test_limiter_observe_holds_until_reset(fake):
    limiter = RateLimiter(None, clock=fake.clock, sleep=fake.sleep)
    limiter.acquire()
    assert fake.waits == []
    limiter.observe(100, 0, 12)
    limiter.acquire()
    assert fake.waits == [12.0]
    limiter.observe(100, 50, 30)    # plenty left: no pacing
    limiter.acquire()
    assert fake.waits == [12.0]


def test_limiter_observe_spreads_the_last_requests(fake):
    limiter = RateLimiter(None, clock=fake.clock, sleep=fake.sleep)
    limiter.observe(100, 4, 20)     # 4 left in 20 s: one every 5 s
    for _ in range(3):
        limiter.acquire()
    assert fake.waits == [5.0, 5.0]


def test_limiter_observe_lowers_rate_to_vendor_limit(fake):
    limiter = RateLimiter(600, clock=fake.clock, sleep=fake.sleep)
    limiter.observe(60, 55, None)   # Zendesk X-Rate-Limit: 60 per minute
    assert limiter.per_minute == 60


def test_limiter_pause_and_no_op_sleep_never_spins():
    fake_now = [0.0]
    calls: list[float] = []
    limiter = RateLimiter(60, clock=lambda: fake_now[0], sleep=calls.append)
    limiter.pause(10)
    for _ in range(3):
        limiter.acquire()           # time never moves; each acquire still returns
    assert calls[0] == 10.0 and len(calls) == 3


def test_shared_limiter_per_host_across_two_clients(fake):
    a = HttpClient(BASE, rate_limit=60, clock=fake.clock, sleep=fake.sleep)
    b = HttpClient(BASE + "/api/v2", rate_limit=120, clock=fake.clock, sleep=fake.sleep)
    c = HttpClient("https://other.zendesk.com", rate_limit=60, clock=fake.clock, sleep=fake.sleep)
    assert a.limiter is b.limiter is limiter_for("acme.zendesk.com", None, clock=fake.clock)
    assert c.limiter is not a.limiter
    assert a.limiter.per_minute == 60     # the lower of the two asks
    with respx.mock:
        respx.get(url__startswith=BASE).mock(return_value=httpx.Response(200, json={}))
        a.get_json("/x")
        b.get_json("/y")
        a.get_json("/z")
    assert fake.waits == [1.0, 1.0]


def test_rate_limit_headers_from_each_vendor():
    assert rate_limit_info(httpx.Headers({"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "699"})) == (700, 699, None)
    assert rate_limit_info(httpx.Headers({"ratelimit-limit": "100", "ratelimit-remaining": "0",
                                          "ratelimit-reset": "17"})) == (100, 0, 17.0)
    assert rate_limit_info(httpx.Headers({"X-Ratelimit-Total": "200", "X-Ratelimit-Remaining": "3",
                                          "X-Ratelimit-Used-CurrentRequest": "1"})) == (200, 3, None)
    assert parse_retry_after("  12 ") == 12.0 and parse_retry_after("soon") is None


@respx.mock
def test_client_feeds_limiter_from_response_headers(client, fake):
    respx.get(f"{BASE}/a").mock(return_value=httpx.Response(200, json={}, headers={
        "ratelimit-limit": "100", "ratelimit-remaining": "0", "ratelimit-reset": "9"}))
    client.get_json("/a")
    client.get_json("/a")
    assert fake.waits == [9.0]


@respx.mock
def test_multipart_upload_retried_with_same_bytes(client, tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"hello attachment")
    route = respx.post(f"{BASE}/api/v2/uploads").mock(side_effect=[httpx.Response(500), httpx.Response(201, json={})])
    with path.open("rb") as fh:
        client.request("POST", "/api/v2/uploads", files={"file": ("a.txt", fh, "text/plain")})
    assert all(b"hello attachment" in call.request.content for call in route.calls)


def test_limiter_learns_the_window_of_a_fixed_minute_counter(fake):
    limiter = RateLimiter(None, clock=fake.clock, sleep=fake.sleep)
    limiter.observe(100, 5, None)        # window unknown: 5 left is spread over a whole minute
    limiter.acquire()
    limiter.acquire()
    assert fake.waits == [12.0]
    limiter.observe(100, 90, None)       # +85: a new window began (now, at the latest)
    fake.now += 54.0
    limiter.observe(100, 5, None)        # 6 s of this window left for 5 requests
    limiter.acquire()
    limiter.acquire()
    assert fake.waits[-1] == pytest.approx(1.2)
    fake.now += 3.0
    limiter.observe(100, 0, None)        # none left: wait for the window's end, not a whole minute
    limiter.acquire()
    assert fake.waits[-1] == pytest.approx(1.8)


def test_a_paced_client_uses_a_fixed_window_budget_to_the_full(fake):
    """Against a per-minute counter that answers no reset time (how Zendesk and Freshdesk
    count), pacing at the announced rate carries the budget's whole limit every minute without
    being refused: 1,200 requests at 300/min take four windows of the fake clock."""
    from hdmigrate.testing.sandbox.routing import Bucket

    server = Bucket("account", 300, fake.clock)
    fake.now += 17.0                     # the client starts somewhere inside the server's minute
    limiter = RateLimiter(RatePolicy(start=300), clock=fake.clock, sleep=fake.sleep)
    start, refused = fake.now, 0
    for _ in range(1200):
        limiter.acquire()
        usage = server.peek()
        if usage.allowed:
            server.take()
        else:
            refused += 1
        limiter.observe(usage.limit, usage.remaining - usage.allowed, None)
    assert refused == 0
    assert fake.now - start <= 4 * 60.0 + 1.0
