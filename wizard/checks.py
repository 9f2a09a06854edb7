"""Connection checks with a clear message for each way they fail.

An adapter's `check()` raises the project's typed errors; the wizard turns them into one of a few
causes a person can act on: the URL is wrong (or unreachable), the token is wrong, the account
lacks admin rights, or the plan does not include API access. The adapter's own message is kept
underneath (it is already redacted by the HTTP layer).
"""

from __future__ import annotations

from dataclasses import dataclass

from hdmigrate.adapter import AdapterContext
from hdmigrate.errors import (ApiError, ConfigError, FatalApiError, HdmError, RecordRejected,
                              TransientApiError)
from hdmigrate.plan import resolve_secrets

BAD_URL = "bad URL"
BAD_TOKEN = "bad token"
NO_ADMIN = "missing admin rights"
NO_API = "plan without API access"
CONFIG = "configuration"
OTHER = "unexpected answer"

ADVICE = {
    BAD_URL: "Check the address: it must be the helpdesk's own URL (e.g. https://acme.zendesk.com), "
             "reachable from this machine.",
    BAD_TOKEN: "The helpdesk refused the credentials: check the user/email and the API token or key "
               "(and that the environment variable you named holds the right one).",
    NO_ADMIN: "The credentials work but belong to a user without admin rights; exports and imports "
              "need an administrator's token.",
    NO_API: "The account's plan does not include API access; upgrade it or ask the vendor to enable "
            "the API for the migration.",
    CONFIG: "Fix the setting named above.",
    OTHER: "The helpdesk answered in a way hdmigrate did not expect; the detail above says how.",
}

_PLAN_WORDS = ("plan", "api access", "apiaccess", "not available on your", "subscription", "feature")
_CONNECT_WORDS = ("connecterror", "connecttimeout", "name or service not known", "nodename",
                  "connection refused", "unreachable", "getaddrinfo", "temporary failure in name",
                  "timed out", "readtimeout")


@dataclass
class CheckFailure:
    cause: str
    detail: str

    def message(self, role: str, adapter: str) -> str:
        return (f"The {role} ({adapter}) connection check failed: {self.cause}.\n"
                f"  {ADVICE[self.cause]}\n  detail: {self.detail}")


def classify(error: BaseException) -> CheckFailure:
    """Map a check() error to a cause a person can act on."""
    text = str(error) or error.__class__.__name__
    low = text.lower()
    status = getattr(error, "status", None)
    excerpt = (getattr(error, "excerpt", None) or "").lower()
    if isinstance(error, ConfigError):
        if any(w in low for w in ("url", "scheme", "plain http", "https")):
            return CheckFailure(BAD_URL, text)
        return CheckFailure(CONFIG, text)
    if isinstance(error, ApiError):
        if status == 401 or "credentials" in low or "did not return an agent" in low:
            return CheckFailure(BAD_TOKEN, text)
        if status == 402 or (status == 403 and any(w in low or w in excerpt for w in _PLAN_WORDS)):
            return CheckFailure(NO_API, text)
        if status == 403 or "admin" in low:
            return CheckFailure(NO_ADMIN, text)
        if isinstance(error, RecordRejected) and status in (404, 405):
            return CheckFailure(BAD_URL, f"{text} (no such API at this address)")
        if "expected json" in low or status in (301, 302, 404):
            return CheckFailure(BAD_URL, f"{text} (this address does not answer like the helpdesk's API)")
        if isinstance(error, TransientApiError) and (status is None or any(w in low for w in _CONNECT_WORDS)):
            return CheckFailure(BAD_URL, f"{text} (cannot reach the address)")
        if isinstance(error, FatalApiError) and any(w in low for w in _CONNECT_WORDS):
            return CheckFailure(BAD_URL, f"{text} (cannot reach the address)")
        return CheckFailure(OTHER, text)
    if isinstance(error, OSError) or any(w in low for w in _CONNECT_WORDS):
        return CheckFailure(BAD_URL, f"{text} (cannot reach the address)")
    return CheckFailure(OTHER, f"{error.__class__.__name__}: {text}")


def check_side(spec, role: str, section: dict, workdir, log=None, rate_limit=None) -> CheckFailure | None:
    """Build the adapter for one side of the plan and run its check(); None when it passed.
    `rate_limit` must be the plan's: the HTTP layer shares one limiter per host per process and
    keeps the lowest rate any client asked for."""
    adapter = None
    try:
        adapter = open_adapter(spec, role, section, workdir, log, rate_limit)
        adapter.check()
        return None
    except KeyboardInterrupt:
        raise
    except (HdmError, OSError) as e:
        return classify(e)
    except Exception as e:  # noqa: BLE001 - an adapter bug during the check is shown, not raised
        return classify(e)
    finally:
        if adapter is not None:
            try:
                adapter.close()
            except Exception:  # noqa: BLE001
                pass


def open_adapter(spec, role: str, section: dict, workdir, log=None, rate_limit=None):
    """The adapter for one side (checks, discovery); the caller closes it."""
    secrets = resolve_secrets(section, f"[{role}]")
    ctx = AdapterContext(config=dict(section), secrets=secrets, options={}, mapping={},
                         workdir=workdir, role=role, log=log or (lambda m: None), rate_limit=rate_limit)
    cls = spec.source if role == "source" else spec.target
    return cls(ctx)
