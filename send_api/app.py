"""The send API's routes: POST /api/v1/send (JSON made into a message, send_api/mime.py),
/api/v1/send/raw (a ready message and its envelope) and /api/v1/send/batch (up to 500 of
/send's, one result each)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator
from sqlalchemy import Engine

from core import idempotency, message_tags, send_keys
from core.config import Settings
from core.db import make_engine, session_scope
from core.errors import InvalidInputError
from core.message_headers import HeaderFields, header_fields
from core.metrics import serve_metrics
from core.panel_users import TOKEN_PREFIX
from core.passwords import token_digest
from core.postfix.instance import PostfixInstance
from core.postfix.queue import queued_as
from core.secretbox import SecretBox
from core.verp import REF_HEADER, given_ref_value, new_message_ref, verp_key
from relay.data_reader import DataFault, normalized
from relay.directory import Directory
from relay.handler import (
    AddressRefused,
    envelope_domain,
    has_oversized_header,
    identity_refusal,
    subscribed_recipients,
)
from relay.handoff import UpstreamUnavailable
from relay.smtp_wire import Reply
from send_api import schemas
from send_api.group_commit import GroupCommit
from send_api.metrics import MESSAGES, measured
from send_api.mime import BadRequest, build_message
from send_api.schemas import IDEMPOTENCY_HEADER, MAX_IDEMPOTENCY_KEY
from send_api.sessions import SessionPool

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)

# A batch's messages go to Postfix this many at a time, each over a session of its own.
BATCH_HAND_OFFS = 8
MAX_CACHED_KEYS = 10_000
KEY_PREFIX = "http:"
# How long a request waits for another one with its Idempotency-Key to be answered.
IDEMPOTENT_WAIT_SECONDS = 30.0
_RETRY_IN = re.compile(r"try again in (\d+) second")
_RETRY_AFTER = re.compile(r"try again after (\d\d):(\d\d):(\d\d) UTC")



class Refused(Exception):
    """A request answered with this status and error, nothing sent."""

    def __init__(self, status: int, error: str, retry_after: int | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.retry_after = status, error, retry_after

    def response(self) -> web.Response:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
        return web.json_response({"error": self.error}, status=self.status, headers=headers)


@dataclass(frozen=True)
class Sender:
    tenant: str
    tenant_id: int
    expires_at: datetime | None = None


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]

    def response(self) -> web.Response:
        return web.json_response(self.body, status=self.status)


Send = Callable[["Sender", web.Request, dict[str, Any]], Coroutine[Any, Any, Answer]]


def _retry_seconds(text: str) -> int:
    if found := _RETRY_IN.search(text):
        return max(1, int(found.group(1)))
    if found := _RETRY_AFTER.search(text):
        now = datetime.now(UTC)
        at = now.replace(hour=int(found.group(1)), minute=int(found.group(2)), second=int(found.group(3)))
        if at < now:
            at += timedelta(days=1)
        return max(1, int((at - now).total_seconds()))
    return 60


def postfix_answer(reply: Reply, message_ref: str, accepted: list[str], refused: dict[str, str]) -> Answer:
    """Postfix's reply as the API gives it: 200 only for a message Postfix queued."""
    if reply.ok:
        MESSAGES.inc()
        return Answer(200, {"queue_id": queued_as(reply.text) or "", "message_ref": message_ref,
                            "accepted": accepted, "refused": refused})
    if reply.temporary:
        status = 429 if "rate limit" in reply.text or "limit of" in reply.text else 503
        raise Refused(status, str(reply), _retry_seconds(reply.text))
    raise Refused(422, str(reply))


_FAULTS = {
    DataFault.TOO_BIG: (413, "the message is over {max_size} octets"),
    DataFault.NUL: (400, "the message contains NUL bytes"),
    DataFault.BARE_CR: (400, "the message contains a bare CR; lines end with CRLF or LF"),
    DataFault.LINE_TOO_LONG: (400, "the message has a line longer than 998 octets (RFC 5322 2.1.1)"),
}


