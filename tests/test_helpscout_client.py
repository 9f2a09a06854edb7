"""The Help Scout client at unit level (respx): token fetched once and again on a 401, 429 with
Help Scout's X-RateLimit-Retry-After, HAL pages followed to the last, errors read, the token and
the secret never in a message."""

from __future__ import annotations

import itertools

import httpx
import pytest
import respx

from adapters.helpscout.client import HelpScoutClient, error_summary
from hdmigrate.adapter import AdapterContext
from hdmigrate.errors import Cause, FatalApiError, RecordRejected

SECRET = "app-secret-0123456789abcdef"
_hosts = itertools.count(1)


def _client(slept: list[float] | None = None) -> tuple[HelpScoutClient, str]:
    base = f"https://hs{next(_hosts)}.helpscout.test"     # one host per test: limiters are per host
    ctx = AdapterContext(config={"url": base}, secrets={"app_id": "app-id-1", "app_secret": SECRET})
    sink = slept if slept is not None else []
    return HelpScoutClient(ctx, transport=httpx.HTTPTransport(), sleep=sink.append), base


def _tokens(mock, base: str):
    issued = iter(f"token-{n:04d}-abcdefgh" for n in itertools.count(1))
    return mock.post(f"{base}/v2/oauth2/token").mock(
        side_effect=lambda request: httpx.Response(200, json={"token_type": "bearer", "access_token": next(issued),
                                                               "expires_in": 7200}))


def test_the_token_comes_once_and_again_after_a_401():
    client, base = _client()
    with respx.mock(assert_all_called=False) as mock:
        token_route = _tokens(mock, base)
        seen = []

        def users(request):
            seen.append(request.headers["authorization"])
            if len(seen) == 2:      # the first token expires after one call
                return httpx.Response(401, json={"error": "invalid_token"})
            return httpx.Response(200, json={"id": 1})

        mock.get(f"{base}/v2/users/me").mock(side_effect=users)
        assert client.get_json("/v2/users/me") == {"id": 1}
        assert client.get_json("/v2/users/me") == {"id": 1}
        form = token_route.calls[0].request.content.decode()
    assert token_route.call_count == 2
    assert seen == ["Bearer token-0001-abcdefgh", "Bearer token-0001-abcdefgh", "Bearer token-0002-abcdefgh"]
    assert "grant_type=client_credentials" in form and "client_id=app-id-1" in form


def test_a_401_after_a_fresh_token_stops_the_run():
    client, base = _client()
    with respx.mock(assert_all_called=False) as mock:
        _tokens(mock, base)
        mock.get(f"{base}/v2/users/me").mock(return_value=httpx.Response(401, json={"error": "invalid_token"}))
        with pytest.raises(FatalApiError) as raised:
            client.get_json("/v2/users/me")
    assert raised.value.status == 401
    assert "token-0002" not in str(raised.value) and SECRET not in str(raised.value)


@pytest.mark.parametrize("status", [400, 401])
def test_refused_credentials_are_one_clear_error_without_the_secret(status):
    # 400 {"status": 400, "message": "<id> is not a valid API Key"} is the recorded v2 token failure
    client, base = _client()
    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{base}/v2/oauth2/token").mock(return_value=httpx.Response(
            status, json={"status": status, "message": f"{SECRET} is not a valid API Key"}))
        with pytest.raises(FatalApiError, match="refused the app id and secret") as raised:
            client.get_json("/v2/mailboxes")
    assert SECRET not in str(raised.value)
    assert raised.value.cause == Cause.AUTH and raised.value.status == status   # a bad credential, not a bad request


def test_429_waits_for_x_ratelimit_retry_after():
    slept: list[float] = []
    client, base = _client(slept)
    with respx.mock(assert_all_called=False) as mock:
        _tokens(mock, base)
        mock.get(f"{base}/v2/mailboxes").mock(side_effect=[
            httpx.Response(429, json={"message": "Rate limit exceeded"},
                           headers={"X-RateLimit-Retry-After": "7", "X-RateLimit-Limit-Minute": "200",
                                    "X-RateLimit-Remaining-Minute": "0"}),
            httpx.Response(200, json={"_embedded": {"mailboxes": [{"id": 1}]}, "page": {"number": 1, "totalPages": 1}})])
        items, last = client.page("/v2/mailboxes", "mailboxes")
    assert items == [{"id": 1}] and last
    assert 6.5 <= sum(slept) <= 7.5, slept     # the 7 s asked for (measured from the answer)


def test_hal_pages_are_followed_to_the_last():
    client, base = _client()
    with respx.mock(assert_all_called=False) as mock:
        _tokens(mock, base)

        def page(request):
            n = int(request.url.params["page"])
            links = {"self": {"href": "x"}} | ({"next": {"href": "y"}} if n < 3 else {})
            return httpx.Response(200, json={"_embedded": {"customers": [{"id": n * 10}, {"id": n * 10 + 1}]},
                                             "_links": links, "page": {"size": 2, "totalElements": 6,
                                                                       "totalPages": 3, "number": n}})

        route = mock.get(f"{base}/v2/customers").mock(side_effect=page)
        pages = list(client.pages("/v2/customers", "customers", {"query": "(email:\"a@b.c\")"}))
    assert [(n, [i["id"] for i in items], last) for n, items, last in pages] == \
        [(1, [10, 11], False), (2, [20, 21], False), (3, [30, 31], True)]
    assert all(c.request.url.params["query"] == '(email:"a@b.c")' for c in route.calls)


