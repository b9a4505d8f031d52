"""Clients behind a load balancer that speaks the PROXY protocol (HAProxy's send-proxy).

aiosmtpd reads the header (v1 or v2); this module decides what it is worth. Only connections
from smtp.proxy_protocol_from may send one: anybody else could name any address and slip past
the per-client caps and AUTH lockouts. The header's source address then stands for the client
everywhere a directly connected client's address would.

On the TLS port the load balancer passes the TLS bytes through after the header, so the
listener there is plain TCP and TLS begins once the header is read, layered the way aiosmtpd
layers it for STARTTLS (which has no public call for it).
"""

from __future__ import annotations

import ipaddress
import ssl
from asyncio import sslproto
from typing import Any

from aiosmtpd.proxy_protocol import V2_CMD, ProxyData

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def balancers(networks: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(network, strict=False) for network in networks)


def from_balancer(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return any(parsed in network for network in networks)


def proxied_client(proxy_data: ProxyData) -> tuple[str, int] | None:
    """The client a valid header names; None for a bad header, or one that names nobody (v1
    UNKNOWN, v2 LOCAL: a balancer's own health check, which has no mail to send)."""
    if not proxy_data.valid or proxy_data.src_addr is None or proxy_data.command == V2_CMD.LOCAL:
        return None
    return str(proxy_data.src_addr), int(proxy_data.src_port or 0)


async def start_tls(protocol: Any, context: ssl.SSLContext) -> None:
    """TLS on the protocol's connection from here on, as its STARTTLS would begin it; raises
    when the handshake fails."""
    # What the client sent right after the header (its ClientHello) is in the SMTP reader's
    # buffer already: it goes to the TLS layer instead.
    early = bytes(protocol._reader._buffer)
    protocol._reader._buffer.clear()
    waiter = protocol.loop.create_future()
    tls = protocol._tls_protocol = sslproto.SSLProtocol(protocol.loop, protocol, context, waiter,
                                                        server_side=True)
    protocol._original_transport = protocol.transport
    protocol._original_transport.set_protocol(tls)
    protocol.transport = tls._app_transport
    tls.connection_made(protocol._original_transport)
    while early:
        buffer = tls.get_buffer(len(early))
        taken = min(len(buffer), len(early))
        buffer[:taken] = early[:taken]
        tls.buffer_updated(taken)
        early = early[taken:]
    await waiter
