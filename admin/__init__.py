"""The Flask admin panel: create_app() builds it; one blueprint per resource (admin.views).

Sessions are signed with a key derived from the box's key file, so every relay box
of an install accepts the same login. Cookies are HttpOnly, SameSite=Lax and Secure
(unless panel.secure_cookies is off); every form carries a CSRF token (Flask-WTF);
every page sends a Content-Security-Policy that allows no inline script.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from admin import api, auth
from admin.api.registry import error_response
from admin.context import PanelContext
from admin.database import init_database
from admin.views import (
    account,
    archive,
    box_dns,
    dashboard,
    domains,
    messages,
    metrics,
    pathways,
    pools,
    queue,
    receiver_reports,
    reports,
    suppressions,
    tenants,
    users,
)
from core.auth_guard import AuthFailureGuard
from core.config import Settings, load_settings
from core.db import make_engine
from core.postfix.reload import rerender_postfix
from core.secretbox import SecretBox

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def refuse_nul() -> None:
    """PostgreSQL stores no NUL: a search or a form carrying one is refused, not a crash."""
    for key, values in [*request.args.lists(), *request.form.lists()]:
        if any("\x00" in text for text in (key, *values)):
            abort(400, "The request carries a NUL character.")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """config may hold RELAY_SETTINGS (a Settings) or RELAY_CONFIG_PATH, and any Flask setting."""
    options = dict(config or {})
    settings: Settings = options.pop("RELAY_SETTINGS", None) or load_settings(
        Path(options.pop("RELAY_CONFIG_PATH")) if options.get("RELAY_CONFIG_PATH") else None)
    app = Flask(__name__)
    secret_box = SecretBox.from_file(settings.effective_encryption_key_file)
    app.config.update(
        SECRET_KEY=secret_box.derived_key("panel sessions"),
        SESSION_COOKIE_NAME="relay_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=settings.panel.secure_cookies,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.panel.session_hours),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,
    )
    app.config.update(options)
    app.extensions["relay"] = PanelContext(
        settings=settings,
        engine=make_engine(settings.effective_database_url),
        login_guard=AuthFailureGuard(settings.panel.login_failures),
        secret_box=secret_box,
        transports_changed=functools.partial(rerender_postfix, settings),
    )
    if settings.panel.behind_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    init_database(app)
    app.before_request(refuse_nul)
    app.before_request(auth.require_login)  # before the CSRF check: a visitor is sent to log in
    csrf = CSRFProtect(app)
    for module in (auth, dashboard, tenants, domains, pools, pathways, box_dns, reports, receiver_reports,
                   suppressions, messages, archive, queue, users, account, metrics, api):
        app.register_blueprint(module.bp)
    csrf.exempt(metrics.bp)
    csrf.exempt(api.bp)

    @app.after_request
    def security_headers(response: Response) -> Response:
        # A page may set stricter ones of its own (an archived message's frame, admin/archive_view.py).
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(CSRFError)
    def csrf_refused(error: CSRFError) -> tuple[str, int]:
        return render_template("error.html", code=400, title="Form refused",
                               message="This form was not sent from this panel, or your session ended. "
                                       "Go back, reload the page and try again."), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        code = error.code or 500
        if request.path.startswith("/api/"):
            response = error_response(code, error.description or error.name)
        else:
            response = Response(render_template("error.html", code=code, title=error.name,
                                                message=error.description), code)
        for name, value in error.get_headers():  # Allow on a 405, WWW-Authenticate on a 401
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    app.jinja_env.globals["is_admin"] = auth.is_admin
    app.jinja_env.globals["current_user"] = auth.current_user
    return app
