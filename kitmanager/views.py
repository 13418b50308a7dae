"""App-wide pages: home, health, language choice, error pages."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from kitmanager.scans import badge_url, kit_label_url
from kitmanager.security import public
from kitmanager.unit_of_work import UserError, discard_work, unit_of_work
from kitmanager.web import refusal_message

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
            with unit_of_work():
                current_user.language = choice
    target = request.form.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("core.index")
    return redirect(target)


def _error(code: int):
    def handler(exc):
        if code == 500:
            discard_work()  # the page below must not trip over a failed transaction
        if request.path.startswith("/api/"):
            message = refusal_message(exc) if isinstance(exc, HTTPException) else str(exc)
            return jsonify(error=message), code
        return render_template("errors.html", code=code, error=exc), code

    return handler


def _refused(refusal: UserError):
    """A refusal no view answered itself: rolled back, and its message shown (400; the JSON
    API's 422), never a 500."""
    discard_work()
    if request.path.startswith("/api/"):
        return jsonify(error=str(refusal)), 422
    flash(str(refusal), "error")
    return render_template("errors.html", code=400, error=refusal), 400


def register_core_views(app: Flask) -> None:
    app.register_blueprint(core)
    _template_helpers(app)
    for code in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(code, _error(code))
    app.register_error_handler(UserError, _refused)


def _template_helpers(app: Flask) -> None:
    from flask_babel import format_date, format_datetime, get_locale
    from flask_babel import lazy_gettext as _l

    from kitmanager.models import ParticipantRole, Role
    from kitmanager.participants.fields import FIELD_LABELS
    from kitmanager.workshops.services import utc_to_local

    field_labels = {
        **FIELD_LABELS,
        "first_name": _l("First name"),
        "last_name": _l("Last name"),
    }
    app.jinja_env.globals.update(
        Role=Role,
        ParticipantRole=ParticipantRole,
        field_label=lambda value: field_labels.get(value, value),
        format_date=format_date,
        format_datetime=format_datetime,
        # Stored UTC -> wall-clock time of the workshop: format with rebase=False.
        workshop_time=lambda value, workshop: utc_to_local(value, workshop.timezone),
        current_locale=lambda: str(get_locale() or "en"),
        badge_url=badge_url,
        kit_label_url=kit_label_url,
    )
