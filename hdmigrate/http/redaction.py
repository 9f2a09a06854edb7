"""Secrets out of every message, log line and body excerpt the HTTP layer lets out."""

from __future__ import annotations

import base64
import functools
import json as jsonlib
import re
from collections.abc import Iterable

import httpx

from hdmigrate.http.limits import EXCERPT_CHARS, MIN_SECRET_CHARS, REDACTED

# Query parameters and headers whose values are credentials whatever the secret list says.
_SECRET_PARAM = re.compile(
    r"(?i)(?<![\w-])((?:token|access_token|auth_token|api_key|apikey|api_token|key|password|passwd"
    r"|secret|client_secret|sig|signature|user_token)=)[^&#\s\"'<>]+")
_SECRET_JSON = re.compile(
    r"(?i)(\"(?:token|access_token|api_key|apikey|api_token|password|passwd|secret|client_secret)"
    r"\"\s*:\s*)\"(?:[^\"\\]|\\.)*\"")
_AUTH_HEADER = re.compile(r"(?i)\b((?:proxy-)?authorization\s*[:=]\s*['\"]?)"
                          r"(?:(basic|bearer|token|digest)\s+)?[^\s'\",}]+")
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")


@functools.lru_cache(maxsize=256)
def _secret_pattern(secret: str) -> re.Pattern:
    """The secret, each character either literal or percent-encoded (any hex case), or base64."""
    parts = []
    for char in secret:
        encoded = "".join(f"%{byte:02x}" for byte in char.encode())
        options = [re.escape(char), re.escape(encoded)]
        if char == " ":
            options.append(r"\+")
        parts.append("(?:" + "|".join(options) + ")")
    b64 = re.escape(base64.b64encode(secret.encode()).decode().rstrip("="))
    return re.compile("|".join(["".join(parts), b64]), re.IGNORECASE if secret.isascii() else 0)


def _decodes_to_secret(run: str, secrets: list[str]) -> bool:
    """True when a base64 run (a Basic auth value, say) decodes to text holding a secret."""
    core = run.rstrip("=")
    for alphabet in (None, b"-_"):
        try:
            decoded = base64.b64decode(core + "=" * (-len(core) % 4), altchars=alphabet)
        except ValueError:
            continue
        text = decoded.decode("utf-8", "replace")
        if any(s in text for s in secrets):
            return True
    return False


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret, its URL-encoded and base64 forms (e.g. inside a Basic auth
    header), Authorization header values and credential query parameters replaced by ***."""
    if not text:
        return text
    known = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)
    if known:
        text = _B64_RUN.sub(lambda m: REDACTED if _decodes_to_secret(m.group(0), known) else m.group(0),
                            text)
        for secret in known:
            text = text.replace(secret, REDACTED)
            text = _secret_pattern(secret).sub(REDACTED, text)
    text = _SECRET_PARAM.sub(lambda m: m.group(1) + REDACTED, text)
    text = _SECRET_JSON.sub(lambda m: m.group(1) + '"' + REDACTED + '"', text)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + (m.group(2) + " " if m.group(2) else "") + REDACTED,
                            text)
    return text


def excerpt_of(response: httpx.Response, secrets: Iterable[str] = (), limit: int = EXCERPT_CHARS) -> str:
    """A short, redacted excerpt of an error body; vendor error JSON kept as compact JSON."""
    try:
        raw = response.content
    except httpx.ResponseNotRead:
        return ""
    # Cut huge bodies first (a 5 MB HTML error page); the final cut comes after redaction.
    text = raw[: limit * 8].decode(response.encoding or "utf-8", "replace")
    try:
        text = jsonlib.dumps(jsonlib.loads(text), ensure_ascii=False, separators=(",", ":"))
    except ValueError:
        text = " ".join(text.split())
    text = redact(text, secrets)
    return text if len(text) <= limit else text[: limit - 1] + "…"
