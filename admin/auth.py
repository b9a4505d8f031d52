"""Logging in and out, and who is logged in.

Every endpoint needs a logged-in user unless it is listed in PUBLIC_ENDPOINTS;
views that only admins may use are marked with @admin_only (or their blueprint is
in ADMIN_BLUEPRINTS). The JSON API and /metrics take a bearer token instead
(admin.api_auth). Failed logins are counted per client address, per address and
username, and per username (core.auth_guard): slowed down, then locked out (not
for the username alone).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from admin.context import panel
from admin.database import db
from admin.forms import LoginForm
from core.auth_guard import Attempt
from core.models import PanelUser
from core.panel_users import authenticate, end_sessions

bp = Blueprint("auth", __name__)

PUBLIC_ENDPOINTS = frozenset({"auth.login", "static"})
ADMIN_BLUEPRINTS = frozenset({"pathways", "box_dns", "pools", "queue", "users"})
F = TypeVar("F", bound=Callable[..., Any])


def admin_only(view: F) -> F:
    view.admin_only = True  # type: ignore[attr-defined]
    return view


def current_user() -> PanelUser | None:
    if "user" not in g:
        user_id = session.get("user_id")
        found = db().get(PanelUser, user_id) if isinstance(user_id, int) else None
        if found is not None and session.get("generation") != found.session_generation:
            session.clear()  # ended by a logout or a new password
            found = None
        g.user = found
    user: PanelUser | None = g.user
    return user


def start_session(found: PanelUser) -> None:
    session.clear()  # a new session on login: no fixation
    session["user_id"] = found.id
    session["generation"] = found.session_generation
    session.permanent = True
    g.user = found


def user() -> PanelUser:
    """The logged-in user, in a view that require_login has let through."""
    found = current_user()
    if found is None:
        abort(401)
    return found


def is_admin() -> bool:
    found = current_user()
    return found is not None and found.role == "admin"


def require_login() -> ResponseReturnValue | None:
    endpoint = request.endpoint
    if endpoint is None or endpoint in PUBLIC_ENDPOINTS or request.blueprint in ("api", "metrics"):
        return None
    found = current_user()
    if found is None:
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
    view = current_app.view_functions[endpoint]
    admins_only = request.blueprint in ADMIN_BLUEPRINTS or getattr(view, "admin_only", False)
    if admins_only and found.role != "admin":
        abort(403)
    return None


def _safe_next(target: str | None) -> str:
    # Browsers read "/\\host" as "//host": a backslash anywhere makes the target unsafe.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("dashboard.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        context = panel()
        username = (form.username.data or "").strip()
        attempt = Attempt.of(request.remote_addr or "", username)
        with context.guard_lock:
            locked = context.login_guard.is_locked_out(attempt)
        if locked:
            minutes = context.settings.panel.login_failures.lockout_seconds // 60
            form.form_errors.append(f"Too many failed logins. Try again in {minutes} minutes.")
            return render_template("login.html", form=form), 429
        found = authenticate(db(), username, form.password.data or "")
        if found is None:
            with context.guard_lock:
                delay = context.login_guard.record_failure(attempt)
            time.sleep(delay)
            form.form_errors.append("Wrong username or password.")
            status = 401
        else:
            with context.guard_lock:
                context.login_guard.record_success(attempt)
            start_session(found)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    found = current_user()
    if found is not None:
        end_sessions(found)
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
