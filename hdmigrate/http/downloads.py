"""Downloads: files streamed to disk under a size cap, redirects followed by hand under the URL rules."""

from __future__ import annotations

import time

import httpx

from hdmigrate.blobfile import BlobFile, spool_directory
from hdmigrate.errors import Cause, FatalApiError, RecordError
from hdmigrate.http.limits import ERROR_BODY_BYTES, _download_cap
from hdmigrate.http.urls import is_loopback
from hdmigrate.netguard import UrlRefused, host_matches, read_body, read_body_into

class DownloadMixin:
    """HttpClient's `download` and its URL rules."""

    def _download_problem(self, url: httpx.URL, previous: httpx.URL | None) -> str | None:
        """Why `download` refuses a URL (a start, or a redirect hop from `previous`), or None."""
        if url.scheme not in ("http", "https"):
            return f"unsupported URL scheme {url.scheme!r}"
        if previous is not None and previous.scheme == "https" and url.scheme == "http":
            return "a redirect from https to plain http"
        reach = self._reach_problem(url)
        if reach:
            return f"{url.host} is {reach}"
        if url.scheme == "http" and not is_loopback(url.host):
            return "plain http (allowed to loopback addresses only)"
        if previous is None and not self._same_netloc(url) and not (
                url.scheme == "https" and host_matches(url.host, self.attachment_hosts)):
            return ("not the source's own host nor one of its vendor's attachment hosts "
                    f"({', '.join(self.attachment_hosts) or 'none declared'})")
        return None

    def download(self, url: str, *, max_bytes: int | None = None, max_redirects: int = 10) -> "bytes | BlobFile":
        """GET a file, streamed, the size cap enforced while reading, following redirects by
        hand so every hop passes the URL rules (`_download_problem`): it starts on the API's own
        host or a declared attachment host, never goes from https to http, never reaches a
        private, link-local or (from a non-loopback source) loopback address. Credentials go to
        the API host only (presigned storage URLs reject them). A refused URL raises UrlRefused.
        Inside `blobfile.spool_downloads` (the engine's attachment staging) the bytes go to a
        BlobFile on disk, which is returned instead of bytes."""
        caps = [c for c in (max_bytes, _download_cap.limit, self.max_download_bytes) if c is not None]
        cap = min(caps)
        try:
            target = httpx.URL(url)
            if target.is_relative_url:
                target = self.base_url.join(url.lstrip("/"))
        except httpx.InvalidURL as e:
            raise UrlRefused(self.redact(f"refusing to fetch {url!r}: {e}")) from None
        problem = self._download_problem(target, None)
        if problem:
            raise UrlRefused(self.redact(f"refusing to fetch {target}: {problem}"))

        def attempt(method: str, start: httpx.URL) -> "bytes | BlobFile | httpx.Response":
            current = start
            began: list[float] = []

            def deadline() -> float:
                # One deadline over every hop, from when the limiter let the first one go: a
                # pause for another endpoint's 429 is no slowness of this server.
                if not began:
                    began.append(time.monotonic())
                return began[0] + self.deadline

            for _ in range(max_redirects + 1):
                hop = self._exchange(self._client.build_request("GET", current),
                                     lambda r: self._read_download(r, current, cap),
                                     deadline=deadline)
                if isinstance(hop, httpx.URL):
                    refused = self._download_problem(hop, current)
                    if refused:
                        raise UrlRefused(self.redact(f"refusing the redirect from {current} to {hop}: {refused}"))
                    current = hop
                    continue
                return hop
            raise FatalApiError(self.redact(f"GET {start}: more than {max_redirects} redirects"),
                                method="GET", url=self.redact(str(start)), cause=Cause.BAD_ANSWER)

        try:
            result = self._run(attempt, "GET", target, ())
        except httpx.HTTPError as e:
            raise self._translate("GET", target, e) from None
        if isinstance(result, httpx.Response):
            self._check("GET", target, result, (200,), ())
            raise self._translate("GET", target, httpx.HTTPError(f"HTTP {result.status_code}"))
        return result

    def _read_download(self, response: httpx.Response, url: httpx.URL,
                       cap: int) -> "bytes | BlobFile | httpx.Response | httpx.URL":
        """A redirect's next URL, a non-200 answer (read in part), or the file's bytes."""
        if response.is_redirect and "location" in response.headers:
            try:
                return url.join(response.headers["location"])
            except httpx.InvalidURL as e:
                raise UrlRefused(self.redact(f"{url}: invalid redirect location: {e}")) from None
        if response.status_code != 200:
            read_body(response, ERROR_BODY_BYTES, truncate=True)
            return response
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > cap:
            raise RecordError(self.redact(f"{url}: {declared} bytes, more than the {cap} bytes allowed"),
                              kind="attachment", field="size", cause=Cause.TOO_LARGE)
        try:
            spool = spool_directory()
            if spool is None:
                return read_body(response, cap)
            blob = BlobFile(spool, cap)   # where the engine stages: to disk, never whole in memory
            try:
                read_body_into(response, blob)
            except BaseException:
                blob.discard()
                raise
            return blob.finish()
        except OverflowError:
            raise RecordError(self.redact(f"{url}: more than the {cap} bytes allowed (stopped reading "
                                          "there)"), kind="attachment", field="size",
                              cause=Cause.TOO_LARGE) from None
