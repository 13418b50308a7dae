"""App-wide pages: home, health, language choice, error pages."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user

from kitmanager.extensions import db
from kitmanager.scans import badge_url, kit_label_url
from kitmanager.security import public

core = Blueprint("core", __name__)


@core.route("/")
def index():
    return redirect(url_for("workshops.index"))


@core.route("/healthz")
@public
def healthz():
    return jsonify(status="ok")


@core.route("/language", methods=["POST"])
@public
def language():
    """Switch the page language; remembered on the account when logged in."""
    from flask import current_app

    choice = request.form.get("language", "")
    if choice in current_app.config["LANGUAGES"]:
        session["language"] = choice
        if current_user.is_authenticated and hasattr(current_user, "username"):
            current_user.language = choice
            db.session.commit()
    target = request.form.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("core.index")
    return redirect(target)


def _error(code: int):
    def handler(exc):
        if code == 500:
            db.session.rollback()  # the page below must not trip over a failed transaction
        if request.path.startswith("/api/"):
            return jsonify(error=getattr(exc, "description", str(exc))), code
        return render_template("errors.html", code=code, error=exc), code

    return handler


def register_core_views(app: Flask) -> None:
    app.register_blueprint(core)
    _template_helpers(app)
    for code in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(code, _error(code))


def _template_helpers(app: Flask) -> None:
    from flask_babel import format_date, format_datetime, get_locale
    from flask_babel import lazy_gettext as _l

    from kitmanager.models import Role
    from kitmanager.participants.fields import FIELD_LABELS
    from kitmanager.workshops.services import utc_to_local

    role_labels = {
        "organiser": _l("organiser"),
        "trainer": _l("trainer"),
        "volunteer": _l("volunteer"),
        "participant": _l("participant"),
        "mentor": _l("mentor"),
        "guest": _l("guest"),
    }
    field_labels = {
        **FIELD_LABELS,
        "first_name": _l("First name"),
        "last_name": _l("Last name"),
    }
    app.jinja_env.globals.update(
        Role=Role,
        role_label=lambda value: role_labels.get(value, value),
        field_label=lambda value: field_labels.get(value, value),
        format_date=format_date,
        format_datetime=format_datetime,
        # Stored UTC -> wall-clock time of the workshop: format with rebase=False.
        workshop_time=lambda value, workshop: utc_to_local(value, workshop.timezone),
        current_locale=lambda: str(get_locale() or "en"),
        badge_url=badge_url,
        kit_label_url=kit_label_url,
    )
