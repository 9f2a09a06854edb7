"""Status mapping: an answer the caller did not take becomes the error the engine acts on."""

from __future__ import annotations

from collections.abc import Collection

import httpx

from hdmigrate.errors import FatalApiError, RecordRejected, TransientApiError
from hdmigrate.http.limits import REJECT_STATUSES, RETRY_STATUSES
from hdmigrate.http.redaction import excerpt_of

def request_id(headers: httpx.Headers) -> str | None:
    for name in ("x-request-id", "x-zendesk-request-id", "x-amzn-requestid", "request-id", "x-trace-id"):
        if headers.get(name):
            return headers[name]
    return None



class ClassifyMixin:
    """HttpClient's mapping of statuses and transport errors to errors."""

    def _check(self, method: str, url: httpx.URL, response: httpx.Response,
               ok: Collection[int], allow: Collection[int]) -> httpx.Response:
        status = response.status_code
        if status in ok or status in allow:
            return response
        safe_url = self.redact(str(url))
        excerpt = excerpt_of(response, self.secrets)
        details = dict(status=status, method=method, url=safe_url,
                       request_id=request_id(response.headers), excerpt=excerpt)
        if status == 401:
            raise FatalApiError(f"{method} {safe_url}: HTTP 401, bad credentials (check the "
                                f"user and token the plan names): {excerpt}", **details)
        if status == 403:
            raise FatalApiError(f"{method} {safe_url}: HTTP 403, missing rights (the account "
                                f"lacks the permission or plan feature for this call): {excerpt}",
                                **details)
        if status in REJECT_STATUSES:
            raise RecordRejected(f"{method} {safe_url} rejected (HTTP {status}): {excerpt}", **details)
        if status in RETRY_STATUSES:
            raise TransientApiError(f"{method} {safe_url}: HTTP {status}: {excerpt}", **details)
        raise FatalApiError(f"{method} {safe_url}: unexpected HTTP {status}: {excerpt}", **details)

    def _translate(self, method: str, url: httpx.URL, error: httpx.HTTPError) -> FatalApiError:
        return FatalApiError(self.redact(f"{method} {url}: {type(error).__name__}: {error}"),
                             method=method, url=self.redact(str(url)))
