"""The one JSON encoding of staging (orjson) against the standard library it replaced."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from hdmigrate.canonical import canonical_text, content_hash, dumps, loads

# Text as tickets carry it: any code point but lone surrogates (which are not Unicode text).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
scalars = st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | text
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(text, inner, max_size=4), max_leaves=20)


def stdlib(value, sort_keys):
    return json.dumps(value, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":"))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(text, values, max_size=6))
def test_same_bytes_as_the_standard_library_and_round_trips(record):
    assert canonical_text(record) == stdlib(record, True)
    assert dumps(record) == stdlib(record, False)
    assert loads(canonical_text(record)) == record
    assert loads(canonical_text(record).encode()) == record


def test_key_order_does_not_change_the_hash():
    a = {"b": 1, "a": {"y": "ü", "x": "日本"}}
    b = {"a": {"x": "日本", "y": "ü"}, "b": 1}
    assert canonical_text(a) == '{"a":{"x":"日本","y":"ü"},"b":1}'
    assert content_hash(a) == content_hash(b)


def test_what_orjson_refuses_goes_to_the_standard_library():
    # integers beyond 64 bits, non-string keys, lone surrogates (from "\ud800" escapes in a payload)
    big = {"n": 2**70}
    assert canonical_text(big) == '{"n":1180591620717411303424}'
    assert loads('{"n":1180591620717411303424}') == big
    assert dumps({1: "a"}) == '{"1":"a"}'
    lone = loads('{"t":"a\\ud800b"}')
    assert lone == {"t": "a\ud800b"}
    assert canonical_text(lone) == '{"t":"a\ud800b"}'


def test_malformed_json_keeps_the_standard_library_message():
    try:
        loads('{"a": 1,}')
    except json.JSONDecodeError as e:
        assert e.colno == 9 and "double quotes" in e.msg
    else:
        raise AssertionError("malformed JSON was accepted")


def test_floats_keep_their_value():
    record = {"a": 0.1, "b": 1e16, "c": -0.0, "d": 5e-324, "e": 1.5}
    assert loads(canonical_text(record)) == record
    assert canonical_text({"e": 1.5}) == '{"e":1.5}'


def test_integers_beyond_64_bits_keep_every_digit():
    # orjson 3.13 reads them as floats without an error: 2**70 + 1 would come back as 2**70
    for n in (2**70 + 1, 18446744073709551617, -(2**80) - 3):
        back = loads(f'{{"n":{n}}}')["n"]
        assert type(back) is int and back == n
        assert loads(f'{{"n":{n}}}'.encode())["n"] == n
    assert loads('{"id":12345678901234567890123,"t":"x"}')["id"] == 12345678901234567890123
