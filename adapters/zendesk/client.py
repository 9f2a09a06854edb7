"""Building the HTTP client for one Zendesk account (hdmigrate.http does retries and pacing)."""

from __future__ import annotations

import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import httpx
import tenacity

from hdmigrate.adapter import AdapterContext
from hdmigrate.errors import Cause, ConfigError, FatalApiError, TransientApiError
from hdmigrate.http import HttpClient

DEFAULT_RATE_LIMIT = 700.0   # requests per minute (Enterprise); the plan's [run] rate_limit wins
# Where attachment content_urls live: the account's own host redirects to zdusercontent.com.
ATTACHMENT_HOSTS = ("*.zendesk.com", "*.zdusercontent.com")

CONFIG_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "zendesk adapter settings",
    "type": "object",
    "required": ["adapter", "url", "email_env", "token_env"],
    "properties": {
        "adapter": {"const": "zendesk"},
        "url": {"type": "string", "pattern": "^https?://",
                "description": "Base URL of the account, e.g. https://acme.zendesk.com"},
        "email_env": {"type": "string", "minLength": 1,
                      "description": "Environment variable holding the admin's email"},
        "token_env": {"type": "string", "minLength": 1,
                      "description": "Environment variable holding the API token"},
        "archive_immediately": {"type": "boolean", "default": False,
                                "description": "Target: closed tickets go straight to the archive "
                                               "(Zendesk suggests it above 750k tickets)"},
        "page_size": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1000,
                      "description": "Source: items per incremental export page"},
        "job_poll_seconds": {"type": "number", "minimum": 0, "default": 1.0,
                             "description": "Target: first wait between job status polls"},
        "job_timeout_seconds": {"type": "number", "minimum": 1, "default": 900},
    },
    "additionalProperties": True,
}


def vendor_cause(status: int, body: Any) -> Cause | None:
    """Zendesk's error bodies: APIAccessDenied means the plan has no API access."""
    error = body.get("error") if isinstance(body, dict) else None
    if status == 403 and error == "APIAccessDenied":
        return Cause.PLAN_FEATURE
    return None


def requester_collision(response: Any) -> bool:
    """Zendesk answers an import or user create racing another on the same new requester with
    409 "Requester creation collision - please try again" (plain text; recorded by its Ruby
    client). Nothing was created: sending the request again is safe, even a create's."""
    if not isinstance(response, httpx.Response) or response.status_code != 409:
        return False
    try:
        return "requester creation collision" in response.text.lower()
    except (httpx.ResponseNotRead, UnicodeDecodeError):
        return False


class ZendeskHttpClient(HttpClient):
    """The HTTP layer's retry rule (hdmigrate.http.retrying), plus Zendesk's one answer that
    says "nothing happened, try again" besides 429 and 5xx: the requester creation collision.
    It is retried like them (backoff, at most max_attempts), also for creates
    (`idempotent=False`); after the last attempt it is a TransientApiError (status 409) the engine
    tries once more at the end of the kind."""

    def _retrying(self, allow: Collection[int], idempotent: bool = True) -> tenacity.Retrying:
        retrying = super()._retrying(allow, idempotent)
        rule = retrying.retry

        def retry(state: tenacity.RetryCallState) -> bool:
            outcome = state.outcome
            return rule(state) or (not outcome.failed and requester_collision(outcome.result()))
        return retrying.copy(retry=retry)


def make_client(ctx: AdapterContext, transport: Any = None, **kw: Any) -> HttpClient:
    url = (ctx.config.get("url") or "").rstrip("/")
    if not url:
        raise ConfigError(f"zendesk {ctx.role}: `url` is required (e.g. https://acme.zendesk.com)")
    email = ctx.secrets.get("email")
    token = ctx.secrets.get("token")
    if not email or not token:
        raise ConfigError(f"zendesk {ctx.role}: the email and token (email_env, token_env) are required")
    return ZendeskHttpClient(url, auth=(f"{email}/token", token),
                             rate_limit=ctx.rate_limit or DEFAULT_RATE_LIMIT, transport=transport,
                             secrets=[token], log=ctx.log,
                             headers={"Accept": "application/json", "User-Agent": "hdmigrate-zendesk"},
                             attachment_hosts=ATTACHMENT_HOSTS, vendor_cause=vendor_cause,
                             throttle_class=throttle_class, **kw)


