"""Checks published DNS records with dnspython: a sending domain's, and the box's own.

Of a sending domain's, the DKIM record proves the domain is the tenant's (only we know the key), so it
alone decides verification; SPF, DMARC and the return-path are reported so the
operator can see what else the tenant should publish.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import dns.exception
import dns.resolver

from core.config import Settings
from core.dns_records import DnsRecord


@dataclass(frozen=True)
class RecordCheck:
    record: DnsRecord
    ok: bool
    found: str


def make_resolver(settings: Settings) -> dns.resolver.Resolver:
    if not settings.dns.nameservers:
        return dns.resolver.Resolver()
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = list(settings.dns.nameservers)
    resolver.port = settings.dns.nameserver_port
    resolver.lifetime = 5.0
    return resolver


def lookup(resolver: dns.resolver.Resolver, name: str, rdtype: str) -> list[str]:
    try:
        answer = resolver.resolve(name, rdtype)
    except dns.exception.DNSException:  # no answer, a timeout, a name DNS cannot hold: nothing found
        return []
    if rdtype == "TXT":
        return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
    return [r.to_text() for r in answer]


def _tags(value: str) -> dict[str, str]:
    tags = {}
    for part in value.split(";"):
        key, sep, tag_value = part.partition("=")
        if sep:
            tags[key.strip().lower()] = "".join(tag_value.split())
    return tags


def dmarc_rua(found: str) -> str:
    return _tags(found).get("rua", "")[:500]


def _dkim_matches(found: str, expected: str) -> bool:
    got, want = _tags(found), _tags(expected)
    return got.get("p") == want["p"] and got.get("k", "rsa") == want["k"]


def _spf_covers(found: str, expected: str) -> bool:
    """Every term of the expected record but its all is in the found one; an address may sit in a
    wider network there."""
    got = found.lower().split()[1:]
    networks = []
    for term in got:
        if term.startswith(("ip4:", "ip6:")):
            try:
                networks.append(ipaddress.ip_network(term[4:], strict=False))
            except ValueError:
                continue
    for term in expected.lower().split()[1:]:
        if term.endswith("all"):
            continue
        if term.startswith(("ip4:", "ip6:")):
            want = ipaddress.ip_network(term[4:])
            if not any(want.version == n.version and want.subnet_of(n) for n in networks):  # type: ignore[arg-type]
                return False
        elif term not in got:
            return False
    return True


def _same_host(found: str, expected: str) -> bool:
    return found.rstrip(".").lower() == expected.rstrip(".").lower()


def check_record(resolver: dns.resolver.Resolver, record: DnsRecord) -> RecordCheck:
    values = lookup(resolver, record.name, record.type)
    if record.purpose == "dkim":
        ok = any(_dkim_matches(v, record.value) for v in values)
    elif "spf" in record.purpose:
        spf = [v for v in values if v.lower().startswith("v=spf1")]
        ok = len(spf) == 1 and _spf_covers(spf[0], record.value)
        values = spf or values
    elif record.purpose in ("dmarc", "dmarc reports"):
        ok = any(v.lower().replace(" ", "").startswith("v=dmarc1") for v in values)
    elif record.type == "MX":
        ok = any(_same_host(v.split()[-1], record.value.split()[-1]) for v in values)
    elif record.type in ("A", "AAAA"):
        ok = ipaddress.ip_address(record.value) in {ipaddress.ip_address(v) for v in values}
    else:
        ok = any(_same_host(v, record.value) for v in values)
    return RecordCheck(record, ok, "; ".join(values) or "(nothing)")
