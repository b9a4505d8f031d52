"""The DNS records a tenant publishes for a sending domain."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import Settings
from core.dkim_keys import dkim_txt_value
from core.models import DkimKey
from core.return_paths import return_path_host
from core.states import DkimKeyState
from core.tracking import host_of, tracking_host


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


# The feedback domain's mailboxes for receivers' reports (intake/receiver_reports.py).
DMARC_MAILBOX = "dmarc"
TLS_MAILBOX = "tlsrpt"


def dmarc_report_address(settings: Settings) -> str:
    """Where DMARC aggregate reports go: the box's intake."""
    return f"mailto:{DMARC_MAILBOX}@{settings.feedback_domain}"


def tls_report_address(settings: Settings) -> str:
    return f"mailto:{TLS_MAILBOX}@{settings.feedback_domain}"


def _same_organization(domain: str, other: str) -> bool:
    return domain == other or domain.endswith("." + other) or other.endswith("." + domain)


def dmarc_report_authorization(settings: Settings, domain: str) -> DnsRecord:
    """RFC 7489 7.1: the feedback domain's zone says it takes reports about a domain not its own.
    The box's operator publishes it, in the feedback domain's zone."""
    return DnsRecord("dmarc reports", f"{domain}._report._dmarc.{settings.feedback_domain}", "TXT",
                     "v=DMARC1", False)


def records_for_domain(settings: Settings, domain: str, keys: list[DkimKey],
                       tracking: bool = False) -> list[DnsRecord]:
    records = [
        # Every key's record stays published until the key is removed: a retired key's
        # signatures may still be checked on mail in flight. Only active keys' are required.
        DnsRecord("dkim", f"{key.selector}._domainkey.{domain}", "TXT",
                  dkim_txt_value(key.algorithm, key.public_key_b64), key.state == DkimKeyState.ACTIVE)
        for key in keys
    ]
    records.append(DnsRecord("spf", domain, "TXT", spf_value(settings), False))
    policy = settings.dns.dmarc_policy
    records.append(DnsRecord(
        "dmarc", f"_dmarc.{domain}", "TXT",
        f"v=DMARC1; p={policy}; rua={dmarc_report_address(settings)}; adkim=r; aspf=r", False,
    ))
    if not _same_organization(domain, settings.feedback_domain):
        records.append(dmarc_report_authorization(settings, domain))
    records.append(DnsRecord("return-path", return_path_host(domain), "CNAME",
                             f"{settings.bounce_domain}.", False))
    if tracking:
        records.append(DnsRecord("tracking", tracking_host(domain), "CNAME",
                                 f"{host_of(settings.link_base_url)}.", False))
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
