"""RT and django-helpdesk have no sandbox: their write and source checks need the real servers
that tests/real/conftest.py starts (minutes). Here they run the checks that need no server."""

from hdmigrate.testing.contract import Harness, contract_suite

SERVER = "needs a real server (tests/real starts one, taking minutes): run in tests/real, not here"

TestRtContract = contract_suite(Harness(
    adapter="rt", minimal_config={"adapter": "rt", "url": "http://127.0.0.1:8080", "token_env": "RT_TOKEN"},
    server_needed=SERVER))

TestDjangoHelpdeskContract = contract_suite(Harness(
    adapter="django_helpdesk",
    minimal_config={"adapter": "django_helpdesk", "url": "http://127.0.0.1:8000", "username_env": "U",
                    "password_env": "P"},
    server_needed=SERVER))
