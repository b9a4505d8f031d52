"""The hand-off: one SMTP session into Postfix's internal socket per client session.

It opens with `XCLIENT ADDR=<client> LOGIN=<tenant>`, so Postfix logs the real
client and `sasl_username=<tenant>`, and the milter reads the tenant from
`{auth_authen}`. Each message then goes over in as few round trips as is safe:

- one recipient: MAIL, RCPT and `BDAT <n> LAST` with the content in one write.
  If MAIL or RCPT is refused, Postfix refuses the BDAT too and discards its
  bytes, so nothing is queued.
- several recipients: MAIL and every RCPT in one write; the content follows
  only if Postfix took them all, since a BDAT after a partial refusal would
  queue the message for some recipients while the client is told it failed.

Postfix's replies come back verbatim; anything that keeps Postfix from
answering raises UpstreamUnavailable, which the front-end turns into a 4xx,
never a 250. After a temporary refusal the session is closed, not reset: an
smtpd whose milter connection broke refuses every later message of its session,
though the milter is back, so the next message goes to a fresh smtpd.
"""

from __future__ import annotations

import contextlib
import ipaddress
import time
from pathlib import Path

from relay.smtp_wire import Reply, SmtpWire, WireError

# Well under the internal listener's smtpd_timeout (master.cf.j2), so Postfix
# never drops a session the front-end still counts on.
IDLE_REUSE_SECONDS = 60.0


class UpstreamUnavailable(Exception):
    """Postfix could not be reached, or the connection broke mid-command."""


def _xclient_addr(address: str) -> str:
    parsed = ipaddress.ip_address(address)
    return f"IPV6:{parsed.compressed}" if parsed.version == 6 else parsed.compressed


def _xtext(value: str) -> str:
    """RFC 3461 xtext, which XCLIENT attribute values use."""
    return "".join(
        chr(b) if 33 <= b <= 126 and b not in (ord("+"), ord("=")) else f"+{b:02X}"
        for b in value.encode("utf-8")
    )


def _expect(reply: Reply, code: int, step: str) -> None:
    if reply.code != code:
        raise UpstreamUnavailable(f"{step} refused: {reply}")


class PostfixSession:
    def __init__(self, socket_path: Path, helo_name: str, timeout: float) -> None:
        self._socket_path = socket_path
        self._helo_name = helo_name
        self._timeout = timeout
        self._wire: SmtpWire | None = None
        self._last_used = 0.0
        self.submitted = 0

    @property
    def is_usable(self) -> bool:
        return (self._wire is not None and self._wire.is_open
                and time.monotonic() - self._last_used < IDLE_REUSE_SECONDS)

    async def open(self, tenant: str, client_address: str, client_port: int) -> None:
        self.close()
        try:
            wire = await SmtpWire.open_unix(self._socket_path, self._timeout)
            self._wire = wire
            _expect(await wire.read_reply(), 220, "greeting")
            xclient = (f"XCLIENT ADDR={_xclient_addr(client_address)} PORT={client_port}"
                       f" NAME=[UNAVAILABLE] LOGIN={_xtext(tenant)}")
            _expect(await wire.command(xclient.encode()), 220, "XCLIENT")
            ehlo = await wire.command(f"EHLO {self._helo_name}".encode())
            _expect(ehlo, 250, "EHLO")
            missing = {"PIPELINING", "CHUNKING"} - ehlo.keywords
            if missing:
                raise UpstreamUnavailable(f"Postfix does not offer {', '.join(sorted(missing))}")
        except (WireError, ValueError, UpstreamUnavailable) as exc:
            self.close()
            raise UpstreamUnavailable(str(exc)) from exc
        self._last_used = time.monotonic()
        self.submitted = 0

    async def submit(self, sender: str, options: list[str], recipients: list[str], content: bytes) -> Reply:
        """Postfix's verdict on one message: its first refusal, or the reply to the content."""
        wire = self._wire
        if wire is None:
            raise UpstreamUnavailable("no Postfix session")
        envelope = b"".join(
            [b" ".join([f"MAIL FROM:<{sender}>".encode(), *(o.encode() for o in options)]) + b"\r\n"]
            + [f"RCPT TO:<{r}>\r\n".encode() for r in recipients]
        )
        chunk = f"BDAT {len(content)} LAST\r\n".encode() + content
        try:
            if len(recipients) == 1:
                await wire.send(envelope + chunk)
                replies = await wire.read_replies(3)
            else:
                await wire.send(envelope)
                replies = await wire.read_replies(1 + len(recipients))
                if all(r.ok for r in replies):
                    await wire.send(chunk)
                    replies.append(await wire.read_reply())
        except WireError as exc:
            self.close()
            raise UpstreamUnavailable(str(exc)) from exc
        self._last_used = time.monotonic()
        self.submitted += 1
        refusal = next((r for r in replies if not r.ok), None)
        if refusal is not None and refusal.temporary:
            self.close()
        elif refusal is not None:
            await self._reset()
        return refusal or replies[-1]

    async def _reset(self) -> None:
        assert self._wire is not None
        try:
            if not (await self._wire.command(b"RSET")).ok:
                self.close()
        except WireError:
            self.close()

    async def quit(self) -> None:
        if self._wire is not None and self._wire.is_open:
            with contextlib.suppress(WireError):
                await self._wire.send(b"QUIT\r\n")
        self.close()

    def close(self) -> None:
        if self._wire is not None:
            self._wire.close()
            self._wire = None
