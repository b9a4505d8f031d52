"""DKIM signatures: dkimpy's canonicalisation and header hashing, OpenSSL's signing.

dkimpy signs RSA with pure-Python arithmetic (about 100 signatures a second);
here the digest it computes is signed through `cryptography` (OpenSSL), about
twenty times faster. Relaxed/relaxed, RFC 6376's recommended header set, and
From signed once more than it occurs, so no From can be added after signing.

dkimpy's relaxed canonicalisation does its work with regular expressions, which
on a 4 KiB message cost more than the RSA signature itself. The same steps are
done here with byte replacements (relaxed_body, relaxed_header);
tests/unit/test_dkim_signer.py holds them to dkimpy's on random input. Header
selection (select_headers) and folding are dkimpy's own.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa, utils
from dkim import DKIM, fold, select_headers
from dkim.canonicalization import correct_empty_body, strip_trailing_lines

SIGNED_HEADERS = frozenset(DKIM.SHOULD)
HEADER_NAME = b"DKIM-Signature"
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
        (b"b", b""),
    ]
    hasher = hashlib.sha256()
    for name, canonical in select_headers([relaxed_header(n, v) for n, v in signed], include):
        hasher.update(name + b":" + canonical)
    # The signature header last, with b= empty and no line end; relaxed form, so unfolded.
    name, canonical = relaxed_header(HEADER_NAME, b"; ".join(b"=".join(f) for f in fields))
    hasher.update(name + b":" + canonical.rstrip())
    digest = hasher.digest()
    if isinstance(key.key, ed25519.Ed25519PrivateKey):
        signature = key.key.sign(digest)
    else:
        signature = key.key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    fields[-1] = (b"b", base64.b64encode(signature))
    folded: bytes = fold(b"; ".join(b"=".join(f) for f in fields), namelen=len(HEADER_NAME))
    return folded.decode("ascii").strip()
