"""The contract suite against a real Request Tracker (request-tracker5, started on loopback the way
tests/real starts it: once for this module). The server-free checks are in test_needs_server.py."""

import pytest

from hdmigrate.testing.contract import Harness, contract_suite
from tests.contract.harnesses import REAL_SERVERS, rt_real_target


@pytest.fixture(scope="module")
def rt_contract_server(shared_dir):
    from tests.real.conftest import _server, _stop
    REAL_SERVERS["rt"] = _server(shared_dir, "rt", "contract", True)
    yield REAL_SERVERS["rt"]
    REAL_SERVERS.pop("rt", None)
    _stop(shared_dir, "rt", "contract")


TestRtRealContract = pytest.mark.slow(pytest.mark.real_helpdesk(pytest.mark.usefixtures("rt_contract_server")(contract_suite(Harness(
    adapter="rt", minimal_config={"adapter": "rt", "url": "http://127.0.0.1:8080", "token_env": "RT_TOKEN"},
    target=rt_real_target,
    known_defects={
        "dry_run": "found by this suite, not fixed yet: only the real write records matched_existing (people "
                   "the server already holds) and author_not_preserved for the opening message (deb12u7 drops "
                   "Creator, learned from the read-back); the dry run cannot predict either",
    })))))
