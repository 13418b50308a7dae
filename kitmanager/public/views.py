from __future__ import annotations

from flask import g, render_template
from flask_login import current_user

from kitmanager.checkin.services import find_badge, running_session, sessions_attended
from kitmanager.models import Role, new_token
from kitmanager.public import bp
from kitmanager.security import public
from kitmanager.workshops.services import utc_to_local


@bp.route("/b/<path:token>")
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
    )
