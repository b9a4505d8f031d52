"""Checks of an outbound address: forward-confirmed reverse DNS, and DNS blocklist listings.

FCrDNS holds when the address's PTR names its HELO name and that name resolves back to
the address. A listing is any A record under <reversed address>.<zone>; a zone that
does not answer counts as not listing (the check says so only by listing nothing).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import dns.resolver
import dns.reversename

from core.domain_verify import lookup


@dataclass(frozen=True)
class IpCheck:
    address: str
    ptr_names: list[str]
    fcrdns_ok: bool
    listed_on: list[str]


def blocklist_name(address: str, zone: str) -> str:
    parsed = ipaddress.ip_address(address)
    if parsed.version == 4:
        reversed_address = ".".join(reversed(parsed.compressed.split(".")))
    else:
        reversed_address = ".".join(reversed(parsed.exploded.replace(":", "")))
    return f"{reversed_address}.{zone}"


def check_ip(resolver: dns.resolver.Resolver, address: str, helo_name: str,
             blocklists: tuple[str, ...]) -> IpCheck:
    ptr_names = [name.rstrip(".").lower() for name in
                 lookup(resolver, dns.reversename.from_address(address).to_text(), "PTR")]
    family = "AAAA" if ipaddress.ip_address(address).version == 6 else "A"
    forward = {ipaddress.ip_address(a) for a in lookup(resolver, helo_name, family)}
    fcrdns_ok = helo_name.lower() in ptr_names and ipaddress.ip_address(address) in forward
    listed_on = [zone for zone in blocklists if lookup(resolver, blocklist_name(address, zone), "A")]
    return IpCheck(address, ptr_names, fcrdns_ok, listed_on)
