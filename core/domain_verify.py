"""Checks a sending domain's published records with dnspython.

The DKIM record proves the domain is the tenant's (only we know the key), so it
alone decides verification; SPF, DMARC and the return-path are reported so the
operator can see what else the tenant should publish.
"""

from __future__ import annotations

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


def _dkim_matches(found: str, expected: str) -> bool:
    got, want = _tags(found), _tags(expected)
    return got.get("p") == want["p"] and got.get("k", "rsa") == want["k"]


def check_record(resolver: dns.resolver.Resolver, settings: Settings, record: DnsRecord) -> RecordCheck:
    values = lookup(resolver, record.name, record.type)
    if record.purpose == "dkim":
        ok = any(_dkim_matches(v, record.value) for v in values)
    elif record.purpose == "spf":
        spf = [v for v in values if v.lower().startswith("v=spf1")]
        ok = len(spf) == 1 and f"include:{settings.spf_domain}" in spf[0].lower()
        values = spf or values
    elif record.purpose == "dmarc":
        ok = any(v.lower().replace(" ", "").startswith("v=dmarc1") for v in values)
    else:
        ok = any(v.rstrip(".").lower() == record.value.rstrip(".").lower() for v in values)
    return RecordCheck(record, ok, "; ".join(values) or "(nothing)")

