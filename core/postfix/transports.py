"""Postfix's delivery transports: one per outbound address, and the header that picks one.

The milter adds ROUTE_HEADER with a transport name; milter_header_checks (rendered
from postfix-conf/) turn it into `FILTER <transport>:`, and smtp_header_checks
drop the header before the message leaves the box. Each outbound address has a
transport, and one more per delivery profile (a big provider's shaping), named
profile_transport(address transport, profile).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import PoolIp
from core.states import PoolIpState

ROUTE_HEADER = "X-Mailrelay-Route"
DEFAULT_TRANSPORT = "out_default"


def profile_transport(transport: str, profile: str) -> str:
    return f"{transport}__{profile}"


@dataclass(frozen=True)
class Transport:
    """One master.cf delivery entry; bind_address empty for a removed address's leftover mail."""

    name: str
    bind_address: str
    helo_name: str

    @property
    def ipv6(self) -> bool:
        return ":" in self.bind_address


def transport_name(address: str) -> str:
    parsed = ipaddress.ip_address(address)
    if parsed.version == 4:
        return "smtp_" + parsed.compressed.replace(".", "_")
    return "smtp_v6_" + parsed.exploded.replace(":", "")


def address_of_transport(transport: str) -> str:
    """The outbound address a (profile) transport sends from: the inverse of transport_name;
    "default" for the box's own addresses (DEFAULT_TRANSPORT), "" where no transport is known."""
    name = transport.partition("__")[0]
    if name.startswith("smtp_v6_") and len(name) == 40:
        hexdigits = name.removeprefix("smtp_v6_")
        return str(ipaddress.ip_address(":".join(hexdigits[n:n + 4] for n in range(0, 32, 4))))
    if name.startswith("smtp_"):
        return name.removeprefix("smtp_").replace("_", ".")
    return "default" if name == DEFAULT_TRANSPORT else name


def delivery_transports(session: Session) -> list[Transport]:
    return [
        Transport(transport_name(ip.address), "" if ip.state == PoolIpState.REMOVED else ip.address,
                  ip.helo_name)
        for ip in session.scalars(select(PoolIp).order_by(PoolIp.address))
    ]
