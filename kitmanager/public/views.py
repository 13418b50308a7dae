from __future__ import annotations

from datetime import timedelta

from flask import g, render_template, request
from flask_login import current_user

from kitmanager.checkin.services import find_badge, running_session, sessions_attended
from kitmanager.extensions import db
from kitmanager.kits.services import kits_held_by, phone_station, remember_scan, scan_partner
from kitmanager.models import Kit, KitStatus, Role, new_token, utcnow
from kitmanager.public import bp
from kitmanager.scans import badge_route
from kitmanager.security import public
from kitmanager.unit_of_work import unit_of_work
from kitmanager.workshops.services import utc_to_local


@bp.route(badge_route())
@public
def badge(token: str):
    """What a phone shows after scanning a badge.

    Without a login: the participant's own page (their sessions and attendance, nothing about
    anyone else, no contact details). With a volunteer login or higher: check in with one tap.
    """
    participant, retired = find_badge(token)
    g.no_store = True
    if participant is None:
        return render_template("public/badge_invalid.html", replaced=retired), 404
    workshop = participant.workshop

    def local(value):
        return utc_to_local(value, workshop.timezone)

    staff = current_user.is_authenticated and current_user.role_enum.allows(Role.VOLUNTEER)
    # Only the scan itself pairs: the page shown again after an action (?done=1) does not.
    pairing = staff and not request.args
    window = timedelta(seconds=participant.workshop.pair_window_seconds)
    paired_kit = _pair_with_kit(participant.id, window) if pairing else None
    return render_template(
        "public/badge.html",
        participant=participant,
        workshop=workshop,
        staff=staff,
        sessions=[
            (session, local(session.starts_at), local(session.ends_at), check)
            for session, check in sessions_attended(participant)
        ],
        running=running_session(workshop) if staff else None,
        client_id=new_token(12),
        held=kits_held_by(participant),
        paired_kit=paired_kit,
        pairing=pairing,
    )


def _pair_with_kit(participant_id: int, window: timedelta) -> Kit | None:
    """On a trainer's phone: the kit scanned there within the pairing window, ready to go to
    this participant; without one, remember this badge for a kit scanned next."""
    if getattr(current_user, "username", None) is None:
        return None  # an API token has no phone to pair on
    station = phone_station(current_user.id)
    now = utcnow()
    kit_id = scan_partner(station, "kit", now, window)
    kit = db.session.get(Kit, kit_id) if kit_id is not None else None
    if kit is not None and kit.status in (KitStatus.READY, KitStatus.NEEDS_ATTENTION):
        return kit
    with unit_of_work():
        remember_scan(station, "badge", participant_id, now)
    return None
