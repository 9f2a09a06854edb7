from hdmigrate.testing.contract import Harness, contract_suite
from tests.contract.harnesses import jsonl_source, jsonl_target

TestJsonlContract = contract_suite(Harness(
    adapter="jsonl", minimal_config={"adapter": "jsonl", "path": "dump"},
    source=jsonl_source, target=jsonl_target))