def normalized_message(raw: bytes, max_size: int) -> bytes:
    """The message with CRLF line ends; Refused for what SMTP refuses too (relay.data_reader)."""
    result = normalized(raw, max_size)
    if result.fault is not None:
        status, error = _FAULTS[result.fault]
        raise Refused(status, error.format(max_size=max_size))
    return result.content


class SendService:
    def __init__(self, settings: Settings, engine: Engine, directory: Directory) -> None:
        self._settings = settings
        self._engine = engine
        self._directory = directory
        self._senders: dict[str, tuple[Sender | None, int]] = {}
        self.sessions = SessionPool(PostfixInstance(settings).submit_socket, settings.hostname,
                                    settings.postfix.handoff_timeout_seconds)
        self._verp_key = verp_key(SecretBox.from_file(settings.effective_encryption_key_file))
        self.commits = GroupCommit(engine)

    async def sender(self, request: web.Request) -> Sender:
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret:
            raise Refused(401, "send with a send key: Authorization: Bearer rsk_...")
        if secret.startswith(TOKEN_PREFIX):
            raise Refused(401, "a panel API token cannot send; make a send key for the tenant")
        sender = await self._sender_of(secret.strip())
        if sender is None:
            raise Refused(401, "unknown or revoked send key")
        if send_keys.expired(sender.expires_at):
            raise Refused(401, f"this send key expired at {sender.expires_at:%Y-%m-%dT%H:%M:%S}Z; "
                               "make a new one")
        if self._directory.tenant_is_paused(sender.tenant):
            raise Refused(403, "sending is paused for this account: its bounce or complaint rate is too "
                               "high; the relay operator can resume it")
        if not self._directory.tenant_may_send(sender.tenant):
            raise Refused(403, "this account may not send mail")
        return sender

    async def _sender_of(self, secret: str) -> Sender | None:
        """The key's tenant, looked up once per directory version (a revoke moves it)."""
        digest, version = token_digest(secret), self._directory.snapshot.version
        cached = self._senders.get(digest)
        if cached is not None and cached[1] == version:
            return cached[0]
        found = await asyncio.to_thread(self._tenant_for_key, secret)
        if len(self._senders) >= MAX_CACHED_KEYS:
            self._senders.clear()
        self._senders[digest] = (found, version)
        return found

    def _tenant_for_key(self, secret: str) -> Sender | None:
        with session_scope(self._engine) as session:
            key = send_keys.unrevoked_key(session, secret)
            return None if key is None else Sender(key.tenant.name, key.tenant_id, key.expires_at)

    def envelope(self, sender: Sender, mail_from: str,
                 rcpt_to: list[str]) -> tuple[list[str], dict[str, str]]:
        """The recipients not suppressed, and those suppressed with why."""
        if len(rcpt_to) > self._settings.smtp.max_recipients:
            raise Refused(400, f"at most {self._settings.smtp.max_recipients} recipients per message")
        domain = self._domain(mail_from, "from")
        if not self._directory.domain_is_senders(sender.tenant, domain):
            raise Refused(403, f"sender domain {domain} is not a verified domain of this account")
        accepted, refused = [], {}
        for address in dict.fromkeys(rcpt_to):
            self._domain(address, "to")
            reason = self._directory.suppression(sender.tenant, address)
            if reason is not None:
                refused[address] = f"on the suppression list ({reason.replace('_', ' ')})"
            else:
                accepted.append(address)
        return accepted, refused

    @staticmethod
    def _domain(address: str, field: str) -> str:
        if any(c in address for c in "\r\n\0<>"):
            raise Refused(400, f"{field}: {address!r} is not an address")
        try:
            return envelope_domain(address, smtp_utf8=True)
        except AddressRefused as refused:
            raise Refused(400, f"{field}: {address!r}: {refused.reply[4:]}") from None

    def check_content(self, sender: Sender, content: bytes, fields: HeaderFields) -> None:
        if has_oversized_header(content):
            raise Refused(400, "a header field is over 64 KiB")
        refusal = identity_refusal(self._directory, sender.tenant, fields)
        if refusal is not None:
            raise Refused(403 if refusal.startswith("550 5.7") else 400, refusal[10:])

    async def hand_off(self, sender: Sender, request: web.Request, mail_from: str, recipients: list[str],
                       content: bytes) -> Reply:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        client_address, client_port = (peer[0], peer[1]) if isinstance(peer, tuple) else ("127.0.0.1", 0)
        options = [] if content.isascii() else ["BODY=8BITMIME"]
        if not (mail_from + "".join(recipients)).isascii():
            options.append("SMTPUTF8")
        try:
            session = await self.sessions.acquire(sender.tenant, client_address, client_port)
            try:
                return await session.submit(mail_from, options, recipients, content)
            finally:
                self.sessions.release(sender.tenant, client_address, session)
        except UpstreamUnavailable as exc:
            log.warning("hand-off to Postfix failed: %s", exc)
            raise Refused(503, "the mail system is temporarily unavailable; try again", 60) from exc

    async def send_raw(self, request: web.Request) -> web.Response:
        return await self._route(request, self._send_raw, "/send/raw")

    async def send_message(self, request: web.Request) -> web.Response:
        return await self._route(request, self._send_message, "/send")

    async def send_batch(self, request: web.Request) -> web.Response:
        return await self._route(request, self._send_batch, "/send/batch")

    async def _route(self, request: web.Request, send: Send, path: str) -> web.Response:
        try:
            sender = await self.sender(request)
            raw_body = await _body(request)
            key = _idempotency_key(request)
            sending = send(sender, request, _json_body(request, raw_body, schemas.VALIDATORS[path]))
            answer = await (sending if key is None else self._once(sender, key, raw_body, sending))
            return answer.response()
        except Refused as refused:
            return refused.response()

    async def _send_raw(self, sender: Sender, request: web.Request, body: dict[str, Any]) -> Answer:
        try:
            raw = base64.b64decode(body["message"], validate=True)
        except (binascii.Error, ValueError):
            raise Refused(400, "message is not valid base64") from None
        return await self._send_one(sender, request, body["from"], body["to"], raw, _tags(body))

    async def _send_message(self, sender: Sender, request: web.Request, body: dict[str, Any]) -> Answer:
        try:
            mail_from, rcpt_to, raw = build_message(body)
        except BadRequest as bad:
            raise Refused(400, str(bad)) from None
        return await self._send_one(sender, request, mail_from, rcpt_to, raw, _tags(body))

    async def _send_batch(self, sender: Sender, request: web.Request, body: dict[str, Any]) -> Answer:
        handing_off = asyncio.Semaphore(BATCH_HAND_OFFS)

        async def result(one: dict[str, Any]) -> dict[str, Any]:
            try:
                send = self._send_raw if "message" in one else self._send_message
                async with handing_off:
                    answer = await send(sender, request, one)
                return {"status": answer.status, **answer.body}
            except Refused as refused:
                return {"status": refused.status, "error": refused.error}
        results = await asyncio.gather(*(result(one) for one in body["messages"]))
        return Answer(200, {"results": list(results)})

    async def _send_one(self, sender: Sender, request: web.Request, mail_from: str, rcpt_to: list[str],
                        raw: bytes, tags: message_tags.MessageTags) -> Answer:
        content = normalized_message(raw, self._settings.smtp.max_message_size)
        fields = header_fields(content)
        self.check_content(sender, content, fields)
        recipients, refused = self.envelope(sender, mail_from, rcpt_to)
        try:
            list_name, recipients, gone = subscribed_recipients(self._directory, sender.tenant, fields,
                                                                recipients)
        except InvalidInputError as exc:
            raise Refused(400, f"{exc}; the message names no list") from None
        refused |= {address: f"unsubscribed from list {list_name}" for address in gone}
        if not recipients:
            raise Refused(422, "every recipient is suppressed or unsubscribed: " + json.dumps(refused))
        # The milter takes this ref, tags and metadata for the message, and removes their headers.
        message_ref = new_message_ref()
        given = f"{REF_HEADER}: {given_ref_value(self._verp_key, message_ref)}\r\n".encode()
        given += message_tags.header_lines(tags)
        reply = await self.hand_off(sender, request, mail_from, recipients, given + content)
        return postfix_answer(reply, message_ref, recipients, refused)

    async def _once(self, sender: Sender, key: str, raw_body: bytes,
                    send: Coroutine[Any, Any, Answer]) -> Answer:
        """The send under an Idempotency-Key: the first request's answer for every repeat."""
        fingerprint = hashlib.sha256(raw_body).hexdigest()
        hours = self._settings.idempotency.window_hours
        deadline = asyncio.get_running_loop().time() + IDEMPOTENT_WAIT_SECONDS
        while True:
            taken = await self.commits.settle(
                idempotency.Claim(sender.tenant_id, KEY_PREFIX + key, fingerprint, hours))
            if taken is None:
                break
            if taken.fingerprint != fingerprint:
                send.close()
                raise Refused(422, f"{IDEMPOTENCY_HEADER} {key!r} was used for a different request")
            if taken.answer:
                send.close()
                stored = json.loads(taken.answer)
                return Answer(stored["status"], stored["body"])
            if asyncio.get_running_loop().time() > deadline:
                send.close()
                raise Refused(409, f"a request with {IDEMPOTENCY_HEADER} {key!r} is still being sent", 5)
            await asyncio.sleep(0.1)
        try:
            answer = await send
        except BaseException:
            await self.commits.settle(idempotency.Release(sender.tenant_id, KEY_PREFIX + key))
            raise
        # Answered as soon as Postfix queued the message, like SMTP's 250; repeats wait for the
        # completion (next transaction). Lost only with the process: the key then stays
        # pending (409), so nothing is sent twice.
        self.commits.leave(idempotency.Completion(
            sender.tenant_id, KEY_PREFIX + key, json.dumps({"status": answer.status, "body": answer.body})))
        return answer


