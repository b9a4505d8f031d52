"""Bearer tokens for the JSON API and /metrics: no cookies, so no CSRF to guard against."""

from __future__ import annotations

from flask import abort, g, request

from admin.database import db
from core.models import PanelUser
from core.panel_users import user_for_token


def bearer_user() -> PanelUser:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    found = user_for_token(db(), token.strip()) if scheme.lower() == "bearer" else None
    if found is None:
        abort(401)
    g.user = found
    return found
