"""Plain text shown as HTML: everything escaped, http(s) addresses made clickable, line
breaks kept. The only markup that can come out is `<a href=...>` and `<br>`, built here
from escaped parts, so user text can never add tags or attributes of its own."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# An address runs until whitespace or a character that cannot be part of it unescaped.
_URL = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
# Punctuation that usually ends the sentence around a link rather than the link itself.
_TRAILING = ".,;:!?*'\""
_REL = "nofollow noopener noreferrer"


def _split_trailing(url: str) -> tuple[str, str]:
    """("https://x.org/a).", ...) -> ("https://x.org/a", ")."): closing brackets stay in
    the link only while they balance an opening one inside it (Wikipedia-style paths)."""
    tail = ""
    while url:
        last = url[-1]
        unbalanced = (last == ")" and url.count("(") < url.count(")")) or (
            last == "]" and url.count("[") < url.count("]")
        )
        if last not in _TRAILING and not unbalanced:
            break
        tail = last + tail
        url = url[:-1]
    return url, tail


def _text(part: str) -> Markup:
    return Markup("<br>\n").join(escape(line) for line in part.split("\n"))


def linkify(text: str) -> Markup:
    """`text` as safe HTML: escaped, with http(s) links as `<a target="_blank"
    rel="nofollow noopener noreferrer">` and each line break as `<br>`."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out: list[Markup] = []
    position = 0
    for match in _URL.finditer(text):
        url, _tail = _split_trailing(match.group(0))  # the tail stays in the text
        if "://" not in url or url.endswith("://"):
            continue
        out.append(_text(text[position : match.start()]))
        out.append(Markup('<a href="{0}" rel="{1}" target="_blank">{0}</a>').format(url, _REL))
        position = match.start() + len(url)
    out.append(_text(text[position:]))
    return Markup("").join(out)
