"""Status mapping: an answer the caller did not take becomes the error the engine acts on, with its
`Cause` (hdmigrate.errors) set here, once, for every client. An adapter whose vendor says more in
its error bodies (Freshdesk's `require_feature`) passes `vendor_cause` to HttpClient."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import httpx
import orjson

from hdmigrate.errors import Cause, FatalApiError, RecordRejected, TransientApiError
from hdmigrate.http.limits import REJECT_STATUSES, RETRY_STATUSES
from hdmigrate.http.redaction import excerpt_of

# (status, the error body parsed or None) -> a cause, or None to keep the status's own.
VendorCause = Callable[[int, Any], "Cause | None"]

_STATUS_CAUSES = {401: Cause.AUTH, 402: Cause.PLAN_FEATURE, 403: Cause.PERMISSION, 404: Cause.NOT_FOUND,
                  405: Cause.BAD_URL, 429: Cause.RATE_LIMIT}


def status_cause(status: int) -> Cause:
    """The cause an HTTP status means by itself."""
    if status in _STATUS_CAUSES:
        return _STATUS_CAUSES[status]
    if 300 <= status < 400:
        return Cause.BAD_URL             # API answers are not redirected: not the API's address
    if status in REJECT_STATUSES:
        return Cause.INVALID_REQUEST
    if status >= 500:
        return Cause.SERVER
    return Cause.BAD_ANSWER


def transport_cause(error: BaseException) -> Cause:
    """The cause of a transport failure (httpx's exceptions)."""
    if isinstance(error, httpx.TimeoutException):
        return Cause.TIMEOUT
    if isinstance(error, (httpx.NetworkError, httpx.RemoteProtocolError)):
        return Cause.UNREACHABLE
    if isinstance(error, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
        return Cause.BAD_URL
    return Cause.BAD_ANSWER


def _error_body(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content) if response.content else None
    except (orjson.JSONDecodeError, httpx.ResponseNotRead):
        return None


def request_id(headers: httpx.Headers) -> str | None:
    for name in ("x-request-id", "x-zendesk-request-id", "x-amzn-requestid", "request-id", "x-trace-id"):
        if headers.get(name):
            return headers[name]
    return None



class ClassifyMixin:
    """HttpClient's mapping of statuses and transport errors to errors."""

    def _cause_of(self, response: httpx.Response) -> Cause:
        status = response.status_code
        hook: VendorCause | None = getattr(self, "vendor_cause", None)
        found = hook(status, _error_body(response)) if hook else None
        return found or status_cause(status)

    def _check(self, method: str, url: httpx.URL, response: httpx.Response,
               ok: Collection[int], allow: Collection[int]) -> httpx.Response:
        status = response.status_code
        if status in ok or status in allow:
            return response
        safe_url = self.redact(str(url))
        excerpt = excerpt_of(response, self.secrets)
        cause = self._cause_of(response)
        details = dict(status=status, method=method, url=safe_url, cause=cause,
                       request_id=request_id(response.headers), excerpt=excerpt)
        where = f"{method} {safe_url}"
        if status == 401:
            raise FatalApiError(f"{where}: HTTP 401, bad credentials (check the user and token the "
                                f"plan names): {excerpt}", **details)
        if status in (402, 403) and cause == Cause.PLAN_FEATURE:
            raise FatalApiError(f"{where}: HTTP {status}, the account's plan lacks the feature this "
                                f"call needs: {excerpt}", **details)
        if status == 403:
            raise FatalApiError(f"{where}: HTTP 403, missing rights (the account lacks the "
                                f"permission or plan feature for this call): {excerpt}", **details)
        if status in REJECT_STATUSES:
            raise RecordRejected(f"{where} rejected (HTTP {status}): {excerpt}", **details)
        if status in RETRY_STATUSES:
            raise TransientApiError(f"{where}: HTTP {status}: {excerpt}", **details)
        raise FatalApiError(f"{where}: unexpected HTTP {status}: {excerpt}", **details)

    def _translate(self, method: str, url: httpx.URL, error: httpx.HTTPError) -> FatalApiError:
        return FatalApiError(self.redact(f"{method} {url}: {type(error).__name__}: {error}"),
                             method=method, url=self.redact(str(url)), cause=transport_cause(error))
