"""The signer against dkimpy: the same canonical body, and signatures dkimpy's verifier accepts."""

from __future__ import annotations

import base64
import random
import subprocess
import tempfile
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from dkim.canonicalization import Relaxed

from core.dns_records import zone_txt
from milter.dkim_signer import SigningKey, relaxed_body, relaxed_header, sign
from tests.support.dns_server import LoopbackDns
from tests.support.opendkim_check import opendkim_verifies_each

VERIFIER = Path(__file__).resolve().parents[1] / "support" / "dkim_verify.pl"

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


# From and Date first: libopendkim calls a message without Date a syntax error.
HEADER_NAMES = [b"From", b"Date", b"To", b"Cc", b"Subject", b"Message-ID", b"MIME-Version", b"Content-Type",
                b"Content-Transfer-Encoding", b"Reply-To", b"In-Reply-To", b"References", b"List-Id",
                b"List-Unsubscribe", b"List-Unsubscribe-Post", b"Content-Disposition", b"Content-ID",
                b"Content-Description", b"Resent-Date", b"Resent-From", b"Sender", b"X-Mailer"]

WORDS = [b"word", b"x", b"a-much-longer-token-without-spaces", b"=?utf-8?q?=C3=A9?="]
FIXED_VALUES = {b"From": b"app@acme.test", b"Date": b"Wed, 2 Dec 2026 06:00:00 +0000"}


def random_messages(count: int, key: SigningKey) -> list[bytes]:
    """Signed messages whose header sets, values and folds vary at random."""
    generator = random.Random(7001)
    messages = []
    for n in range(count):
        others = HEADER_NAMES[2:]
        names = [b"From", b"Date", *generator.sample(others, generator.randint(0, len(others)))]
        headers = []
        for name in names:
            words = [generator.choice(WORDS) for _ in range(generator.randint(1, 12))]
            value = FIXED_VALUES.get(name, b" ".join(words))
            if generator.random() < 0.3:
                value = value.replace(b" ", b"\n\t", 1)
            headers.append((name, value))
        body = b"body %d\r\n" % n * generator.randint(1, 5)
        signature = sign(headers, body, key, clock=lambda: 1_795_000_000)
        header_block = b"".join(n + b": " + v.replace(b"\n", b"\r\n") + b"\r\n" for n, v in headers)
        messages.append(b"DKIM-Signature: " + signature.encode() + b"\r\n" + header_block + b"\r\n" + body)
    return messages


def test_the_signature_header_folds_only_where_a_verifier_reads_no_change() -> None:
    """Mail::DKIM, OpenDKIM and dkimpy each accept every signature of random header sets
    (a fold inside an h= name broke MIME mail: 'content-tra<CRLF> nsfer-encoding')."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    public = base64.b64encode(rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    ed_public = base64.b64encode(ed_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()
    records = {"s1._domainkey.acme.test": zone_txt(f"v=DKIM1; k=rsa; p={public}"),
               "e1._domainkey.acme.test": zone_txt(f"v=DKIM1; k=ed25519; p={ed_public}")}
    signed = random_messages(120, SigningKey("acme.test", "s1", rsa_key))
    signed_ed = random_messages(30, SigningKey("acme.test", "e1", ed_key))
    mime = [m for m in signed if b"content-transfer-encoding" in m.split(b"\r\n\r\n")[0].lower()]
    assert len(mime) > 30
    for message in signed + signed_ed:
        signature = message.split(b"\r\n\r\n")[0].split(b"\r\nFrom: ")[0]
        assert all(len(line) <= 78 for line in signature.split(b"\r\n")), signature

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return "".join(records[name.decode().rstrip(".")][1:-1].split('" "')).encode()

    assert all(dkim.verify(m, dnsfunc=dns) for m in signed)  # dkimpy needs PyNaCl for Ed25519
    server = LoopbackDns()
    for name, value in records.items():
        server.add(name, "TXT", value)
    server.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            files = []
            for index, message in enumerate(signed):
                files.append(f"{tmp}/{index}")
                Path(files[-1]).write_bytes(message)
            result = subprocess.run(["perl", str(VERIFIER), server.host, str(server.port), *files],
                                    capture_output=True, text=True, timeout=120, check=True)
    finally:
        server.stop()
    # This Debian's Mail::DKIM predates Ed25519; OpenDKIM checks both.
    assert result.stdout.split()[1::2] == ["pass"] * len(signed), result.stdout
    verdicts = opendkim_verifies_each(signed + signed_ed, records)
    assert verdicts == [(True, "")] * len(verdicts)
