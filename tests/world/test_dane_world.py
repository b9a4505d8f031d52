"""DANE for outbound mail: where DNSSEC validated an MX's TLSA records, Postfix sends only over TLS
whose certificate matches them; a mismatch waits in the queue; without TLSA records, nothing
changes.

Runs inside the namespace that tests/integration/test_world.py makes (see conftest.py); the
world's DNS sets the AD flag here, as a validating resolver would, and resolv.conf trusts it.
"""

from __future__ import annotations

import hashlib
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.events import recent_events
from tests.support.box import DOMAIN, Box, message, running_box
from tests.support.dns_server import LoopbackDns
from tests.support.fake_mx import FakeMx
from tests.support.sink import Sink
from tests.support.waiting import eventually

MATCHING, MISMATCHED = "127.0.0.61", "127.0.0.62"


@dataclass
class World:
    box: Box
    matching: FakeMx
    mismatched: FakeMx


def _self_signed(directory: Path, name: str) -> tuple[ssl.SSLContext, bytes]:
    """A TLS context with a self-signed certificate (DANE-EE needs no CA), and its key's SPKI."""
    now = datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30)).sign(key, hashes.SHA256()))
    key_file, cert_file = directory / f"{name}.key", directory / f"{name}.crt"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return context, spki


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    dns = LoopbackDns(port=53)
    dns.validated = True
    servers = []
    with tempfile.TemporaryDirectory() as folder:
        for domain, address in (("dane.test", MATCHING), ("wrongkey.test", MISMATCHED)):
            host = f"mx.{domain}"
            context, spki = _self_signed(Path(folder), host)
            # DANE-EE (3), the public key (1), SHA-256 (1); the second domain publishes another key's.
            digest = hashlib.sha256(spki if address == MATCHING else spki + b"x").hexdigest()
            dns.add(domain, "MX", f"10 {host}.")
            dns.add(host, "A", address)
            dns.add(f"_25._tcp.{host}", "TLSA", f"3 1 1 {digest}")
            servers.append(FakeMx(address, tls_context=context))
        dns.start()
        for server in servers:
            server.start()
        sink = Sink()
        sink.start()
        try:
            with running_box(sink, postfix={"relayhost": ""}) as box:
                yield World(box, *servers)
        finally:
            sink.stop()
            for server in servers:
                server.stop()
            dns.stop()


def send(box: Box, subject: str, to: str) -> None:
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        client.rcpt(to)
        code, reply = client.data(message(subject, to=to))
    assert code == 250, reply


def test_an_mx_whose_certificate_matches_its_tlsa_records_gets_verified_tls(world: World) -> None:
    send(world.box, "dane", "someone@dane.test")
    eventually(lambda: [m for m in world.matching.received if b"Subject: dane" in m.content],
               "the message at the DANE MX", timeout=60)

    def detail() -> str:
        with world.box.db_session() as session:
            return next((e.detail for e in recent_events(session, "delivered")
                         if e.subject == "someone@dane.test"), "")
    eventually(lambda: "tls=Verified" in detail(), "the delivered event saying tls=Verified", timeout=30)


def test_a_certificate_that_does_not_match_waits_in_the_queue(world: World) -> None:
    send(world.box, "wrong key", "someone@wrongkey.test")

    def deferred() -> bool:
        return any("to=<someone@wrongkey.test>" in line and "status=deferred" in line
                   and "Server certificate not verified" in line
                   for line in world.box.postfix_log().splitlines())
    eventually(deferred, "the deferral: no matching DANE TLSA records", timeout=60)
    assert not [m for m in world.mismatched.received if b"Subject: wrong key" in m.content]
