"""Inline images in comment HTML: find every `<img src>`, tell which attachment it shows, rewrite
only those attribute values and leave every other byte of the HTML as it was.

Used by targets that re-host inline images (upload the file, point `src` at the target's copy) or
embed them (data: URIs), and by `verify` to see images that still load from the source account.
The scanner follows the HTML tokenizer where it matters here: comments, CDATA, declarations and
the raw text of script/style/textarea/title are skipped; attribute values may be double-, single-
or unquoted and hold entities; the first `src` of a tag counts (as browsers do).
"""

from __future__ import annotations

import base64
import dataclasses
import html as _html
import re
from collections.abc import Callable, Iterable
from urllib.parse import unquote, urlsplit

RAW_TEXT = ("script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes")
_SPACE = " \t\n\r\f"
# Source-side fields of an attachment that hold the URL its inline <img> used.
URL_FIELDS = ("content_url", "mapped_content_url", "inline_url", "attachment_url")


@dataclasses.dataclass(frozen=True)
class ImageRef:
    start: int          # offset of the value in the HTML (inside the quotes, if any)
    end: int
    quote: str          # '"', "'" or "" (unquoted)
    src: str            # the value with character references decoded
    attrs: dict         # every attribute of the tag (first occurrence), decoded


_IMG_TAG = re.compile(r"<img", re.IGNORECASE)


def image_refs(text: str | None) -> list[ImageRef]:
    """Every <img> with a src attribute, in document order."""
    if not text or not _IMG_TAG.search(text):
        return []        # a tag's name follows its "<" at once: no "<img", no image (most bodies)
    return _scan(text)


def _scan(text: str) -> list[ImageRef]:
    out: list[ImageRef] = []
    i, n = 0, len(text)
    while True:
        i = text.find("<", i)
        if i < 0 or i + 1 >= n:
            return out
        if text.startswith("<!--", i):
            j = text.find("-->", i + 4)
            i = n if j < 0 else j + 3
            continue
        if text.startswith("<![CDATA[", i):
            j = text.find("]]>", i + 9)
            i = n if j < 0 else j + 3
            continue
        if text[i + 1] in "!?":
            j = text.find(">", i + 2)
            i = n if j < 0 else j + 1
            continue
        closing = text[i + 1] == "/"
        k = i + 2 if closing else i + 1
        if k >= n or not text[k].isalpha():
            i += 1          # a bare "<" is text
            continue
        m = k
        while m < n and text[m] not in _SPACE + "/>":
            m += 1
        name = text[k:m].lower()
        end, attrs, spans = _attributes(text, m)
        if not closing and name == "img" and "src" in spans:
            start, stop, quote = spans["src"]
            out.append(ImageRef(start, stop, quote, attrs["src"], attrs))
        i = end
        if not closing and name in RAW_TEXT:
            close = re.compile(rf"</{name}[\s/>]", re.IGNORECASE).search(text, i)
            i = n if close is None else close.start()


def _attributes(text: str, i: int) -> tuple[int, dict, dict]:
    """Parse a tag's attributes from i; (offset after the tag, {name: value}, {name: span})."""
    n = len(text)
    attrs: dict[str, str] = {}
    spans: dict[str, tuple[int, int, str]] = {}
    while i < n:
        while i < n and (text[i] in _SPACE or text[i] == "/"):
            i += 1
        if i >= n:
            return n, attrs, spans
        if text[i] == ">":
            return i + 1, attrs, spans
        a = i
        i += 1                    # a name may start with "=" (tokenizer rule)
        while i < n and text[i] not in _SPACE + "/>=":
            i += 1
        name = text[a:i].lower()
        j = i
        while j < n and text[j] in _SPACE:
            j += 1
        if j < n and text[j] == "=":
            j += 1
            while j < n and text[j] in _SPACE:
                j += 1
            if j < n and text[j] in "\"'":
                quote = text[j]
                stop = text.find(quote, j + 1)
                if stop < 0:
                    return n, attrs, spans   # unterminated: the rest is not HTML we rewrite
                span, i = (j + 1, stop, quote), stop + 1
            else:
                stop = j
                while stop < n and text[stop] not in _SPACE + ">":
                    stop += 1
                span, i = (j, stop, ""), stop
            if name not in attrs:
                attrs[name] = _html.unescape(text[span[0]:span[1]])
                spans[name] = span
        else:
            attrs.setdefault(name, "")
    return n, attrs, spans


