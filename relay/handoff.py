"""The hand-off: one SMTP session into Postfix's internal socket per client session.

It opens with `XCLIENT ADDR=<client> LOGIN=<tenant>`, so Postfix logs the real
client and `sasl_username=<tenant>`, and the milter reads the tenant from
`{auth_authen}`. Postfix's replies come back verbatim; anything that keeps
Postfix from answering raises UpstreamUnavailable, which the front-end turns
into a 4xx, never a 250.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib


class UpstreamUnavailable(Exception):
    """Postfix could not be reached, or the connection broke mid-command."""


@dataclass(frozen=True)
class Reply:
    code: int
    text: str

    def __str__(self) -> str:
        lines = self.text.splitlines() or [""]
        return "\r\n".join(
            f"{self.code}{'-' if i < len(lines) - 1 else ' '}{line}" for i, line in enumerate(lines)
        )

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300


def _xclient_addr(address: str) -> str:
    parsed = ipaddress.ip_address(address)
    return f"IPV6:{parsed.compressed}" if parsed.version == 6 else parsed.compressed


def _xtext(value: str) -> str:
    """RFC 3461 xtext, which XCLIENT attribute values use."""
    return "".join(
        chr(b) if 33 <= b <= 126 and b not in (ord("+"), ord("=")) else f"+{b:02X}"
        for b in value.encode("utf-8")
    )


class PostfixSession:
    def __init__(self, socket_path: Path, helo_name: str, timeout: float) -> None:
        self._client = aiosmtplib.SMTP(socket_path=str(socket_path), local_hostname=helo_name,
                                       timeout=timeout, use_tls=False, start_tls=False)
        self._helo_name = helo_name
        self.in_transaction = False

    @property
    def is_connected(self) -> bool:
        return self._client.is_connected

    async def open(self, tenant: str, client_address: str, client_port: int) -> None:
        try:
            await self._client.connect()
            reply = await self._client.execute_command(
                b"XCLIENT",
                f"ADDR={_xclient_addr(client_address)}".encode(),
                f"PORT={client_port}".encode(),
                b"NAME=[UNAVAILABLE]",
                f"LOGIN={_xtext(tenant)}".encode(),
            )
            if reply.code != 220:
                raise UpstreamUnavailable(f"XCLIENT refused: {reply.code} {reply.message}")
            await self._client.ehlo(hostname=self._helo_name)
        except (aiosmtplib.SMTPException, OSError, ValueError) as exc:
            self._client.close()
            raise UpstreamUnavailable(str(exc)) from exc

    async def _command(self, *args: bytes) -> Reply:
        try:
            response = await self._client.execute_command(*args)
        except (aiosmtplib.SMTPException, OSError) as exc:
            self.close()
            raise UpstreamUnavailable(str(exc)) from exc
        return Reply(response.code, response.message)

    async def mail(self, sender: str, options: list[str]) -> Reply:
        reply = await self._command(b"MAIL", f"FROM:<{sender}>".encode(), *(o.encode() for o in options))
        self.in_transaction = reply.ok
        return reply

    async def rcpt(self, recipient: str) -> Reply:
        return await self._command(b"RCPT", f"TO:<{recipient}>".encode())

    async def data(self, content: bytes) -> Reply:
        self.in_transaction = False
        try:
            response = await self._client.data(content)
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code < 400:
                self.close()
                raise UpstreamUnavailable(exc.message) from exc
            return Reply(exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError) as exc:
            self.close()
            raise UpstreamUnavailable(str(exc)) from exc
        return Reply(response.code, response.message)

    async def reset(self) -> None:
        if self.in_transaction and self.is_connected:
            self.in_transaction = False
            await self._command(b"RSET")

    async def quit(self) -> None:
        if self.is_connected:
            try:
                await self._client.quit()
            except (aiosmtplib.SMTPException, OSError):
                self.close()

    def close(self) -> None:
        self.in_transaction = False
        self._client.close()