def max_request_size(settings: Settings) -> int:
    # A message's base64 is 4/3 of it; the envelope and JSON around it are small.
    return settings.smtp.max_message_size * 4 // 3 + 64 * 1024


async def _body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise Refused(413, f"the request is over {max_request_size(request.app[SETTINGS])} octets") from None


def _tags(body: dict[str, Any]) -> message_tags.MessageTags:
    try:
        return message_tags.checked(body.get("tags", []), body.get("metadata", {}))
    except InvalidInputError as exc:
        raise Refused(400, str(exc)) from None


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable() or not key.isascii():
        raise Refused(400, f"{IDEMPOTENCY_HEADER}: 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters")
    return key


def _json_body(request: web.Request, raw_body: bytes, validator: Draft202012Validator) -> dict[str, Any]:
    """The body as the operation's schema takes it."""
    if request.content_type != "application/json":
        raise Refused(415, "send JSON: Content-Type: application/json")
    try:
        body = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refused(400, f"the body is not JSON: {exc}") from None
    if (problem := schemas.problem(validator, body)) is not None:
        raise Refused(400, problem)
    return dict(body)


def make_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=max_request_size(settings), middlewares=[measured])
    app[SETTINGS] = settings
    engine = make_engine(settings.effective_database_url)
    directory = Directory(engine, settings.directory_loaded_file("send-api"))
    service = SendService(settings, engine, directory)
    app.router.add_post("/api/v1/send", service.send_message)
    app.router.add_post("/api/v1/send/raw", service.send_raw)
    app.router.add_post("/api/v1/send/batch", service.send_batch)

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        directory.refresh_if_changed()
        refresher = asyncio.create_task(directory.keep_fresh())
        metrics = serve_metrics(settings.metrics, "send-api")
        yield
        if metrics is not None:
            metrics.close()
        refresher.cancel()
        await service.sessions.close()
        await service.commits.flush()
        engine.dispose()

    app.cleanup_ctx.append(lifetime)
    return app
