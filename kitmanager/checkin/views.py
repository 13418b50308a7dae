"""Pages of check-in: the session roster (mark by hand), a badge's one-tap check-in."""

from __future__ import annotations

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from kitmanager.checkin import bp
from kitmanager.checkin.attendance import ATTENDANCE_ROLE, attendance_csv, attendance_xlsx
from kitmanager.checkin.services import (
    AlreadyRegistered,
    BadgeAlreadyReplaced,
    CheckInError,
    board_state,
    check_in,
    find_badge,
    register_walk_in,
    replace_badge,
    roster,
    undo_check_in,
)
from kitmanager.extensions import db
from kitmanager.models import CheckInSource, Participant, Role, WorkshopSession, new_token
from kitmanager.participants.services import ParticipantError
from kitmanager.scans import (
    CodeKind,
    Outcome,
    Scan,
    ScannedCode,
    answer_scan,
    badge_route,
    commit_once,
    scan_time,
)
from kitmanager.scans.subjects import scan_session
from kitmanager.security import current_actor, require_role
from kitmanager.unit_of_work import unit_of_work
from kitmanager.web import load_workshop, page_unit_of_work, row_id, workshop_route

# How a scan's outcome shows as a flash message on the page that follows.
_FLASH_CATEGORY = {
    Outcome.CHECKED_IN: "success",
    Outcome.ALREADY_CHECKED_IN: "warning",
}


def _session_of(slug: str, session_id: int) -> WorkshopSession:
    workshop = load_workshop(slug)
    session = db.session.get(WorkshopSession, session_id)
    if session is None or session.workshop_id != workshop.id:
        abort(404)
    return session


def _participant_of(session: WorkshopSession, participant_id: int) -> Participant:
    participant = db.session.get(Participant, participant_id)
    if (
        participant is None
        or participant.workshop_id != session.workshop_id
        or participant.deleted_at is not None
    ):
        abort(404)
    return participant


@bp.route(workshop_route("/sessions/<int:session_id>/roster"))
@require_role(Role.VOLUNTEER)
def session_roster(slug: str, session_id: int):
    """Who is checked in to the session and who is missing; tick boxes to fix it by hand."""
    session = _session_of(slug, session_id)
    search = request.args.get("q", "")[:100]
    lines = roster(session, search)
    show = request.args.get("show", "all")
    total = len(lines)
    present = sum(1 for line in lines if line.check_in is not None)
    if show == "missing":
        lines = [line for line in lines if line.check_in is None]
    elif show == "present":
        lines = [line for line in lines if line.check_in is not None]
    return render_template(
        "checkin/roster.html",
        workshop=session.workshop,
        session=session,
        lines=lines,
        present=present,
        total=total,
        search=search,
        show=show,
        # One-time id of the walk-in form: the same form sent twice registers one person.
        walk_in_form=new_token(),
    )


@bp.post(workshop_route("/sessions/<int:session_id>/roster/<int:participant_id>"))
@require_role(Role.VOLUNTEER)
def session_mark(slug: str, session_id: int, participant_id: int):
    """Mark one person present (``action=in``) or not (``action=out``) by hand."""
    session = _session_of(slug, session_id)
    participant = _participant_of(session, participant_id)
    action = request.form.get("action")
    if action == "in":
        with page_unit_of_work() as work:
            check_in(current_actor(), participant, session, source=CheckInSource.MANUAL)
        if work.committed:
            flash(_("%(name)s marked present.", name=participant.full_name), "success")
    elif action == "out":
        with unit_of_work():
            undone = undo_check_in(current_actor(), participant.id, session.id)
        if undone:
            flash(_("%(name)s is no longer marked present.", name=participant.full_name), "success")
    else:
        abort(400)
    back = url_for(
        "checkin.session_roster",
        slug=slug,
        session_id=session_id,
        q=request.form.get("q") or None,
        show=request.form.get("show") or None,
    )
    return redirect(f"{back}#p{participant.id}")


