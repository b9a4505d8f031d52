"""The front-end's aiosmtpd handler: each hook turns protocol into a policy call and back.

Nothing is queued here: at DATA the envelope and content go on to Postfix
before the client is answered, and the client gets Postfix's reply, so a 250
means Postfix has the message.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import ssl
import time
from typing import Any

from aiosmtpd.proxy_protocol import ProxyData
from aiosmtpd.smtp import MISSING, AuthResult, Envelope
from sqlalchemy import Engine

from core import suppressions, unsubscribe
from core.auth_guard import Attempt, AuthFailureGuard
from core.config import Settings, is_hostname
from core.db import session_scope
from core.errors import InvalidInputError
from core.header_from import read_identities
from core.message_headers import HeaderFields, header_fields
from core.postfix.instance import PostfixInstance
from core.simulator import SimulatorDomain
from relay import replies
from relay.credentials import CredentialChecker
from relay.directory import Directory
from relay.handoff import PostfixSession, UpstreamUnavailable
from relay.metrics import AUTH_ATTEMPTS, HANDOFF_SECONDS
from relay.resubmissions import Resubmissions
from relay.smtp_protocol import RelaySession, RelaySMTP

log = logging.getLogger(__name__)

_PASSED_MAIL_OPTIONS = ("BODY=", "SMTPUTF8", "SIZE=")


MAX_HEADER_FIELD_OCTETS = 64 * 1024


def address_domain(address: str) -> str | None:
    """The address's domain in its ASCII form; None unless it is a host name."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return None
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    return ascii_domain if is_hostname(ascii_domain) else None


class AddressRefused(Exception):
    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


def envelope_domain(address: str, smtp_utf8: bool) -> str:
    """The domain of an envelope address the relay takes; AddressRefused says why it does not."""
    if address.rpartition("@")[2].startswith("["):
        raise AddressRefused(replies.ADDRESS_LITERAL)
    domain = address_domain(address)
    if domain is None:
        raise AddressRefused(replies.BAD_ADDRESS)
    if not smtp_utf8 and not address.isascii():
        raise AddressRefused(replies.NEEDS_SMTPUTF8)
    return domain


def has_oversized_header(content: bytes) -> bool:
    """Whether a header field, continuation lines included, passes MAX_HEADER_FIELD_OCTETS
    (Postfix would cut it short without a word)."""
    end = content.find(b"\r\n\r\n")
    head = content if end < 0 else content[:end + 2]
    if len(head) <= MAX_HEADER_FIELD_OCTETS:
        return False
    field = 0
    for line in head.split(b"\r\n"):
        field = field + len(line) + 2 if line[:1] in (b" ", b"\t") else len(line) + 2
        if field > MAX_HEADER_FIELD_OCTETS:
            return True
    return False


def identity_refusal(directory: Directory, tenant: str, fields: HeaderFields) -> str | None:
    """The refusal of a message whose From (or Sender, Resent-*) is not plainly the tenant's own."""
    identities = read_identities(fields)
    if identities.from_headers != 1:
        return replies.HEADER_FROM_MISSING
    for header, domains in [("From", identities.author), *identities.others]:
        if domains is None:
            return replies.IDENTITY_HEADER_UNREADABLE.format(header=header)
        unowned = [d for d in domains if not directory.domain_is_senders(tenant, d)]
        if unowned:
            return replies.IDENTITY_HEADER_NOT_OWNED.format(header=header, domain=unowned[0])
    return None


def subscribed_recipients(directory: Directory, tenant: str, fields: HeaderFields,
                          recipients: list[str]) -> tuple[str | None, list[str], list[str]]:
    """The list the message names (None: none), the recipients still subscribed to it, and those
    unsubscribed from it; InvalidInputError for a message that names no list plainly."""
    list_name = unsubscribe.list_name(unsubscribe.list_header_values(fields))
    if list_name is None:
        return None, recipients, []
    gone = [r for r in recipients if directory.unsubscribed(tenant, r, list_name)]
    return list_name, [r for r in recipients if r not in gone], gone


