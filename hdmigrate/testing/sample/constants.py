"""Constants every part of the sample shares."""

SOURCE = "sample"

DEFECT_CLASSES = ("escaped_entities", "json_escaped", "mojibake_cp1252", "emoji", "combining",
                  "mixed_cjk", "html_table", "mojibake_iso8859_16", "rtl", "script")
# Every `_DEFECT_EVERY`-th comment (that has no attachment) carries the next class in turn, so
# the first 70-odd comments hold every class; a "long" opening message every 500 tickets.
_DEFECT_EVERY = 7
_LONG_EVERY = 500
_LONG_FIRST = 7
LONG_BODY_CHARS = 100_000

_MASK = (1 << 64) - 1
_DAY = 86400
