"""What receivers report: a domain's DMARC aggregate reports, and SMTP TLS reports per provider."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from admin.access import tenant_scope, visible_domain
from admin.database import db
from core.dmarc_summary import dmarc_reports, dmarc_sources
from core.models import TlsReportEntry
from core.tls_summary import tls_providers

bp = Blueprint("receiver_reports", __name__)
PERIODS = (1, 7, 30, 90)


def _days() -> int:
    days = request.args.get("days", type=int) or 30
    return days if days in PERIODS else 30


@bp.route("/domains/<int:domain_id>/dmarc")
def dmarc(domain_id: int) -> ResponseReturnValue:
    domain, days = visible_domain(domain_id), _days()
    return render_template("receiver_reports/dmarc.html", domain=domain, days=days, periods=PERIODS,
                           sources=dmarc_sources(db(), domain.id, days),
                           reports=dmarc_reports(db(), domain.id, days))


@bp.route("/tls-reports")
def tls() -> ResponseReturnValue:
    days = _days()
    return render_template("receiver_reports/tls.html", days=days, periods=PERIODS,
                           providers=tls_providers(db(), tenant_scope(TlsReportEntry.tenant_id), days))
