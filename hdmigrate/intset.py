"""A set of non-negative integers kept as a bitmap: one bit per possible value, not ~80 bytes per
member. Staging rowids and most vendors' record ids are dense from 1, so the bitmap stays small:
80,000 ticket ids take 10 KB here and 6.4 MB in a `set` (issue 16: memory flat from 1× to 16×;
the engine's waiting tickets and the Zendesk source's tickets without comments were such sets).

Values that are not ints from 0 to MAX_BIT (a hostile or sparse id, text) go to an ordinary set,
so nothing is refused and one odd id cannot make the bitmap large. Unlike a `set`, a bool or a
float is never the int it equals (the callers keep ints and strings).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

MAX_BIT = 1 << 27          # values up to here in the bitmap: at most 16 MiB, for 134 million ids


class IntSet:
    """add / discard / in / len / iteration in ascending order (the other values after, sorted
    by their text), like a `set` of those values; `pop_from` takes the smallest from a value on."""

    __slots__ = ("_bits", "_count", "_other")

    def __init__(self, values: Iterable = ()):
        self._bits = bytearray()
        self._count = 0
        self._other: set = set()
        for value in values:
            self.add(value)

    @staticmethod
    def _place(value) -> tuple[int, int] | None:
        """(byte, bit mask) of a value the bitmap holds; None for the others."""
        if type(value) is int and 0 <= value < MAX_BIT:
            return value >> 3, 1 << (value & 7)
        return None

    def add(self, value) -> None:
        place = self._place(value)
        if place is None:
            self._other.add(value)
            return
        byte, bit = place
        if byte >= len(self._bits):
            # grow by at least half, so n adds cost O(n) bytes copied in all
            self._bits.extend(bytes(max(byte + 1 - len(self._bits), len(self._bits) // 2, 64)))
        if not self._bits[byte] & bit:
            self._bits[byte] |= bit
            self._count += 1

    def discard(self, value) -> None:
        if value in self:
            place = self._place(value)
            if place is None:
                self._other.discard(value)
            else:
                self._bits[place[0]] &= ~place[1] & 0xFF
                self._count -= 1

    def __contains__(self, value) -> bool:
        place = self._place(value)
        if place is None:
            return value in self._other
        byte, bit = place
        return byte < len(self._bits) and bool(self._bits[byte] & bit)

    def __len__(self) -> int:
        return self._count + len(self._other)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __iter__(self) -> Iterator:
        bits = self._bits
        start = 0
        while self._count:
            # skip runs of empty bytes at C speed
            start = _next_nonzero(bits, start)
            if start < 0:
                break
            byte = bits[start]
            for bit in range(8):
                if byte & (1 << bit):
                    yield start * 8 + bit
            start += 1
        yield from sorted(self._other, key=str)

    def pop_from(self, start: int, n: int) -> list[int]:
        """Remove and return the up to `n` smallest ints at or above `start`, ascending (the ints
        the bitmap cannot hold come after its own)."""
        out: list[int] = []
        bits = self._bits
        index = max(0, start) >> 3
        while len(out) < n and self._count:
            index = _next_nonzero(bits, index)
            if index < 0:
                break
            byte = bits[index]
            for bit in range(8):
                value = index * 8 + bit
                if byte & (1 << bit) and value >= start and len(out) < n:
                    out.append(value)
                    bits[index] &= ~(1 << bit) & 0xFF
                    self._count -= 1
            index += 1
        if len(out) < n and self._other:
            rest = sorted(v for v in self._other if type(v) is int and v >= start)[:n - len(out)]
            self._other.difference_update(rest)
            out += rest
        return out

    def clear(self) -> None:
        self._bits = bytearray()
        self._count = 0
        self._other = set()


def _next_nonzero(bits: bytearray, start: int) -> int:
    """Index of the first non-zero byte at or after `start`, or -1."""
    n = len(bits)
    step = 4096
    while start < n:
        chunk = bits[start:start + step]
        if chunk.count(0) != len(chunk):
            stripped = chunk.lstrip(b"\x00")
            return start + len(chunk) - len(stripped)
        start += step
    return -1
