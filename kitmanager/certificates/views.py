"""The organiser's certificate pages: who earned one, issue, print, revoke, re-issue."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from wtforms.fields import SelectChoice

from kitmanager.certificates import bp
from kitmanager.certificates.forms import AddressForm, RuleForm, StatusListForm
from kitmanager.certificates.imported_lists import (
    MAX_LIST_FILE_BYTES,
    import_status_list,
    imported_lists,
)
from kitmanager.certificates.openbadges import credential_jwt, kept_revocation_list
from kitmanager.certificates.printing import (
    certificate_file_name,
    certificate_layouts,
    certificates_pdf,
    certificates_zip,
    delete_image,
    kept_certificate_pdf,
    save_image,
    unprintable_characters,
)
from kitmanager.certificates.public import download
from kitmanager.certificates.services import (
    CertificateError,
    certificate_base_url,
    certificate_by_code,
    clear_override,
    current_certificate,
    eligibility,
    issue_certificates,
    reissue_certificate,
    revoke_certificate,
    rule_for,
    set_override,
    update_rule,
    valid_certificates,
)
from kitmanager.extensions import db
from kitmanager.models import Certificate, Participant, Role
from kitmanager.network import base_url
from kitmanager.security import current_actor, require_role
from kitmanager.settings.services import (
    CERTIFICATE_BASE_URL,
    SettingError,
    get_setting,
    set_certificate_base_url,
)
from kitmanager.signing import installation_key, public_key_pem
from kitmanager.storage import StorageError
from kitmanager.unit_of_work import unit_of_work
from kitmanager.web import load_workshop, page_unit_of_work, row_id, workshop_route


def _participant(workshop, participant_id: int) -> Participant:
    person = db.session.get(Participant, participant_id)
    if person is None or person.workshop_id != workshop.id or person.deleted_at is not None:
        abort(404)
    return person


def _rule_form(workshop) -> RuleForm:
    form = RuleForm()
    form.layout.choices = [
        SelectChoice(lay.id, lay.title_in(workshop.language)) for lay in certificate_layouts()
    ]
    if request.method == "GET":
        rule = rule_for(workshop)
        form.basis.data = "hours" if rule.min_hours is not None else "sessions"
        form.min_percent.data = rule.min_percent
        form.min_hours.data = rule.min_hours
        form.kit_returned.data = rule.kit_returned
        form.issuer.data = rule.issuer
        form.signatory_name.data = rule.signatory_name
        form.signatory_title.data = rule.signatory_title
        form.layout.data = rule.layout
    return form


@bp.route(workshop_route("/certificates"), methods=["GET", "POST"])
@require_role(Role.ORGANISER)
def index(slug: str):
    """Everyone with their standing; the rule and what certificates print."""
    workshop = load_workshop(slug)
    form = _rule_form(workshop)
    if form.validate_on_submit():
        values = {
            "min_hours": (
                float(form.min_hours.data)
                if form.basis.data == "hours" and form.min_hours.data is not None
                else None
            ),
            "kit_returned": bool(form.kit_returned.data),
            "issuer": form.issuer.data or "",
            "signatory_name": form.signatory_name.data or "",
            "signatory_title": form.signatory_title.data or "",
            "layout": form.layout.data,
        }
        if form.min_percent.data is not None:
            values["min_percent"] = form.min_percent.data
        rule = rule_for(workshop)
        before = {rule.logo_file, rule.signature_file}
        saved: list[str] = []
        try:
            with unit_of_work():
                if form.basis.data == "hours" and values["min_hours"] is None:
                    raise CertificateError(
                        _("Give the minimum hours, or choose a share of sessions.")
                    )
                for kind, field, remove in (
                    ("logo", form.logo, form.remove_logo),
                    ("signature", form.signature, form.remove_signature),
                ):
                    upload = field.data
                    if upload and getattr(upload, "filename", ""):
                        saved.append(save_image(workshop, kind, upload.read()))
                        values[f"{kind}_file"] = saved[-1]
                    elif remove.data:
                        values[f"{kind}_file"] = None
                rule = update_rule(current_actor(), workshop, **values)
        except (CertificateError, StorageError) as exc:
            for name in saved:
                delete_image(name)
            flash(str(exc), "error")
        else:
            for name in before - {rule.logo_file, rule.signature_file}:
                delete_image(name)
            flash(_("Certificate settings saved."), "success")
            return redirect(url_for("certificates.index", slug=slug))
    standings = eligibility(workshop)
    layout = rule_for(workshop).layout
    return render_template(
        "certificates/index.html",
        workshop=workshop,
        form=form,
        rule=rule_for(workshop),
        standings=standings,
        issued=sum(1 for s in standings if s.certificate is not None),
        ready=sum(1 for s in standings if s.eligible and s.certificate is None),
        address=certificate_base_url(),
        unprintable={
            s.participant.id: chars
            for s in standings
            if (chars := unprintable_characters(s.participant.full_name, layout))
        },
    )


@bp.route(workshop_route("/certificates/issue"), methods=["POST"])
@require_role(Role.ORGANISER)
def issue(slug: str):
    workshop = load_workshop(slug)
    ids = [number for v in request.form.getlist("id") if (number := row_id(v)) is not None]
    with page_unit_of_work() as work:
        result = issue_certificates(current_actor(), workshop, ids or None)
    if work.committed:
        if not result.issued:
            flash(
                _(
                    "No certificate issued: %(already)s already had one; %(waiting)s not "
                    "eligible yet (each person below says why).",
                    already=result.already,
                    waiting=len(result.not_eligible),
                ),
                "warning",
            )
            return redirect(url_for("certificates.index", slug=slug))
        flash(
            ngettext(
                "%(num)s certificate issued.", "%(num)s certificates issued.", len(result.issued)
            )
            + " "
            + _(
                "%(already)s already had one; %(waiting)s not eligible yet.",
                already=result.already,
                waiting=len(result.not_eligible),
            ),
            "success",
        )
    return redirect(url_for("certificates.index", slug=slug))


@bp.route(workshop_route("/certificates/override/<int:participant_id>"), methods=["POST"])
@require_role(Role.ORGANISER)
def override(slug: str, participant_id: int):
    workshop = load_workshop(slug)
    person = _participant(workshop, participant_id)
    if request.form.get("clear"):
        with unit_of_work():
            clear_override(current_actor(), person)
        flash(_("%(name)s: the rule decides again.", name=person.full_name), "success")
    else:
        with page_unit_of_work() as work:
            set_override(current_actor(), person, request.form.get("reason", ""))
        if work.committed:
            flash(_("%(name)s can receive a certificate.", name=person.full_name), "success")
    return redirect(url_for("certificates.index", slug=slug) + f"#p{person.id}")


def _certificate(code: str) -> Certificate:
    certificate = certificate_by_code(code)
    if certificate is None:
        abort(404)
    return certificate


@bp.route("/certificates/<code>/revoke", methods=["POST"])
@require_role(Role.ORGANISER)
def revoke(code: str):
    certificate = _certificate(code)
    with page_unit_of_work() as work:
        revoke_certificate(current_actor(), certificate.code, request.form.get("reason", ""))
    if work.committed:
        flash(_("Certificate %(code)s revoked.", code=certificate.code), "success")
    return redirect(url_for("certificates.index", slug=certificate.workshop.slug))


@bp.route("/certificates/<code>/reissue", methods=["POST"])
@require_role(Role.ORGANISER)
def reissue(code: str):
    certificate = _certificate(code)
    with page_unit_of_work() as work:
        new = reissue_certificate(current_actor(), certificate, request.form.get("reason", ""))
    if work.committed:
        flash(
            _(
                "Certificate %(old)s revoked and replaced by %(new)s.",
                old=certificate.code,
                new=new.code,
            ),
            "success",
        )
    return redirect(url_for("certificates.index", slug=certificate.workshop.slug))


def _print(workshop, certificates, as_zip: bool):
    try:
        if as_zip:
            data, _warnings = certificates_zip(workshop, certificates, certificate_base_url())
            return download(data, "application/zip", f"{workshop.slug}-certificates.zip")
        if len(certificates) == 1:  # the one the holder downloads too: kept, made once
            pdf = kept_certificate_pdf(certificates[0], certificate_base_url()).pdf
        else:
            pdf = certificates_pdf(workshop, certificates, certificate_base_url()).pdf
    except CertificateError as exc:
        flash(str(exc), "error")
        return redirect(url_for("certificates.index", slug=workshop.slug))
    if len(certificates) == 1:
        name = certificate_file_name(certificates[0].participant.full_name, certificates[0].code)
    else:
        name = f"{workshop.slug}-certificates.pdf"
    return download(pdf, "application/pdf", name)


@bp.route(workshop_route("/certificates.pdf"))
@require_role(Role.ORGANISER)
def workshop_pdf(slug: str):
    workshop = load_workshop(slug)
    return _print(workshop, valid_certificates(workshop), as_zip=False)


@bp.route(workshop_route("/certificates.zip"))
@require_role(Role.ORGANISER)
def workshop_zip(slug: str):
    workshop = load_workshop(slug)
    return _print(workshop, valid_certificates(workshop), as_zip=True)


def _participant_certificate(slug: str, participant_id: int):
    workshop = load_workshop(slug)
    certificate = current_certificate(_participant(workshop, participant_id))
    if certificate is None:
        abort(404)
    return workshop, certificate


@bp.route(workshop_route("/certificates/<int:participant_id>.pdf"))
@require_role(Role.TRAINER)
def participant_pdf(slug: str, participant_id: int):
    workshop, certificate = _participant_certificate(slug, participant_id)
    return _print(workshop, [certificate], as_zip=False)


@bp.route(workshop_route("/certificates/<int:participant_id>.jwt"))
@require_role(Role.TRAINER)
def participant_badge(slug: str, participant_id: int):
    _workshop, certificate = _participant_certificate(slug, participant_id)
    jwt = credential_jwt(certificate, certificate_base_url(), installation_key())
    return download(jwt.encode("ascii"), "application/vc+jwt", f"{certificate.code}.jwt")


@bp.route("/certificates/public-key.pem")
@require_role(Role.ORGANISER)
def public_key():
    """The installation's public key, to publish so anyone can check its certificates."""
    pem = public_key_pem(installation_key())
    return download(pem.encode("ascii"), "application/x-pem-file", "kitmanager-public-key.pem")


