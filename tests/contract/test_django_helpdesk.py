"""The contract suite against a real django-helpdesk (started on loopback the way
tests/real starts it: once for this module). The server-free checks are in test_needs_server.py."""

from hdmigrate.testing.contract import Harness
from tests.contract.harnesses import django_helpdesk_real_target, real_server_suite

django_helpdesk_contract_server, TestDjangoHelpdeskRealContract = real_server_suite(Harness(
    adapter="django_helpdesk", minimal_config={"adapter": "django_helpdesk", "url": "http://127.0.0.1:8000",
                                             "username_env": "U", "password_env": "P"},
    target=django_helpdesk_real_target), needs_root=False)