def test_a_resumed_stream_starts_at_its_page():
    client, base = _client()
    with respx.mock(assert_all_called=False) as mock:
        _tokens(mock, base)
        route = mock.get(f"{base}/v2/users").mock(return_value=httpx.Response(200, json={
            "_embedded": {"users": [{"id": 5}]}, "_links": {}, "page": {"number": 4, "totalPages": 4}}))
        assert [n for n, _, _ in client.pages("/v2/users", "users", start=4)] == [4]
    assert route.calls[0].request.url.params["page"] == "4"


def test_a_created_resource_is_read_from_resource_id_and_an_error_body_is_named():
    client, base = _client()
    with respx.mock(assert_all_called=False) as mock:
        _tokens(mock, base)
        mock.post(f"{base}/v2/customers").mock(side_effect=[
            httpx.Response(201, headers={"Resource-ID": "4242", "Location": f"{base}/v2/customers/4242"}),
            httpx.Response(400, json={"logRef": "abc", "message": "Bad request", "_embedded": {"errors": [
                {"path": "firstName", "message": "may not be empty", "source": "JSON"}]}})])
        assert client.create("/v2/customers", {"firstName": "A"}) == "4242"
        with pytest.raises(RecordRejected) as raised:
            client.create("/v2/customers", {})
    assert "firstName" in str(raised.value)
    assert error_summary({"logRef": "abc", "message": "Bad request", "_embedded": {"errors": [
        {"path": "firstName", "message": "may not be empty"}]}}) == "Bad request; firstName: may not be empty; logRef abc"


def _paced(rate) -> tuple[HelpScoutClient, str, list[float]]:
    """A client on a fake clock: sleeping advances it, so the limiter's schedule is read exactly."""
    now = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    base = f"https://hs{next(_hosts)}.helpscout.test"
    ctx = AdapterContext(config={"url": base}, secrets={"app_id": "app-id-1", "app_secret": SECRET}, rate_limit=rate)
    return HelpScoutClient(ctx, transport=httpx.HTTPTransport(), clock=lambda: now[0], sleep=sleep), base, slept


def test_a_write_takes_two_slots_of_the_minute_budget():
    # "Write requests (POST, PUT, DELETE, PATCH) count as 2 requests toward the rate limit"
    client, base, slept = _paced(60.0)           # one slot a second, no burst
    with respx.mock(assert_all_called=False) as mock:
        _tokens(mock, base)
        mock.get(f"{base}/v2/users/me").mock(return_value=httpx.Response(200, json={"id": 1}))
        mock.post(f"{base}/v2/customers").mock(return_value=httpx.Response(201, headers={"Resource-ID": "7"}))
        mock.patch(f"{base}/v2/conversations/3").mock(return_value=httpx.Response(204))
        client.get_json("/v2/users/me")          # token (1 slot) + read (1)
        client.create("/v2/customers", {"firstName": "A"})                   # 2
        client.request("PATCH", "/v2/conversations/3", json={"op": "replace"})   # 2
    # 6 slots at 1/s: the last one goes 5 s after the first (3 s if a write counted once)
    assert sum(slept) == pytest.approx(5.0)
    assert client.write_slots == 2


def test_the_budget_is_learned_from_x_ratelimit_limit_minute():
    from hdmigrate.http import RatePolicy

    client, base, _ = _paced(RatePolicy(start=200.0))     # no [run] rate_limit: learn freely
    with respx.mock(assert_all_called=False) as mock:
        _tokens(mock, base)
        mock.get(f"{base}/v2/users/me").mock(return_value=httpx.Response(
            200, json={"id": 1}, headers={"X-RateLimit-Limit-Minute": "400", "X-RateLimit-Remaining-Minute": "398"}))
        client.get_json("/v2/users/me")
    assert client.http.limiter.per_minute == 400.0 and client.http.limiter.announced == 400
    capped, base, _ = _paced(RatePolicy(start=100.0, ceiling=100.0))   # rate_limit = 100: never above
    with respx.mock(assert_all_called=False) as mock:
        _tokens(mock, base)
        mock.get(f"{base}/v2/users/me").mock(return_value=httpx.Response(
            200, json={"id": 1}, headers={"X-RateLimit-Limit-Minute": "800", "X-RateLimit-Remaining-Minute": "790"}))
        capped.get_json("/v2/users/me")
    assert capped.http.limiter.per_minute == 100.0


def test_a_412_fails_the_record_not_the_run_and_help_scouts_errors_are_named():
    # 412: a conversation that takes no more threads (threads/update page) refuses that one write
    client, base = _client()
    with respx.mock(assert_all_called=False) as mock:
        _tokens(mock, base)
        mock.post(f"{base}/v2/conversations/9/notes").mock(return_value=httpx.Response(
            412, json={"logRef": "r-1", "message": "Conversation is locked"}))
        mock.post(f"{base}/v2/conversations").mock(return_value=httpx.Response(400, json={
            "logRef": "r-2", "message": "Bad request", "_embedded": {"errors": [
                {"path": "threads[0].text", "message": "may not be empty", "rejectedValue": "", "source": "JSON"}]}}))
        with pytest.raises(RecordRejected) as locked:
            client.request("POST", "/v2/conversations/9/notes", json={"text": "x", "imported": True})
        with pytest.raises(RecordRejected) as refused:
            client.create("/v2/conversations", {"subject": "s"})
    assert locked.value.status == 412 and "Conversation is locked; logRef r-1" in str(locked.value)
    assert "Bad request; threads[0].text: may not be empty; logRef r-2" in str(refused.value)
