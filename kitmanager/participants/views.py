from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import NotFound

from kitmanager.extensions import db
from kitmanager.models import Participant, Role, Workshop
from kitmanager.network import base_url
from kitmanager.participants import bp
from kitmanager.participants.csv_io import (
    FIELDS,
    CsvError,
    guess_mapping,
    parse_participants,
    read_table,
)
from kitmanager.participants.fields import ParticipantFields, fields_of
from kitmanager.participants.forms import (
    ConfirmDeleteForm,
    ImportOptionsForm,
    ParticipantForm,
    UploadForm,
)
from kitmanager.participants.services import (
    EXPORT_DELIMITERS,
    IMPORT_BATCH_ROWS,
    ImportNotUndone,
    ImportPlan,
    ImportSummary,
    ParticipantError,
    apply_import,
    badge_url,
    create_participant,
    database_reason,
    delete_participant,
    export_participants_csv,
    participant_ids,
    participant_page,
    plan_import,
    update_participant,
)
from kitmanager.security import current_actor, require_role
from kitmanager.storage import (
    data_folder,
    forget_files_of,
    new_file_id,
    owned_file,
    prune,
    remember_file,
    write_file,
)
from kitmanager.text import safe_text
from kitmanager.unit_of_work import unit_of_work
from kitmanager.web import load_workshop, page_unit_of_work

# Long enough to check a file and import it; the raw sign-up export should not linger.
UPLOAD_MAX_AGE_S = 2 * 3600
PREVIEW_ROWS = 50
PAGE_SIZE = 100


def _participant(workshop: Workshop, participant_id: int) -> Participant:
    participant = db.session.get(Participant, participant_id)
    if participant is None or participant.workshop_id != workshop.id or participant.deleted_at:
        abort(404)
    return participant


def _page_number() -> int:
    value = request.args.get("page", "1")
    return min(int(value), 10**6) if value.isdecimal() and value.isascii() else 1


@bp.route("/")
@require_role(Role.TRAINER)
def index(slug: str):
    workshop = load_workshop(slug)
    search = safe_text(request.args.get("q", ""))
    page = participant_page(workshop, search, page=_page_number(), per_page=PAGE_SIZE)
    return render_template("participants/list.html", workshop=workshop, page=page, search=search)


@bp.route("/print")
@require_role(Role.TRAINER)
def print_selection(slug: str):
    """Badges for the ticked people, or for everyone matching the search when "all" is ticked.

    Nobody ticked is a message on the list, never a sheet for everyone.
    """
    workshop = load_workshop(slug)
    search = safe_text(request.args.get("q", ""))
    if request.args.get("all"):
        ids = participant_ids(workshop, search)
        if ids and not search:
            return redirect(url_for("printing.badges", slug=slug))  # everyone
    else:
        chosen = {v for v in request.args.getlist("id") if v.isdecimal() and v.isascii()}
        ids = sorted(int(value) for value in chosen)
    if not ids:
        flash(
            _(
                "Nobody is ticked, so no badges were made. Tick the people whose badges you "
                "want, or tick the box for everyone above the list."
            ),
            "error",
        )
        back = {"q": search} if search else {}
        return redirect(url_for("participants.index", slug=slug, **back))
    return redirect(url_for("printing.badges", slug=slug, id=ids))


@bp.route("/new", methods=["GET", "POST"])
@require_role(Role.TRAINER)
def create(slug: str):
    workshop = load_workshop(slug)
    form = ParticipantForm()
    if form.validate_on_submit():
        fields = form.to_fields(ParticipantFields(full_name=""))
        with page_unit_of_work() as work:
            participant = create_participant(current_actor(), workshop, fields)
        if work.committed:
            flash(_("%(name)s added.", name=participant.full_name), "success")
            if request.form.get("another"):
                return redirect(url_for("participants.create", slug=slug))
            return redirect(url_for("participants.index", slug=slug))
    return render_template("participants/form.html", form=form, workshop=workshop, participant=None)


