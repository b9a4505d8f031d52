"""What the milter decides for each message: who sent it, may it go, and how it leaves.

At end of message: the tenant from {auth_authen}, its limits, one-click unsubscribe
headers for bulk mail (core/unsubscribe.py), DKIM signatures with its keys for the
header From domain, the VERP return-path, and the route.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from core import message_tags, unsubscribe
from core.config import TrackingSettings
from core.errors import InvalidInputError
from core.header_from import domains_of_from_values
from core.postfix.transports import ROUTE_HEADER
from core.simulator import SimulatorDomain
from core.tracking import Tracked
from core.unsubscribe import UnsubscribeLinks
from core.verp import REF_HEADER, new_message_ref, read_given_ref, verp_address
from milter import dkim_signer
from milter.accepted_record import Accepted, AcceptedRecorder
from milter.archived_copy import as_sent
from milter.directory import MilterDirectory
from milter.metrics import SIGNING_SECONDS
from milter.protocol.session import (
    AddHeader,
    ChangeFrom,
    ChangeHeader,
    InsertHeader,
    Message,
    Modification,
    ReplaceBody,
    Verdict,
)
from milter.routing import Router
from milter.throttle import Throttle
from milter.tracked_body import tracked_body

log = logging.getLogger(__name__)

NOT_FROM_FRONT_END = "550 5.7.1 Message not submitted through the authenticated front-end"
TENANT_INACTIVE = "550 5.7.1 This account may not send mail"
NO_SIGNING_KEY = "451 4.7.5 No active DKIM key for the From domain; the relay operator must publish one"
NO_ROUTE = ("451 4.7.1 No outbound address of this account's IP pool can send now "
            "(paused, or today's warm-up caps reached); try again later")
BAD_FROM = "550 5.6.0 The message needs exactly one From header with a verified domain"
BAD_RELAY_HEADER = "550 5.6.0 {error}"


def _from_values(headers: list[tuple[bytes, bytes]]) -> list[str]:
    return [value.decode("utf-8", "surrogateescape").replace("\r\n", "").replace("\n", "")
            for name, value in headers if name.lower() == b"from"]


def _values(headers: list[tuple[bytes, bytes]], name: str) -> list[str]:
    lowered = name.lower().encode()
    return [value.decode("utf-8", "replace").strip()
            for header, value in headers if header.lower() == lowered]


SIMULATOR_ROUTE = "simulator"


class MilterPolicy:
    def __init__(self, directory: MilterDirectory, throttle: Throttle, router: Router, verp_key: bytes,
                 bounce_domain: str, accepted: AcceptedRecorder, simulator: SimulatorDomain,
                 unsubscribe_links: UnsubscribeLinks, tracking: TrackingSettings,
                 clock: Callable[[], float] = time.time) -> None:
        self._directory = directory
        self._throttle = throttle
        self._router = router
        self._verp_key = verp_key
        self._bounce_domain = bounce_domain
        self._simulator = simulator
        self._accepted = accepted
        self._unsubscribe_links = unsubscribe_links
        self._tracking = tracking
        self._clock = clock
        self._connection_tenants: dict[int, str] = {}

    async def end_of_message(self, connection_id: int, message: Message) -> Verdict:
        tenant_name = message.macros.get("auth_authen", "")
        if not tenant_name:
            return Verdict(reply=NOT_FROM_FRONT_END)
        tenant = self._directory.tenant(tenant_name)
        if tenant is None or not tenant.active:
            return Verdict(reply=TENANT_INACTIVE)
        self._connection_tenants[connection_id] = tenant_name
        refusal = await self._throttle.admit(tenant_name, str(connection_id), tenant.limits)
        if refusal is not None:
            log.info("tenant=%s throttled: %s", tenant_name, refusal)
            return Verdict(reply=refusal)
        domains = domains_of_from_values(_from_values(message.headers))
        if not domains:
            return Verdict(reply=BAD_FROM)
        sending_domain = self._directory.sending_domain(tenant_name, domains[0])
        if sending_domain is None or not sending_domain.keys:
            return Verdict(reply=NO_SIGNING_KEY)
        keys = sending_domain.keys
        # Mail for the mailbox simulator takes no outbound route: transport_maps keeps it on the box.
        simulated = all(self._simulator.holds(r) for r in message.recipients)
        transport = (SIMULATOR_ROUTE if simulated
                     else await self._router.route(tenant.pool, message.recipients))
        if transport is None:
            return Verdict(reply=NO_ROUTE)
        list_values = _values(message.headers, unsubscribe.LIST_HEADER)
        tags_values = _values(message.headers, message_tags.TAGS_HEADER)
        metadata_values = _values(message.headers, message_tags.METADATA_HEADER)
        try:
            list_name = unsubscribe.list_name(list_values)
            given_tags = message_tags.read(tags_values, metadata_values)
        except InvalidInputError as exc:
            return Verdict(reply=BAD_RELAY_HEADER.format(error=exc))
        added = self._one_click_headers(tenant.id, sending_domain.one_click_unsubscribe, list_name, message)
        headers = [*message.headers, *((name.encode(), value.replace("\n", "\r\n").encode())
                                       for name, value in added)]
        given_refs = _values(message.headers, REF_HEADER)
        given = read_given_ref(self._verp_key, given_refs[0]) if len(given_refs) == 1 else None
        message_ref = given or new_message_ref()
        body = message.body
        tracked = None
        if sending_domain.tracking is not None:
            recipient = message.recipients[0] if len(message.recipients) == 1 else ""
            tracked = tracked_body(sending_domain.tracking, Tracked(tenant.id, message_ref, recipient),
                                   message.headers, body, self._tracking)
        body = tracked if tracked is not None else body
        body_hash = dkim_signer.body_hash(body)
        # Milter header values fold with a bare LF; the top signature is the first key's.
        with SIGNING_SECONDS.time():
            signatures = [dkim_signer.sign(headers, body, key, self._clock, body_hash) for key in keys]
        modifications: list[Modification] = [
            InsertHeader(0, dkim_signer.HEADER_NAME.decode(), signature.replace("\r\n", "\n"))
            for signature in reversed(signatures)
        ]
        modifications += [AddHeader(name, value) for name, value in added]
        # The list, tags and metadata headers are for the relay alone.
        modifications += [ChangeHeader(1, unsubscribe.LIST_HEADER, "") for _ in list_values]
        modifications += [ChangeHeader(1, message_tags.TAGS_HEADER, "") for _ in tags_values]
        modifications += [ChangeHeader(1, message_tags.METADATA_HEADER, "") for _ in metadata_values]
        modifications += [ChangeHeader(1, REF_HEADER, "") for _ in given_refs]
        # A route the client wrote itself must not survive; Postfix only acts on ours.
        modifications += [ChangeHeader(1, ROUTE_HEADER, "")
                          for name, _ in message.headers if name.decode().lower() == ROUTE_HEADER.lower()]
        if not simulated:
            modifications.append(AddHeader(ROUTE_HEADER, transport))
        if tracked is not None:
            modifications.append(ReplaceBody(tracked))
        return_path_domain = sending_domain.return_path_domain or self._bounce_domain
        modifications.append(ChangeFrom(verp_address(self._verp_key, return_path_domain, message_ref)))
        self._accepted.record(Accepted(
            at=self._clock(), queue_id=message.macros.get("i", ""), tenant_id=tenant.id,
            message_ref=message_ref, sender=message.sender, recipients=list(message.recipients),
            message_id=next(iter(_values(message.headers, "Message-ID")), ""), transport=transport,
            one_click_unsubscribe=bool(added), tags=given_tags,
            tracked_domain=domains[0].lower() if tracked is not None else "",
            archived=as_sent(signatures, message.headers, added, body) if tenant.archive else None,
            subject=next(iter(_values(message.headers, "Subject")), "") if tenant.archive else "",
        ))
        return Verdict(tuple(modifications))

    def _one_click_headers(self, tenant_id: int, domain_wide: bool, list_name: str | None,
                           message: Message) -> list[tuple[str, str]]:
        """Bulk mail's unsubscribe headers; none for other mail, for one whose app wrote its own
        List-Unsubscribe (kept, and signed), or for one with several recipients (a link names one)."""
        if list_name is None and not domain_wide:
            return []
        if len(message.recipients) != 1 or _values(message.headers, "List-Unsubscribe"):
            return []
        return self._unsubscribe_links.headers(
            unsubscribe.Unsubscribe(tenant_id, list_name or "", message.recipients[0]))

    async def connection_closed(self, connection_id: int) -> None:
        tenant = self._connection_tenants.pop(connection_id, None)
        if tenant is not None:
            await self._throttle.connection_closed(tenant, str(connection_id))
