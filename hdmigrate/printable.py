"""Source data shown on a terminal or in a text report, with terminal control characters escaped.

Subjects, names and vendor error texts are written by customers and remote servers. Printed raw,
ESC / CSI / OSC sequences, BEL, C1 controls and carriage returns could recolour, retitle or rewrite
the user's terminal, hide a line, or fake a message. Each is shown visibly instead (`\\x1b`),
keeping newlines and tabs; bidirectional overrides (which reorder what is shown) likewise.
"""

from __future__ import annotations

import re

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")
_JSON_UNSAFE = re.compile(f"[\x7f-\x9f{_BIDI}]")  # json.dumps escapes C0 itself


def _visible(m: re.Match) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text) -> str:
    """`text` (anything; str() of it) safe to print: control characters but \\n and \\t escaped."""
    text = text if isinstance(text, str) else str(text)
    return _CONTROL.sub(_visible, text)


def json_printable(text: str) -> str:
    """A JSON document (from json.dumps, ensure_ascii=False) with the characters json leaves raw
    but terminals obey (DEL, C1, bidi overrides) as \\u escapes: the same data, safe to print."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def id_list(ids, most: int = 50) -> str:
    """Record ids for one line of a report: the first `most`, then how many more (the JSON
    report keeps them all)."""
    ids = [str(i) for i in ids]
    more = f" … {len(ids) - most} more" if len(ids) > most else ""
    return ", ".join(ids[:most]) + more
