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

from kitmanager.models import Workshop, WorkshopSession
from kitmanager.text import form_filter, form_length
from kitmanager.workshops.services import MAX_CAPACITY

_WORKSHOP = Workshop.__table__.c
_SESSION = WorkshopSession.__table__.c
_PAIR_WINDOW = _WORKSHOP.pair_window_seconds
# Text is cleaned as people's names are (no control or bidirectional control characters)
# before its length and presence are checked.
_ONE_LINE = [form_filter()]
# Workshop notes are a Text column without a limit of their own in the model.
_NOTES_MAX = 5000

LANGUAGE_CHOICES = [SelectChoice("en", "English"), SelectChoice("fr", "Français")]


class WorkshopForm(FlaskForm):
    title = StringField(
        _l("Title"),
        validators=[DataRequired(), form_length(_WORKSHOP.title)],
        filters=_ONE_LINE,
    )
    slug = StringField(
        _l("Short name in links"),
        validators=[
            Optional(),
            Regexp(r"^[a-z0-9][a-z0-9-]*$", message=_l("Lowercase letters, digits and dashes.")),
            form_length(_WORKSHOP.slug),
        ],
    )
    badge_title = StringField(
        _l("Short name for badges"),
        validators=[Optional(), form_length(_WORKSHOP.badge_title)],
        filters=_ONE_LINE,
    )
    venue = StringField(
        _l("Venue"), validators=[Optional(), form_length(_WORKSHOP.venue)], filters=_ONE_LINE
    )
    starts_on = DateField(_l("First day"), validators=[DataRequired()])
    ends_on = DateField(_l("Last day"), validators=[Optional()])
    language = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)
    timezone = StringField(
        _l("Time zone"),
        validators=[Optional(), form_length(_WORKSHOP.timezone)],
        filters=_ONE_LINE,
    )
    capacity = IntegerField(
        _l("Capacity"), validators=[Optional(), NumberRange(min=1, max=MAX_CAPACITY)]
    )
    notes = TextAreaField(
        _l("Notes"),
        validators=[Optional(), Length(max=_NOTES_MAX)],
        filters=[form_filter(multiline=True)],
    )
    pair_window_seconds = IntegerField(
        _l("Seconds a kit scanned alone waits for a badge"),
        default=_PAIR_WINDOW.default.arg,
        validators=[
            Optional(),
            NumberRange(min=_PAIR_WINDOW.info["min"], max=_PAIR_WINDOW.info["max"]),
        ],
    )


class SessionForm(FlaskForm):
    title = StringField(
        _l("Title"), validators=[DataRequired(), form_length(_SESSION.title)], filters=_ONE_LINE
    )
    starts = DateTimeLocalField(_l("Starts"), format="%Y-%m-%dT%H:%M", validators=[DataRequired()])
    ends = DateTimeLocalField(_l("Ends"), format="%Y-%m-%dT%H:%M", validators=[DataRequired()])
    room = StringField(
        _l("Room"), validators=[Optional(), form_length(_SESSION.room)], filters=_ONE_LINE
    )


class ConfirmForm(FlaskForm):
    """An empty form: a POST button with its CSRF token."""
