"""Rate limits learned from the account (issue 16.1): a budget starts from the documented
default, adopts the per-minute limit the vendor's headers announce, up and down, never above
the plan's ceiling, and says once which rate it uses. `run --dry-run` and the wizard print the
same per-budget estimate."""

from __future__ import annotations

import httpx
import pytest
import respx

from adapters.freshdesk.client import FreshdeskClient
from hdmigrate import estimate
from hdmigrate.errors import ConfigError
from hdmigrate.http import HttpClient, RatePolicy, policy_for

BASE = "https://acme.freshdesk.com"


def _client(policy, logs):
    return HttpClient(BASE, rate_limit=policy, sleep=lambda s: None, log=logs.append)


@pytest.mark.parametrize("configured, default, expected", [
    (None, 200.0, RatePolicy(start=200.0)),
    (700, 200.0, RatePolicy(start=700.0, ceiling=700.0)),
    ("80%", 200.0, RatePolicy(start=160.0, share=0.8)),
    (" 50 % ", None, RatePolicy(start=None, share=0.5)),
])
def test_the_plan_value_becomes_a_policy(configured, default, expected):
    assert policy_for(configured, default) == expected


@pytest.mark.parametrize("bad", ["fast", "0%", "150%", 0, -5, True])
def test_a_bad_rate_limit_is_a_clear_config_error(bad):
    with pytest.raises(ConfigError, match="rate_limit"):
        policy_for(bad, 200.0)


@respx.mock
def test_an_announced_higher_limit_is_adopted_and_said_once():
    respx.get(f"{BASE}/api/v2/tickets").mock(return_value=httpx.Response(
        200, json=[], headers={"X-Ratelimit-Total": "700", "X-Ratelimit-Remaining": "699"}))
    logs: list[str] = []
    client = _client(policy_for(None, 200.0), logs)
    assert client.limiter.per_minute == 200.0
    for _ in range(3):
        client.get("api/v2/tickets")
    assert client.limiter.per_minute == 700.0
    said = [m for m in logs if "rate limit" in m]
    assert said == ["rate limit for acme.freshdesk.com: 700 requests/min (700/min announced by the server)"]


@respx.mock
def test_a_lower_announcement_lowers_and_the_ceiling_holds():
    route = respx.get(f"{BASE}/x").mock(side_effect=[
        httpx.Response(200, headers={"X-Ratelimit-Total": "3000", "X-Ratelimit-Remaining": "2999"}),
        httpx.Response(200, headers={"X-Ratelimit-Total": "100", "X-Ratelimit-Remaining": "99"})])
    logs: list[str] = []
    client = _client(policy_for(400, 200.0), logs)
    assert client.limiter.per_minute == 400.0          # the plan's number is the starting rate
    client.get("x")
    assert client.limiter.per_minute == 400.0          # 3,000 announced: the ceiling holds
    client.get("x")
    assert client.limiter.per_minute == 100.0          # the account says less: follow it down
    assert route.call_count == 2
    assert "capped by the plan's rate_limit 400" in logs[0]


@respx.mock
def test_a_share_leaves_headroom_for_live_traffic():
    respx.get(f"{BASE}/x").mock(return_value=httpx.Response(
        200, headers={"X-Ratelimit-Total": "700", "X-Ratelimit-Remaining": "650"}))
    logs: list[str] = []
    client = _client(policy_for("80%", 200.0), logs)
    assert client.limiter.per_minute == 160.0
    client.get("x")
    assert client.limiter.per_minute == 560.0
    assert "80% of it used" in logs[0]


@respx.mock
def test_a_plain_rate_only_ever_lowers():
    # Clients built by hand with a number (sandbox tools, tests) keep today's rule.
    respx.get(f"{BASE}/x").mock(return_value=httpx.Response(200, headers={"X-Ratelimit-Total": "3000"}))
    client = HttpClient(BASE, rate_limit=300, sleep=lambda s: None)
    client.get("x")
    assert client.limiter.per_minute == 300


@respx.mock
def test_freshdesk_endpoint_classes_learn_from_their_own_answers():
    respx.get(f"{BASE}/api/v2/contacts").mock(return_value=httpx.Response(
        200, json=[], headers={"X-Ratelimit-Total": "280", "X-Ratelimit-Remaining": "279"}))
    respx.get(f"{BASE}/api/v2/groups").mock(return_value=httpx.Response(
        200, json=[], headers={"X-Ratelimit-Total": "700", "X-Ratelimit-Remaining": "699"}))
    said = []
    fd = FreshdeskClient(BASE, "key-123456789", rate_limit=policy_for(None, 200.0), log=said.append)
    contacts_before = fd._by_class["contacts_list"].limiter.per_minute
    fd.get("contacts")
    fd.get("groups")
    assert fd._by_class["contacts_list"].limiter.per_minute == 280 != contacts_before
    assert fd.account_limiter.per_minute == 700
    # each budget says the limit it uses, by name (before: the Freshdesk clients had no log)
    host = BASE.split("://")[1]
    assert any(line.startswith(f"rate limit for {host}#contacts_list: 280 requests/min") for line in said), said
    assert any(line.startswith(f"rate limit for {host}: 700 requests/min") for line in said), said


class _Target:
    batch_sizes = {"contact": 100}
    bundles_comments = False
    default_rate_limit = 200.0

    @staticmethod
    def endpoint_budgets(by_kind, rate):
        return {"create": (sum(by_kind.values()), rate * 0.8)}


class _Source:
    default_rate_limit = 700.0


def test_the_estimate_names_each_budget_and_the_binding_one():
    summary = {"kinds": {"contact": {"created": 250}, "ticket": {"created": 120}, "comment": {"created": 600},
                         "attachment": {"created": 30}}}
    est = estimate.estimate(summary, source_pages=70, source_cls=_Source, target_cls=_Target,
                            rate_limits={"target": "50%"})
    assert est["budgets"]["source"] == {"requests": 100, "rate": 700.0, "minutes": 0.1}
    assert est["budgets"]["target"]["requests"] == 3 + 120 + 600 + 30
    assert est["budgets"]["target"]["rate"] == 100.0
    assert est["budgets"]["target create"]["rate"] == 80.0
    assert est["binding"] == "target create"
    assert est["minutes"] == round(0.1 + 753 / 80, 1)
    lines = estimate.render(est)
    assert lines[0].startswith("Estimate: about 10 minutes") and "binding: target create" in lines[0]
    assert any(line.strip().startswith("target create") for line in lines)


def test_the_freshdesk_estimate_is_bound_by_its_create_budget():
    """The real target declares its per-endpoint split: on Growth (200/min) creates get 80/min."""
    from adapters.freshdesk.target import FreshdeskTarget
    from adapters.zendesk.source import ZendeskSource

    summary = {"kinds": {"ticket": {"created": 400}, "comment": {"created": 400}}}
    est = estimate.estimate(summary, source_pages=10, source_cls=ZendeskSource, target_cls=FreshdeskTarget)
    assert est["budgets"]["target create"] == {"requests": 800, "rate": 80, "minutes": 10.0}
    assert est["binding"] == "target create"
