"""DKIM key pairs: generation and the p= value published in DNS."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

ALGORITHMS = ("rsa", "ed25519")


@dataclass(frozen=True)
class GeneratedKey:
    algorithm: str
    private_pem: bytes
    public_b64: str


def default_selector(algorithm: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m")
    return f"mr{stamp}{'e' if algorithm == 'ed25519' else 'r'}"


def generate_key(algorithm: str = "rsa") -> GeneratedKey:
    if algorithm == "rsa":
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public_der = rsa_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return GeneratedKey("rsa", private_pem, base64.b64encode(public_der).decode("ascii"))
    if algorithm == "ed25519":
        ed_key = ed25519.Ed25519PrivateKey.generate()
        private_pem = ed_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # RFC 8463: p= is the raw 32-byte public key.
        raw = ed_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return GeneratedKey("ed25519", private_pem, base64.b64encode(raw).decode("ascii"))
    raise ValueError(f"unknown DKIM algorithm {algorithm!r}; one of {', '.join(ALGORITHMS)}")


def dkim_txt_value(algorithm: str, public_b64: str) -> str:
    key_type = "ed25519" if algorithm == "ed25519" else "rsa"
    return f"v=DKIM1; k={key_type}; p={public_b64}"