def rewrite(text: str | None, new_src: Callable[[ImageRef], str | None]) -> tuple[str | None, list[tuple[str, str]]]:
    """The HTML with each image's src replaced by new_src(ref) (None: kept), and the
    (old, new) pairs changed. Nothing but those attribute values changes."""
    if not text:
        return text, []
    parts: list[str] = []
    changed: list[tuple[str, str]] = []
    last = 0
    for ref in image_refs(text):
        new = new_src(ref)
        if new is None or new == ref.src:
            continue
        value = _html.escape(new, quote=True)
        parts.append(text[last:ref.start])
        parts.append(value if ref.quote else f'"{value}"')
        last = ref.end
        changed.append((ref.src, new))
    parts.append(text[last:])
    return "".join(parts), changed


def masked(text: str | None) -> str | None:
    """The HTML with every image's src emptied: two bodies equal masked differ only in image URLs."""
    return rewrite(text, lambda ref: "")[0]


def cid_of(src: str) -> str | None:
    """The Content-ID a `cid:` URL names (RFC 2392: URL-encoded, no angle brackets)."""
    s = src.strip()
    if s[:4].lower() != "cid:":
        return None
    return unquote(s[4:]).strip().strip("<>").strip() or None


def _content_id(attachment: dict) -> str | None:
    value = attachment.get("content_id")
    return str(value).strip().strip("<>").strip() or None if value else None


def source_urls(attachment: dict) -> set[str]:
    extra = attachment.get("extra") or {}
    return {str(extra[k]).strip() for k in URL_FIELDS if isinstance(extra.get(k), str) and extra.get(k)}


def refers_to(ref: ImageRef, attachment: dict) -> bool:
    """Does this <img> show this attachment: `cid:` its Content-ID, Freshdesk's data-id, or the
    URL the source served it at?"""
    content_id = _content_id(attachment)
    cid = cid_of(ref.src)
    if cid is not None:
        return content_id is not None and cid.lower() == content_id.lower()
    if content_id is not None and (ref.attrs.get("data-id") or "").strip() == content_id:
        return True
    return ref.src.strip() in source_urls(attachment)


def matches(text: str | None, attachments: Iterable[dict]) -> dict[int, dict]:
    """ImageRef.start -> the attachment it shows, for every image of this HTML that shows one."""
    found: dict[int, dict] = {}
    atts = list(attachments)
    for ref in image_refs(text):
        for att in atts:
            if refers_to(ref, att):
                found[ref.start] = att
                break
    return found


def referenced(text: str | None, attachment: dict) -> bool:
    return any(refers_to(ref, attachment) for ref in image_refs(text))


def point_at(text: str | None, urls: dict[str, str], attachments: Iterable[dict]) -> tuple[str | None, list[tuple[str, str]]]:
    """Rewrite every image that shows one of `attachments` to urls[attachment id] (when known)."""
    atts = [a for a in attachments if str(a.get("id")) in urls]

    def new_src(ref: ImageRef) -> str | None:
        for att in atts:
            if refers_to(ref, att):
                return urls[str(att["id"])]
        return None
    return rewrite(text, new_src)


_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
          (b"GIF89a", "image/gif"), (b"BM", "image/bmp"))


def image_type(content_type: str | None, data: bytes) -> str:
    """The image's media type: the declared one when it names an image, else from its first bytes
    (sources such as Freshdesk's inline images declare application/octet-stream)."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype.startswith("image/"):
        return ctype
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return ctype or "application/octet-stream"


def data_uri(content_type: str | None, data: bytes) -> str:
    return f"data:{image_type(content_type, data)};base64," + base64.b64encode(data).decode("ascii")


def origin(url: str | None) -> str | None:
    """host[:port] of an absolute (or scheme-relative) http(s) URL, lower case, without a default port."""
    try:
        parts = urlsplit((url or "").strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https", "") or not host:
        return None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return f"{host.lower()}" + (f":{port}" if port and port != default else "")


def images_on(text: str | None, host: str | None) -> list[str]:
    """The image srcs of this HTML that load from `host` (as origin() spells it)."""
    if not host:
        return []
    return [ref.src for ref in image_refs(text) if origin(ref.src) == host]
