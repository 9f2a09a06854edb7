"""Issue 14 item 6: inline images survive the source's shutdown.

The HTML rewriting (hdmigrate/inline_images.py) changes only <img src> values; Zendesk targets
re-host inline images (upload, src -> the upload's content_url), Freshdesk targets embed them as
data: URIs (no inline upload in its API); both are checked end to end over loopback HTTP with the
source sandbox stopped before the target is inspected and verified.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import httpx
import pytest
from hypothesis import given, settings, strategies as st

from adapters.freshdesk.sandbox import make_sandbox as make_freshdesk
from hdmigrate.canonical_dump import blob_path, iter_records
from adapters.zendesk import to_canonical as zd_mapping
from adapters.zendesk.sandbox import make_sandbox as make_zendesk
from hdmigrate import inline_images as ii
from hdmigrate.engine import Engine
from hdmigrate.plan import plan_from_dict
from hdmigrate.testing.sample import write_dump
from hdmigrate.store import Store

KINDS = ["custom_field", "organization", "group", "agent", "contact", "ticket", "comment", "attachment",
         "satisfaction_rating"]
FAST = {"source": 600000, "target": 600000}


# ---------------------------------------------------------------- the HTML rewriting

HOSTILE = ("<p title='<img src=\"cid:no\">'>a</p><!-- <img src=\"cid:c1\"> -->"
           "<script>x = '<img src=\"cid:c1\">'</script>"
           "<IMG  alt=\"a > b\"\n SRC = 'cid:%3Cc1%3E' src=\"second\">"
           "<img data-id=\"77\" src=https://old.example.com/inline/attachment?token=1&amp;x=2 width=3/>"
           "<img alt=\"no source\"> 1 < 2 <img src=\"unterminated")


def test_image_refs_skip_comments_scripts_and_attribute_text():
    refs = ii.image_refs(HOSTILE)
    assert [r.src for r in refs] == ["cid:%3Cc1%3E", "https://old.example.com/inline/attachment?token=1&x=2"]
    assert ii.cid_of(refs[0].src) == "c1"                      # URL-encoded, angle brackets dropped
    assert refs[1].attrs["data-id"] == "77" and refs[1].quote == ""


def test_rewrite_changes_only_the_src_values():
    url = 'https://new.example.com/a?b=1&c="2"'
    new, changed = ii.rewrite(HOSTILE, lambda ref: url)
    refs = ii.image_refs(HOSTILE)
    esc = "https://new.example.com/a?b=1&amp;c=&quot;2&quot;"
    # every byte outside the two values is the original's; the unquoted value gets quotes
    assert new == (HOSTILE[:refs[0].start] + esc + HOSTILE[refs[0].end:refs[1].start] + f'"{esc}"'
                   + HOSTILE[refs[1].end:])
    assert [c[1] for c in changed] == [url, url] and [r.src for r in ii.image_refs(new)] == [url, url]
    assert ii.rewrite(HOSTILE, lambda ref: None) == (HOSTILE, [])
    assert [r.src for r in ii.image_refs(ii.masked(HOSTILE))] == ["", ""]


def test_an_image_is_matched_by_cid_data_id_or_its_source_url():
    refs = ii.image_refs(HOSTILE)
    assert ii.refers_to(refs[0], {"id": "a", "content_id": "<C1>"})
    assert not ii.refers_to(refs[0], {"id": "a", "content_id": "c2"})
    assert ii.refers_to(refs[1], {"id": "b", "content_id": "77"})
    assert ii.refers_to(refs[1], {"id": "b", "extra": {"inline_url": "https://old.example.com/inline/attachment?token=1&x=2"}})
    assert ii.origin("HTTPS://Old.Example.com:443/x") == "old.example.com"
    assert ii.origin("http://127.0.0.1:8123/x") == "127.0.0.1:8123"
    assert ii.origin("data:image/png;base64,AAAA") is None and ii.origin("cid:x") is None
    assert ii.data_uri("application/octet-stream", b"\x89PNG\r\n\x1a\nrest").startswith("data:image/png;base64,")


def test_zendesk_source_finds_inline_images_the_comment_does_not_list():
    # Zendesk leaves inline attachments out of a comment's list (ZD-OAS AttachmentBaseObject.inline)
    src = "https://acme.zendesk.com/attachments/token/AbC/?name=screen%20shot.png"
    raw = {"id": 5, "ticket_id": 9, "author_id": 1, "public": True, "created_at": "2024-01-01T00:00:00Z",
           "html_body": f'<p>see <img src="{src}"> and <img src="https://elsewhere.example/x.png"></p>',
           "attachments": [{"id": 7, "file_name": "log.txt", "content_type": "text/plain", "size": 3,
                            "content_url": "https://acme.zendesk.com/attachments/token/Zz/?name=log.txt"}]}
    comment, atts = zd_mapping.comment(raw)
    (inline,) = [a for a in atts if a["inline"]]
    assert inline["extra"]["content_url"] == src and inline["file_name"] == "screen shot.png"
    assert inline["content_type"] == "image/png" and inline["id"] in comment["attachment_ids"]
    assert zd_mapping.comment(raw)[1][1]["id"] == inline["id"]            # the same id on every run
    listed = {**raw, "attachments": raw["attachments"] + [{"id": 8, "file_name": "s.png", "inline": True,
                                                           "content_url": src}]}
    assert len(zd_mapping.comment(listed)[1]) == 2                     # a listed one is not doubled
    shown: set = set()                       # one per ticket, kept by the source
    assert len(zd_mapping.comment(raw, shown=shown)[1]) == 2
    reply = {**raw, "id": 6, "attachments": [], "html_body": f'<blockquote><img src="{src}"></blockquote>'}
    assert zd_mapping.comment(reply, shown=shown)[1] == [], "a quoted image is the earlier comment's file"


# ---------------------------------------------------------------- end to end, source stopped

def _dump(root):
    dump = root / "dump"
    write_dump(dump, tickets=4, comments_per_ticket=2, attachments=8, seed=5)
    atts = list(iter_records(dump, "attachment"))
    inline = {a["id"]: a for a in atts if a.get("inline")}
    assert inline, "the sample has inline images"
    return dump, {a["sha256"]: blob_path(dump, a["sha256"]).read_bytes() for a in inline.values()}


def _run(source_section, target, work, monkeypatch, env, dry_run=False):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    target_section = dict(target.plan_section)
    if target_section["adapter"] == "zendesk":    # its sandbox ends jobs at once: poll soon, not each 1 s
        target_section["job_poll_seconds"] = 0.05
    plan = plan_from_dict({"source": source_section, "target": target_section,
                           "options": {"tag_migrated": "hdmigrate"}, "scope": {"kinds": KINDS},
                           "run": {"workdir": str(work), "rate_limit": FAST, "workers": 2}},
                          base_dir=work.parent)
    engine = Engine(plan, work)
    try:
        summary = engine.run(dry_run=True) if dry_run else engine.run()
    finally:
        engine.store.close()
    assert dry_run or summary["exit_code"] == 0, summary
    return plan


def _verify(work, env):
    return subprocess.run([sys.executable, "-m", "hdmigrate", "verify", "--workdir", str(work)],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300)


def _codes(work) -> set[str]:
    store = Store(work)
    try:
        return {d["code"] for d in store.degradations()}
    finally:
        store.close()


def _source_images(zd) -> int:
    n = 0
    for c in zd.store.all("comment"):
        for ref in ii.image_refs(zd._html_out(c["html_body"])):
            assert ii.origin(ref.src) == ii.origin(zd.url), "the source serves its images itself"
            n += 1
    return n


def test_zendesk_to_zendesk_images_are_rehosted(tmp_path, monkeypatch):
    dump, blobs = _dump(tmp_path)
    source = make_zendesk(data=dump).start()
    target = make_zendesk().start()
    target.job_delay = 0.01
    try:
        images = _source_images(source)
        assert images >= len(blobs)
        env = {**source.env, **target.env}
        _run(source.plan_section, target, tmp_path / "work", monkeypatch, env, dry_run=True)
        assert "inline_image_rehosted" in _codes(tmp_path / "work"), "the dry run says what will happen"
        _run(source.plan_section, target, tmp_path / "work", monkeypatch, env)
        source_host = ii.origin(source.url)
        source.stop()                        # the old account is closed
        seen = 0
        for c in target.store.all("comment"):
            for ref in ii.image_refs(c["html_body"]):
                assert ii.origin(ref.src) == ii.origin(target.url), (ref.src, source_host)
                got = httpx.get(ref.src, timeout=10)
                assert got.status_code == 200 and got.content in blobs.values()
                seen += 1
        assert seen == images
        assert "inline_image_rehosted" in _codes(tmp_path / "work")
        p = _verify(tmp_path / "work", env)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
        assert "no unexplained differences" in p.stdout

        # A target whose body still loads its image from the source account is a finding.
        c = next(c for c in target.store.all("comment") if ii.image_refs(c["html_body"]))
        stale = ii.rewrite(c["html_body"], lambda ref: f"http://{source_host}/attachments/token/gone/?name=x.png")[0]
        target.store.update("comment", c["id"], {"html_body": stale})
        p = _verify(tmp_path / "work", env)
        assert p.returncode == 5, p.stdout[-2000:]
        assert "still load from the source account" in p.stdout + p.stderr
    finally:
        source.stop()
        target.stop()


def test_zendesk_to_freshdesk_images_are_embedded(tmp_path, monkeypatch):
    dump, blobs = _dump(tmp_path)
    source = make_zendesk(data=dump).start()
    target = make_freshdesk().start()
    try:
        images = _source_images(source)
        env = {**source.env, **target.env}
        _run(source.plan_section, target, tmp_path / "work", monkeypatch, env)
        source.stop()
        bodies = [t["description"] for t in target.store.all("ticket")]
        bodies += [c["body"] for c in target.store.all("conversation")]
        seen = 0
        for body in bodies:
            for ref in ii.image_refs(body):
                assert ref.src.startswith("data:image/"), ref.src[:80]
                assert base64.b64decode(ref.src.split(",", 1)[1]) in blobs.values()
                seen += 1
        assert seen == images
        assert {"inline_image_rehosted", "inline_image_detached"} <= _codes(tmp_path / "work")
        p = _verify(tmp_path / "work", env)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    finally:
        source.stop()
        target.stop()


def test_jsonl_cid_images_are_rehosted_in_zendesk(tmp_path, monkeypatch):
    dump, blobs = _dump(tmp_path)
    # a source that calls its images octet-stream (Freshdesk's inline images): uploaded as images
    rows = [json.loads(line) for line in (dump / "attachment.jsonl").read_text().splitlines() if line.strip()]
    for a in rows:
        if a.get("inline"):
            a["content_type"] = "application/octet-stream"
    (dump / "attachment.jsonl").write_text("".join(json.dumps(a) + "\n" for a in rows))
    cids = sum(len([r for r in ii.image_refs(c.get("body_html")) if ii.cid_of(r.src)])
               for c in iter_records(dump, "comment"))
    assert cids
    target = make_zendesk().start()
    target.job_delay = 0.01
    try:
        _run({"adapter": "jsonl", "path": str(dump)}, target, tmp_path / "work", monkeypatch, target.env)
        refs = [r for c in target.store.all("comment") for r in ii.image_refs(c["html_body"])]
        assert len(refs) == cids and all(ii.origin(r.src) == ii.origin(target.url) for r in refs)
        assert all(httpx.get(r.src, timeout=10).content in blobs.values() for r in refs)
        shown = {a["content_type"] for c in target.store.all("comment") for a in c["attachments"]
                 if a["content_url"] in {r.src.replace(target.url, "") for r in refs}}
        assert shown and all(t.startswith("image/") for t in shown), shown
    finally:
        target.stop()


@pytest.mark.parametrize("html", [None, "", "plain text, no tags", "<img>", "<img src>", "<<img src=a"])
def test_degenerate_html_is_left_alone(html):
    assert ii.rewrite(html, lambda ref: "x")[0] in (html, '<<img src="x"', '<img src="x">')


def _quote_an_earlier_image(dump) -> int:
    """A later comment of a ticket quotes an earlier comment's inline image (an e-mail reply);
    returns how many images the dump's bodies show."""
    comments = [json.loads(line) for line in (dump / "comment.jsonl").read_text().splitlines() if line.strip()]
    inline = {a["comment_id"]: a for a in iter_records(dump, "attachment") if a.get("inline") and a.get("content_id")}
    by_ticket: dict = {}
    for c in comments:
        by_ticket.setdefault(c["ticket_id"], []).append(c)
    for cs in by_ticket.values():
        cs.sort(key=lambda c: c.get("created_at") or "")
        first = next((i for i, c in enumerate(cs[:-1]) if c["id"] in inline), None)
        if first is not None:
            later = cs[first + 1]
            later["body_html"] = (later.get("body_html") or "<p>reply</p>") + \
                f'<blockquote><img src="cid:{inline[cs[first]["id"]]["content_id"]}"></blockquote>'
            break
    else:
        raise AssertionError("the sample has no inline image before a reply")
    (dump / "comment.jsonl").write_text("".join(json.dumps(c) + "\n" for c in comments))
    return sum(len(ii.image_refs(c.get("body_html"))) for c in comments)


