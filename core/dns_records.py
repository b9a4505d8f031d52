"""The DNS records a tenant publishes for a sending domain."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import Settings
from core.dkim_keys import dkim_txt_value
from core.models import DkimKey
from core.return_paths import return_path_host
from core.states import DkimKeyState


@dataclass(frozen=True)
class DnsRecord:
    purpose: str
    name: str
    type: str
    value: str
    # Only a required record decides whether the domain may send.
    required: bool


def spf_value(settings: Settings) -> str:
    return f"v=spf1 include:{settings.spf_domain} ~all"


def records_for_domain(settings: Settings, domain: str, keys: list[DkimKey]) -> list[DnsRecord]:
    records = [
        # Every key's record stays published until the key is removed: a retired key's
        # signatures may still be checked on mail in flight. Only active keys' are required.
        DnsRecord("dkim", f"{key.selector}._domainkey.{domain}", "TXT",
                  dkim_txt_value(key.algorithm, key.public_key_b64), key.state == DkimKeyState.ACTIVE)
        for key in keys
    ]
    records.append(DnsRecord("spf", domain, "TXT", spf_value(settings), False))
    records.append(DnsRecord(
        "dmarc", f"_dmarc.{domain}", "TXT",
        f"v=DMARC1; p={settings.dns.dmarc_policy}; adkim=r; aspf=r", False,
    ))
    records.append(DnsRecord("return-path", return_path_host(domain), "CNAME",
                             f"{settings.bounce_domain}.", False))
    return records


def zone_txt(value: str) -> str:
    """A TXT value in zone-file syntax: one DNS string holds at most 255 octets."""
    return " ".join(f'"{value[i:i + 255]}"' for i in range(0, len(value), 255))


def format_records(records: list[DnsRecord]) -> str:
    lines = []
    for record in records:
        value = zone_txt(record.value) if record.type == "TXT" else record.value
        need = "required" if record.required else "recommended"
        lines.append(f"; {record.purpose} ({need})\n{record.name}. IN {record.type} {value}")
    return "\n".join(lines)
