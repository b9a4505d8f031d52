"""Postfix log lines of delivered messages, as the relay's instance writes them, and the tenant
they name, for the log tailer's tests and benchmark."""

from __future__ import annotations

from sqlalchemy import Engine

from core.db import session_scope
from core.models import Tenant, Webhook


def add_hooked_tenant(engine: Engine, tenant: str = "acme") -> None:
    """The tenant the lines name, with a webhook, so that its events go to the outbox too."""
    with session_scope(engine) as session:
        added = Tenant(name=tenant)
        session.add(added)
        session.flush()
        session.add(Webhook(tenant_id=added.id, url="https://hooks.example/x", secret_encrypted=b"-"))


def delivered_lines(first: int, count: int, tenant: str = "acme") -> list[str]:
    """The smtpd, cleanup, delivery and removal lines of messages first .. first + count - 1."""
    lines = []
    for n in range(first, first + count):
        queue_id = f"4A{n:010X}"
        lines += [f"Dec  3 15:00:00 relay postfix/smtpd[1]: {queue_id}: client=localhost[127.0.0.1], "
                  f"sasl_method=XCLIENT, sasl_username={tenant}",
                  f"Dec  3 15:00:00 relay postfix/cleanup[2]: {queue_id}: message-id=<m{n}@{tenant}.test>",
                  f"Dec  3 15:00:01 relay postfix/smtp[3]: {queue_id}: to=<r{n}@example.org>, "
                  "relay=mx[127.0.0.1]:25, delay=0.1, dsn=2.0.0, status=sent (250 2.0.0 ok)",
                  f"Dec  3 15:00:01 relay postfix/qmgr[4]: {queue_id}: removed"]
    return lines
