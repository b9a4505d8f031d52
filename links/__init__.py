"""The public link service: what recipients' mail clients and browsers reach from a message.

Today one-click unsubscribe (RFC 8058): POST /u/TOKEN with the body
List-Unsubscribe=One-Click unsubscribes at once, with no cookie or form, as a mail
provider sends it; GET /u/TOKEN only shows a page with one button, because link
scanners and prefetchers fetch every link in a message, and a GET must never
unsubscribe anybody. The button's form carries a CSRF token (Flask-WTF) tied to a
session cookie of this service, so no other site can post it for the visitor.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, render_template, request
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from sqlalchemy.exc import OperationalError

from core.config import Settings
from core.db import make_engine
from core.secretbox import SecretBox
from core.unsubscribe import ONE_CLICK_BODY, Unsubscribe, read_token, record_unsubscribe, token_key

log = logging.getLogger(__name__)

# A one-click body is 26 octets; a form's, with its CSRF token, a few hundred.
MAX_BODY = 4096
_ONE_CLICK_FIELD, _, _ONE_CLICK_VALUE = ONE_CLICK_BODY.partition("=")
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
}


def create_app(settings: Settings) -> Flask:
    app = Flask(__name__)
    secret_box = SecretBox.from_file(settings.effective_encryption_key_file)
    key = token_key(secret_box)
    engine = make_engine(settings.effective_database_url)
    app.config.update(SECRET_KEY=secret_box.derived_key("links session"), MAX_CONTENT_LENGTH=MAX_BODY,
                      SESSION_COOKIE_SECURE=settings.link_base_url.startswith("https:"),
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                      WTF_CSRF_TIME_LIMIT=3600)

    def page(template: str, status: int = 200, **context: Any) -> Response:
        response = Response(render_template(template, **context), status)
        response.headers.update(_HEADERS)
        return response

    def token_or_none(token: str) -> Unsubscribe | None:
        return read_token(key, token)

    @app.get("/u/<token>")
    def confirm(token: str) -> Response:
        if token_or_none(token) is None:
            return page("unknown.html", 404)
        return page("confirm.html", csrf_token=generate_csrf())

    @app.post("/u/<token>")
    def unsubscribe_now(token: str) -> Response:
        found = token_or_none(token)
        if found is None:
            return page("unknown.html", 404)
        one_click = request.form.get(_ONE_CLICK_FIELD) == _ONE_CLICK_VALUE
        if not one_click:
            try:
                validate_csrf(request.form.get("csrf_token"))
            except (CSRFError, ValueError) as exc:
                log.info("unsubscribe form refused: %s", exc)
                return page("refused.html", 400)
        try:
            known = record_unsubscribe(engine, found, "one-click" if one_click else "the unsubscribe page")
        except OperationalError:
            log.exception("could not record an unsubscribe; the sender is asked to try again")
            response = page("later.html", 503)
            response.headers["Retry-After"] = "60"
            return response
        return page("done.html") if known else page("unknown.html", 404)

    @app.errorhandler(413)
    def too_large(_: Exception) -> Response:
        return page("refused.html", 413)

    @app.errorhandler(404)
    def not_found(_: Exception) -> Response:
        return page("unknown.html", 404)

    @app.errorhandler(405)
    def not_allowed(_: Exception) -> Response:
        return page("refused.html", 405)

    return app
