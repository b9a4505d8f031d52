"""Compliance of a sending domain with the big providers' rules for bulk senders (2024 on).

SPF passes when the box's own SPF records are published (relayctl dns) and aligns once
the return-path is on the domain (rp.<domain>); DKIM aligns once the domain's key is
seen, as the milter signs with d=<domain>; DMARC must be published, with rua to hear
the receivers' reports; bulk mail needs one-click unsubscribe, measured over the
domain's last messages; and complaints must stay under the line at every provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Integer, func, select
from sqlalchemy.orm import Session

from core import box_records
from core.accepted_messages import sent_from
from core.config import Settings
from core.errors import MailrelayError
from core.models import AcceptedMessage, SendingDomain, utcnow
from core.reputation import ALL_PROVIDERS, Outcomes, outcomes
from core.return_paths import return_path_domain

RECENT_MESSAGES = 1000


@dataclass(frozen=True)
class Compliance:
    spf_passes: bool
    spf_aligned: bool
    dkim_aligned: bool
    dmarc_published: bool
    dmarc_rua: str
    # Of the domain's last RECENT_MESSAGES: how many there were, how many carried one-click unsubscribe.
    recent_messages: int
    one_click_messages: int
    # Per delivery profile, and "" for all recipients, over the reputation window.
    complaints: dict[str, Outcomes]
    complaint_line: float

    @property
    def one_click_share(self) -> float | None:
        return self.one_click_messages / self.recent_messages if self.recent_messages else None


def _one_click(session: Session, domain: SendingDomain) -> tuple[int, int]:
    recent = (select(AcceptedMessage.one_click_unsubscribe)
              .where(AcceptedMessage.tenant_id == domain.tenant_id, sent_from(domain.name))
              .order_by(AcceptedMessage.at.desc()).limit(RECENT_MESSAGES).subquery())
    total, carried = session.execute(
        select(func.count(), func.coalesce(func.sum(func.cast(recent.c.one_click_unsubscribe, Integer)), 0))
    ).one()
    return int(total), int(carried)


def compliance(session: Session, settings: Settings, domain: SendingDomain) -> Compliance:
    try:
        unmatched = box_records.unmatched(session, settings)
    except MailrelayError:  # more pool addresses than SPF records can hold
        unmatched = None
    total, carried = _one_click(session, domain)
    since = utcnow() - timedelta(hours=settings.reputation.window_hours)
    found = outcomes(session, settings.delivery_profiles, since, sender_domain=domain.name)
    complaints = {provider: seen for (tenant, provider), seen in found.items() if tenant == domain.tenant_id}
    complaints.setdefault(ALL_PROVIDERS, Outcomes())
    return Compliance(
        spf_passes=unmatched is not None and not any(r.purpose == "spf" for r in unmatched),
        spf_aligned=return_path_domain(domain) is not None,
        dkim_aligned=domain.verified_at is not None and domain.dkim_ok,
        dmarc_published=domain.dmarc_ok,
        dmarc_rua=domain.dmarc_rua,
        recent_messages=total,
        one_click_messages=carried,
        complaints=complaints,
        complaint_line=settings.reputation.provider_complaint_pause,
    )
