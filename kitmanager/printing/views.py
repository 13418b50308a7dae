from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _

from kitmanager.models import Role
from kitmanager.network import base_url, check_address
from kitmanager.printing import bp
from kitmanager.printing.services import badge_layouts, print_badges
from kitmanager.security import current_actor, require_role
from kitmanager.storage import (
    data_folder,
    keep_generated_pdf,
    owned_file,
    read_info,
)
from kitmanager.web import load_workshop, page_unit_of_work, workshop_route
from printouts import DEFAULT_LAYOUTS, KINDS, PrintoutError, layout_names, render_preview_png

# A sheet is printed right away; an hour later it is only a copy of people's data.


def _selected_ids() -> list[int]:
    try:
        ids = sorted({int(value) for value in request.values.getlist("id")})
    except ValueError:
        abort(400)
    if any(not 0 < value < 2**63 for value in ids):
        abort(400)
    return ids


def _sheet_path(file_id: str) -> Path:
    return owned_file("badge_sheets", file_id, data_folder("generated") / f"badges-{file_id}.pdf")


@bp.route(workshop_route("/badges"), methods=["GET", "POST"])
@require_role(Role.TRAINER)
def badges(slug: str):
    workshop = load_workshop(slug)
    layouts = badge_layouts()
    ids = _selected_ids()
    address = base_url()
    if request.method == "POST":
        try:
            start_slot = int(request.form.get("start_slot", "1") or 1)
        except ValueError:
            start_slot = 0
        cut = request.form.get("cut_marks", "")
        with page_unit_of_work() as work:
            sheet = print_badges(
                current_actor(),
                workshop,
                address,
                layout=request.form.get("layout", DEFAULT_LAYOUTS["badge"]),
                start_slot=start_slot,
                cut_marks={"yes": True, "no": False}.get(cut),
                participant_ids=ids or None,
            )
        if work.committed:
            file_id = keep_generated_pdf(
                "badges",
                "badge_sheets",
                sheet.pdf,
                {
                    "count": sheet.count,
                    "pages": sheet.pages,
                    "layout": sheet.layout.title_in(workshop.language),
                    "language": workshop.language,
                    "base_url": address,
                    "warnings": sheet.warnings,
                    "participant_ids": sheet.participant_ids,
                },
            )
            flash(
                _(
                    "%(count)s badges ready on %(pages)s page(s).",
                    count=sheet.count,
                    pages=sheet.pages,
                ),
                "success",
            )
            return redirect(url_for("printing.badge_sheet", slug=slug, file_id=file_id))
    from kitmanager.participants.services import list_participants

    people = list_participants(workshop)
    chosen = [p for p in people if p.id in ids] if ids else people
    return render_template(
        "printing/badges.html",
        workshop=workshop,
        layouts=layouts,
        default_layout=request.form.get("layout", DEFAULT_LAYOUTS["badge"]),
        chosen=chosen,
        ids=ids,
        total=len(people),
        address=address,
        check=check_address(address),
    )


@bp.route(workshop_route("/badges/<file_id>"))
@require_role(Role.TRAINER)
def badge_sheet(slug: str, file_id: str):
    workshop = load_workshop(slug)
    info = read_info(_sheet_path(file_id))
    return render_template("printing/sheet.html", workshop=workshop, info=info, file_id=file_id)


@bp.route(workshop_route("/badges/<file_id>.pdf"))
@require_role(Role.TRAINER)
def badge_sheet_pdf(slug: str, file_id: str):
    workshop = load_workshop(slug)
    path = _sheet_path(file_id)
    return send_file(
        path,
        mimetype="application/pdf",
        download_name=f"{workshop.slug}-badges.pdf",
        max_age=0,
    )


@lru_cache(maxsize=64)
def _preview(layout_id: str, kind: str | None) -> bytes:
    return render_preview_png(layout_id, dpi=72, kind=kind)


@bp.route("/printouts/preview/<layout_id>.png")
def preview(layout_id: str):
    """A PNG of a shipped layout filled with sample data (``?kind=badge``), to choose a sheet.

    Only the ids of shipped layouts are served: anything else (a path, ``x.json``) is a 404
    before any file name is built from it.
    """
    kind = request.args.get("kind") or None
    if layout_id not in layout_names() or (kind is not None and kind not in KINDS):
        abort(404)
    try:
        png = _preview(layout_id, kind)
    except PrintoutError:
        abort(404)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "max-age=3600"})
