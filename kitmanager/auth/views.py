from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from kitmanager.auth import bp
from kitmanager.auth.forms import LoginForm
from kitmanager.auth.services import (
    AuthError,
    LoginThrottled,
    authenticate,
    end_login_session,
    start_login_session,
)
from kitmanager.extensions import db
from kitmanager.models import User
from kitmanager.security import public


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never bounce a fresh login to another host.
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("core.index")


def sign_in(user: User) -> None:
    """Start a browser login for ``user`` (a fresh session cookie; commits the login row)."""
    nonce = start_login_session(user)
    db.session.commit()
    session.clear()
    session.permanent = True
    session["login_nonce"] = nonce
    login_user(user)


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("core.index"))
    form = LoginForm()
    status = 200
    retry_after = None
    if form.validate_on_submit():
        try:
            user = authenticate(form.username.data, form.password.data, request.remote_addr or "")
        except AuthError as exc:
            db.session.rollback()  # nothing to keep: the attempt was counted on its own
            flash(str(exc), "error")
            throttled = isinstance(exc, LoginThrottled)
            status = 429 if throttled else 401
            retry_after = exc.retry_after if throttled else None
        else:
            sign_in(user)
            flash(_("Welcome, %(name)s.", name=user.display_name), "success")
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    return render_template("auth/login.html", form=form), status, headers


@bp.route("/logout", methods=["POST"])
def logout():
    language = str(get_locale() or "")
    end_login_session(session.get("login_nonce"))
    db.session.commit()
    logout_user()
    session.clear()
    # The next page (the login form) stays in the language the person was using.
    if language in current_app.config["LANGUAGES"]:
        session["language"] = language
    flash(_("You are logged out."), "success")
    return redirect(url_for("auth.login"))
