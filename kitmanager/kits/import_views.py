"""Trainer pages: import kits from a file (upload -> review -> import) and print kit labels
or contents cards. Thin: parse the request, call kitmanager.kits.importing or
kitmanager.printing.kit_labels, render."""

from __future__ import annotations

from pathlib import Path

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import NotFound

from kitmanager.extensions import db
from kitmanager.kits import bp
from kitmanager.kits.importing import (
    COLUMNS,
    KitImportError,
    apply_kit_import,
    guess_kit_columns,
    imported_message,
    plan_kit_import,
    read_kit_table,
)
from kitmanager.kits.services import KitError, list_kit_types, list_kits
from kitmanager.models import KitType, Role
from kitmanager.network import base_url, check_address
from kitmanager.participants.csv_io import CsvError
from kitmanager.participants.forms import UploadForm
from kitmanager.participants.services import IMPORT_BATCH_ROWS, ImportNotUndone, database_reason
from kitmanager.printing.kit_labels import (
    KitPrintError,
    card_layouts,
    label_layouts,
    print_kit_labels,
    print_language,
)
from kitmanager.security import current_actor, require_role
from kitmanager.storage import (
    data_folder,
    keep_generated_pdf,
    new_file_id,
    owned_file,
    prune,
    read_info,
    remember_file,
    write_file,
)
from kitmanager.unit_of_work import unit_of_work
from kitmanager.web import page_unit_of_work
from printouts import DEFAULT_LAYOUTS, LANGUAGES

# Long enough to check a file and import it.
UPLOAD_MAX_AGE_S = 2 * 3600
# A label sheet is printed right away.
PREVIEW_ROWS = 100


def _upload_path(upload_id: str) -> Path:
    folder = data_folder("uploads")
    prune(folder, "kits-*", UPLOAD_MAX_AGE_S)
    return owned_file("kit_imports", upload_id, folder / f"kits-{upload_id}.csv")


@bp.route("/kits/import", methods=["GET", "POST"])
@require_role(Role.TRAINER)
def import_upload():
    form = UploadForm()
    if form.validate_on_submit():
        data = form.file.data.read()
        try:
            read_kit_table(data)
        except CsvError as exc:
            flash(str(exc), "error")
        else:
            folder = data_folder("uploads")
            prune(folder, "kits-*", UPLOAD_MAX_AGE_S)
            upload_id = new_file_id()
            write_file(folder / f"kits-{upload_id}.csv", data)
            remember_file("kit_imports", upload_id)
            return redirect(url_for("kits.import_review", upload_id=upload_id))
    elif request.method == "POST":
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
    return render_template("kits/import_upload.html", form=form, columns=COLUMNS)


def _mapping_from_form(headers: list[str]) -> dict[str, int]:
    mapping: dict[str, int] = {}
    for name in COLUMNS:
        value = request.form.get(f"map_{name}", "")
        if value.isdecimal() and int(value) < len(headers):
            mapping[name] = int(value)
    return mapping


