from __future__ import annotations

import dataclasses
from types import SimpleNamespace

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, Field, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Optional, ValidationError

from kitmanager.models import ParticipantRole
from kitmanager.participants.fields import (
    FIELD_LABELS,
    FIELD_NAMES,
    ParticipantFields,
    text_problem,
)

ROLE_CHOICES = [SelectChoice(role.value, role.choice_label) for role in ParticipantRole]
CONSENT_CHOICES = [
    SelectChoice("", _l("Not asked")),
    SelectChoice("yes", _l("Yes")),
    SelectChoice("no", _l("No")),
]
_CONSENT = {"yes": True, "no": False}


def _storable(_form: FlaskForm, field: Field) -> None:
    """The text can be stored: no broken character, within its column's limit."""
    problem = text_problem(field.name, field.data)
    if problem is not None:
        raise ValidationError(problem)


def _text(name: str, *, required: bool = False, area: bool = False) -> Field:
    kind = TextAreaField if area else StringField
    first = DataRequired() if required else Optional()
    return kind(FIELD_LABELS[name], validators=[first, _storable])


class ParticipantForm(FlaskForm):
    """The participant's fields a trainer edits; a field the request leaves out keeps the
    value the form was made with (``obj``), and fields the form lacks are never touched."""

    full_name = _text("full_name", required=True)
    badge_name = _text("badge_name")
    email = _text("email")
    organisation = _text("organisation")
    role = SelectField(FIELD_LABELS["role"], choices=ROLE_CHOICES, default="participant")
    team = _text("team")
    guardian_contact = _text("guardian_contact")
    photo_consent = SelectField(FIELD_LABELS["photo_consent"], choices=CONSENT_CHOICES, default="")
    notes = _text("notes", area=True)

    @classmethod
    def showing(cls, fields: ParticipantFields) -> ParticipantForm:
        """The form filled with ``fields``, or with what the request sent where it sent it."""
        consent = {True: "yes", False: "no"}.get(fields.photo_consent, "")  # type: ignore[arg-type]
        values = {**vars(fields), "team": fields.team or "", "photo_consent": consent}
        return cls(obj=SimpleNamespace(**values))

    def to_fields(self, base: ParticipantFields) -> ParticipantFields:
        """``base`` with the fields this form has replaced by the form's values."""
        values = {name: self[name].data for name in FIELD_NAMES if name in self}
        values["photo_consent"] = _CONSENT.get(values["photo_consent"] or "")
        return dataclasses.replace(base, **values)


class UploadForm(FlaskForm):
    file = FileField(
        _l("CSV file or Excel workbook"),
        validators=[
            FileRequired(_l("Choose a CSV file or an Excel workbook.")),
            # .xls passes here so the reader can say how to convert it.
            FileAllowed(
                ["csv", "txt", "tsv", "xlsx", "xls"],
                _l("Upload a .csv, .tsv, .txt or .xlsx file."),
            ),
        ],
    )


class ImportOptionsForm(FlaskForm):
    on_duplicate = RadioField(
        _l("When someone is already registered"),
        choices=[
            SelectChoice("skip", _l("Skip them")),
            SelectChoice("update", _l("Update them from the file")),
        ],
        default="skip",
    )
    only_valid = BooleanField(_l("Import only the valid rows"))


class ConfirmDeleteForm(FlaskForm):
    """A POST button with its CSRF token."""
