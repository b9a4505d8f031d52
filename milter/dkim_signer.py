"""DKIM signatures: dkimpy's canonicalisation and header hashing, OpenSSL's signing.

dkimpy signs RSA with pure-Python arithmetic (about 100 signatures a second);
here the digest it computes is signed through `cryptography` (OpenSSL), about
twenty times faster. Relaxed/relaxed, RFC 6376's recommended header set, and
From signed once more than it occurs, so no From can be added after signing.

dkimpy's relaxed canonicalisation does its work with regular expressions, which
on a 4 KiB message cost more than the RSA signature itself. The same steps are
done here with byte replacements (relaxed_body, relaxed_header);
tests/unit/test_dkim_signer.py holds them to dkimpy's on random input. Header
selection (select_headers) is dkimpy's own.

The signature header is folded here, not by dkimpy's fold, which breaks a line
inside any value that has no space (a header name in h=, say): a verifier reads
that fold as a space in the name. Here lines break only between tags, after a
colon of h= (where RFC 6376 allows FWS) and inside base64 values; and the hash
covers the header as folded, so what is signed is what is sent.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa, utils
from dkim import DKIM, select_headers
from dkim.canonicalization import correct_empty_body, strip_trailing_lines

# RFC 8058 asks for List-Unsubscribe-Post to be signed with List-Unsubscribe (which DKIM.SHOULD has).
SIGNED_HEADERS = frozenset((*DKIM.SHOULD, b"list-unsubscribe-post"))
HEADER_NAME = b"DKIM-Signature"
LINE_LIMIT = 78
_FOLD = b"\r\n\t"
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class SigningKey:
    domain: str
    selector: str
    key: PrivateKey

    @property
    def algorithm(self) -> bytes:
        return b"ed25519-sha256" if isinstance(self.key, ed25519.Ed25519PrivateKey) else b"rsa-sha256"

    @classmethod
    def from_pem(cls, domain: str, selector: str, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
            raise ValueError(f"DKIM key {selector}._domainkey.{domain} is neither RSA nor Ed25519")
        return cls(domain, selector, key)


def _crlf(value: bytes) -> bytes:
    return value.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def signed_header_names(headers: list[tuple[bytes, bytes]]) -> list[bytes]:
    names = [name.lower() for name, _ in headers if name.lower() in SIGNED_HEADERS]
    return [*names, b"from"]


def _compress_whitespace(text: bytes) -> bytes:
    text = text.replace(b"\t", b" ")
    while b"  " in text:
        text = text.replace(b"  ", b" ")
    return text


def relaxed_header(name: bytes, value: bytes) -> tuple[bytes, bytes]:
    """dkimpy's Relaxed.canonicalize_headers, for one header."""
    unfolded = value.replace(b"\r\n", b"").replace(b"\n", b"")
    return name.lower().rstrip(), _compress_whitespace(unfolded).strip() + b"\r\n"


def relaxed_body(body: bytes) -> bytes:
    """dkimpy's Relaxed.canonicalize_body: WSP runs to one space, none before CRLF, no empty last lines."""
    text = _compress_whitespace(body).replace(b" \r\n", b"\r\n")
    canonical: bytes = correct_empty_body(strip_trailing_lines(text))
    return canonical


def body_hash(body: bytes) -> bytes:
    return base64.b64encode(hashlib.sha256(relaxed_body(body)).digest())


def _atoms(tag: bytes, value: bytes) -> list[bytes]:
    """A tag's text in the pieces a line may break between."""
    if tag == b"h":
        names = value.split(b":")
        return [b"h=" + names[0]] + [b":" + name for name in names[1:]]
    if tag == b"bh":
        first, *rest = _base64_pieces(value)
        return [b"bh=" + first, *rest]
    return [tag + b"=" + value]


def _base64_pieces(value: bytes) -> list[bytes]:
    """Base64 in pieces of 8: FWS may stand anywhere in it."""
    return [value[i:i + 8] for i in range(0, len(value), 8)]


class _Folder:
    """Lines of at most LINE_LIMIT octets, the first after the header's name and colon."""

    def __init__(self) -> None:
        self.text = b""
        self._column = len(HEADER_NAME) + 2

    def add(self, atom: bytes, separator: bytes = b"") -> None:
        # One octet kept free for the ";" that a fold before the next tag leaves on this line.
        if self._column + len(separator) + len(atom) >= LINE_LIMIT and self.text:
            self.text += separator.rstrip() + _FOLD
            self._column = 1
        else:
            self.text += separator
            self._column += len(separator)
        self.text += atom
        self._column += len(atom)

    def add_tag(self, tag: bytes, value: bytes) -> None:
        for index, atom in enumerate(_atoms(tag, value)):
            self.add(atom, b"; " if index == 0 and self.text else b"")


def sign(headers: list[tuple[bytes, bytes]], body: bytes, key: SigningKey,
         clock: Callable[[], float] = time.time, bh: bytes | None = None) -> str:
    """The value of a DKIM-Signature header (folded with CRLF TAB) for this message.

    `headers` are (name, value) as the milter gets them; `bh` may be passed in when
    several keys sign the same body.
    """
    include = signed_header_names(headers)
    wanted = set(include)
    # Only signed headers are canonicalised; select_headers picks among them as among all.
    signed = [(name, _crlf(value)) for name, value in headers if name.lower() in wanted]
    fields = [
        (b"v", b"1"),
        (b"a", key.algorithm),
        (b"c", b"relaxed/relaxed"),
        (b"d", key.domain.encode("ascii")),
        (b"s", key.selector.encode("ascii")),
        (b"t", str(int(clock())).encode("ascii")),
        (b"h", b":".join(include)),
        (b"bh", bh or body_hash(body)),
    ]
    folder = _Folder()
    for tag, value in fields:
        folder.add_tag(tag, value)
    folder.add(b"b=", b"; ")
    hasher = hashlib.sha256()
    for name, canonical in select_headers([relaxed_header(n, v) for n, v in signed], include):
        hasher.update(name + b":" + canonical)
    # The signature header last, as it is sent but with b= empty, and no line end.
    name, canonical = relaxed_header(HEADER_NAME, folder.text)
    hasher.update(name + b":" + canonical.rstrip())
    digest = hasher.digest()
    if isinstance(key.key, ed25519.Ed25519PrivateKey):
        signature = key.key.sign(digest)
    else:
        signature = key.key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    for piece in _base64_pieces(base64.b64encode(signature)):
        folder.add(piece)
    return folder.text.decode("ascii")