@bp.route("/kits/import/<upload_id>", methods=["GET", "POST"])
@require_role(Role.TRAINER)
def import_review(upload_id: str):
    try:
        path = _upload_path(upload_id)
    except NotFound:
        flash(
            _(
                "This import is finished or its upload has expired (uploads are kept for two "
                "hours). Upload the file again to import more."
            ),
            "info",
        )
        return redirect(url_for("kits.import_upload"))
    sheet = request.args.get("sheet") or None
    try:
        table = read_kit_table(path.read_bytes(), sheet=sheet)
    except CsvError as exc:
        flash(str(exc), "error")
        if sheet is not None:
            return redirect(url_for("kits.import_review", upload_id=upload_id))
        return redirect(url_for("kits.import_upload"))
    mapping = (
        _mapping_from_form(table.headers)
        if request.method == "POST"
        else guess_kit_columns(table.headers)
    )
    plan = None
    try:
        plan = plan_kit_import(table, mapping)
    except KitImportError as exc:
        flash(str(exc), "error")
    if plan is not None and request.method == "POST" and request.form.get("action") == "import":
        try:
            # committed in batches, so scans go on during a long import
            with unit_of_work():
                created = apply_kit_import(current_actor(), plan, batch_rows=IMPORT_BATCH_ROWS)
        except (KitError, ImportNotUndone) as exc:
            flash(str(exc), "error")
        except SQLAlchemyError as exc:
            flash(
                _(
                    "The database refused the import (%(reason)s), so nothing was saved.",
                    reason=database_reason(exc),
                ),
                "error",
            )
        else:
            path.unlink(missing_ok=True)
            flash(imported_message(created), "success")  # a count and a few codes: the
            return redirect(url_for("kits.labels"))  # message rides in the session cookie
    return render_template(
        "kits/import_review.html",
        table=table,
        mapping=mapping,
        columns=COLUMNS,
        plan=plan,
        preview_rows=PREVIEW_ROWS,
        upload_id=upload_id,
    )


def _sheet_path(file_id: str) -> Path:
    return owned_file("kit_sheets", file_id, data_folder("generated") / f"kits-{file_id}.pdf")


@bp.route("/kits/labels", methods=["GET", "POST"])
@require_role(Role.TRAINER)
def labels():
    address = base_url()
    kit_types = list_kit_types()
    form = request.form
    cards = form.get("what") == "cards"
    if request.method == "POST":
        scope = form.get("scope", "all")
        kit_type = None
        codes = None
        if scope == "type":
            try:
                kit_type = db.session.get(KitType, int(form.get("kit_type", "")))
            except ValueError:
                kit_type = None
            if kit_type is None:
                abort(400)
        elif scope == "codes":
            codes = form.getlist("code")
        try:
            start_slot = int(form.get("start_slot", "1") or 1)
        except ValueError:
            start_slot = 0
        with page_unit_of_work() as work:
            if scope == "codes" and not codes:
                raise KitPrintError(_("Tick the kits to print, or choose all kits."))
            printed = print_kit_labels(
                current_actor(),
                address,
                layout=form.get("card_layout" if cards else "layout") or None,
                codes=codes,
                kit_type=kit_type,
                cards=cards,
                start_slot=start_slot,
                language=form.get("language") or None,
            )
        if work.committed:
            file_id = keep_generated_pdf(
                "kits",
                "kit_sheets",
                printed.pdf,
                {
                    "count": printed.count,
                    "pages": printed.pages,
                    "layout": printed.layout.title_in(printed.language),
                    "language": printed.language,
                    "cards": printed.cards,
                    "warnings": printed.warnings,
                    "base_url": address,
                },
            )
            return redirect(url_for("kits.labels", file=file_id))
    ready = None
    file_id = request.args.get("file", "")
    if file_id:
        try:
            ready = read_info(_sheet_path(file_id))
        except NotFound:
            flash(_("This PDF has expired: make it again."), "info")
    return render_template(
        "kits/labels.html",
        kits=list_kits(),
        kit_types=kit_types,
        label_layouts=label_layouts(),
        card_layouts=card_layouts(),
        default_layout=form.get("layout", DEFAULT_LAYOUTS["kit-label"]),
        default_card_layout=form.get("card_layout", DEFAULT_LAYOUTS["kit-card"]),
        languages=LANGUAGES,
        language=form.get("language") or print_language(),
        address=address,
        check=check_address(address),
        ready=ready,
        file_id=file_id,
    )


@bp.route("/kits/labels/<file_id>.pdf")
@require_role(Role.TRAINER)
def labels_pdf(file_id: str):
    path = _sheet_path(file_id)
    cards = read_info(path).get("cards")
    return send_file(
        path,
        mimetype="application/pdf",
        download_name="kit-cards.pdf" if cards else "kit-labels.pdf",
        max_age=0,
    )
