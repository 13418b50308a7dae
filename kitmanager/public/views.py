from __future__ import annotations

from flask import abort, g, render_template
from flask_login import current_user
from sqlalchemy import select

from kitmanager.extensions import db
from kitmanager.models import Participant
from kitmanager.public import bp
from kitmanager.security import public


@bp.route("/b/<token>")
@public
def badge(token: str):
    """What a phone shows after scanning a badge: staff get the person, others only the badge."""
    participant = db.session.scalar(
        select(Participant).where(
            Participant.badge_token == token, Participant.deleted_at.is_(None)
        )
    )
    if participant is None:
        abort(404)
    g.workshop = participant.workshop
    g.no_store = True
    return render_template(
        "public/badge.html",
        participant=participant,
        workshop=participant.workshop,
        staff=current_user.is_authenticated,
    )
