from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

ROLE_CHOICES = [
    SelectChoice("participant", _l("Participant")),
    SelectChoice("trainer", _l("Trainer")),
    SelectChoice("mentor", _l("Mentor")),
    SelectChoice("guest", _l("Guest")),
]
CONSENT_CHOICES = [
    SelectChoice("", _l("Not asked")),
    SelectChoice("yes", _l("Yes")),
    SelectChoice("no", _l("No")),
]


class ParticipantForm(FlaskForm):
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    badge_name = StringField(_l("Name on badge"), validators=[Optional(), Length(max=60)])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254)])
    organisation = StringField(
        _l("Organisation or school"), validators=[Optional(), Length(max=200)]
    )
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default="participant")
    team = StringField(_l("Team"), validators=[Optional(), Length(max=100)])
    guardian_contact = StringField(
        _l("Parent or guardian contact"), validators=[Optional(), Length(max=200)]
    )
    photo_consent = SelectField(_l("Photo consent"), choices=CONSENT_CHOICES, default="")
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=2000)])


class UploadForm(FlaskForm):
    file = FileField(
        _l("CSV file"),
        validators=[
            FileRequired(_l("Choose a CSV file.")),
            FileAllowed(["csv", "txt", "tsv"], _l("Upload a .csv, .tsv or .txt file.")),
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
