"""The chat's linkifier (app/services/text_links.py): everything escaped, only http(s)
links become anchors, line breaks kept, nothing else can add markup."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from app.services.text_links import linkify

REL = 'rel="nofollow noopener noreferrer" target="_blank"'


def test_plain_text_is_escaped_and_nothing_else_changes():
    out = linkify("5 < 6 & \"quotes\" 'too'")
    assert isinstance(out, Markup)
    assert str(out) == "5 &lt; 6 &amp; &#34;quotes&#34; &#39;too&#39;"


@pytest.mark.parametrize(
    "payload",
    [
        "<script>window.__pwned=1</script>",
        "<img src=x onerror=window.__pwned=1>",
        '<a href="javascript:alert(1)">x</a>',
        "<b>bold</b>",
    ],
)
def test_html_and_script_come_out_as_text(payload):
    out = str(linkify(payload))
    assert "<" not in out.replace("<br>", "")
    assert "&lt;" in out


def test_https_and_http_links_become_safe_anchors():
    out = str(linkify("see https://example.org/a?b=1&c=2 and http://x.test"))
    url = "https://example.org/a?b=1&amp;c=2"
    assert f'<a href="{url}" {REL}>{url}</a>' in out
    assert f'<a href="http://x.test" {REL}>http://x.test</a>' in out


@pytest.mark.parametrize(
    "text",
    ["javascript:alert(1)", "data:text/html,<b>x</b>", "ftp://example.org", "www.example.org"],
)
def test_other_schemes_stay_text(text):
    assert "<a " not in str(linkify(text))


def test_trailing_punctuation_and_unbalanced_brackets_stay_outside_the_link():
    out = str(linkify("(https://example.org/x). Also https://en.wikipedia.org/wiki/A_(b)!"))
    assert '<a href="https://example.org/x"' in out
    assert "</a>)." in out
    assert '<a href="https://en.wikipedia.org/wiki/A_(b)"' in out
    assert "</a>!" in out


def test_a_quote_or_angle_bracket_ends_the_link_and_cannot_break_out_of_the_attribute():
    out = str(linkify('https://evil.test/"onmouseover="alert(1) https://x.test/<script>'))
    assert '<a href="https://evil.test/"' in out
    assert 'onmouseover="' not in out
    assert "&#34;onmouseover=&#34;alert(1)" in out
    assert '<a href="https://x.test/"' in out
    assert "&lt;script&gt;" in out


def test_line_breaks_are_kept():
    assert str(linkify("one\r\ntwo\nthree")) == "one<br>\ntwo<br>\nthree"


def test_a_bare_scheme_is_not_a_link():
    assert str(linkify("https:// nothing")) == "https:// nothing"
