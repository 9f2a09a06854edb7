from hdmigrate.testing.contract import Harness, contract_suite
from tests.contract.harnesses import zendesk_fixtures, zendesk_source, zendesk_target

TestZendeskContract = contract_suite(Harness(
    adapter="zendesk",
    minimal_config={"adapter": "zendesk", "url": "https://acme.zendesk.com", "email_env": "E", "token_env": "T"},
    source=zendesk_source, target=zendesk_target, fixtures=zendesk_fixtures))