@bp.route("/certificates/address", methods=["GET", "POST"])
@require_role(Role.ORGANISER)
def address():
    """The public address certificate QR codes open (the organiser's permanent site)."""
    form = AddressForm()
    if request.method == "GET":
        form.base_url.data = get_setting(CERTIFICATE_BASE_URL) or ""
    if form.validate_on_submit():
        try:
            with unit_of_work():
                set_certificate_base_url(current_actor(), form.base_url.data or "")
        except SettingError as exc:
            form.base_url.errors = [*form.base_url.errors, str(exc)]
        else:
            flash(_("Certificate address saved."), "success")
            return redirect(url_for("certificates.address"))
    issued = db.session.scalar(select(db.func.count()).select_from(Certificate)) or 0
    return render_template(
        "certificates/address.html",
        form=form,
        badge_address=base_url(),
        current=certificate_base_url(),
        issued=issued,
        status_form=StatusListForm(formdata=None),
        imported=imported_lists(),
    )


@bp.route("/certificates/status-list.jwt")
@require_role(Role.ORGANISER)
def status_list_download():
    """This installation's signed revocation list, as its address serves it: to import on
    the permanent site its certificates open."""
    kept = kept_revocation_list(certificate_base_url(), installation_key())
    return download(kept.jwt, "application/vc+jwt", "kitmanager-revocation-list.jwt")


@bp.route("/certificates/status-list", methods=["POST"])
@require_role(Role.ORGANISER)
def status_list_import():
    """Import a trusted laptop's revocation list (the file its download gave)."""
    form = StatusListForm()
    upload = form.list_file.data
    if not form.validate_on_submit() or not getattr(upload, "filename", ""):
        flash(_("Choose the revocation list file the laptop wrote, then import it."), "error")
        return redirect(url_for("certificates.address") + "#revocations")
    with page_unit_of_work() as work:
        result = import_status_list(current_actor(), upload.read(MAX_LIST_FILE_BYTES + 1))
    if work.committed:
        flash(result.message(), "success")
    return redirect(url_for("certificates.address") + "#revocations")
