"""Sends the webhook outbox: each event to each of its tenant's webhooks, until a 2xx answers.

A receiver that is down or failing gets the delivery again after growing pauses
(settings.webhooks); the outbox is in the database, so a restart loses nothing.
"""

from __future__ import annotations

import http.client
import logging
import time
from datetime import timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.config import WebhookSettings
from core.db import session_scope
from core.errors import MailrelayError
from core.message_tags import NONE, of_messages
from core.models import Event, Webhook, WebhookDelivery, utcnow
from core.secretbox import SecretBox
from core.webhook_targets import TargetRefused, allowed_networks, post
from core.webhooks import payload, signature

log = logging.getLogger(__name__)

BATCH = 50
MAX_PAUSE_SECONDS = 3600.0


class WebhookSender:
    def __init__(self, engine: Engine, secret_box: SecretBox, settings: WebhookSettings) -> None:
        self._engine = engine
        self._secret_box = secret_box
        self._settings = settings
        self._allowed = allowed_networks(settings.allow_networks)

    def poll(self) -> int:
        """Try every due delivery once; the number that succeeded."""
        with session_scope(self._engine) as session:
            due = session.scalars(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.finished_at.is_(None), WebhookDelivery.next_attempt_at <= utcnow())
                .order_by(WebhookDelivery.id).limit(BATCH)
            ).all()
        return sum(self._attempt(delivery_id) for delivery_id in due)

    def _attempt(self, delivery_id: int) -> bool:
        with session_scope(self._engine) as session:
            # Relay boxes sharing PostgreSQL each run a sender: the one holding the row's lock posts it,
            # the others pass it by (SQLite, one box, has no row locks and needs none).
            delivery = session.get(WebhookDelivery, delivery_id, with_for_update={"skip_locked": True})
            if delivery is None or delivery.finished_at is not None:
                return False
            webhook = session.get(Webhook, delivery.webhook_id)
            event = session.get(Event, delivery.event_id)
            if webhook is None or event is None:
                return False
            tags = of_messages(session, [event.message_ref]).get(event.message_ref, NONE)
            error = self._post(webhook, payload(event, webhook.tenant, tags))
            return self._record(session, delivery, event, error)

    def _post(self, webhook: Webhook, body: bytes) -> str:
        """'' on a 2xx answer, else what went wrong."""
        timestamp = str(int(time.time()))
        secret = self._secret_box.decrypt(webhook.secret_encrypted).decode()
        headers = {"Content-Type": "application/json", "User-Agent": "mailrelay-webhooks",
                   "X-Mailrelay-Timestamp": timestamp,
                   "X-Mailrelay-Signature": signature(secret, timestamp, body)}
        try:
            status = post(webhook.url, body, headers, self._settings.timeout_seconds, self._allowed)
        except (TargetRefused, MailrelayError, OSError, http.client.HTTPException, ValueError) as exc:
            return str(exc)[:500]
        if 300 <= status < 400:
            return f"HTTP {status} (redirects are not followed)"
        return "" if 200 <= status < 300 else f"HTTP {status}"

    def _record(self, session: Session, delivery: WebhookDelivery, event: Event, error: str) -> bool:
        now = utcnow()
        delivery.attempts += 1
        if not error:
            delivery.finished_at = now
            return True
        delivery.last_error = error[:500]
        if now - event.at > timedelta(hours=self._settings.max_age_hours):
            delivery.finished_at = now
            log.warning("webhook delivery %d given up after %d attempts: %s", delivery.id, delivery.attempts,
                        error)
            return False
        pause = min(self._settings.retry_base_seconds * 2 ** (delivery.attempts - 1), MAX_PAUSE_SECONDS)
        delivery.next_attempt_at = now + timedelta(seconds=pause)
        return False
