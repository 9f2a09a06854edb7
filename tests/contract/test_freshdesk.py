from hdmigrate.testing.contract import Harness, contract_suite
from tests.contract.harnesses import freshdesk_fixtures, freshdesk_source, freshdesk_target

TestFreshdeskContract = contract_suite(Harness(
    adapter="freshdesk",
    minimal_config={"adapter": "freshdesk", "url": "https://acme.freshdesk.com", "api_key_env": "K"},
    source=freshdesk_source, target=freshdesk_target, fixtures=freshdesk_fixtures))