@bp.route("/<int:participant_id>", methods=["GET", "POST"])
@require_role(Role.TRAINER)
def edit(slug: str, participant_id: int):
    workshop = load_workshop(slug)
    participant = _participant(workshop, participant_id)
    current = fields_of(participant)  # what the form does not show (the sign-up id) stays
    form = ParticipantForm.showing(current)
    if form.validate_on_submit():
        with page_unit_of_work() as work:
            update_participant(current_actor(), participant, form.to_fields(current))
        if work.committed:
            flash(_("%(name)s saved.", name=participant.full_name), "success")
            return redirect(url_for("participants.index", slug=slug))
    return render_template(
        "participants/form.html",
        form=form,
        workshop=workshop,
        participant=participant,
        badge_url=badge_url(base_url(), participant),
        delete_form=ConfirmDeleteForm(),
    )


@bp.route("/<int:participant_id>/delete", methods=["POST"])
@require_role(Role.ORGANISER)
def delete(slug: str, participant_id: int):
    workshop = load_workshop(slug)
    participant = _participant(workshop, participant_id)
    if ConfirmDeleteForm().validate_on_submit():
        name = participant.full_name
        with unit_of_work():
            delete_participant(current_actor(), participant)
        # Badge sheets printed with this person on them go too, and their kept certificate.
        forget_files_of(data_folder("generated"), "*.pdf", participant_id)
        flash(_("%(name)s deleted; their personal data is gone.", name=name), "success")
    return redirect(url_for("participants.index", slug=slug))


@bp.route("/export")
@require_role(Role.TRAINER)
def export(slug: str):
    """The export page: choose the separator, then download."""
    workshop = load_workshop(slug)
    french_style = str(get_locale() or "en").startswith("fr")
    return render_template(
        "participants/export.html",
        workshop=workshop,
        delimiter="semicolon" if french_style else "comma",
    )


@bp.route("/export.csv")
@require_role(Role.TRAINER)
def export_csv(slug: str):
    """The CSV file, separated as ``?delimiter=comma|semicolon`` asks (comma by default)."""
    workshop = load_workshop(slug)
    delimiter = EXPORT_DELIMITERS.get(request.args.get("delimiter", "comma"))
    if delimiter is None:
        abort(400)
    data = export_participants_csv(workshop, base_url(), delimiter=delimiter)
    return Response(
        data,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{workshop.slug}-participants.csv"'},
    )


def _upload_path(upload_id: str) -> Path:
    folder = data_folder("uploads")
    prune(folder, "import-*", UPLOAD_MAX_AGE_S)
    return owned_file("imports", upload_id, folder / f"import-{upload_id}.csv")


@bp.route("/import", methods=["GET", "POST"])
@require_role(Role.TRAINER)
def import_upload(slug: str):
    workshop = load_workshop(slug)
    form = UploadForm()
    if form.validate_on_submit():
        data = form.file.data.read()
        try:
            read_table(data)
        except CsvError as exc:
            flash(str(exc), "error")
        else:
            folder = data_folder("uploads")
            prune(folder, "import-*", UPLOAD_MAX_AGE_S)
            upload_id = new_file_id()
            write_file(folder / f"import-{upload_id}.csv", data)
            remember_file("imports", upload_id)
            return redirect(url_for("participants.import_review", slug=slug, upload_id=upload_id))
    elif request.method == "POST":
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
    return render_template("participants/import_upload.html", form=form, workshop=workshop)


class UploadGone(Exception):
    """The upload was imported (or is being imported) already."""


@contextmanager
def _claimed(path: Path) -> Iterator[None]:
    """Hold the upload at ``path`` for one import: a double click (or two trainers) must not
    import it twice. It is deleted when the block succeeds and put back, for a retry, whatever
    makes the block fail.

    :raise UploadGone: someone else holds or has imported it.
    """
    claimed = path.with_name(f"{path.stem}.importing-{secrets.token_hex(4)}")
    try:
        path.rename(claimed)
    except FileNotFoundError:
        raise UploadGone from None
    try:
        yield
    except BaseException:
        claimed.rename(path)
        raise
    claimed.unlink(missing_ok=True)


