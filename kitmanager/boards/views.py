"""Boards pages: the boards on the hub, flash and check jobs with live progress, the firmware
library, and each kit's board history. Thin: parse, call a service, render."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from firmware_tools.drivers import families
from kitmanager.boards import bp
from kitmanager.boards.forms import AddPortForm, FirmwareForm
from kitmanager.boards.jobs import Job, jobs, runs_as_dict
from kitmanager.boards.services import (
    BoardsError,
    FirmwareFile,
    add_firmware,
    add_port,
    bind_port,
    close_orphan_runs,
    current_firmware,
    firmware_library,
    job_runs,
    known_ports,
    latest_job,
    plan_job,
    remove_port,
    set_current_firmware,
    status_label,
)
from kitmanager.extensions import db
from kitmanager.kits.services import list_kit_types
from kitmanager.models import BoardRunKind, Firmware, KitType, Role
from kitmanager.security import current_actor, require_role
from kitmanager.unit_of_work import unit_of_work
from kitmanager.web import page_unit_of_work, row_id


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"status_label": status_label}


def _job_state(job_id: str | None) -> dict[str, Any] | None:
    """The job as the page polls it: live from memory, else from its stored runs."""
    if not job_id:
        return None
    live: Job | None = jobs().get(job_id)
    if live is not None:
        return live.to_dict()
    with unit_of_work():
        close_orphan_runs(job_id)
    runs = job_runs(job_id)
    return runs_as_dict(job_id, runs) if runs else None


def _firmware_choices(library: list[Firmware]) -> list[tuple[str, str]]:
    return [("current", _("The current firmware of each kit's type"))] + [
        (str(row.id), row.title) for row in library
    ]


@bp.route("/")
@require_role(Role.TRAINER)
def index():
    """The boards on the hub now, each with its kit; Flash all / Check all; the last job."""
    with unit_of_work():
        library = firmware_library()  # the built-in firmware, added on the first visit
    job_id = request.args.get("job") or latest_job()
    return render_template(
        "boards/index.html",
        ports=known_ports(),
        job=_job_state(job_id),
        firmware_choices=_firmware_choices(library),
        add_form=AddPortForm(),
    )


@bp.route("/ports")
@require_role(Role.TRAINER)
def ports_fragment():
    """The list of ports alone, for the page to refresh itself."""
    return render_template("boards/_ports.html", ports=known_ports())


@bp.post("/ports/add")
@require_role(Role.TRAINER)
def add_port_view():
    form = AddPortForm()
    if form.validate_on_submit():
        with page_unit_of_work() as work:
            add_port(current_actor(), form.device.data, form.family.data)
        if work.committed:
            flash(_("Port %(port)s added.", port=form.device.data.strip()), "success")
    else:
        flash(_("Write the port, and choose the board family."), "error")
    return redirect(url_for("boards.index"))


@bp.post("/ports/remove")
@require_role(Role.TRAINER)
def remove_port_view():
    with page_unit_of_work():
        remove_port(current_actor(), request.form.get("device", ""))
    return redirect(url_for("boards.index"))


@bp.post("/bind")
@require_role(Role.TRAINER)
def bind():
    """Bind the board on a port to the kit whose label was scanned or typed."""
    device = request.form.get("device", "")
    with page_unit_of_work() as work:
        kit = bind_port(current_actor(), device, request.form.get("label", ""))
    if work.committed:
        flash(_("The board on %(port)s belongs to %(kit)s.", port=device, kit=kit.code), "success")
    return redirect(url_for("boards.index"))


@bp.post("/jobs")
@require_role(Role.TRAINER)
def start_job():
    """Start a flash or check of every board, or of the ticked ones; returns at once."""
    kind_text, _sep, scope = request.form.get("action", "").partition("-")
    try:
        kind = BoardRunKind(kind_text)
    except ValueError:
        abort(400)
    devices = request.form.getlist("port") if scope == "selected" else None
    if scope == "selected" and not devices:
        flash(_("Tick the boards to work on first."), "error")
        return redirect(url_for("boards.index"))
    firmware = None
    choice = request.form.get("firmware", "current")
    if kind is BoardRunKind.FLASH and choice != "current":
        row = db.session.get(Firmware, choice_id) if (choice_id := row_id(choice)) else None
        if row is None:
            abort(400)
        firmware = [row]
    manager = jobs()
    actor = current_actor()
    with page_unit_of_work() as work:
        if devices is not None:
            manager.check_free(devices)
        plan = plan_job(actor, kind, devices, firmware)
        manager.check_free([spec.port for spec in plan.boards])
    if not work.committed:
        return redirect(url_for("boards.index"))
    try:
        manager.submit(plan, actor)
    except BoardsError as exc:  # another request took a port an instant earlier
        with unit_of_work():
            close_orphan_runs(plan.job)
        flash(str(exc), "error")
        return redirect(url_for("boards.index"))
    return redirect(url_for("boards.index", job=plan.job))


@bp.route("/jobs/<job_id>")
@require_role(Role.TRAINER)
def job_status(job_id: str):
    """A job's progress and results, for the page to poll (about once a second)."""
    state = _job_state(job_id)
    if state is None:
        abort(404)
    return jsonify(state)


@bp.post("/jobs/<job_id>/stop")
@require_role(Role.TRAINER)
def stop_job(job_id: str):
    """Stop a job: boards done stay done, the others end cancelled (a board stopped while
    being written is marked for re-flash)."""
    if jobs().stop(job_id):
        flash(_("Stopping: each board ends in a few seconds."), "info")
    else:
        flash(_("This job has already ended."), "info")
    return redirect(url_for("boards.index", job=job_id))


@bp.route("/firmware", methods=["GET", "POST"])
@require_role(Role.TRAINER)
def firmware():
    """The firmware library: upload a firmware, and mark the current one of each kit type."""
    form = FirmwareForm()
    form.family.choices = [("", _("From the files"))] + [(f, f) for f in families()]
    status = 400 if form.is_submitted() else 200  # a form sent back is a refused one
    if form.validate_on_submit():
        uploads = [
            FirmwareFile(upload.filename or "firmware", upload.read())
            for upload in form.files.data
            if upload and upload.filename
        ]
        try:
            with unit_of_work():
                row = add_firmware(
                    current_actor(),
                    name=form.name.data,
                    version=form.version.data,
                    files=uploads,
                    family=form.family.data,
                    address=form.address_value(),
                    notes=form.notes.data or "",
                )
        except BoardsError as exc:
            form.files.errors = [*form.files.errors, str(exc)]
        else:
            flash(_("%(title)s is in the library.", title=row.title), "success")
            return redirect(url_for("boards.firmware"))
    with unit_of_work():
        library = firmware_library()
    kit_types = list_kit_types()
    return render_template(
        "boards/firmware.html",
        form=form,
        library=library,
        kit_types=[(kit_type, current_firmware(kit_type.id)) for kit_type in kit_types],
    ), status


@bp.post("/firmware/current")
@require_role(Role.TRAINER)
def set_current():
    kit_type = db.session.get(KitType, row_id(request.form.get("kit_type", "")) or 0)
    if kit_type is None:
        abort(400)
    choice = request.form.get("firmware", "")
    row = db.session.get(Firmware, choice_id) if (choice_id := row_id(choice)) else None
    with unit_of_work():
        set_current_firmware(current_actor(), kit_type, row)
    flash(_("Current firmware of %(type)s saved.", type=kit_type.name), "success")
    return redirect(url_for("boards.firmware"))
