"""aiosmtpd's SMTP protocol, adapted where the relay needs different behaviour.

- DATA is read by relay.data_reader (smuggling-safe, bare LF normalized, enhanced
  status codes for faults) instead of aiosmtpd's own loop.
- A SIZE= above the limit gets 552 5.3.4.
- Command arguments with NUL bytes, control characters or invalid UTF-8 get a 5xx.
- Each connection carries its own session state: the tenant and the Postfix session,
  which a lost connection closes only once a hand-off under way has finished.
- Past the connection caps (relay.connection_limits) a connection gets 421 4.7.0 and
  is closed before aiosmtpd starts on it; until its first command it has the
  greeting timeout, then the idle timeout.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import ssl
import sys
from collections.abc import Awaitable, Callable
from typing import Any, AnyStr

from aiosmtpd.proxy_protocol import ProxyData
from aiosmtpd.smtp import SMTP, Session

from relay import replies
from relay.connection_limits import ConnectionLimits
from relay.data_reader import READ_LIMIT, DataFault, read_message
from relay.handoff import PostfixSession
from relay.metrics import CONNECTIONS, OPEN_CONNECTIONS, SUBMISSIONS, TLS_SESSIONS, reply_class
from relay.proxied import Network, from_balancer, proxied_client, start_tls

log = logging.getLogger(__name__)

_FAULT_REPLIES = {
    DataFault.TOO_BIG: replies.MESSAGE_TOO_BIG,
    DataFault.LINE_TOO_LONG: replies.LINE_TOO_LONG,
    DataFault.BARE_CR: replies.BARE_CR,
    DataFault.NUL: replies.NUL_IN_DATA,
}
_SIZE_PARAM = re.compile(r"\bSIZE=(\d+)", re.IGNORECASE)
# <dot-atom@domain>: what nearly every client sends, read without the stdlib's slow
# RFC 5322 parser; anything else still goes through aiosmtpd's own _getaddr.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOMAIN = r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
# The rest after ">" is left to aiosmtpd when it starts with a comment, "(...)".
_PLAIN_PATH = re.compile(rf"\s*<({_ATOM}(?:\.{_ATOM})*@{_DOMAIN})>(?![ \t]*\()[ \t]*(.*)", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

Command = Callable[[Any, str | None], Awaitable[None]]


class RelaySession(Session):
    def __init__(self, loop: Any) -> None:
        super().__init__(loop)
        self.upstream: PostfixSession | None = None
        # The message being handed to Postfix: it finishes even when the client goes.
        self.hand_off: asyncio.Task[str] | None = None
        # The client a load balancer's PROXY header named (relay.proxied); else the peer is.
        self.proxied: tuple[str, int] | None = None

    @property
    def tenant(self) -> str | None:
        return self.auth_data if isinstance(self.auth_data, str) else None

    @property
    def client_address(self) -> str:
        client = self.proxied or self.peer
        return str(client[0]) if isinstance(client, tuple) else "127.0.0.1"

    @property
    def client_port(self) -> int:
        client = self.proxied or self.peer
        return int(client[1]) if isinstance(client, tuple) else 0


def _clean_argument(method: Command) -> Command:
    @functools.wraps(method)
    async def checked(self: RelaySMTP, arg: str | None) -> None:
        if arg is not None:
            try:
                arg.encode("utf-8")
            except UnicodeEncodeError:
                await self.push(replies.BAD_ARGUMENT)
                return
            if _CONTROL.search(arg):
                await self.push(replies.BAD_ARGUMENT)
                return
        await method(self, arg)

    return checked


class RelaySMTP(SMTP):
    line_length_limit = READ_LIMIT

    def __init__(self, handler: Any, *, limits: ConnectionLimits, greeting_timeout: float,
                 proxy_from: tuple[Network, ...] = (), implicit_tls: ssl.SSLContext | None = None,
                 **settings: Any) -> None:
        """proxy_from: the load balancers whose connections begin with a PROXY header (relay.proxied);
        implicit_tls: the TLS port's context, where TLS begins after that header."""
        if proxy_from:
            settings["proxy_protocol_timeout"] = greeting_timeout
        super().__init__(handler, **settings)
        self._limits = limits
        self._greeting_timeout = greeting_timeout
        self._proxy_from = proxy_from
        self._implicit_tls = implicit_tls
        self._admitted: str | None = None
        self._client: tuple[str, int] | None = None  # named by the PROXY header

    def connection_made(self, transport: Any) -> None:
        if (tls := transport.get_extra_info("ssl_object")) is not None:
            TLS_SESSIONS.labels(tls.version() or "unknown").inc()
        if self.transport is not None:  # the TLS transport after STARTTLS
            super().connection_made(transport)
            self.relay_session().proxied = self._client
            return
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) else ""
        if self._proxy_from:
            if not from_balancer(address, self._proxy_from):
                log.warning("connection from %s closed: not a load balancer of smtp.proxy_protocol_from",
                            address)
                transport.close()
                return
            super().connection_made(transport)  # admitted once the PROXY header names the client
            return
        if self._admit(transport, address):
            super().connection_made(transport)
            self._reset_timeout(self._greeting_timeout)

    def _admit(self, transport: Any, address: str) -> bool:
        if not self._limits.admit(address):
            CONNECTIONS.labels("refused").inc()
            transport.write(replies.TOO_MANY_CONNECTIONS.encode("ascii") + b"\r\n")
            transport.close()
            return False
        CONNECTIONS.labels("admitted").inc()
        OPEN_CONNECTIONS.inc()
        self._admitted = address
        return True

    async def admit_proxied(self, proxy_data: ProxyData) -> bool:
        """The PROXY header's client admitted as one connecting directly is (relay.proxied), and on
        the TLS port, TLS begun; False closes the connection."""
        client = proxied_client(proxy_data)
        if client is None or not self._admit(self.transport, client[0]):
            return False
        self._client = self.relay_session().proxied = client
        if self._implicit_tls is not None:
            await start_tls(self, self._implicit_tls)
        return True

    def _create_session(self) -> RelaySession:
        return RelaySession(self.loop)

    # Methods, not properties: aiosmtpd's constructor inspects every attribute.
    def relay_session(self) -> RelaySession:
        assert isinstance(self.session, RelaySession)
        return self.session

    def is_encrypted(self) -> bool:
        return self.transport is not None and self.transport.get_extra_info("ssl_object") is not None

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        plain = _PLAIN_PATH.fullmatch(arg)
        limit = self.local_part_limit
        if plain is None or (limit and len(plain[1].rpartition("@")[0]) > limit):
            return super()._getaddr(arg)
        return plain[1], plain[2]

    async def push(self, status: AnyStr) -> None:
        # A reply may quote what the client sent (an address); SMTP replies are ASCII.
        text = status if isinstance(status, str) else status.decode("ascii", "replace")
        await super().push(text.encode("ascii", "replace"))

    def connection_lost(self, error: Exception | None) -> None:
        if self._admitted is None:
            return
        self._limits.release(self._admitted)
        self._admitted = None
        OPEN_CONNECTIONS.dec()
        session = self.session
        if isinstance(session, RelaySession) and (upstream := session.upstream) is not None:
            if session.hand_off is not None and not session.hand_off.done():
                session.hand_off.add_done_callback(lambda _: upstream.close())
            else:
                upstream.close()
        super().connection_lost(error)

    smtp_HELO = _clean_argument(SMTP.smtp_HELO)
    smtp_EHLO = _clean_argument(SMTP.smtp_EHLO)
    smtp_AUTH = _clean_argument(SMTP.smtp_AUTH)
    smtp_RCPT = _clean_argument(SMTP.smtp_RCPT)
    smtp_VRFY = _clean_argument(SMTP.smtp_VRFY)
    smtp_NOOP = _clean_argument(SMTP.smtp_NOOP)

    @_clean_argument
    async def smtp_MAIL(self, arg: str | None) -> None:
        size = _SIZE_PARAM.search(arg or "")
        if size and self.data_size_limit and int(size.group(1)) > self.data_size_limit:
            await self.push(replies.MESSAGE_TOO_BIG)
            return
        await super().smtp_MAIL(arg)

    async def smtp_DATA(self, arg: str | None) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        envelope = self.envelope
        assert envelope is not None
        if not envelope.rcpt_tos:
            await self.push(replies.NEED_RCPT)
            return
        if arg:
            await self.push(replies.DATA_SYNTAX)
            return
        await self.push(replies.START_DATA)
        result = await read_message(self._reader, self.data_size_limit or sys.maxsize, self._reset_timeout)
        if result.fault is not None:
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            SUBMISSIONS.labels("5xx").inc()
            await self.push(_FAULT_REPLIES[result.fault])
            return
        envelope.content = envelope.original_content = result.content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        SUBMISSIONS.labels(reply_class(status)).inc()
        await self.push(status)
