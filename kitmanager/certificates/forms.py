from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DecimalField, IntegerField, RadioField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import NumberRange, Optional

from kitmanager.models import CertificateRule
from kitmanager.text import column_limit, form_filter, form_length


def _length(name: str) -> int:
    return column_limit(CertificateRule.__table__.c[name])


def _printed_text(label: str, name: str) -> StringField:
    """A line the certificate prints: cleaned as names are, at most what its column holds."""
    column = CertificateRule.__table__.c[name]
    return StringField(
        label,
        filters=[form_filter()],
        validators=[form_length(column)],
        render_kw={"maxlength": _length(name)},
    )


class RuleForm(FlaskForm):
    """How a workshop's certificates are earned and what they print."""

    basis = RadioField(
        _l("A certificate needs"),
        choices=[
            SelectChoice("sessions", _l("a share of the sessions")),
            SelectChoice("hours", _l("a number of hours")),
        ],
        default="sessions",
    )
    min_percent = IntegerField(
        _l("Minimum share of sessions attended (%)"),
        validators=[Optional(), NumberRange(0, 100)],
    )
    min_hours = DecimalField(
        _l("Minimum hours attended"), validators=[Optional(), NumberRange(min=0)], places=2
    )
    kit_returned = BooleanField(_l("Only once every kit they borrowed is returned"))
    issuer = _printed_text(_l("Issued by (your organisation)"), "issuer")
    signatory_name = _printed_text(_l("Signed by (name)"), "signatory_name")
    signatory_title = _printed_text(_l("Signatory's title"), "signatory_title")
    layout = SelectField(_l("Paper"))
    logo = FileField(_l("Logo (PNG or JPEG)"), render_kw={"accept": "image/png,image/jpeg"})
    signature = FileField(
        _l("Signature image (PNG or JPEG)"), render_kw={"accept": "image/png,image/jpeg"}
    )
    remove_logo = BooleanField(_l("Remove the logo"))
    remove_signature = BooleanField(_l("Remove the signature image"))


class AddressForm(FlaskForm):
    base_url = StringField(_l("Address in certificate QR codes"))


class StatusListForm(FlaskForm):
    """A workshop laptop's revocation list, brought to the permanent site."""

    list_file = FileField(
        _l("Revocation list of a workshop laptop (.jwt)"),
        render_kw={"accept": ".jwt,application/vc+jwt"},
    )
