"""Small deterministic helpers of the sample: mixing, times, HTML and mojibake."""

from __future__ import annotations

import html
import json
from datetime import date
from functools import cache

from .constants import _DAY, _MASK

# ---------------------------------------------------------------------------------------------
# Small helpers


def _mix(seed: int, i: int) -> int:
    """A well-spread 64-bit hash of (seed, i): attributes of record i without any stored state."""
    z = (i * 0x9E3779B97F4A7C15 + seed * 0xD1B54A32D192ED03 + 0x632BE59BD9B4E019) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


_date_cache: dict[int, str] = {}
_ORDINAL_1970 = date(1970, 1, 1).toordinal()


def _day(days: int) -> str:
    s = _date_cache.get(days)
    if s is None:
        if len(_date_cache) > 100_000:
            _date_cache.clear()
        s = _date_cache[days] = date.fromordinal(_ORDINAL_1970 + days).isoformat()
    return s


@cache
def _offset(minutes: int) -> str:
    if minutes == 0:
        return "Z"
    sign = "+" if minutes > 0 else "-"
    m = abs(minutes)
    return f"{sign}{m // 60:02d}:{m % 60:02d}"


_hms: list[str | None] = [None] * _DAY


def _ts(epoch: int, off: int = 0, suffix: str = "Z", ms: int = -1) -> str:
    """RFC 3339 for a UTC epoch second, written in the fixed offset `off` (minutes)."""
    d, s = divmod(epoch + off * 60, _DAY)
    day = _date_cache.get(d) or _day(d)
    hms = _hms[s]
    if hms is None:
        h, r = divmod(s, 3600)
        hms = _hms[s] = f"T{h:02d}:{r // 60:02d}:{r % 60:02d}"
    if ms >= 0:
        return f"{day}{hms}.{ms:03d}{suffix}"
    return day + hms + suffix


def _esc(s: str) -> str:
    if "&" in s or "<" in s or ">" in s:
        return html.escape(s, quote=False)
    return s


def _to_html(paragraphs: list[str]) -> str:
    return "\n".join("<p>" + _esc(p).replace("\n", "<br>\n") + "</p>" for p in paragraphs)


def _table(encoding: str) -> tuple[str, ...]:
    out = []
    for b in range(256):
        try:
            out.append(bytes([b]).decode(encoding))
        except UnicodeDecodeError:
            out.append(chr(b))  # what sloppy decoders do with cp1252's five holes: a C1 control
    return tuple(out)


_CP1252 = _table("cp1252")
_ISO8859_16 = _table("iso8859_16")


def mojibake(text: str, table: tuple[str, ...] = _CP1252) -> str:
    """UTF-8 bytes of `text` read back as a single-byte code page (cp1252 by default)."""
    return "".join([table[b] for b in text.encode("utf-8")])


def _json_escaped(fragment: str) -> str:
    """`fragment` as it appears inside a JSON string literal, kept literally: <\\/p>, \\n, \\u00fc."""
    return json.dumps(fragment, ensure_ascii=True)[1:-1].replace("</", "<\\/")
