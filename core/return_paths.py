"""Return-paths on a tenant's own domain: `rp.<domain>`, once DNS shows it points at the box.

A sending domain's mail takes its VERP return-path at rp.<domain> once domain verify
has seen that name's CNAME to the box's bounce domain (SendingDomain.return_path_ok),
so SPF checks the box's addresses under the tenant's own domain and aligns with the
header From (relaxed). Until then, and for a name that points elsewhere, the box's
bounce domain is used. Port 25 takes bounces for every such domain (the intake's
socketmap, intake/socketmap.py, tells Postfix which they are).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import SendingDomain


def return_path_host(domain: str) -> str:
    return f"rp.{domain}"


def return_path_domain(domain: SendingDomain) -> str | None:
    """The domain the VERP return-path of this domain's mail is at; None: the bounce domain."""
    if domain.verified_at is None or not domain.return_path_ok:
        return None
    return return_path_host(domain.name)


def return_path_domains(session: Session) -> frozenset[str]:
    """Every return-path domain in use: the box takes reports for each."""
    found = (return_path_domain(d) for d in session.scalars(select(SendingDomain)))
    return frozenset(name for name in found if name is not None)
