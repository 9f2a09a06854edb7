"""Every error the HTTP layer raises carries a `Cause`, set once where the answer or the transport
failure is classified; adapters read their vendor's error bodies through one hook
(`vendor_cause`); the wizard's checks act on the cause, not on words in the message."""

from __future__ import annotations

import httpx
import pytest
import respx

from adapters.freshdesk.client import FreshdeskClient
from adapters.zendesk.client import vendor_cause as zendesk_cause
from hdmigrate.errors import (ApiError, Cause, ConfigError, FatalApiError, RecordError, RecordRejected,
                              TransientApiError)
from hdmigrate.http import (DeadlineExceeded, HttpClient, PaginationLoop, ResponseTooLarge, UrlRefused,
                            check_url_scheme)
from hdmigrate.testing.hostile import HostileServer, free_port
from wizard import checks

BASE = "https://acme.zendesk.com"


def client(**kw) -> HttpClient:
    return HttpClient(BASE, sleep=lambda s: None, max_attempts=2, **kw)


@pytest.mark.parametrize("status, kind, cause", [
    (401, FatalApiError, Cause.AUTH),
    (402, FatalApiError, Cause.PLAN_FEATURE),
    (403, FatalApiError, Cause.PERMISSION),
    (404, RecordRejected, Cause.NOT_FOUND),
    (405, FatalApiError, Cause.BAD_URL),
    (302, FatalApiError, Cause.BAD_URL),
    (400, RecordRejected, Cause.INVALID_REQUEST),
    (422, RecordRejected, Cause.INVALID_REQUEST),
    (429, TransientApiError, Cause.RATE_LIMIT),
    (503, TransientApiError, Cause.SERVER),
    (418, FatalApiError, Cause.BAD_ANSWER),
])
@respx.mock
def test_each_status_sets_its_cause(status, kind, cause):
    respx.get(f"{BASE}/x").mock(return_value=httpx.Response(status, json={"error": "no"}))
    with client() as c, pytest.raises(kind) as info:
        c.get_json("/x")
    assert info.value.cause == cause and info.value.status == status


@respx.mock
def test_transport_failures_and_bad_answers_set_their_cause():
    respx.get(f"{BASE}/timeout").mock(side_effect=httpx.ReadTimeout("slow"))
    respx.get(f"{BASE}/drop").mock(side_effect=httpx.RemoteProtocolError("dropped"))
    respx.get(f"{BASE}/html").mock(return_value=httpx.Response(200, text="<html>login</html>"))
    respx.post(f"{BASE}/write").mock(side_effect=httpx.ReadTimeout("slow"))
    with client() as c:
        for path, cause in (("/timeout", Cause.TIMEOUT), ("/drop", Cause.UNREACHABLE), ("/html", Cause.BAD_ANSWER)):
            with pytest.raises(ApiError) as info:
                c.get_json(path)
            assert info.value.cause == cause, path
        with pytest.raises(TransientApiError) as info:
            c.request("POST", "/write", json={}, idempotent=False)
        assert info.value.cause == Cause.TIMEOUT
    with pytest.raises(ConfigError) as info:
        check_url_scheme("http://example.com/api")
    assert info.value.cause == Cause.BAD_URL


def test_unreachable_host_is_a_bad_url():
    with HttpClient(f"http://127.0.0.1:{free_port()}", max_attempts=3, backoff_initial=0.01) as c, \
            pytest.raises(TransientApiError) as info:
        c.get_json("/api")
    assert info.value.cause == Cause.BAD_URL


def test_hostile_answers_carry_their_cause():
    with HostileServer() as server, HttpClient(server.url, sleep=lambda s: None, max_attempts=1,
                                               max_body_bytes=64 * 1024, deadline=0.3) as c:
        server.add("/endless", "endless_json")
        server.add("/slow", "trickle", size=100, every=0.05)
        with pytest.raises(ResponseTooLarge) as too_large:
            c.get_json("/endless")
        with pytest.raises(DeadlineExceeded) as slow:
            c.get_json("/slow")
        with pytest.raises(UrlRefused) as refused:
            c.download("http://10.0.0.1/secret")
    assert (too_large.value.cause, slow.value.cause, refused.value.cause) == (
        Cause.TOO_LARGE, Cause.TIMEOUT, Cause.REFUSED_URL)
    assert PaginationLoop("loop", stream="tickets").cause == Cause.PAGINATION_LOOP


@respx.mock
def test_a_vendor_hook_names_a_plan_feature_behind_a_403():
    respx.get(f"{BASE}/api/v2/users/me").mock(return_value=httpx.Response(
        403, json={"error": "APIAccessDenied", "description": "API access is not available on your plan"}))
    respx.get(f"{BASE}/api/v2/groups").mock(return_value=httpx.Response(403, json={"error": "Forbidden"}))
    with client(vendor_cause=zendesk_cause) as c:
        with pytest.raises(FatalApiError, match="plan lacks the feature") as plan:
            c.get_json("/api/v2/users/me")
        with pytest.raises(FatalApiError, match="missing rights") as rights:
            c.get_json("/api/v2/groups")
    assert (plan.value.cause, rights.value.cause) == (Cause.PLAN_FEATURE, Cause.PERMISSION)
    assert checks.classify(plan.value).cause == checks.NO_API
    assert checks.classify(rights.value).cause == checks.NO_ADMIN


@respx.mock
def test_freshdesk_error_codes_set_the_cause():
    root = "https://acme.freshdesk.com/api/v2"
    respx.get(f"{root}/automations").mock(return_value=httpx.Response(403, json={
        "code": "require_feature", "message": "The Automations feature is not supported in your plan"}))
    respx.get(f"{root}/agents/me").mock(return_value=httpx.Response(401, json={
        "code": "invalid_credentials", "message": "You have to be logged in to perform this action."}))
    fd = FreshdeskClient("https://acme.freshdesk.com", "fd-api-key-123", sleep=lambda s: None)
    with pytest.raises(FatalApiError) as feature:
        fd.get_json("automations")
    with pytest.raises(FatalApiError) as auth:
        fd.get_json("agents/me")
    assert (feature.value.cause, auth.value.cause) == (Cause.PLAN_FEATURE, Cause.AUTH)
    assert checks.classify(feature.value).cause == checks.NO_API


def test_the_wizard_reads_the_cause_not_the_words():
    # A message that says "credentials" but a cause that says the address is wrong, and back.
    misleading = FatalApiError("the credentials page answered HTML", status=200, cause=Cause.BAD_ANSWER)
    assert checks.classify(misleading).cause == checks.BAD_URL
    plain = FatalApiError("HTTP 403 on /imports: upgrade your plan", status=403, cause=Cause.PERMISSION)
    assert checks.classify(plain).cause == checks.NO_ADMIN
    assert checks.classify(RecordError("x", cause=Cause.TOO_LARGE)).cause == checks.OTHER