def _import_once(
    path: Path, workshop: Workshop, plan: ImportPlan, options: ImportOptionsForm
) -> ImportSummary:
    """Apply ``plan`` in committed batches (scans go on meanwhile), holding the upload; on any
    failure what was written is taken back, nothing is saved and the upload stays for another
    try.

    :raise UploadGone: imported already. :raise ParticipantError: the import was refused.
    :raise ImportNotUndone: it failed midway and could not all be taken back.
    """
    with _claimed(path), unit_of_work():
        summary = apply_import(
            current_actor(),
            workshop,
            plan,
            on_duplicate=options.on_duplicate.data,
            only_valid=options.only_valid.data,
            batch_rows=IMPORT_BATCH_ROWS,
        )
    return summary


def _mapping_from_form(headers: list[str]) -> dict[str, int]:
    mapping: dict[str, int] = {}
    for name in FIELDS:
        value = request.form.get(f"map_{name}", "")
        if value.isdecimal() and int(value) < len(headers):
            mapping[name] = int(value)
    return mapping


@bp.route("/import/<upload_id>", methods=["GET", "POST"])
@require_role(Role.TRAINER)
def import_review(slug: str, upload_id: str):
    workshop = load_workshop(slug)
    try:
        path = _upload_path(upload_id)
    except NotFound:
        # Back to the review page of an import already done (or an upload past its time):
        # say so, instead of a bare "not found". Nothing tells whether it ever existed.
        flash(
            _(
                "This import is finished or its upload has expired (uploads are kept for two "
                "hours). Upload the file again to import more."
            ),
            "info",
        )
        return redirect(url_for("participants.import_upload", slug=slug))
    sheet = request.args.get("sheet") or None  # a workbook's sheet; None: its first one
    try:
        table = read_table(path.read_bytes(), sheet=sheet)
    except CsvError as exc:
        flash(str(exc), "error")
        if sheet is not None:  # that sheet is not a list: back to the one the upload showed
            return redirect(url_for("participants.import_review", slug=slug, upload_id=upload_id))
        return redirect(url_for("participants.import_upload", slug=slug))
    options = ImportOptionsForm()
    if request.method == "POST":
        mapping = _mapping_from_form(table.headers)
    else:
        mapping = guess_mapping(table.headers)
    plan = None
    try:
        parsed = parse_participants(table, mapping)
    except CsvError as exc:
        flash(str(exc), "error")
    else:
        plan = plan_import(workshop, parsed)
        wants_import = request.method == "POST" and request.form.get("action") == "import"
        if wants_import and options.validate_on_submit():
            try:
                summary = _import_once(path, workshop, plan, options)
            except UploadGone:
                flash(_("This file has already been imported."), "info")
                return redirect(url_for("participants.index", slug=slug))
            except (ParticipantError, ImportNotUndone) as exc:  # refused, or half undone
                flash(str(exc), "error")
            except SQLAlchemyError as exc:
                flash(
                    _(
                        "The database refused the import (%(reason)s), so nothing was saved. "
                        "The file is kept: fix the database problem and press Import again.",
                        reason=database_reason(exc),
                    ),
                    "error",
                )
            else:
                flash(
                    _(
                        "Imported: %(created)s added, %(updated)s updated, %(skipped)s skipped.",
                        created=summary.created,
                        updated=summary.updated,
                        skipped=summary.skipped + summary.invalid_skipped,
                    ),
                    "success",
                )
                return redirect(url_for("participants.index", slug=slug))
    return render_template(
        "participants/import_review.html",
        workshop=workshop,
        table=table,
        mapping=mapping,
        fields=FIELDS,
        plan=plan,
        options=options,
        preview_rows=PREVIEW_ROWS,
        upload_id=upload_id,
    )
