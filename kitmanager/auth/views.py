from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from kitmanager.auth import bp
from kitmanager.auth.forms import LoginForm
from kitmanager.auth.services import AuthError, LoginThrottled, authenticate
from kitmanager.security import public
from kitmanager.unit_of_work import unit_of_work
from kitmanager.web import sign_in, sign_out


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never bounce a fresh login to another host.
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("core.index")


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
            # A failed attempt keeps nothing: it was counted on its own.
            with unit_of_work():
                user = authenticate(
                    form.username.data, form.password.data, request.remote_addr or ""
                )
        except AuthError as exc:
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
    sign_out()
    flash(_("You are logged out."), "success")
    return redirect(url_for("auth.login"))
