from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DateTimeLocalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from kitmanager.models import Workshop
from kitmanager.workshops.services import BADGE_TITLE_MAX, MAX_CAPACITY

_PAIR_WINDOW = Workshop.__table__.c.pair_window_seconds

LANGUAGE_CHOICES = [SelectChoice("en", "English"), SelectChoice("fr", "Français")]


class WorkshopForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    slug = StringField(
        _l("Short name in links"),
        validators=[
            Optional(),
            Regexp(r"^[a-z0-9][a-z0-9-]*$", message=_l("Lowercase letters, digits and dashes.")),
            Length(max=60),
        ],
    )
    badge_title = StringField(
        _l("Short name for badges"), validators=[Optional(), Length(max=BADGE_TITLE_MAX)]
    )
    venue = StringField(_l("Venue"), validators=[Optional(), Length(max=200)])
    starts_on = DateField(_l("First day"), validators=[DataRequired()])
    ends_on = DateField(_l("Last day"), validators=[Optional()])
    language = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)
    timezone = StringField(_l("Time zone"), validators=[Optional(), Length(max=64)])
    capacity = IntegerField(
        _l("Capacity"), validators=[Optional(), NumberRange(min=1, max=MAX_CAPACITY)]
    )
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])
    pair_window_seconds = IntegerField(
        _l("Seconds a kit scanned alone waits for a badge"),
        default=_PAIR_WINDOW.default.arg,
        validators=[
            Optional(),
            NumberRange(min=_PAIR_WINDOW.info["min"], max=_PAIR_WINDOW.info["max"]),
        ],
    )


class SessionForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    starts = DateTimeLocalField(_l("Starts"), format="%Y-%m-%dT%H:%M", validators=[DataRequired()])
    ends = DateTimeLocalField(_l("Ends"), format="%Y-%m-%dT%H:%M", validators=[DataRequired()])
    room = StringField(_l("Room"), validators=[Optional(), Length(max=100)])


class ConfirmForm(FlaskForm):
    """An empty form: a POST button with its CSRF token."""
