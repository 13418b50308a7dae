"""`/join`: the laptop's address as a large QR code, for volunteers' phones to open the app."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from kitmanager.auth.services import (
    PHONE_LOGIN_MINUTES,
    create_phone_login,
    pending_phone_login,
    redeem_phone_login,
)
from kitmanager.checkin import bp
from kitmanager.models import Role
from kitmanager.network import base_url
from kitmanager.security import current_actor, public, require_role
from kitmanager.unit_of_work import unit_of_work
from kitmanager.web import sign_in
from printouts.qr import QUIET_ZONE_MODULES, encode_qr

_DARK_RUN = re.compile("1+")


@dataclass(frozen=True)
class QrDrawing:
    """A QR code for SVG: ``side`` modules square (quiet zone included), dark runs in ``path``."""

    side: int
    path: str


def qr_drawing(text: str) -> QrDrawing:
    """``text`` as a QR code drawn by one SVG path of dark runs (templates/checkin/join.html)."""
    symbol = encode_qr(text)
    stride = symbol.size + 1
    runs = []
    for match in _DARK_RUN.finditer(symbol.flat):
        row, column = divmod(match.start(), stride)
        x, y = column + QUIET_ZONE_MODULES, row + QUIET_ZONE_MODULES
        runs.append(f"M{x} {y}h{match.end() - match.start()}v1H{x}z")
    return QrDrawing(symbol.size_with_quiet_zone, "".join(runs))


def _join_page(**extra: object) -> str:
    address = base_url()
    return render_template("checkin/join.html", address=address, qr=qr_drawing(address), **extra)


@bp.route("/join")
@require_role(Role.VOLUNTEER)
def join():
    """Show on the laptop: volunteers scan it with their phone's camera to open the app."""
    return _join_page()


@bp.post("/join/phone")
@require_role(Role.ORGANISER)
def phone_login_create():
    """A QR code that signs one phone in as a volunteer: shown once, valid a few minutes."""
    with unit_of_work():
        row, secret = create_phone_login(current_actor(), request.form.get("label", ""))
    link = f"{base_url()}{url_for('checkin.phone_login', secret=secret)}"
    return _join_page(
        phone=row,
        phone_qr=qr_drawing(link),
        phone_link=link,
        minutes=PHONE_LOGIN_MINUTES,
    )


@bp.route("/join/<secret>", methods=["GET", "POST"])
@public
def phone_login(secret: str):
    """On the phone: confirm, then sign in as the volunteer the organiser named."""
    g.no_store = True
    if request.method == "POST":
        with unit_of_work():
            user = redeem_phone_login(secret, request.headers.get("User-Agent", "")[:150])
        if user is not None:
            sign_in(user)
            flash(_("This phone is signed in as %(name)s.", name=user.display_name), "success")
            return redirect(url_for("checkin.scan_station"))
    else:
        pending = pending_phone_login(secret)
        if pending is not None:
            return render_template("checkin/join_phone.html", pending=pending)
    return render_template("checkin/join_invalid.html"), 404
