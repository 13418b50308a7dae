from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from kitmanager.extensions import db
from kitmanager.models import AppSetting, Role
from kitmanager.network import base_url, check_address, local_addresses
from kitmanager.security import current_actor, require_role
from kitmanager.settings import bp
from kitmanager.settings.forms import BadgeAddressForm
from kitmanager.settings.services import BADGE_BASE_URL, SettingError, set_badge_base_url
from kitmanager.unit_of_work import unit_of_work


def serving_port() -> int:
    """The port this app answers on: the one `serve` listens on, else the browser's."""
    port = current_app.config.get("SERVER_PORT") or urlsplit(request.host_url).port
    return int(port) if port else (443 if request.scheme == "https" else 80)


@bp.route("/", methods=["GET", "POST"])
@require_role(Role.ORGANISER)
def index():
    """The organiser's settings: today, the address badge QR codes carry."""
    form = BadgeAddressForm()
    if request.method == "GET":
        form.base_url.data = base_url()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                changed = set_badge_base_url(current_actor(), form.base_url.data)
        except SettingError as exc:
            form.base_url.errors = [*form.base_url.errors, str(exc)]
        else:
            if changed:
                flash(_("Badge address saved. Badges printed from now on carry it."), "success")
            return redirect(url_for("settings.index"))
    stored = db.session.get(AppSetting, BADGE_BASE_URL)
    port = serving_port()
    return render_template(
        "settings/index.html",
        form=form,
        stored=stored,
        check=check_address(base_url()),
        suggestions=[f"http://{address}:{port}" for address in local_addresses()],
    )
