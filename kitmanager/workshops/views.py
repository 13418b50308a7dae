from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_wtf import FlaskForm
from sqlalchemy import func, select

from kitmanager.extensions import db
from kitmanager.models import CheckIn, Participant, Role, Team, Workshop, WorkshopSession
from kitmanager.security import current_actor, require_role
from kitmanager.unit_of_work import unit_of_work
from kitmanager.web import load_workshop
from kitmanager.workshops import bp
from kitmanager.workshops.forms import ConfirmForm, SessionForm, WorkshopForm
from kitmanager.workshops.services import (
    WorkshopError,
    WorkshopFields,
    add_session,
    archive_workshop,
    create_workshop,
    delete_session,
    list_workshops,
    local_timezone_name,
    session_dependants,
    timezone_choices,
    update_session,
    update_workshop,
    utc_to_local,
)


def _fields(form: WorkshopForm) -> WorkshopFields:
    return WorkshopFields(
        title=form.title.data or "",
        slug=form.slug.data or None,
        venue=form.venue.data or "",
        starts_on=form.starts_on.data,
        ends_on=form.ends_on.data,
        language=form.language.data,
        timezone=(form.timezone.data or "").strip() or None,
        capacity=form.capacity.data,
        notes=form.notes.data or "",
        badge_title=form.badge_title.data or "",
        pair_window_seconds=form.pair_window_seconds.data,
    )


def show_error(form: FlaskForm, exc: WorkshopError) -> None:
    """Put a service's message next to the field it is about, else at the top of the page."""
    field = form._fields.get(exc.field or "")
    if field is None:
        flash(str(exc), "error")
    else:
        field.errors = [*field.errors, str(exc)]


@bp.route("/")
def index():
    show_archived = request.args.get("archived") == "1"
    return render_template(
        "workshops/list.html", rows=list_workshops(show_archived), show_archived=show_archived
    )


@bp.route("/new", methods=["GET", "POST"])
@require_role(Role.ORGANISER)
def create():
    form = WorkshopForm()
    if request.method == "GET":
        form.timezone.data = local_timezone_name()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                workshop = create_workshop(current_actor(), _fields(form))
        except WorkshopError as exc:
            show_error(form, exc)
        else:
            flash(_("Workshop “%(title)s” created.", title=workshop.title), "success")
            return redirect(url_for("workshops.detail", slug=workshop.slug))
    return render_template(
        "workshops/form.html", form=form, workshop=None, zones=timezone_choices()
    )


@bp.route("/<slug>/")
def detail(slug: str):
    workshop = load_workshop(slug)
    counts = dict(
        db.session.execute(
            select(Participant.role, func.count(Participant.id))
            .where(Participant.workshop_id == workshop.id, Participant.not_deleted)
            .group_by(Participant.role)
        ).all()
    )
    teams = db.session.execute(
        select(Team.name, func.count(Participant.id))
        .outerjoin(
            Participant,
            (Participant.team_id == Team.id) & Participant.not_deleted,
        )
        .where(Team.workshop_id == workshop.id)
        .group_by(Team.id)
        .order_by(Team.name)
    ).all()
    sessions = [
        (
            s,
            utc_to_local(s.starts_at, workshop.timezone),
            utc_to_local(s.ends_at, workshop.timezone),
        )
        for s in workshop.sessions
    ]
    return render_template(
        "workshops/detail.html",
        workshop=workshop,
        sessions=sessions,
        counts=counts,
        total=sum(counts.values()),
        teams=teams,
        confirm=ConfirmForm(),
    )


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@require_role(Role.ORGANISER)
def edit(slug: str):
    workshop = load_workshop(slug)
    form = WorkshopForm(obj=workshop)
    if form.validate_on_submit():
        try:
            with unit_of_work():
                update_workshop(current_actor(), workshop, _fields(form))
        except WorkshopError as exc:
            show_error(form, exc)
        else:
            flash(_("Workshop saved."), "success")
            return redirect(url_for("workshops.detail", slug=workshop.slug))
    return render_template(
        "workshops/form.html", form=form, workshop=workshop, zones=timezone_choices()
    )


@bp.route("/<slug>/archive", methods=["POST"])
@require_role(Role.ORGANISER)
def archive(slug: str):
    workshop = load_workshop(slug)
    if ConfirmForm().validate_on_submit():
        restore = request.form.get("restore") == "1"
        with unit_of_work():
            archive_workshop(current_actor(), workshop, archived=not restore)
        flash(_("Workshop restored.") if restore else _("Workshop archived."), "success")
    return redirect(url_for("workshops.detail", slug=workshop.slug))


@bp.route("/<slug>/sessions/new", methods=["GET", "POST"], endpoint="session_create")
@bp.route(
    "/<slug>/sessions/<int:session_id>/edit", methods=["GET", "POST"], endpoint="session_edit"
)
@require_role(Role.TRAINER)
def session_form(slug: str, session_id: int | None = None):
    """Add a session, or edit one; times are typed in the workshop's time zone."""
    workshop = load_workshop(slug)
    session = None if session_id is None else _workshop_session(workshop, session_id)
    form = SessionForm()
    if request.method == "GET" and session is not None:
        form.title.data = session.title
        form.starts.data = utc_to_local(session.starts_at, workshop.timezone)
        form.ends.data = utc_to_local(session.ends_at, workshop.timezone)
        form.room.data = session.room
    if form.validate_on_submit():
        values = (form.title.data, form.starts.data, form.ends.data, form.room.data or "")
        try:
            with unit_of_work():
                if session is None:
                    add_session(current_actor(), workshop, *values)
                else:
                    update_session(current_actor(), session, *values)
        except WorkshopError as exc:
            show_error(form, exc)
        else:
            flash(_("Session added.") if session is None else _("Session saved."), "success")
            return redirect(url_for("workshops.detail", slug=workshop.slug))
    return render_template(
        "workshops/session_form.html", form=form, workshop=workshop, session=session
    )


def _dependant_label(table: str, count: int) -> str:
    """How the confirmation names rows that go with a session ("12 check-ins")."""
    if table == CheckIn.__tablename__:
        return ngettext("%(num)s check-in", "%(num)s check-ins", count)
    return ngettext(
        "%(num)s record in %(table)s", "%(num)s records in %(table)s", count, table=table
    )


def _workshop_session(workshop: Workshop, session_id: int) -> WorkshopSession:
    session = db.session.get(WorkshopSession, session_id)
    if session is None or session.workshop_id != workshop.id:
        abort(404)
    return session


@bp.route("/<slug>/sessions/<int:session_id>/delete", methods=["GET", "POST"])
@require_role(Role.TRAINER)
def session_delete(slug: str, session_id: int):
    """A page that says what deleting the session removes; its button deletes it."""
    workshop = load_workshop(slug)
    session = _workshop_session(workshop, session_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        title = session.title
        with unit_of_work():
            delete_session(current_actor(), session)
        flash(_("Session “%(title)s” deleted.", title=title), "success")
        return redirect(url_for("workshops.detail", slug=workshop.slug))
    return render_template(
        "workshops/session_delete.html",
        workshop=workshop,
        session=session,
        starts=utc_to_local(session.starts_at, workshop.timezone),
        ends=utc_to_local(session.ends_at, workshop.timezone),
        dependants=session_dependants(session),
        dependant_label=_dependant_label,
        form=form,
    )
