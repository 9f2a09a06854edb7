"""A platform's web pages (the id map's old and new URLs) and links between tickets inside bodies.

An adapter declares its pages as `WebPages` on its `AdapterSpec`: URL templates per kind, the
first the page the platform shows, the others older or customer-facing forms of the same page
(`{base}` is the plan section's URL, `{id}` the record's id, `{any}` a path word such as a
locale). From the source's templates `rewrite` finds links to the source's own tickets inside a
body — full URLs, and `#1234` where the source's UI links those — and points them at the new
tickets. Nothing inside `<code>`/`<pre>` changes, no host but the source's own is touched, and
HTML is edited in place (only the matched characters change, never a re-serialisation).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

_ANY = r"[A-Za-z0-9_-]+"
_TAG = re.compile(r"<!--.*?-->|<[^>]*>", re.S)
_TAG_NAME = re.compile(r"<\s*(/?)\s*([A-Za-z][A-Za-z0-9]*)")
_HREF = re.compile(r"""(\bhref\s*=\s*)(["']?)([^"'\s>]*)""", re.I)
# `#1234` as a word of its own: not an entity (`&#123;`), not a URL fragment, not part of a word.
_HASH = re.compile(r"(?<![\w&/#;=:])#(\d{1,12})(?![\w])")
_VERBATIM = {"code", "pre"}


@dataclass(frozen=True)
class WebPages:
    templates: dict[str, tuple[str, ...]]
    base: Callable[[dict], str] = lambda config: config.get("url") or ""
    hash_refs: bool = False          # the UI links `#1234` in bodies to ticket 1234

    def url(self, config: dict, kind: str, record_id: str) -> str | None:
        """The record's page; None where the platform has none, the plan section has no URL, or
        the id is not the platform's own (some adapters prefix canonical person ids)."""
        forms, root = self.templates.get(kind), self._root(config)
        if not forms or not root or not str(record_id).isdigit():
            return None
        return forms[0].replace("{base}", root).replace("{id}", str(record_id))

    def ticket_pattern(self, config: dict) -> re.Pattern | None:
        """A regex matching any of the ticket page forms on this account's host (http or https);
        `ticket_id(match)` reads the id."""
        root = self._root(config)
        if not root or not self.templates.get("ticket"):
            return None
        host = r"https?://" + re.escape(re.sub(r"^https?://", "", root))
        forms = []
        for i, template in enumerate(self.templates["ticket"]):
            rest = re.escape(template.removeprefix("{base}"))
            rest = rest.replace(re.escape("{id}"), rf"(?P<id{i}>\d+)", 1).replace(re.escape("{any}"), _ANY)
            forms.append(f"(?:{host}{rest})(?![\\w/])")
        return re.compile("|".join(forms))

    def _root(self, config: dict) -> str:
        return (self.base(config) or "").rstrip("/")


def ticket_id(match: re.Match) -> str:
    return next(v for k, v in match.groupdict().items() if k.startswith("id") and v is not None)


@dataclass(frozen=True)
class LinkChange:
    """One link found in a body: to which source ticket, and what became of it."""
    old_id: str
    form: str                 # "url" or "number"
    new_id: str | None = None
    new_url: str | None = None
    why_not: str | None = None   # set when the link was left as it was


@dataclass
class Rewriter:
    """Rewrites the links of one source into one target. `resolve(old ticket id)` gives
    `(new id, new URL or None)`, or None while that ticket has no target id."""
    pattern: re.Pattern | None
    hash_refs: bool
    resolve: Callable[[str], tuple[str, str | None] | None]
    changes: list[LinkChange] = field(default_factory=list)

    def body(self, text: str | None, *, html: bool) -> tuple[str | None, list[LinkChange]]:
        """The body with its links rewritten, and every link found (rewritten or not, and why)."""
        self.changes = []
        if not text or (self.pattern is None and not self.hash_refs):
            return text, []
        # Nothing to rewrite where the whole body holds no match: a match inside a piece of it
        # (a text run, an href value) is one in the whole (no pattern looks behind a URL, and
        # what ends a piece is never a character the patterns' look-aheads refuse).
        if (self.pattern is None or not self.pattern.search(text)) and not (self.hash_refs and _HASH.search(text)):
            return text, []
        out = self._html(text) if html else self._text(text, in_link=False, html=False)
        return out, self.changes

    # -- HTML: tags and text apart, code and pre left alone ------------------------------------
    def _html(self, text: str) -> str:
        parts, pos, verbatim, in_link = [], 0, 0, 0
        for m in _TAG.finditer(text):
            parts.append(text[pos:m.start()] if verbatim else self._text(text[pos:m.start()], bool(in_link), True))
            tag = m.group(0)
            name = _TAG_NAME.match(tag)
            closing, tag_name = (name.group(1) == "/", name.group(2).lower()) if name else (False, "")
            if tag_name in _VERBATIM:
                verbatim = max(0, verbatim + (-1 if closing else 1))
            elif tag_name == "a":
                in_link = max(0, in_link + (-1 if closing else 1))
            parts.append(tag if verbatim or tag_name in _VERBATIM else self._href(tag))
            pos = m.end()
        parts.append(text[pos:] if verbatim else self._text(text[pos:], bool(in_link), True))
        return "".join(parts)

    def _href(self, tag: str) -> str:
        if self.pattern is None or "href" not in tag.lower():
            return tag

        def one(m: re.Match) -> str:
            full = self.pattern.fullmatch(m.group(3))
            return m.group(1) + m.group(2) + (self._url(full) if full else m.group(3))
        return _HREF.sub(one, tag)

    # -- text: URLs, then `#1234` -------------------------------------------------------------
    def _text(self, text: str, in_link: bool, html: bool) -> str:
        if self.pattern is not None:
            text = self.pattern.sub(self._url, text)
        if self.hash_refs:
            text = _HASH.sub(lambda m: self._number(m, in_link, html), text)
        return text

    def _url(self, m: re.Match) -> str:
        old = ticket_id(m)
        found = self.resolve(old)
        if found is None:
            self.changes.append(LinkChange(old, "url", why_not=f"ticket {old} has no target id (not migrated)"))
            return m.group(0)
        new_id, new_url = found
        if new_url is None:
            self.changes.append(LinkChange(old, "url", new_id, why_not="the target has no page for tickets"))
            return m.group(0)
        self.changes.append(LinkChange(old, "url", new_id, new_url))
        return new_url

    def _number(self, m: re.Match, in_link: bool, html: bool) -> str:
        old = m.group(1)
        found = self.resolve(old)
        if found is None:
            self.changes.append(LinkChange(old, "number", why_not=f"ticket {old} has no target id (not migrated)"))
            return m.group(0)
        new_id, new_url = found
        self.changes.append(LinkChange(old, "number", new_id, new_url))
        if html and new_url and not in_link:
            return f'<a href="{new_url}">#{new_id}</a>'
        return f"#{new_id}"


# -- a comment's links, as the load writes them and verify reads them back ------------------------

BODY_FIELDS = (("body_html", True), ("body_text", False))
_RECORDED = re.compile(r"^ticket (\S+) → (\S+): (\S+)$")


def source_pattern(pages: WebPages | None, source_section: dict) -> tuple[re.Pattern | None, bool]:
    """The source's ticket-link pattern and whether its UI links `#1234`; (None, False) where its
    adapter declares no pages."""
    return (pages.ticket_pattern(source_section), pages.hash_refs) if pages else (None, False)


def rewrite_record(record: dict, rewriter: Rewriter) -> tuple[dict, list[LinkChange]]:
    """A comment with the links of its bodies rewritten (the same dict when nothing changed)."""
    out, found = record, []
    for name, html in BODY_FIELDS:
        if not record.get(name):
            continue
        new, changes = rewriter.body(record[name], html=html)
        found += changes
        if new != record[name]:
            out = dict(out) if out is record else out
            out[name] = new
    return out, found


def details(changes: list[LinkChange]) -> tuple[str, str]:
    """(rewritten, left) as degradation details: `ticket OLD → NEW: URL; …` and `ticket OLD: why; …`."""
    done = "; ".join(dict.fromkeys(f"ticket {c.old_id} → {c.new_id}: {c.new_url}" for c in changes if not c.why_not))
    left = "; ".join(dict.fromkeys(f"ticket {c.old_id}: {c.why_not}" for c in changes if c.why_not))
    return done, left


def recorded(detail: str) -> dict[str, tuple[str, str]]:
    """The rewrites a `link_rewritten` detail names: old id -> (new id, new URL)."""
    out = {}
    for part in (detail or "").split("; "):
        m = _RECORDED.match(part.strip())
        if m:
            out[m.group(1)] = (m.group(2), m.group(3))
    return out
