"""Tenants' webhooks: where events go, and how each request is signed.

Each request carries `X-Mailrelay-Timestamp` and `X-Mailrelay-Signature:
sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" under the webhook's secret>`, so a
receiver can check both origin and freshness.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import WebhookSettings
from core.errors import NotFoundError
from core.message_tags import MessageTags
from core.models import Event, Tenant, Webhook
from core.secretbox import SecretBox
from core.tenants import get_tenant
from core.webhook_targets import allowed_networks, check_target


def add_webhook(session: Session, secret_box: SecretBox, settings: WebhookSettings, tenant_name: str,
                url: str) -> tuple[Webhook, str]:
    """The new webhook and its signing secret, which is shown only now."""
    check_target(url, allowed_networks(settings.allow_networks))
    secret = secrets.token_urlsafe(32)
    webhook = Webhook(tenant=get_tenant(session, tenant_name), url=url,
                      secret_encrypted=secret_box.encrypt(secret.encode()))
    session.add(webhook)
    session.flush()
    return webhook, secret


def remove_webhook(session: Session, webhook_id: int) -> None:
    webhook = session.get(Webhook, webhook_id)
    if webhook is None:
        raise NotFoundError(f"no webhook {webhook_id}")
    session.delete(webhook)


def list_webhooks(session: Session, tenant_name: str) -> list[Webhook]:
    tenant = get_tenant(session, tenant_name)
    return list(session.scalars(select(Webhook).where(Webhook.tenant_id == tenant.id)))


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def payload(event: Event, tenant: Tenant, tags: MessageTags) -> bytes:
    return json.dumps({
        "id": event.id, "type": event.kind, "at": event.at.isoformat() + "Z", "tenant": tenant.name,
        "recipient": event.subject, "detail": event.detail, "message_id": event.message_id,
        "queue_id": event.queue_id, "message_ref": event.message_ref, **tags.json(),
    }).encode()
