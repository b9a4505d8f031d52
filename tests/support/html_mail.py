"""HTML mail as apps and mail clients lay it out, for the tracking tests: newsletters in tables,
Outlook's conditional comments, receipts, nested multiparts with attachments, in
quoted-printable, base64 and 8bit, in UTF-8 and other charsets."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage, Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from html.parser import HTMLParser

SENDER = "news@example.com"


def newsletter(links: int = 20, padding: int = 30 * 1024) -> str:
    """A table layout with links and a footer, about padding characters long."""
    rows = "".join(
        f'<tr><td class="item" style="padding:8px"><a href="https://shop.example.com/p/{n}?utm_source=mail'
        f'&amp;utm_campaign=winter&amp;id={n}" target="_blank" style="color:#0a58ca">Article {n}: '
        f"winter offers, part {n}</a><p>Lorem ipsum dolor sit amet, item {n}.</p></td></tr>\r\n"
        for n in range(links))
    filler = "<p>" + ("Text of the letter, line after line. " * 40) + "</p>\r\n"
    fill = filler * max(0, (padding - len(rows)) // len(filler))
    return ("<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\"><style>a{color:red}</style></head>\r\n"
            f"<body><table width=\"600\">\r\n{rows}</table>\r\n{fill}"
            '<p><a href="mailto:help@example.com">Write to us</a> · <a href="#top">Top</a> · '
            '<a href="tel:+15551234">Call</a></p></body></html>\r\n')


def long_lines(document: str) -> str:
    """The document's lines joined three by three: lines near SMTP's 998-octet limit."""
    lines = document.split("\r\n")
    return "\r\n".join("".join(lines[n:n + 3]) for n in range(0, len(lines), 3))


OUTLOOK = (
    "<html><body>\r\n<!--[if mso]><v:roundrect href=\"https://example.com/outlook\" arcsize=\"10%\">"
    "<center>Buy</center></v:roundrect><![endif]-->\r\n"
    "<!--[if !mso]><!--><a href=\"https://example.com/buy\" class=\"button\">Buy</a><!--<![endif]-->\r\n"
    "<!-- <a href=\"https://example.com/commented\">old</a> -->\r\n"
    "<p>Grüße, l'équipe</p></body></html>\r\n")

RECEIPT = ("<html><body><h1>Receipt Nr. 42 \u2013 \u201cpaid\u201d</h1><p>Total: 12,50 €</p>"
           "<a HREF='https://example.com/orders/42'>Your order</a> "
           "<a href=https://example.com/unquoted>unquoted</a> "
           "<a data-mailrelay-notrack href=\"https://example.com/private\">not tracked</a> "
           "<a href=\"javascript:alert(1)\">js</a> <a href=\"data:text/html,hi\">data</a> "
           "<a href=\"/relative\">rel</a></body></html>")


def _html(document: str, charset: str, encoding: str) -> MIMEText:
    part = MIMEText(document, "html", charset)
    content = part.get_payload(decode=True)
    del part["Content-Transfer-Encoding"]
    part.set_payload(content)
    {"quoted-printable": email.encoders.encode_quopri, "base64": email.encoders.encode_base64}.get(
        encoding, email.encoders.encode_7or8bit)(part)
    return part


def corpus() -> dict[str, bytes]:
    """Name: a whole message, CRLF line endings, as a client submits it."""
    found: dict[str, bytes] = {}

    def add(name: str, message: Message) -> None:
        message["From"] = SENDER
        message["To"] = "reader@example.org"
        message["Subject"] = name
        found[name] = message.as_bytes(policy=email.policy.SMTP)

    add("single html utf-8 qp", _html(newsletter(), "utf-8", "quoted-printable"))
    add("single html latin-1 8bit", _html(OUTLOOK, "iso-8859-1", "8bit"))
    add("single html windows-1252 base64", _html(RECEIPT, "windows-1252", "base64"))
    add("single html ascii 7bit long lines", _html(long_lines(newsletter(60, 0).replace("·", "|")),
                                                   "us-ascii", "7bit"))
    alternative = MIMEMultipart("alternative")
    alternative.attach(MIMEText("Plain text version: https://shop.example.com/p/1", "plain", "utf-8"))
    alternative.attach(_html(newsletter(), "utf-8", "base64"))
    add("alternative", alternative)
    mixed = MIMEMultipart("mixed")
    related = MIMEMultipart("related")
    inner = MIMEMultipart("alternative")
    inner.attach(MIMEText("Привет", "plain", "koi8-r"))
    inner.attach(_html("<html><body><p>Привет</p><a href=\"https://example.ru/\">сайт</a>"
                       "<img src=\"cid:logo\"></body></html>", "koi8-r", "quoted-printable"))
    related.attach(inner)
    logo = MIMEApplication(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "png")
    logo["Content-ID"] = "<logo>"
    related.attach(logo)
    mixed.attach(related)
    mixed.attach(MIMEApplication(b"%PDF-1.4 " + bytes(range(256)) * 40, "pdf", Name="invoice.pdf"))
    attached_page = _html(RECEIPT, "utf-8", "quoted-printable")
    attached_page["Content-Disposition"] = 'attachment; filename="page.html"'
    mixed.attach(attached_page)
    add("mixed related alternative koi8-r with attachments", mixed)
    japanese = MIMEMultipart("alternative")
    japanese.attach(_html("<html><body><p>こんにちは</p><a href=\"https://example.jp/\">リンク</a></body></html>",
                          "shift_jis", "base64"))
    add("shift_jis base64", japanese)
    forwarded = MIMEMultipart("mixed")
    forwarded.attach(_html("<html><body><p>See below</p></body></html>", "utf-8", "7bit"))
    enclosed = EmailMessage()
    enclosed["Subject"] = "inner"
    enclosed.set_content("<html><body><a href=\"https://inner.example/\">inner</a></body></html>",
                         subtype="html")
    forwarded.attach(email.message_from_bytes(b"Content-Type: message/rfc822\r\n\r\n" + enclosed.as_bytes()))
    add("forwarded message", forwarded)
    no_body_tag = _html("<p>A fragment <a href=\"https://example.com/x\">x</a>", "utf-8", "quoted-printable")
    add("fragment without body", no_body_tag)
    return found


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def visible_text(document: str) -> str:
    """What a reader sees of an HTML document, whitespace runs made one space."""
    parser = _Text()
    parser.feed(document)
    parser.close()
    return " ".join("".join(parser.text).split())


def parts(message: bytes) -> list[tuple[str, str | None, bytes]]:
    """Each leaf part: its content type, disposition and decoded content."""
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    return [(part.get_content_type(), part.get_content_disposition(), part.get_payload(decode=True) or b"")
            for part in parsed.walk()
            if not part.is_multipart() and part.get_content_type() != "message/rfc822"]
