"""Connection checks with a clear message for each way they fail.

An adapter's `check()` raises the project's typed errors; the wizard turns them into one of a few
causes a person can act on: the URL is wrong (or unreachable), the token is wrong, the account
lacks admin rights, or the plan does not include API access. The adapter's own message is kept
underneath (it is already redacted by the HTTP layer).
"""

from __future__ import annotations

from dataclasses import dataclass

from hdmigrate.adapter import AdapterContext
from hdmigrate.errors import ApiError, Cause, ConfigError, HdmError
from hdmigrate.http import status_cause
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

# What each error cause (set by the HTTP layer where the answer was classified) means to a person.
_BY_CAUSE = {
    Cause.AUTH: (BAD_TOKEN, ""),
    Cause.PLAN_FEATURE: (NO_API, ""),
    Cause.PERMISSION: (NO_ADMIN, ""),
    Cause.NOT_FOUND: (BAD_URL, " (no such API at this address)"),
    Cause.BAD_ANSWER: (BAD_URL, " (this address does not answer like the helpdesk's API)"),
    Cause.UNREACHABLE: (BAD_URL, " (cannot reach the address)"),
    Cause.TIMEOUT: (BAD_URL, " (cannot reach the address)"),
}


@dataclass
class CheckFailure:
    cause: str
    detail: str

    def message(self, role: str, adapter: str) -> str:
        return (f"The {role} ({adapter}) connection check failed: {self.cause}.\n"
                f"  {ADVICE[self.cause]}\n  detail: {self.detail}")


def classify(error: BaseException) -> CheckFailure:
    """Map a check() error to a cause a person can act on, by the error's `cause`."""
    text = str(error) or error.__class__.__name__
    cause = getattr(error, "cause", None)
    status = getattr(error, "status", None)
    if cause is None and isinstance(error, ApiError):
        # Raised by an adapter without a cause: the status says it, no status means no answer.
        cause = status_cause(status) if status else Cause.UNREACHABLE
    if isinstance(error, ConfigError):
        return CheckFailure(BAD_URL if cause == Cause.BAD_URL else CONFIG, text)
    if cause == Cause.BAD_URL:
        suffix = " (cannot reach the address)" if status is None else \
            " (this address does not answer like the helpdesk's API)"
        return CheckFailure(BAD_URL, text + suffix)
    if cause in _BY_CAUSE:
        found, suffix = _BY_CAUSE[cause]
        return CheckFailure(found, text + suffix)
    if isinstance(error, OSError):
        return CheckFailure(BAD_URL, f"{text} (cannot reach the address)")
    if isinstance(error, HdmError):
        return CheckFailure(OTHER, text)
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
