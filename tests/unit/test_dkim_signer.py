"""The signer against dkimpy: the same canonical body, and signatures dkimpy's verifier accepts."""

from __future__ import annotations

import base64
import random

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dkim.canonicalization import Relaxed

from milter.dkim_signer import SigningKey, relaxed_body, relaxed_header, sign

PIECES = [b"a", b"bc", b" ", b"  ", b"\t", b" \t ", b"\r\n", b"\r\n\r\n", b".", b"\xc3\xa9"]


def _random_texts(pieces: list[bytes], count: int) -> list[bytes]:
    generator = random.Random(6376)
    return [b"".join(generator.choice(pieces) for _ in range(generator.randint(0, 40))) for _ in range(count)]


def test_relaxed_body_is_dkimpys_on_random_bodies() -> None:
    for body in _random_texts(PIECES, 3000):
        assert relaxed_body(body) == Relaxed.canonicalize_body(body), body


def test_relaxed_header_is_dkimpys_on_random_headers() -> None:
    for value in _random_texts([*PIECES, b"\r\n\t", b"\n ", b":"], 3000):
        for name in (b"Subject", b"X-Name \t"):
            assert [relaxed_header(name, value)] == Relaxed.canonicalize_headers([(name, value)]), value


def test_dkimpy_verifies_the_signature() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    headers = [(b"From", b"app@acme.test"), (b"To", b"someone@example.org"),
               (b"Subject", b"folded\n\tsubject  with   spaces")]
    body = b"line one  \r\n\tindented\r\n\r\n\r\n"
    signature = sign(headers, body, SigningKey("acme.test", "s1", key), clock=lambda: 1_795_000_000)
    header_block = b"".join(n + b": " + v.replace(b"\n", b"\r\n") + b"\r\n" for n, v in headers)
    message = b"DKIM-Signature: " + signature.encode() + b"\r\n" + header_block + b"\r\n" + body

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"s1._domainkey.acme.test."
        return b"v=DKIM1; k=rsa; p=" + public

    assert dkim.verify(message, dnsfunc=dns)
    assert not dkim.verify(message.replace(b"line one", b"line 1"), dnsfunc=dns)
    assert b"h=from:to:subject:from" in message.replace(b"\r\n ", b"")