def throttle_class(path: str) -> str | None:
    """Incremental exports have a budget of their own (10 requests a minute, 30 with the
    High Volume add-on) beside the account's, and a 429 of their own ("Number of allowed
    incremental export API requests per minute exceeded"): it pauses the exports only, not
    the downloads and lists that share the account."""
    return "incremental" if "/api/v2/incremental/" in path else None


def check_account(client: HttpClient) -> dict:
    """GET /users/me. Zendesk answers bad credentials with 200 and an anonymous user (id null)."""
    body = client.get_json("/api/v2/users/me") or {}
    me = body.get("user") or {}
    if me.get("id") is None:
        raise FatalApiError(f"{client.base_url}: Zendesk did not accept the credentials (it answered "
                            "with an anonymous user); check the email and API token", status=200,
                            cause=Cause.AUTH)
    if me.get("role") != "admin":
        raise FatalApiError(f"{client.base_url}: {me.get('email')} is {me.get('role')!r}; exports and "
                            "imports need an admin", status=403,
                            cause=Cause.PERMISSION)
    return me


JOB_DONE = ("completed", "failed", "killed")
SHOW_MANY_MAX = 100     # ids per show_many request (Zendesk documents no limit; stay modest)
MIN_WAIT = 0.05         # no job is polled sooner than this after its POST or last poll
MAX_WAIT = 10.0
SMOOTHING = 0.5         # weight of the newest job in the learned seconds per item
EARLY = 0.25            # a round may poll a job this share of its wait early (so lanes share it)


@dataclass(eq=False)
class _Watch:
    id: str
    kind: str
    items: int
    start: float        # the POST's answer
    deadline: float
    due: float = 0.0    # the next poll of this job
    early: float = 0.0  # how much sooner a round may count as that poll
    wait: float = 0.0   # the wait after a due poll that finds it unfinished
    status: dict | None = None
    error: Exception | None = None

    def plan(self, now: float, wait: float) -> None:
        self.due = min(now + wait, self.deadline)
        self.early = EARLY * wait


