"""DKIM signing speed: the project's signer against raw OpenSSL RSA-2048, in the same run.

The signer does all of a signature's work (relaxed canonicalisation of a 4 KiB
message's headers and body, hashing, the RSA signature through OpenSSL); the
baseline is the RSA-2048 signature alone, through the same OpenSSL. Prints
signatures per second of each and last `ratio_vs_openssl=<signer ÷ OpenSSL>`.

python benchmarks/dkim_sign.py [--seconds S]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from milter.dkim_signer import SigningKey, sign

HEADERS = [
    (b"From", b"Acme Billing <billing@acme.test>"),
    (b"To", b"someone@example.org"),
    (b"Subject", b"Your invoice for November"),
    (b"Date", b"Sun, 22 Nov 2026 12:00:00 +0000"),
    (b"Message-ID", b"<invoice-2026-11-0042@acme.test>"),
    (b"MIME-Version", b"1.0"),
    (b"Content-Type", b"text/plain; charset=utf-8"),
    (b"Received", b"from relay.test (unknown [127.0.0.1])\n\tby relay.test (Postfix) with ESMTPA"),
]
BODY = (b"Dear customer,  your invoice is attached.\t Thank you for your business.  \r\n" * 56)[:4096]


def rate(work: Callable[[], object], seconds: float) -> float:
    work()
    count = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(20):
            work()
        count += 20
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    args = parser.parse_args()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signing_key = SigningKey("acme.test", "mr202611r", key)
    digest = hashlib.sha256(b"a DKIM header hash").digest()

    def openssl_only() -> bytes:
        return key.sign(digest, padding.PKCS1v15(), hashes.SHA256())

    def project_signer() -> str:
        return sign(HEADERS, BODY, signing_key)

    # Alternate the two so a change in the machine's load falls on both alike.
    openssl, signer = [], []
    for _ in range(3):
        openssl.append(rate(openssl_only, args.seconds / 3))
        signer.append(rate(project_signer, args.seconds / 3))
    openssl_rate, signer_rate = sum(openssl) / 3, sum(signer) / 3
    print(f"OpenSSL RSA-2048 alone: {openssl_rate:.0f} signatures/s")
    print(f"project signer (4 KiB message, relaxed/relaxed, RSA-2048): {signer_rate:.0f} signatures/s")
    print(f"ratio_vs_openssl={signer_rate / openssl_rate:.3f}")


if __name__ == "__main__":
    main()
