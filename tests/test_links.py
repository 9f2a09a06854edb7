"""Links between tickets inside bodies (issue 18 item 4): found by the source's page forms,
pointed at the new tickets, nothing inside <code>/<pre> or on a foreign host touched, every link
found recorded (rewritten, or why not)."""

from hypothesis import given, settings, strategies as st

from adapters.freshdesk import ADAPTER as FRESHDESK
from adapters.zendesk import ADAPTER as ZENDESK
from hdmigrate.links import Rewriter, WebPages

ZD = {"adapter": "zendesk", "url": "https://acme.zendesk.com"}
FD = {"adapter": "freshdesk", "url": "https://acme.freshdesk.com"}
NEW = {"101": "9001", "102": "9002"}     # source ticket -> target ticket (103 is not migrated)
# A source whose UI links "#1234" (none of the built-in ones is documented to: Zendesk's pages only
# auto-link URLs), for the number rules.
LINKS_NUMBERS = WebPages(ZENDESK.web_pages.templates, hash_refs=True)


def rewriter(pages=LINKS_NUMBERS, section=ZD):
    def resolve(old):
        new = NEW.get(old)
        return None if new is None else (new, FRESHDESK.web_pages.url(FD, "ticket", new))
    return Rewriter(pages.ticket_pattern(section), pages.hash_refs, resolve)


def test_every_zendesk_page_form_is_pointed_at_the_new_ticket_in_html():
    body = ('<p>See <a href="https://acme.zendesk.com/agent/tickets/101">the old one</a>, '
            'http://acme.zendesk.com/tickets/102 and '
            '<a href=\'https://acme.zendesk.com/hc/de/requests/101\'>Anfrage</a>.</p>')
    out, changes = rewriter().body(body, html=True)
    assert out == ('<p>See <a href="https://acme.freshdesk.com/a/tickets/9001">the old one</a>, '
                   'https://acme.freshdesk.com/a/tickets/9002 and '
                   '<a href=\'https://acme.freshdesk.com/a/tickets/9001\'>Anfrage</a>.</p>')
    assert [(c.old_id, c.form, c.new_id) for c in changes] == [("101", "url", "9001"), ("102", "url", "9002"),
                                                              ("101", "url", "9001")]
    assert all(c.why_not is None for c in changes)


def test_code_pre_foreign_hosts_and_lookalikes_stay_byte_identical():
    body = ('<pre>https://acme.zendesk.com/agent/tickets/101 #101</pre>'
            '<p><code>#102</code> https://evil.example/agent/tickets/101 '
            'https://acme.zendesk.com.evil.example/agent/tickets/101 '
            'https://acme.zendesk.com/agent/tickets/1015 is another, &#102; is an entity, '
            'color:#101 and page#101 are not references, '
            'https://acme.zendesk.com/agent/tickets/101/events is a sub-page</p>')
    out, changes = rewriter().body(body, html=True)
    assert out == body      # nothing at all changed
    assert [(c.old_id, c.why_not is not None) for c in changes] == [("1015", True)]


def test_hash_numbers_become_the_new_number_and_a_link_in_html():
    out, changes = rewriter().body("<p>Duplicate of #101, see also #103.</p>", html=True)
    assert out == '<p>Duplicate of <a href="https://acme.freshdesk.com/a/tickets/9001">#9001</a>, see also #103.</p>'
    assert [(c.old_id, c.form, c.new_id) for c in changes] == [("101", "number", "9001"), ("103", "number", None)]
    assert changes[1].why_not == "ticket 103 has no target id (not migrated)"
    # inside a link already the number is renumbered, not wrapped twice
    out, _ = rewriter().body('<a href="https://acme.zendesk.com/agent/tickets/101">#101</a>', html=True)
    assert out == '<a href="https://acme.freshdesk.com/a/tickets/9001">#9001</a>'


def test_plain_text_bodies_and_sources_whose_ui_does_not_link_numbers():
    out, changes = rewriter().body("Siehe #101 und https://acme.zendesk.com/agent/tickets/102\n", html=False)
    assert out == "Siehe #9001 und https://acme.freshdesk.com/a/tickets/9002\n"
    # Freshdesk's UI does not link "#101": only its page URLs are references
    out, changes = rewriter(FRESHDESK.web_pages, FD).body("#101 https://acme.freshdesk.com/helpdesk/tickets/101", html=False)
    assert out == "#101 https://acme.freshdesk.com/a/tickets/9001"
    assert [(c.old_id, c.form) for c in changes] == [("101", "url")]


def test_a_target_without_pages_keeps_the_link_and_says_why():
    r = Rewriter(ZENDESK.web_pages.ticket_pattern(ZD), False, lambda old: (NEW[old], None))
    out, changes = r.body("https://acme.zendesk.com/agent/tickets/101", html=False)
    assert out == "https://acme.zendesk.com/agent/tickets/101"
    assert changes[0].new_id == "9001" and changes[0].why_not == "the target has no page for tickets"


def test_no_pages_no_changes():
    r = Rewriter(None, False, lambda old: ("1", "x"))
    assert r.body("#5 https://acme.zendesk.com/agent/tickets/5", html=False) == (
        "#5 https://acme.zendesk.com/agent/tickets/5", [])



_PIECES = ["<p>", "</p>", "<a href=\"", "\">", "</a>", "<code>", "</code>", "<!-- ", " -->", "#", "#101", "&#35;",
           "102", " ", "/", "x", "https://acme.zendesk.com", "https://acme.zendesk.com/agent/tickets/",
           "/agent/tickets/101", "/hc/requests/", "?", "<", ">", "'", "=", "href=", "\n", "ü"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=25), st.booleans())
def test_the_no_match_shortcut_gives_what_the_whole_scan_gives(parts, html):
    # body() hands back at once a body with no match anywhere; on bodies built from what links
    # are made of, it gives what the full scan (_html / _text) gives.
    text = "".join(parts)
    slow = rewriter()
    expected = slow._html(text) if html else slow._text(text, in_link=False, html=False)
    got, changes = rewriter().body(text, html=html)
    if text:
        assert (got, changes) == (expected, slow.changes)