@pytest.mark.parametrize("kind", ["zendesk", "freshdesk"])
def test_a_reply_quoting_an_earlier_image_points_at_the_target_copy(tmp_path, monkeypatch, kind):
    dump, blobs = _dump(tmp_path)
    images = _quote_an_earlier_image(dump)
    target = (make_zendesk() if kind == "zendesk" else make_freshdesk()).start()
    target.job_delay = 0.01
    try:
        _run({"adapter": "jsonl", "path": str(dump)}, target, tmp_path / "work", monkeypatch, target.env)
        if kind == "zendesk":
            bodies = [c["html_body"] for c in target.store.all("comment")]
        else:
            bodies = [t["description"] for t in target.store.all("ticket")]
            bodies += [c["body"] for c in target.store.all("conversation")]
        srcs = [r.src for b in bodies for r in ii.image_refs(b)]
        assert len(srcs) == images
        for src in srcs:
            if kind == "zendesk":
                assert ii.origin(src) == ii.origin(target.url) and httpx.get(src, timeout=10).content in blobs.values()
            else:
                assert base64.b64decode(src.split(",", 1)[1]) in blobs.values()
        p = _verify(tmp_path / "work", target.env)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    finally:
        target.stop()


def test_an_image_too_large_to_embed_in_freshdesk_is_named_not_lost(tmp_path, monkeypatch):
    """Zendesk -> Freshdesk with one inline image over MAX_EMBEDDED_IMAGE: it is attached, its
    <img> keeps the source URL, the run records inline_image_detached on the comment, and verify
    (the source stopped) lists that image as loading from the source, explained by that record."""
    import hashlib

    from adapters.freshdesk.target import MAX_EMBEDDED_IMAGE
    dump, _ = _dump(tmp_path)
    rows = [json.loads(line) for line in (dump / "attachment.jsonl").read_text().splitlines() if line.strip()]
    big = next(a for a in rows if a.get("inline"))
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(MAX_EMBEDDED_IMAGE + 1000)
    big["sha256"], big["size"] = hashlib.sha256(data).hexdigest(), len(data)
    blob_path(dump, big["sha256"]).write_bytes(data)
    (dump / "attachment.jsonl").write_text("".join(json.dumps(a) + "\n" for a in rows))
    source = make_zendesk(data=dump).start()
    target = make_freshdesk().start()
    try:
        env = {**source.env, **target.env}
        _run(source.plan_section, target, tmp_path / "work", monkeypatch, env)
        host = ii.origin(source.url)
        source.stop()
        bodies = [t["description"] for t in target.store.all("ticket")] + \
                 [c["body"] for c in target.store.all("conversation")]
        on_source = [r.src for b in bodies for r in ii.image_refs(b) if ii.origin(r.src) == host]
        assert len(on_source) == 1
        files = [a for t in target.store.all("ticket") for a in t["attachments"]]
        files += [a for c in target.store.all("conversation") for a in c["attachments"]]
        assert [target.blobs[a["id"]] for a in files if a["size"] == len(data)] == [data], "the file is attached"
        store = Store(tmp_path / "work")
        try:
            detached = [d for d in store.degradations() if d["code"] == "inline_image_detached"
                        and d["field"] == "body_html.img_src"]
        finally:
            store.close()
        assert len(detached) == 1 and "too many to embed" in detached[0]["detail"]
        p = _verify(tmp_path / "work", env)
        assert p.returncode == 0, p.stdout[-3000:]
        store = Store(tmp_path / "work")
        try:
            findings = (store.get_state("verify_report") or {}).get("findings") or []
        finally:
            store.close()
        (f,) = [f for f in findings if f["field"] == "body_html.img_src"]
        assert f["explained"] and f["code"] == "inline_image_detached" and "source account" in f["detail"]
    finally:
        source.stop()
        target.stop()


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["<img", "<IMG", "<iMg", " src=", "\"a.png\"", "'b'", "c", ">", "<", "/", "<!--",
                                 "-->", "<script>", "</script>", "<p", " ", "=", "im", "g", "<![CDATA[", "]]>"]),
                max_size=20))
def test_the_no_img_shortcut_gives_what_the_whole_scan_gives(parts):
    # A tag's name follows its "<" at once, so a body with no "<img" (any case) has no image
    # and image_refs answers without scanning (most bodies); on anything else it scans.
    text = "".join(parts)
    assert ii.image_refs(text) == ii._scan(text)