class JobWatcher:
    """Waits for the bulk jobs of all lanes (threads) of one target together.

    Every lane registers its job and waits; one of them at a time polls all outstanding jobs with
    one GET /api/v2/job_statuses/show_many?ids=… and hands each waiter its job's status, the
    others wait on a condition. A job's first poll is planned at its expected end: items × the
    seconds per item that finished jobs of the same kind took (from the POST's answer to the poll
    that saw them completed), never longer than the longest of them took, or `poll` before
    anything is learned. Later polls back off ×1.5 up to 10 s, or come sooner when the job's
    progress says it is nearly done. A round also counts as the poll of jobs due a little later
    (EARLY), so that lanes whose jobs end together share it. Where show_many is unknown
    (400/404/405: older clones), each due job is polled with GET /api/v2/job_statuses/{id}."""

    def __init__(self, client: HttpClient, *, poll: float = 1.0, timeout: float = 900.0,
                 sleep=time.sleep, clock=time.monotonic, log=None, show_many: bool = True):
        self.client = client
        self.poll = max(poll, MIN_WAIT)
        self.timeout = timeout
        self.show_many = show_many
        self._sleep, self._clock, self._log = sleep, clock, log or (lambda message: None)
        self._cond = threading.Condition()
        self._watches: dict[str, _Watch] = {}
        self._polling = False
        self._learned: dict[str, tuple[float, float]] = {}   # kind -> (seconds per item, longest job)

    def pending(self) -> int:
        with self._cond:
            return len(self._watches)

    def first_wait(self, kind: str, items: int) -> float:
        if kind not in self._learned:
            return self.poll
        per_item, longest = self._learned[kind]
        # capped: a small job's fixed overhead would otherwise inflate a large job's estimate
        return max(MIN_WAIT, min(per_item * max(items, 1), longest))

    def wait(self, job: dict, kind: str = "", items: int = 0) -> dict:
        """The job's final status (completed, failed or killed); TransientApiError after the timeout."""
        if job.get("status") in JOB_DONE:
            return job
        if not job.get("id"):
            raise TransientApiError(f"a bulk call answered without a job id: {str(job)[:200]}")
        now = self._clock()
        w = _Watch(str(job["id"]), kind, items, now, now + self.timeout, wait=self.poll * 1.5)
        with self._cond:
            w.plan(now, self.first_wait(kind, items))
            self._watches[w.id] = w
        try:
            while True:
                with self._cond:
                    while self._polling and w.status is None and w.error is None:
                        self._cond.wait()
                    if w.error is not None:
                        raise w.error
                    if w.status is not None:
                        return w.status
                    self._polling = True
                try:
                    self._round()
                finally:
                    with self._cond:
                        self._polling = False
                        self._cond.notify_all()
        finally:
            with self._cond:
                self._watches.pop(w.id, None)

    def _round(self) -> None:
        """Sleep until the first job is due, poll, hand out the answers (run by the polling lane)."""
        wake = min(w.due for w in self._open())
        now = self._clock()
        if wake > now:
            self._sleep(wake - now)
        now = max(self._clock(), wake)
        watches = sorted(self._open(), key=lambda w: w.due - w.early)   # jobs added meanwhile ride along
        due = [w for w in watches if w.due - w.early <= now]
        answers: dict[str, dict] = {}
        if self.show_many:
            # due jobs first; a chunk without a due job would be a request for nothing due
            for i in range(0, len(due), SHOW_MANY_MAX):
                found = self._show_many([w.id for w in watches[i:i + SHOW_MANY_MAX]])
                if found is None:
                    break
                answers.update(found)
        if not self.show_many:
            for w in due:
                body = self.client.get_json(f"/api/v2/job_statuses/{w.id}") or {}
                answers[w.id] = body.get("job_status") or {}
        with self._cond:
            for w in watches:
                status = answers.get(w.id) or {}
                if status.get("status") in JOB_DONE:
                    w.status = status
                    if status["status"] == "completed":
                        self._learn(w, now)
                elif w in due:
                    if now >= w.deadline:
                        w.error = TransientApiError(f"job {w.id} still {status.get('status')!r} "
                                                    f"after {self.timeout:.0f}s")
                    w.plan(now, max(MIN_WAIT, min(w.wait, _remaining(status, now - w.start))))
                    w.wait = min(w.wait * 1.5, MAX_WAIT)

    def _open(self) -> list[_Watch]:
        with self._cond:
            return [w for w in self._watches.values() if w.status is None and w.error is None]

    def _show_many(self, ids: list[str]) -> dict[str, dict] | None:
        response = self.client.request("GET", "/api/v2/job_statuses/show_many",
                                       params={"ids": ",".join(ids)}, allow=(400, 404, 405))
        if response.status_code in (400, 404, 405):
            self.show_many = False
            self._log(f"zendesk: {self.client.base_url} does not serve job_statuses/show_many "
                      f"({response.status_code}); polling each job on its own")
            return None
        body = (response.json() if response.content else None) or {}
        return {str(s.get("id")): s for s in body.get("job_statuses") or [] if isinstance(s, dict)}

    def _learn(self, w: _Watch, now: float) -> None:
        took = now - w.start
        per_item = took / max(w.items, 1)
        old, longest = self._learned.get(w.kind, (per_item, took))
        self._learned[w.kind] = (old + SMOOTHING * (per_item - old), max(longest, took))


def _remaining(status: dict, took: float) -> float:
    """The time a running job still needs at its pace so far (progress of total items), or inf."""
    done, total = status.get("progress"), status.get("total")
    if isinstance(done, int) and isinstance(total, int) and 0 < done < total:
        return took * (total - done) / done
    return float("inf")
