"""A participant's fields: the one list of them, their limits, and how they are copied.

Everything that reads or writes a participant's fields (the web form, the CSV import and
export, the JSON API, the command line) goes through :class:`ParticipantFields`, so a field
added here reaches all of them, and a limit is read from the model's column, never copied.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, Text

from kitmanager.models import Participant, ParticipantRole, Team
from kitmanager.text import UnreadableText, clean_text

__all__ = [
    "FIELD_LABELS",
    "FIELD_NAMES",
    "MULTILINE_FIELDS",
    "ROLES",
    "TEXT_FIELDS",
    "FieldProblem",
    "ParticipantFields",
    "clean_field",
    "fields_of",
    "max_length",
    "participant_values",
    "text_problem",
    "too_long",
    "unreadable_message",
]


@dataclass
class ParticipantFields:
    """What a person can be registered with; ``team`` is the team's name."""

    full_name: str
    badge_name: str = ""
    email: str | None = None
    organisation: str = ""
    role: str = ParticipantRole.PARTICIPANT.value
    team: str | None = None
    guardian_contact: str = ""
    photo_consent: bool | None = None
    notes: str = ""
    external_id: str | None = None

    @classmethod
    def from_row(cls, row: ParticipantFields) -> ParticipantFields:
        """Only the fields of ``row`` (an import row also has its line number)."""
        return cls(**{name: getattr(row, name) for name in FIELD_NAMES})


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ParticipantFields))
ROLES: tuple[str, ...] = tuple(role.value for role in ParticipantRole)
# The fields holding free text, each with a length limit.
TEXT_FIELDS: tuple[str, ...] = tuple(
    name for name in FIELD_NAMES if name not in ("role", "photo_consent")
)


# What the pages call each field (form labels, messages, the import's column choices).
FIELD_LABELS = {
    "full_name": _l("Full name"),
    "badge_name": _l("Name on badge"),
    "email": _l("Email"),
    "organisation": _l("Organisation or school"),
    "role": _l("Role"),
    "team": _l("Team"),
    "guardian_contact": _l("Parent or guardian contact"),
    "photo_consent": _l("Photo consent"),
    "notes": _l("Notes"),
    "external_id": _l("Sign-up id"),
}


def _column(field: str) -> Column:
    return Team.__table__.c.name if field == "team" else Participant.__table__.c[field]


# A ``Text`` column holds several lines; a ``String`` one is a single line (names, ids).
MULTILINE_FIELDS = frozenset(name for name in TEXT_FIELDS if isinstance(_column(name).type, Text))


def max_length(field: str) -> int:
    """The most characters ``field`` holds: its column's length, or for a ``Text`` column the
    app's limit in the column's ``info``."""
    column = _column(field)
    return getattr(column.type, "length", None) or column.info["max_length"]


# One whole sentence per field, so a translation can agree with the field's gender and number.
_TOO_LONG = {
    "full_name": _l("The name is %(length)s characters long; the limit is %(limit)s. Shorten it."),
    "badge_name": _l(
        "The badge name is %(length)s characters long; the limit is %(limit)s. Shorten it."
    ),
    "organisation": _l(
        "The organisation is %(length)s characters long; the limit is %(limit)s. Shorten it."
    ),
    "team": _l("The team is %(length)s characters long; the limit is %(limit)s. Shorten it."),
    "guardian_contact": _l(
        "The guardian contact is %(length)s characters long; the limit is %(limit)s. Shorten it."
    ),
    "notes": _l("The notes are %(length)s characters long; the limit is %(limit)s. Shorten them."),
    "external_id": _l("The id is %(length)s characters long; the limit is %(limit)s. Shorten it."),
    "email": _l("The email is %(length)s characters long; the limit is %(limit)s. Shorten it."),
}
_UNREADABLE = _l(
    "This text contains a broken character (half of an emoji or of a rare letter). "
    "Type it again or remove it."
)


def unreadable_message() -> str:
    """The message for text with a lone surrogate, in the reader's language."""
    return str(_UNREADABLE)


def too_long(field: str, cleaned: str) -> str | None:
    """The message for a cleaned ``field`` value over its limit; ``None`` when it fits."""
    limit = max_length(field)
    if len(cleaned) <= limit:
        return None
    return str(_TOO_LONG[field]) % {"length": len(cleaned), "limit": limit}


class FieldProblem(ValueError):
    """A value that cannot be stored in its field; ``str(error)`` says why, translated."""


def clean_field(field: str, value: str | None) -> str:
    """``value`` cleaned for ``field`` (see :func:`kitmanager.text.clean_text`).

    :raise FieldProblem: it holds a broken character, or is too long once cleaned.
    """
    try:
        cleaned = clean_text(value, multiline=field in MULTILINE_FIELDS)
    except UnreadableText:
        raise FieldProblem(unreadable_message()) from None
    problem = too_long(field, cleaned)
    if problem is not None:
        raise FieldProblem(problem)
    return cleaned


def text_problem(field: str, value: str | None) -> str | None:
    """What :func:`clean_field` would refuse in ``value``, or ``None`` when it can be stored."""
    try:
        clean_field(field, value)
    except FieldProblem as problem:
        return str(problem)
    return None


def fields_of(participant: Participant) -> ParticipantFields:
    """The participant's current fields, as a form or an export shows them."""
    values = {name: getattr(participant, name) for name in FIELD_NAMES if name != "team"}
    return ParticipantFields(**values, team=participant.team.name if participant.team else None)


def participant_values(fields: ParticipantFields) -> dict[str, object]:
    """The participant columns ``fields`` sets (all but the team, which needs a lookup)."""
    return {name: getattr(fields, name) for name in FIELD_NAMES if name != "team"}
