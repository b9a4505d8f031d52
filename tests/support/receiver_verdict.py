"""A receiving server's verdict on a delivered message (receiver_verdict.pl: Mail::DKIM, Mail::SPF
and Mail::DMARC), for tests that must not judge mail with the code that produced it."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("receiver_verdict.pl")
DMARC_CONFIG = Path("/usr/share/perl5/auto/share/dist/Mail-DMARC/mail-dmarc.ini")
PUBLIC_SUFFIXES = Path("/usr/share/publicsuffix/public_suffix_list.dat")


@dataclass(frozen=True)
class Verdict:
    # (domain, result, signed header names) per signature
    dkim: list[tuple[str, str, list[str]]]
    spf: str
    # "pass" or "fail", and the rest of Mail::DMARC's result: spf, spf_align, dkim, dkim_align
    dmarc: str
    dmarc_detail: dict[str, str]


def judge(content: bytes, client_ip: str, helo: str, mail_from: str, dns_port: int) -> Verdict:
    with tempfile.TemporaryDirectory() as scratch:
        # The test domains end in .test, which is no public suffix: Mail::DMARC takes them as if.
        suffixes = Path(scratch) / "public_suffix_list.dat"
        suffixes.write_text(PUBLIC_SUFFIXES.read_text(encoding="utf-8") + "\ntest\n", encoding="utf-8")
        config = Path(scratch) / "mail-dmarc.ini"
        config.write_text("\n".join(
            f"public_suffix_list = {suffixes}" if line.startswith("public_suffix_list") else line
            for line in DMARC_CONFIG.read_text(encoding="utf-8").splitlines()), encoding="utf-8")
        env = {**os.environ, "MAIL_DMARC_CONFIG_FILE": str(config)}
        result = subprocess.run(
            ["perl", str(SCRIPT), "127.0.0.1", str(dns_port), client_ip, helo, mail_from], input=content,
            capture_output=True, timeout=60, check=True, env=env)
    dkim, spf, dmarc, detail = [], "", "", {}
    for line in result.stdout.decode().splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "DKIM":
            domain, outcome, headers = [*rest.split(" ", 2), ""][:3]
            dkim.append((domain, outcome, headers.split(":") if headers else []))
        elif kind == "SPF":
            spf = rest.rsplit(" ", 1)[-1]
        elif kind == "DMARC":
            dmarc, *pairs = rest.split(" ")
            detail = dict(pair.partition("=")[::2] for pair in pairs)
    return Verdict(dkim, spf, dmarc, detail)