class RelayHandler:
    def __init__(self, settings: Settings, directory: Directory, guard: AuthFailureGuard,
                 engine: Engine | None = None) -> None:
        self._settings = settings
        self._engine = engine
        self._simulator = SimulatorDomain(settings.simulator_domain)
        self._background: set[asyncio.Task[Any]] = set()
        self._directory = directory
        self._checker = CredentialChecker(directory)
        self._guard = guard
        self._submit_socket = PostfixInstance(settings).submit_socket
        self._resubmissions = Resubmissions(settings, directory, engine)

    # AUTH: PLAIN and LOGIN, decoded here so that verification can be awaited.

    async def auth_PLAIN(self, server: RelaySMTP, args: list[str]) -> AuthResult:
        if not await self._may_authenticate(server):
            return AuthResult(success=False, handled=True)
        if len(args) == 1:
            blob = await self._challenge(server, "")
        else:
            blob = await self._decode(server, args[1])
        if blob is None:
            return AuthResult(success=False, handled=True)
        parts = blob.split(b"\0")
        if len(parts) != 3:
            await server.push(replies.AUTH_MALFORMED)
            return AuthResult(success=False, handled=True)
        return await self._authenticate(server, parts[1], parts[2])

    async def auth_LOGIN(self, server: RelaySMTP, args: list[str]) -> AuthResult:
        if not await self._may_authenticate(server):
            return AuthResult(success=False, handled=True)
        if len(args) == 1:
            username = await self._challenge(server, server.AuthLoginUsernameChallenge)
        else:
            username = await self._decode(server, args[1])
        if username is None:
            return AuthResult(success=False, handled=True)
        password = await self._challenge(server, server.AuthLoginPasswordChallenge)
        if password is None:
            return AuthResult(success=False, handled=True)
        return await self._authenticate(server, username, password)

    @staticmethod
    async def _challenge(server: RelaySMTP, prompt: str) -> bytes | None:
        answer = await server.challenge_auth(prompt)
        return None if answer is MISSING else answer

    @staticmethod
    async def _decode(server: RelaySMTP, text: str) -> bytes | None:
        try:
            return base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            await server.push(replies.AUTH_MALFORMED)
            return None

    async def _may_authenticate(self, server: RelaySMTP) -> bool:
        if not server.is_encrypted():
            await server.push("538 5.7.11 Encryption required for requested authentication mechanism")
            return False
        if self._guard.client_locked_out(server.relay_session().client_address):
            await self._lock_out(server)
            return False
        return True

    async def _lock_out(self, server: RelaySMTP) -> None:
        AUTH_ATTEMPTS.labels("locked_out").inc()
        await server.push(replies.AUTH_LOCKED_OUT)
        if server.transport is not None:
            server.transport.close()

    async def _authenticate(self, server: RelaySMTP, username: bytes, secret: bytes) -> AuthResult:
        peer = server.relay_session().client_address
        attempt = Attempt.of(peer, username.decode("utf-8", "replace"))
        if self._guard.is_locked_out(attempt):
            await self._lock_out(server)
            return AuthResult(success=False, handled=True)
        tenant = await self._checker.tenant_for(username, secret)
        if tenant is not None:
            AUTH_ATTEMPTS.labels("ok").inc()
            self._guard.record_success(attempt)
            log.info("AUTH ok tenant=%s client=%s", tenant, peer)
            return AuthResult(success=True, auth_data=tenant, message=replies.AUTH_OK)
        AUTH_ATTEMPTS.labels("failed").inc()
        delay = self._guard.record_failure(attempt)
        log.warning("AUTH failed client=%s username=%r", peer, username[:64].decode("utf-8", "replace"))
        if delay:
            await asyncio.sleep(delay)
        if self._guard.is_locked_out(attempt):
            await self._lock_out(server)
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False, message=replies.AUTH_INVALID)

    # The transaction. MAIL and RCPT are checked here and answered at once; the
    # envelope goes to Postfix with the content (relay.handoff), and the client
    # gets Postfix's verdict on the message as the reply to DATA.

    async def _ready_upstream(self, session: RelaySession) -> PostfixSession:
        upstream = session.upstream
        if upstream is None or not upstream.is_usable:
            upstream = session.upstream = PostfixSession(
                self._submit_socket, self._settings.hostname, self._settings.postfix.handoff_timeout_seconds)
            assert session.tenant is not None
            await upstream.open(session.tenant, session.client_address, session.client_port)
        return upstream

    async def handle_MAIL(self, server: RelaySMTP, session: RelaySession, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        tenant = session.tenant
        if tenant is not None and self._directory.tenant_is_paused(tenant):
            return replies.TENANT_PAUSED
        if tenant is None or not self._directory.tenant_may_send(tenant):
            return replies.TENANT_INACTIVE
        if not address:
            return replies.SENDER_NULL
        try:
            domain = envelope_domain(address, envelope.smtp_utf8)
        except AddressRefused as refused:
            return refused.reply
        if not self._directory.domain_is_senders(tenant, domain):
            return replies.SENDER_NOT_OWNED.format(domain=domain)
        try:
            await self._ready_upstream(session)
        except UpstreamUnavailable as exc:
            log.warning("hand-off to Postfix failed at MAIL: %s", exc)
            return replies.UPSTREAM_UNAVAILABLE
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return replies.SENDER_OK

    async def handle_RCPT(self, server: RelaySMTP, session: RelaySession, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if len(envelope.rcpt_tos) >= self._settings.smtp.max_recipients:
            return replies.TOO_MANY_RECIPIENTS
        try:
            envelope_domain(address, envelope.smtp_utf8)
        except AddressRefused as refused:
            return refused.reply
        assert session.tenant is not None
        simulated = self._simulator.holds(address)
        if envelope.rcpt_tos and simulated != self._simulator.holds(envelope.rcpt_tos[0]):
            return replies.SIMULATOR_APART
        suppressed = self._directory.suppression(session.tenant, address)
        if simulated and self._simulator.is_suppressed(address):
            suppressed = suppressed or "mailbox simulator"
        if suppressed is not None:
            self._record_refusal(session.tenant, address, suppressed)
            return replies.RECIPIENT_SUPPRESSED.format(address=address, reason=suppressed.replace("_", " "))
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return replies.RECIPIENT_OK

    def _record_refusal(self, tenant: str, address: str, reason: str) -> None:
        if self._engine is None:
            return
        write = asyncio.to_thread(self._write_refusal, self._engine, tenant, address, reason)
        task = asyncio.create_task(write)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @staticmethod
    def _write_refusal(engine: Engine, tenant: str, address: str, reason: str) -> None:
        try:
            with session_scope(engine) as db:
                suppressions.record_refusal(db, tenant, address, reason)
        except Exception:  # the refusal itself stands; only the tenant's notice is lost
            log.exception("could not record the refusal of a suppressed recipient")

    async def handle_DATA(self, server: RelaySMTP, session: RelaySession, envelope: Envelope) -> str:
        upstream = session.upstream
        assert isinstance(envelope.content, bytes) and session.tenant is not None
        assert envelope.mail_from is not None
        if has_oversized_header(envelope.content):
            return replies.HEADER_TOO_BIG.format(limit=MAX_HEADER_FIELD_OCTETS)
        fields = header_fields(envelope.content)
        refusal = identity_refusal(self._directory, session.tenant, fields)
        if refusal is not None:
            return refusal
        try:
            list_name, recipients = self._subscribed_recipients(session.tenant, envelope, fields)
        except InvalidInputError as exc:
            return replies.LIST_HEADER_INVALID.format(error=exc)
        if not recipients:
            return replies.ALL_UNSUBSCRIBED.format(list=list_name)
        if upstream is None:
            return replies.UPSTREAM_UNAVAILABLE
        hand_off = asyncio.create_task(self._hand_off(session, upstream, envelope, fields, recipients))
        session.hand_off = hand_off
        self._background.add(hand_off)
        hand_off.add_done_callback(self._background.discard)
        # A client gone before its reply does not stop a hand-off under way: the message it sent
        # whole is queued (as Postfix's own smtpd would), and a resubmission of it is answered
        # "already queued" for a tenant that sends each Message-ID once.
        return await asyncio.shield(hand_off)

    async def _hand_off(self, session: RelaySession, upstream: PostfixSession, envelope: Envelope,
                        fields: HeaderFields, recipients: list[str]) -> str:
        assert isinstance(envelope.content, bytes) and session.tenant is not None
        assert envelope.mail_from is not None
        claim = await self._resubmissions.claim(session.tenant, fields)
        if isinstance(claim, str):
            return claim
        options = [o for o in envelope.mail_options if o.upper().startswith(_PASSED_MAIL_OPTIONS)]
        started = time.monotonic()
        try:
            reused = upstream.submitted > 0
            reply = await upstream.submit(envelope.mail_from, options, recipients, envelope.content)
            if reply.temporary and reused:
                # Refused by a session kept from earlier messages (its smtpd may have lost the
                # milter, which is back since): nothing was queued, so a fresh session tries once.
                upstream = await self._ready_upstream(session)
                reply = await upstream.submit(envelope.mail_from, options, recipients, envelope.content)
        except UpstreamUnavailable as exc:
            # A claim stays pending: Postfix may have queued the message before the break.
            log.warning("hand-off to Postfix failed at DATA: %s", exc)
            return replies.UPSTREAM_UNAVAILABLE
        HANDOFF_SECONDS.observe(time.monotonic() - started)
        if claim is not None:
            await self._resubmissions.settle(claim, reply)
        log.debug("tenant=%s from=<%s> nrcpt=%d size=%d reply=%s", session.tenant, envelope.mail_from,
                 len(envelope.rcpt_tos), len(envelope.content), reply)
        return str(reply)

    def _subscribed_recipients(self, tenant: str, envelope: Envelope,
                               fields: HeaderFields) -> tuple[str | None, list[str]]:
        """The list the message names, and its recipients less those unsubscribed from it (whose
        refusal is recorded for the tenant); InvalidInputError for a message that names none plainly."""
        assert isinstance(envelope.content, bytes)
        list_name, recipients, gone = subscribed_recipients(self._directory, tenant, fields,
                                                            list(envelope.rcpt_tos))
        for recipient in gone:
            self._record_refusal(tenant, recipient, f"unsubscribed from list {list_name}")
        return list_name, recipients

    async def handle_PROXY(self, server: RelaySMTP, session: RelaySession, envelope: Envelope,
                           proxy_data: ProxyData) -> bool:
        try:
            return await server.admit_proxied(proxy_data)
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            log.info("connection through the load balancer closed: %s", exc)
            return False

    async def handle_exception(self, error: Exception) -> str:
        """aiosmtpd would answer '500 Error: (<exception>) <text>': internals, and permanent."""
        log.error("SMTP session error", exc_info=error)
        return replies.INTERNAL_ERROR

    async def handle_QUIT(self, server: RelaySMTP, session: RelaySession, envelope: Envelope) -> Any:
        if session.upstream is not None:
            await session.upstream.quit()
        return MISSING
