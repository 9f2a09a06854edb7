from hdmigrate.testing.contract import Harness, contract_suite
from tests.contract.harnesses import helpscout_fixtures, helpscout_source, helpscout_target

TestHelpScoutContract = contract_suite(Harness(
    adapter="helpscout",
    minimal_config={"adapter": "helpscout", "app_id_env": "I", "app_secret_env": "S"},
    source=helpscout_source, target=helpscout_target, fixtures=helpscout_fixtures))
