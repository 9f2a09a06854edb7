"""Which URL schemes and hosts a client may be pointed at (the plan's own URLs)."""

from __future__ import annotations

import ipaddress

import httpx

from hdmigrate.errors import Cause, ConfigError
from hdmigrate.http.redaction import redact

def is_loopback(host: str) -> bool:
    host = (host or "").strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url_scheme(url: httpx.URL | str) -> None:
    """Plain HTTP carries credentials in the clear: allowed to loopback (sandboxes) only."""
    url = httpx.URL(str(url))
    if url.scheme == "https":
        return
    if url.scheme == "http":
        if is_loopback(url.host):
            return
        raise ConfigError(f"refusing plain HTTP to {url.host}: use https:// "
                          "(plain http is allowed to loopback addresses only)", cause=Cause.BAD_URL)
    raise ConfigError(f"unsupported URL scheme {url.scheme!r} in {redact(str(url), ())}", cause=Cause.BAD_URL)
