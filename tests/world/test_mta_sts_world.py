"""MTA-STS for outbound mail: a recipient domain whose policy enforces TLS gets verified TLS to the
MX its policy names, or its mail waits in the queue; each delivery's event says what TLS it met.

Runs inside the namespace that tests/integration/test_world.py makes (see conftest.py): the
test's certificate authority is bind-mounted over the system's bundle there, where both
Postfix and the MTA-STS resolver read it.
"""

from __future__ import annotations

import http.server
import ssl
import subprocess
import tempfile
import threading
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
from core.postfix import mta_sts
from tests.support.box import DOMAIN, Box, message, running_box, wait_for_port
from tests.support.dns_server import LoopbackDns
from tests.support.fake_mx import FakeMx
from tests.support.sink import Sink, free_port
from tests.support.waiting import eventually

SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
MX_ADDRESS, POLICY_ADDRESS, PLAIN_ADDRESS = "127.0.0.51", "127.0.0.52", "127.0.0.53"
POLICY = b"version: STSv1\nmode: enforce\nmx: mx.sts.test\nmax_age: 86400\n"


@dataclass
class World:
    box: Box
    mx: FakeMx
    plain: FakeMx
    tls: ssl.SSLContext


def _certificates(directory: Path) -> tuple[bytes, Path, Path]:
    """A certificate authority (PEM), and a key and certificate it signed for the MX and policy hosts."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "world test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
          .not_valid_after(now + timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names = x509.SubjectAlternativeName([x509.DNSName("mx.sts.test"), x509.DNSName("mta-sts.sts.test")])
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mx.sts.test")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(names, critical=False).sign(ca_key, hashes.SHA256()))
    key_file, cert_file = directory / "server.key", directory / "server.crt"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return ca.public_bytes(serialization.Encoding.PEM), key_file, cert_file


class _Policy(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        found = self.path == "/.well-known/mta-sts.txt"
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        if found:
            self.wfile.write(POLICY)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        ca, key_file, cert_file = _certificates(directory)
        bundle = directory / "bundle.crt"
        bundle.write_bytes(SYSTEM_BUNDLE.read_bytes() + ca)
        subprocess.run(["mount", "--bind", str(bundle), str(SYSTEM_BUNDLE)], check=True)
        # The resolver's HTTP client asks getaddrinfo with AI_ADDRCONFIG, which finds nothing while
        # the namespace has loopback addresses only: one more address, on a veth pair of its own.
        for command in ("ip link add sts0 type veth peer name sts1", "ip addr add 192.0.2.254/32 dev sts0",
                        "ip link set sts0 up", "ip link set sts1 up"):
            subprocess.run(command.split(), check=True)
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(cert_file, key_file)
        dns = LoopbackDns(port=53)
        for domain, host, address in (("sts.test", "mx.sts.test", MX_ADDRESS),
                                      ("plain.test", "mx.plain.test", PLAIN_ADDRESS)):
            dns.add(domain, "MX", f"10 {host}.")
            dns.add(host, "A", address)
        dns.add("_mta-sts.sts.test", "TXT", '"v=STSv1; id=20261203"')
        dns.add("mta-sts.sts.test", "A", POLICY_ADDRESS)
        dns.start()
        policy = http.server.ThreadingHTTPServer((POLICY_ADDRESS, 443), _Policy)
        policy.socket = tls.wrap_socket(policy.socket, server_side=True)
        threading.Thread(target=policy.serve_forever, daemon=True).start()
        mx, plain = FakeMx(MX_ADDRESS), FakeMx(PLAIN_ADDRESS)  # neither offers STARTTLS at first
        mx.start()
        plain.start()
        sink = Sink()
        sink.start()
        resolver: subprocess.Popen[bytes] | None = None
        servers = [mx, plain]
        try:
            with running_box(sink, postfix={"relayhost": "", "mta_sts_port": free_port()}) as box:
                resolver = subprocess.Popen(mta_sts.resolver_command(box.settings))
                wait_for_port("127.0.0.1", box.settings.postfix.mta_sts_port)
                state = World(box, mx, plain, tls)
                yield state
                servers = [state.mx, plain]
        finally:
            if resolver is not None:
                resolver.terminate()
                resolver.wait()
            sink.stop()
            for server in servers:
                server.stop()
            policy.shutdown()
            dns.stop()
            subprocess.run(["umount", str(SYSTEM_BUNDLE)], check=False)
            subprocess.run(["ip", "link", "del", "sts0"], check=False)


def send(box: Box, subject: str, to: str) -> None:
    with box.client() as client:
        client.mail(f"app@{DOMAIN}")
        client.rcpt(to)
        code, reply = client.data(message(subject, to=to))
    assert code == 250, reply


def delivered_detail(box: Box, recipient: str) -> str:
    with box.db_session() as session:
        return next((e.detail for e in recent_events(session, "delivered") if e.subject == recipient), "")


def test_a_domain_enforcing_mta_sts_gets_verified_tls_or_waits(world: World) -> None:
    send(world.box, "enforced", "someone@sts.test")

    def refused_in_clear() -> bool:
        return any("to=<someone@sts.test>" in line and "status=deferred" in line
                   and "TLS is required" in line for line in world.box.postfix_log().splitlines())
    eventually(refused_in_clear, "the deferral: TLS required, not offered", timeout=60)
    assert not [m for m in world.mx.received if b"Subject: enforced" in m.content]
    # The MX offers STARTTLS with a certificate for its policy's name: the mail goes, verified.
    world.mx.stop()
    world.mx = FakeMx(MX_ADDRESS, tls_context=world.tls)
    world.mx.start()
    world.box.instance.flush()
    eventually(lambda: [m for m in world.mx.received if b"Subject: enforced" in m.content],
               "the message over TLS", timeout=60)
    eventually(lambda: "tls=Verified" in delivered_detail(world.box, "someone@sts.test"),
               "the delivered event saying tls=Verified", timeout=30)


def test_a_domain_without_a_policy_is_sent_as_before_and_its_event_says_so(world: World) -> None:
    send(world.box, "no policy", "someone@plain.test")
    eventually(lambda: [m for m in world.plain.received if b"Subject: no policy" in m.content],
               "the message to the domain without a policy", timeout=60)
    eventually(lambda: "tls=none" in delivered_detail(world.box, "someone@plain.test"),
               "the delivered event saying tls=none", timeout=30)
