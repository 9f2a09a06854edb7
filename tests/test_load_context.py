"""What the load context holds for a bundling target while a prepared batch waits for its lane."""

from __future__ import annotations

from types import SimpleNamespace

from hdmigrate.engine.context import _LoadContext


def _context() -> _LoadContext:
    engine = SimpleNamespace(store=None, plan=SimpleNamespace(options={}, mapping={}), run_id=1,
                             dry_run=False, source=None)
    return _LoadContext(engine)


def test_a_waiting_bundle_is_held_as_text_and_read_back_unchanged():
    ctx = _context()
    comments = [{"id": "m1", "ticket_id": "t1", "body_html": "<p>Grüße &amp;lt;b&amp;gt; 你好</p>",
                 "public": False, "author_id": "4711", "size": 2**62, "extra": {"tags": ["ä", None]}},
                {"id": "m2", "ticket_id": "t1", "body_html": "Ã¼ber", "public": True, "created_at": None}]
    ctx.set_bundle("t1", comments)
    assert isinstance(ctx._bundle["t1"], bytes)     # one block, not the comments' objects
    assert ctx.comments("t1") == comments
    taken = ctx.comments("t1")
    taken[0]["public"] = True                       # a target changing what it was given
    assert ctx.comments("t1")[0]["public"] is False
    ctx.release("t1")
    assert "t1" not in ctx._bundle


def test_a_bundle_that_is_not_plain_json_is_kept_as_it_is():
    ctx = _context()
    comments = [{"id": "m1", "ticket_id": "t1", "n": 2**70}]     # past 64 bits: not for orjson
    ctx.set_bundle("t1", comments)
    assert ctx.comments("t1") is comments
