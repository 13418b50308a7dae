"""Forms of the kit pages: a kit type and its bill of materials, adding kits, a kit's record."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from kitmanager.kits.services import MAX_BULK, MAX_QUANTITY, ComponentLine, field_limit
from kitmanager.models import KitComponent, KitType
from kitmanager.text import form_filter, form_length

# Blank lines shown under a bill of materials, and added by "More lines".
BLANK_LINES = 3


# Every text field is cleaned as the services store it (no control or bidirectional control
# characters) before its length and presence are checked.
ONE_LINE = [form_filter()]
MULTI_LINE = [form_filter(multiline=True)]


class ComponentForm(Form):
    """One line of a bill of materials; a line with no name is left out (how a line is
    removed)."""

    name = StringField(
        _l("Component"),
        validators=[Optional(), form_length(KitComponent.__table__.c.name)],
        filters=ONE_LINE,
    )
    quantity = IntegerField(
        _l("Quantity"),
        default=1,
        validators=[Optional(), NumberRange(min=1, max=MAX_QUANTITY)],
    )
    must_return = BooleanField(_l("Must come back"), default=True)


class KitTypeForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), form_length(KitType.__table__.c.name)],
        filters=ONE_LINE,
    )
    description = TextAreaField(
        _l("Description"),
        validators=[Optional(), form_length(KitType.__table__.c.description)],
        filters=MULTI_LINE,
    )
    components = FieldList(FormField(ComponentForm), min_entries=1)

    def validate_components(self, field: FieldList) -> None:
        """A named line needs a quantity; the same component twice is an error on the second."""
        seen: set[str] = set()
        for line in field:
            name = " ".join((line.form.name.data or "").split())
            if not name:
                continue
            if line.form.quantity.data is None and not line.form.quantity.errors:
                line.form.quantity.errors = [_l("How many are in each kit?")]
            if name.casefold() in seen:
                line.form.name.errors = [
                    *line.form.name.errors,
                    _l("This component is listed twice."),
                ]
            seen.add(name.casefold())

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # Errors put on a line's fields by validate_components count too.
        return valid and not any(
            line.form.name.errors or line.form.quantity.errors for line in self.components
        )

    def lines(self) -> list[ComponentLine]:
        """The bill of materials as the services take it (lines without a name left out)."""
        return [
            ComponentLine(
                line.form.name.data.strip(),
                line.form.quantity.data or 1,
                bool(line.form.must_return.data),
            )
            for line in self.components
            if (line.form.name.data or "").strip()
        ]

    def add_blank_lines(self, count: int = BLANK_LINES) -> None:
        for _ in range(count):
            self.components.append_entry({"name": "", "quantity": None, "must_return": True})


def _type_choice() -> SelectField:
    return SelectField(_l("Kit type"), coerce=int, validators=[DataRequired()])


class AddKitsForm(FlaskForm):
    """Many kits of one type at once, numbered on from the highest code."""

    kit_type = _type_choice()
    count = IntegerField(
        _l("How many kits"), validators=[DataRequired(), NumberRange(min=1, max=MAX_BULK)]
    )
    # The highest kit number when the page was made: the same form sent twice adds nothing.
    after = HiddenField(validators=[Optional(), Regexp(r"^\d{1,9}$")])


class AddKitForm(FlaskForm):
    """One kit with the code already printed on its box."""

    kit_type = _type_choice()
    code = StringField(
        _l("Kit code"),
        validators=[DataRequired(), Length(max=field_limit("code"))],
        filters=ONE_LINE,
    )


class KitForm(FlaskForm):
    """A kit's notes and its board as a trainer reads it by hand."""

    notes = TextAreaField(
        _l("Notes"), validators=[Optional(), Length(max=field_limit("notes"))], filters=MULTI_LINE
    )
    board_family = StringField(
        _l("Board family"),
        validators=[Optional(), Length(max=field_limit("board_family"))],
        filters=ONE_LINE,
    )
    board_serial = StringField(
        _l("USB serial number"),
        validators=[Optional(), Length(max=field_limit("board_serial"))],
        filters=ONE_LINE,
    )
    board_fingerprint = StringField(
        _l("Board fingerprint"),
        validators=[Optional(), Length(max=field_limit("board_fingerprint"))],
        filters=ONE_LINE,
    )
    firmware_name = StringField(
        _l("Firmware name"),
        validators=[Optional(), Length(max=field_limit("firmware_name"))],
        filters=ONE_LINE,
    )
    firmware_version = StringField(
        _l("Firmware version"),
        validators=[Optional(), Length(max=field_limit("firmware_version"))],
        filters=ONE_LINE,
    )
