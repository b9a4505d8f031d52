"""The DNS records the operator publishes for the box itself, what each must hold now, and their check.

They follow from the settings and the pools: the bounce and feedback domains' MX and the
bounce domain's SPF and DMARC, the SPF record tenants include (every pool address and the
box's own), and the forward, reverse and SPF records of every HELO name. The SPF record is
cut into records of one DNS string each (255 octets) chained by include:, at most
MAX_SPF_PARTS of them, so that a tenant's SPF with its one include of the box stays under
SPF's limit of ten lookups; adjacent addresses are merged into networks first.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

import dns.resolver
import dns.reversename
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.config import Settings
from core.dns_records import DnsRecord, dmarc_report_address, tls_report_address
from core.domain_verify import RecordCheck, check_record, lookup, make_resolver
from core.errors import InvalidInputError
from core.models import BoxRecordCheck, utcnow
from core.pools import sending_ips

MAX_SPF_STRING = 255
MAX_SPF_PARTS = 8

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class HeloName:
    name: str
    address: str


def spf_term(network: IpNetwork) -> str:
    full = network.prefixlen == network.max_prefixlen
    address = network.network_address.compressed
    return f"ip{network.version}:{address}" if full else f"ip{network.version}:{network.with_prefixlen}"


def spf_terms(addresses: Iterable[str]) -> list[str]:
    parsed = {ipaddress.ip_address(a) for a in addresses}
    v4 = ipaddress.collapse_addresses(ipaddress.IPv4Network(a) for a in parsed if a.version == 4)
    v6 = ipaddress.collapse_addresses(ipaddress.IPv6Network(a) for a in parsed if a.version == 6)
    return [spf_term(network) for network in v4] + [spf_term(network) for network in v6]


def _spf(terms: list[str]) -> str:
    return " ".join(["v=spf1", *terms, "-all"])


def spf_records(spf_domain: str, addresses: Iterable[str]) -> list[DnsRecord]:
    """The box's SPF record, in include:d parts when one DNS string cannot hold it."""
    terms = spf_terms(addresses)
    if len(_spf(terms)) <= MAX_SPF_STRING:
        return [DnsRecord("spf", spf_domain, "TXT", _spf(terms), True)]
    parts: list[list[str]] = [[]]
    for term in terms:
        if len(_spf([*parts[-1], term])) > MAX_SPF_STRING:
            parts.append([])
        parts[-1].append(term)
    names = [f"_spf{number}.{spf_domain.removeprefix('_spf.')}" for number in range(1, len(parts) + 1)]
    top = _spf([f"include:{name}" for name in names])
    if len(parts) > MAX_SPF_PARTS or len(top) > MAX_SPF_STRING:
        raise InvalidInputError(f"{len(terms)} address ranges do not fit in {MAX_SPF_PARTS} SPF records")
    pieces = zip(names, parts, strict=True)
    return [DnsRecord("spf", spf_domain, "TXT", top, True),
            *(DnsRecord("spf", name, "TXT", _spf(part), True) for name, part in pieces)]


def own_addresses(settings: Settings, resolver: dns.resolver.Resolver) -> list[str]:
    """What the box sends from while the default pool is empty: set, or its host name's A and AAAA."""
    if settings.dns.own_addresses:
        return list(settings.dns.own_addresses)
    return [*lookup(resolver, settings.hostname, "A"), *lookup(resolver, settings.hostname, "AAAA")]


def helo_names(session: Session, settings: Settings, own: list[str]) -> list[HeloName]:
    names = [HeloName(settings.hostname, address) for address in own]
    return names + [HeloName(ip.helo_name, ip.address) for ip in sending_ips(session)]


def _address_records(helo: HeloName) -> list[DnsRecord]:
    family = "AAAA" if ipaddress.ip_address(helo.address).version == 6 else "A"
    return [
        DnsRecord("helo address", helo.name, family, helo.address, True),
        DnsRecord("reverse dns", dns.reversename.from_address(helo.address).to_text().rstrip("."), "PTR",
                  f"{helo.name}.", True),
    ]


def box_records(settings: Settings, helos: list[HeloName]) -> list[DnsRecord]:
    records = [DnsRecord("mx", domain, "MX", f"10 {settings.hostname}.", True)
               for domain in (settings.bounce_domain, settings.feedback_domain)]
    records.append(DnsRecord("spf", settings.bounce_domain, "TXT",
                             f"v=spf1 include:{settings.spf_domain} -all", True))
    rua = dmarc_report_address(settings)
    records.append(DnsRecord("dmarc", f"_dmarc.{settings.bounce_domain}", "TXT",
                             f"v=DMARC1; p=reject; rua={rua}; adkim=r; aspf=r", True))
    # Senders that support RFC 8460 report how their TLS sessions to the box went.
    records += [DnsRecord("tls reports", f"_smtp._tls.{domain}", "TXT",
                          f"v=TLSRPTv1; rua={tls_report_address(settings)}", False)
                for domain in (settings.bounce_domain, settings.feedback_domain)]
    records += spf_records(settings.spf_domain, [helo.address for helo in helos])
    for helo in helos:
        records += _address_records(helo)
    by_name: dict[str, list[str]] = {}
    for helo in helos:
        by_name.setdefault(helo.name, []).append(helo.address)
    records += [DnsRecord("helo spf", name, "TXT", _spf(spf_terms(addresses)), True)
                for name, addresses in by_name.items()]
    return records


def check_box(session: Session, settings: Settings) -> list[RecordCheck]:
    """Look every box record up now, and keep what was found for the dashboard."""
    resolver = make_resolver(settings)
    records = box_records(settings, helo_names(session, settings, own_addresses(settings, resolver)))
    checks = [check_record(resolver, record) for record in records]
    session.execute(delete(BoxRecordCheck).where(BoxRecordCheck.box == settings.hostname))
    now = utcnow()
    session.add_all(BoxRecordCheck(box=settings.hostname, name=c.record.name, type=c.record.type,
                                   expected=c.record.value, found=c.found, ok=c.ok, checked_at=now)
                    for c in checks)
    return checks


def last_check(session: Session, settings: Settings) -> dict[tuple[str, str, str], BoxRecordCheck]:
    """What the box's last check found, by (name, type, expected value)."""
    rows = session.scalars(select(BoxRecordCheck).where(BoxRecordCheck.box == settings.hostname))
    return {(row.name, row.type, row.expected): row for row in rows}


def records_now(session: Session, settings: Settings, last: dict[tuple[str, str, str], BoxRecordCheck]
                ) -> list[DnsRecord]:
    """The records as they must be now, without asking DNS: the box's own addresses as set, or as
    the last check found them."""
    own = list(settings.dns.own_addresses) or [
        expected for name, rdtype, expected in last if name == settings.hostname and rdtype in ("A", "AAAA")]
    return box_records(settings, helo_names(session, settings, own))


def unmatched(session: Session, settings: Settings) -> list[DnsRecord] | None:
    """The records the last check did not find as they must be now (after a pool change, say);
    None before any check."""
    last = last_check(session, settings)
    if not last:
        return None
    return [r for r in records_now(session, settings, last)
            if not ((row := last.get((r.name, r.type, r.value))) and row.ok)]