@bp.post(workshop_route("/participants/<int:participant_id>/replace-badge"))
@require_role(Role.TRAINER)
def badge_replace(slug: str, participant_id: int):
    """A lost badge: a new token at once (the old badge stops working), then print the new one.

    The form names the badge it replaces: sent twice, or from a page showing an older badge,
    it replaces nothing more and shows the current badge.
    """
    workshop = load_workshop(slug)
    participant = db.session.get(Participant, participant_id)
    if participant is None or participant.workshop_id != workshop.id or participant.deleted_at:
        abort(404)
    actor = current_actor()
    replacing = request.form.get("replacing") or None
    if replacing is None:  # a page from before forms named the badge, or a script
        flash(
            _("Open the person's page again, then replace the badge: this form did not say which."),
            "error",
        )
        return redirect(url_for("participants.edit", slug=slug, participant_id=participant.id))
    try:
        commit_once(lambda: replace_badge(actor, participant, replacing))
    except BadgeAlreadyReplaced as exc:
        flash(str(exc), "info")
    except CheckInError as exc:
        flash(str(exc), "error")
        return redirect(url_for("participants.index", slug=slug))
    else:
        flash(
            _(
                "%(name)s has a new badge; the old one no longer works. Print the new one now.",
                name=participant.full_name,
            ),
            "success",
        )
    return redirect(url_for("printing.badges", slug=slug, id=participant.id))


@bp.post(badge_route("/check-in"))
@require_role(Role.VOLUNTEER)
def badge_check_in(token: str):
    """The one tap on a badge's page: check the person in to the chosen or running session."""
    participant, _retired = find_badge(token)
    if participant is None:
        abort(404)
    session = None
    chosen = request.form.get("session", "")
    if chosen:
        if row_id(chosen) is None:
            abort(400)
        session = scan_session(int(chosen))
        if session is None or session.workshop_id != participant.workshop_id:
            abort(404)
    client_id = (request.form.get("client_id") or "")[:64] or None
    scan = Scan(
        code=ScannedCode(CodeKind.BADGE, token, token),
        at=scan_time(None),
        session=session,
        client_id=client_id,
        station="badge page",
    )
    actor = current_actor()
    result, _replayed = commit_once(lambda: answer_scan(actor, scan))
    flash(result.message, _FLASH_CATEGORY.get(result.outcome, "error"))
    return redirect(url_for("public.badge", token=token))


@bp.route(workshop_route("/attendance.<kind>"))
@require_role(ATTENDANCE_ROLE)
def attendance_export(slug: str, kind: str):
    """Attendance per session and hours per participant, as CSV or an Excel workbook."""
    if kind not in ("csv", "xlsx"):
        abort(404)
    workshop = load_workshop(slug)
    if kind == "csv":
        data, mimetype = attendance_csv(workshop), "text/csv"
    else:
        data = attendance_xlsx(workshop)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(
        data,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{workshop.slug}-attendance.{kind}"'
        },
    )


@bp.route(workshop_route("/sessions/<int:session_id>/board"))
@require_role(Role.VOLUNTEER)
def session_board(slug: str, session_id: int):
    """A page for a projector: the room filling up, updated by polling (no open stream holds
    one of the server's threads)."""
    session = _session_of(slug, session_id)
    return render_template(
        "checkin/board.html",
        workshop=session.workshop,
        session=session,
        state=board_state(session),
        poll_url=url_for("checkin.session_board_state", slug=slug, session_id=session_id),
    )


@bp.route(workshop_route("/sessions/<int:session_id>/board.json"))
@require_role(Role.VOLUNTEER)
def session_board_state(slug: str, session_id: int):
    return jsonify(board_state(_session_of(slug, session_id)))


@bp.post(workshop_route("/sessions/<int:session_id>/walk-in"))
@require_role(Role.TRAINER)
def session_walk_in(slug: str, session_id: int):
    """Someone at the door who never signed up: register, check in, then print their badge.

    The same form sent again (a double click, copies at once) lands on the person it registered.
    """
    session = _session_of(slug, session_id)
    name = request.form.get("full_name", "")
    actor = current_actor()
    try:
        walk_in = commit_once(
            lambda: register_walk_in(
                actor,
                session,
                name,
                request.form.get("team") or None,
                same_name_ok=bool(request.form.get("again")),
                form_id=request.form.get("form_id", ""),
            )
        )
    except AlreadyRegistered as exc:
        flash(str(exc), "warning")
        return redirect(url_for("checkin.session_roster", slug=slug, session_id=session_id, q=name))
    except (ParticipantError, CheckInError) as exc:
        flash(str(exc), "error")
        return redirect(url_for("checkin.session_roster", slug=slug, session_id=session_id))
    participant = walk_in.participant
    if walk_in.registered:
        flash(
            _(
                "%(name)s is registered and checked in. Print their badge now.",
                name=participant.full_name,
            ),
            "success",
        )
    else:
        flash(
            _(
                "Already registered: %(name)s, checked in. Print their badge now.",
                name=participant.full_name,
            ),
            "info",
        )
    return redirect(url_for("printing.badges", slug=slug, id=participant.id))
