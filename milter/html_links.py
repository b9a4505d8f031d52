"""Tracked links in one HTML document: http(s) hrefs of <a> tags become click links, and an open
pixel goes before </body>.

Written here rather than with an HTML parser that re-serializes (html.parser, lxml): those
change quoting, entities and whitespace all over the document, while here only the href
values and the pixel are new and every other character stays where it was. What is not
an <a> tag's href is never touched: comments (conditional comments included: their
links are Outlook's and stay as they are), scripts and styles, mailto:, tel:, anchors,
relative, javascript: and data: URLs, and links the app marks with NO_TRACK.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

NO_TRACK = "data-mailrelay-notrack"
# The longest href written into a part whose lines are not re-wrapped (7bit, 8bit): it goes on
# a line of its own, which SMTP limits to 998 octets.
MAX_BARE_HREF = 900
MAX_URL = 4000

_SCAN = re.compile(
    r"<!--.*?(?:-->|\Z)"  # a comment, or one never closed: to the end
    r"|<(script|style)\b.*?(?:</\1\s*>|\Z)"
    r"|<a(?=[\s/>])[^>]*>"
    r"|</body\s*>",
    re.IGNORECASE | re.DOTALL,
)
_HREF = re.compile(r"""(\s)href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.IGNORECASE)
_NO_TRACK = re.compile(rf"\s{NO_TRACK}(?=[\s=/>])", re.IGNORECASE)
_TRACKABLE = re.compile(r"https?://[^/?#\s]", re.IGNORECASE)
# Browsers drop these from anywhere in a URL (WHATWG URL standard).
_DROPPED = str.maketrans("", "", "\t\n\r")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


class TooManyLinks(Exception):
    """More links than the settings allow; the message goes out untracked."""


def trackable_url(value: str) -> str | None:
    """The URL an href attribute value names, when it is one to track."""
    url = html.unescape(value).strip("\x00\x20\t\n\r\x0c").translate(_DROPPED)
    if len(url) > MAX_URL or not _TRACKABLE.match(url) or _CONTROL.search(url):
        return None
    return url


def rewrite(document: str, click_url: Callable[[str], str] | None, pixel_url: str | None,
            bare_lines: bool, max_links: int) -> str | None:
    """The document with tracked links, or None when nothing changed. bare_lines: the part is
    sent as it is (7bit, 8bit), so each new href goes on a line of its own."""
    pieces: list[str] = []
    kept = 0
    body_end = -1
    links = 0
    for found in _SCAN.finditer(document):
        text = found.group(0)
        if text[1] == "/":
            body_end = found.start()
            continue
        if click_url is None or text[:2].lower() != "<a" or _NO_TRACK.search(text):
            continue
        href = _HREF.search(text)
        if href is None:
            continue
        url = trackable_url(next(v for v in href.group(2, 3, 4) if v is not None))
        if url is None:
            continue
        links += 1
        if links > max_links:
            raise TooManyLinks(f"more than {max_links} links")
        new = click_url(url)
        if bare_lines and len(new) > MAX_BARE_HREF:
            continue
        start = found.start() + href.start()
        separator, after = ("\r\n", "\r\n") if bare_lines else (href.group(1), "")
        pieces += [document[kept:start], f'{separator}href="{new}"{after}']
        kept = found.start() + href.end()
    if pixel_url is not None:
        at = body_end if body_end >= kept else len(document)
        pixel = (f'<img src="{pixel_url}" width="1" height="1" alt="" '
                 'style="display:block;width:1px;height:1px;border:0">')
        pieces += [document[kept:at], f"\r\n{pixel}\r\n" if bare_lines else pixel]
        kept = at
    if not pieces:
        return None
    pieces.append(document[kept:])
    return "".join(pieces)
