"""Where a webhook may point: public addresses only, unless the operator allows a network.

A tenant user chooses the URL, and the relay posts to it from inside the
operator's network: pointed at loopback or a private address it would reach
services no tenant should (blind SSRF). So the URL's host is checked when the
webhook is set, and again at every request after resolving it, and the request
goes to the very address that was checked, so a DNS answer that changes between
check and connect (rebinding) gains nothing. Redirects are not followed.

urllib resolves names itself and follows redirects; http.client lets the
connection be opened to a chosen address while Host, SNI and the certificate
check still use the URL's name, so requests are made with it.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.errors import InvalidInputError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetRefused(Exception):
    """The URL's host is, or resolves to, an address webhooks may not reach."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def parse_target(url: str) -> Target:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidInputError(f"{url!r} has an invalid port") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(f"{url!r} is not an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise InvalidInputError("a webhook URL carries no user name or password")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path)


def _may_reach(address: Address, allowed: tuple[Network, ...]) -> bool:
    if any(address in network for network in allowed):
        return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def reachable_addresses(host: str, port: int, allowed: tuple[Network, ...]) -> list[Address]:
    """Every address host resolves to, if webhooks may reach each of them."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(f"{host} does not resolve") from exc
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))
    refused = [a for a in addresses if not _may_reach(a, allowed)]
    if refused or not addresses:
        raise TargetRefused(f"{host} resolves to {refused[0] if refused else 'nothing'}, "
                            "which webhooks may not reach (only public addresses, or the operator's "
                            "webhooks.allow_networks)")
    return addresses


def allowed_networks(texts: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(text, strict=False) for text in texts)


def check_target(url: str, allowed: tuple[Network, ...]) -> None:
    """Raises InvalidInputError for a URL a webhook may not have."""
    target = parse_target(url)
    try:
        reachable_addresses(target.host, target.port, allowed)
    except TargetRefused as exc:
        raise InvalidInputError(str(exc)) from exc


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, address: Address, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self._address), self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, address: Address, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        plain = socket.create_connection((str(self._address), self.port), self.timeout)
        self.sock = self._context.wrap_socket(plain, server_hostname=self.host)  # type: ignore[attr-defined]


def post(url: str, body: bytes, headers: dict[str, str], timeout: float,
         allowed: tuple[Network, ...]) -> int:
    """POST body to url through a checked address; the response's status (3xx not followed)."""
    target = parse_target(url)
    address = reachable_addresses(target.host, target.port, allowed)[0]
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = kind(address, target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
        return response.status
    finally:
        connection.close()
