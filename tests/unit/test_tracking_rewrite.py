"""Tracked links in real-world HTML layouts: the text a reader sees stays the same, every other part
stays octet for octet, and what cannot be rewritten safely goes out as it came."""

from __future__ import annotations

import binascii
import re
import time
from datetime import date, timedelta
from email.parser import BytesHeaderParser

import pytest

from core.config import TrackingSettings
from core.tracking import CLICK, OPEN, Tracked, TrackingLinks, make_token, read_token
from milter.tracked_body import tracked_body
from tests.support.html_mail import corpus, newsletter, parts, visible_text

KEY = b"t" * 32
BASE = "https://links.relay.test"
LINKS = TrackingLinks(KEY, BASE, opens=True, clicks=True)
TRACKED = Tracked(7, "abcdefghijklm", "reader@example.org")
SETTINGS = TrackingSettings()
_LINK = re.compile(r"https://links\.relay\.test/([co])/([A-Za-z0-9_-]+)")


def split(message: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The header fields as the milter gets them (values without the colon's space, folds as LF), and
    the body."""
    head, _, body = message.partition(b"\r\n\r\n")
    fields = BytesHeaderParser().parsebytes(head + b"\r\n\r\n")
    return [(n.encode(), v.encode().replace(b"\r\n", b"\n")) for n, v in fields.items()], body


def rewritten(message: bytes, links: TrackingLinks = LINKS,
              settings: TrackingSettings = SETTINGS) -> tuple[bytes, bytes | None]:
    headers, body = split(message)
    new = tracked_body(links, TRACKED, headers, body, settings)
    head = message.partition(b"\r\n\r\n")[0]
    return message, None if new is None else head + b"\r\n\r\n" + new


def destinations(text: str) -> list[tuple[str, str]]:
    found = []
    for kind, token in _LINK.findall(text):
        opened = read_token(KEY, kind, "links.relay.test", token, 400)
        assert opened is not None and (opened.tenant_id, opened.message_ref) == (7, "abcdefghijklm")
        found.append((kind, opened.url))
    return found


def uncommented(document: str) -> str:
    return re.sub(r"<!--.*?-->", "", document, flags=re.DOTALL)


@pytest.mark.parametrize("name", sorted(corpus()))
def test_each_layout_reads_the_same_after_rewriting(name: str) -> None:
    original, new = rewritten(corpus()[name])
    assert new is not None, name
    assert all(len(line) <= 998 for line in new.split(b"\r\n"))
    before, after = parts(original), parts(new)
    assert [(t, d) for t, d, _ in before] == [(t, d) for t, d, _ in after]
    tracked_parts = 0
    for (kind, disposition, old), (_, _, changed) in zip(before, after, strict=True):
        if kind != "text/html" or disposition == "attachment":
            assert changed == old
            continue
        charset = re.search(rb"charset=\"?([\w-]+)", new).group(1).decode()  # type: ignore[union-attr]
        old_text, new_text = old.decode(charset), changed.decode(charset)
        if "inner.example" in old_text:  # the forwarded message's part: not the sender's, left alone
            assert changed == old
            continue
        tracked_parts += 1
        assert visible_text(new_text) == visible_text(old_text)
        clicks = [url for kind, url in destinations(new_text) if kind == CLICK]
        assert clicks == [url.replace("&amp;", "&") for url in re.findall(
            r"""<a (?:class="button" )?(?:HREF|href)=['"]?(https://[^"'> ]+)""", uncommented(old_text))]
        assert [kind for kind, _ in destinations(new_text)].count(OPEN) == 1
        assert ("https://example.com/outlook" in new_text and "https://example.com/commented" in new_text) \
            or "outlook" not in old_text
    assert tracked_parts >= 1


def test_links_left_alone_are_left_alone() -> None:
    _original, new = rewritten(corpus()["single html windows-1252 base64"])
    assert new is not None
    html = next(c for t, _, c in parts(new) if t == "text/html").decode("windows-1252")
    for kept in ('href="javascript:alert(1)"', 'href="data:text/html,hi"', 'href="/relative"',
                 'data-mailrelay-notrack href="https://example.com/private"'):
        assert kept in html
    assert [url for _, url in destinations(html) if url] == ["https://example.com/orders/42",
                                                             "https://example.com/unquoted"]


def test_opens_only_or_clicks_only() -> None:
    message = corpus()["single html utf-8 qp"]
    for links, kinds in ((TrackingLinks(KEY, BASE, True, False), {OPEN}),
                         (TrackingLinks(KEY, BASE, False, True), {CLICK})):
        new = rewritten(message, links)[1]
        assert new is not None
        html = next(c for t, _, c in parts(new) if t == "text/html").decode()
        assert {kind for kind, _ in destinations(html)} == kinds


def test_a_plain_text_message_is_not_rewritten() -> None:
    message = b"From: a@example.com\r\nSubject: plain\r\n\r\nhttps://example.com/x\r\n"
    assert rewritten(message)[1] is None


@pytest.mark.parametrize("case", ["no closing delimiter", "no boundary", "unknown encoding", "bad base64",
                                  "unknown charset", "undecodable", "too large", "too many links",
                                  "too deep"])
def test_a_message_that_cannot_be_rewritten_safely_goes_out_as_it_came(case: str) -> None:
    html = "<html><body><a href=\"https://example.com/\">x</a></body></html>"
    head = b"From: a@example.com\r\nMIME-Version: 1.0\r\n"
    single = head + b"Content-Type: text/html; charset=%s\r\nContent-Transfer-Encoding: %s\r\n\r\n%s\r\n"
    messages = {
        "no closing delimiter": head + b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\n'
                                       b"Content-Type: text/html\r\n\r\n" + html.encode() + b"\r\n",
        "no boundary": head + b"Content-Type: multipart/alternative\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n",
        "unknown encoding": single % (b"utf-8", b"x-uuencode", html.encode()),
        "bad base64": single % (b"utf-8", b"base64", b"!!!not base64!!!"),
        "unknown charset": single % (b"x-no-such-charset", b"8bit", html.encode()),
        "undecodable": single % (b"utf-8", b"8bit", html.encode() + b"\xff\xfe"),
        "too large": single % (b"utf-8", b"7bit", html.replace("x<", "x" * 3_000_000 + "<").encode()),
        "too many links": single % (b"utf-8", b"7bit", (
            "<a href=\"https://example.com/\">x</a>\r\n" * 50_000).encode()),
        "too deep": head + b"".join(
            b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n) for n in range(30))
            + b"Content-Type: text/html\r\n\r\n" + html.encode() + b"\r\n"
            + b"".join(b"\r\n--b%d--\r\n" % n for n in reversed(range(30))),
    }
    started = time.perf_counter()
    assert rewritten(messages[case])[1] is None
    assert time.perf_counter() - started < 5


def test_malformed_html_gets_what_can_be_found_and_keeps_the_rest() -> None:
    documents = ['<a href="https://example.com/a">unclosed <b>bold <a href="https://example.com/b">x<p>',
                 "<a href='https://example.com/c'>x</a><!-- never closed <a href=\"https://example.com/d\">",
                 "<script>var a = '<a href=\"https://example.com/e\">';</script><a href=https://example.com/f>",
                 '<p>before</p><a href="https://example.com/g" <a href=<<>>']
    for document in documents:
        message = (b"From: a@example.com\r\nContent-Type: text/html; charset=utf-8\r\n"
                   b"Content-Transfer-Encoding: 8bit\r\n\r\n" + document.encode() + b"\r\n")
        new = rewritten(message)[1]
        assert new is not None
        body = new.partition(b"\r\n\r\n")[2].decode()
        assert visible_text(body) == visible_text(document)
        if document.startswith("<script>"):
            assert [url for _, url in destinations(body) if url] == ["https://example.com/f"]


def test_a_large_part_with_many_links_is_rewritten_in_bounded_time() -> None:
    document = newsletter(links=1000, padding=1024 * 1024)
    message = (b"From: a@example.com\r\nContent-Type: text/html; charset=utf-8\r\n"
               b"Content-Transfer-Encoding: quoted-printable\r\n\r\n") + binascii.b2a_qp(
        document.encode(), istext=True)
    started = time.perf_counter()
    assert rewritten(message)[1] is not None
    assert time.perf_counter() - started < 5


def test_tokens_open_only_for_their_kind_and_host_and_while_fresh() -> None:
    clicked = Tracked(3, "abcdefghijklm", "r@example.org", "https://example.com/x?a=1&b=2")
    token = make_token(KEY, CLICK, "t.example.com", clicked)
    assert read_token(KEY, CLICK, "T.Example.com", token, 400) == clicked
    changed = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    for kind, host, bad in ((OPEN, "t.example.com", token), (CLICK, "t.other.com", token),
                            (CLICK, "t.example.com", token[:-4]), (CLICK, "t.example.com", changed),
                            (CLICK, "t.example.com", token + "AA"), (CLICK, "t.example.com", "é" * 60)):
        assert read_token(KEY, kind, host, bad, 400) is None
    old = Tracked(3, "abcdefghijklm", "r@example.org", "https://example.com/", date.today() - timedelta(401))
    assert read_token(KEY, CLICK, "h", make_token(KEY, CLICK, "h", old), 400) is None
    assert "example.com" not in token and "r@" not in token
