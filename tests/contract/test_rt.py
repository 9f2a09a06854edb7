"""The contract suite against a real Request Tracker (request-tracker5, started on loopback the way
tests/real starts it: once for this module). The server-free checks are in test_needs_server.py."""

from hdmigrate.testing.contract import Harness
from tests.contract.harnesses import real_server_suite, rt_real_target

rt_contract_server, TestRtRealContract = real_server_suite(Harness(
    adapter="rt", minimal_config={"adapter": "rt", "url": "http://127.0.0.1:8080", "token_env": "RT_TOKEN"},
    target=rt_real_target), needs_root=True)
