"""IntSet, the bitmap set of the engine's waiting tickets and the Zendesk source's tickets without
comments: it must behave like a `set` of the same ints, and keep every other value too."""

from __future__ import annotations

import random
import sys

from hdmigrate.intset import MAX_BIT, IntSet


def test_behaves_like_a_set_under_random_adds_and_discards():
    rng = random.Random(16)
    ours, theirs = IntSet(), set()
    for _ in range(20000):
        value = rng.choice([rng.randrange(0, 5000), rng.randrange(0, 200000), rng.randrange(0, 70)])
        if rng.random() < 0.6:
            ours.add(value)
            theirs.add(value)
        else:
            ours.discard(value)
            theirs.discard(value)
        if rng.random() < 0.01:
            probe = rng.randrange(0, 250000)
            assert (probe in ours) == (probe in theirs)
    assert len(ours) == len(theirs) and bool(ours) == bool(theirs)
    assert list(ours) == sorted(theirs)


def test_values_the_bitmap_cannot_hold_are_kept_as_in_a_set():
    odd = [-1, MAX_BIT, 10**18, "007", "t-5", True, 3.0]
    s = IntSet([5, *odd])
    for value in [5, *odd]:
        assert value in s
    assert 4 not in s and "5" not in s
    assert len(s) == 1 + len({-1, MAX_BIT, 10**18, "007", "t-5", True, 3.0} - {5})
    assert list(s)[0] == 5
    for value in odd:
        s.discard(value)
    assert list(s) == [5]
    s.discard(5)
    assert not s and list(s) == []


def test_a_dense_range_costs_a_bit_per_value():
    s = IntSet(range(1, 80001))
    assert len(s) == 80000
    assert sys.getsizeof(s._bits) < 20 * 1024           # a set of them: 6.4 MB with the ints
    s.clear()
    assert not s and 17 not in s


def test_pop_from_takes_the_smallest_from_a_value_on_like_a_sorted_list():
    rng = random.Random(3)
    values = {rng.randrange(0, 50000) for _ in range(3000)} | {MAX_BIT + 5, MAX_BIT + 1, -4}
    ours, theirs = IntSet(values), sorted(v for v in values)
    start = 0
    while True:
        taken = ours.pop_from(start, 97)
        expected = [v for v in theirs if v >= start][:97]
        assert taken == expected
        if not taken:
            break
        theirs = [v for v in theirs if v not in set(taken)]
        start = taken[-1] + 1
    assert list(ours) == [-4]                 # below every start: never taken
    assert ours.pop_from(-10, 5) == [-4] and not ours
