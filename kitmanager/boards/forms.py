from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import MultipleFileField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Optional, ValidationError

from firmware_tools.drivers import families
from kitmanager.models import BoardPort, Firmware
from kitmanager.text import form_filter, form_length


def _families() -> list[tuple[str, str]]:
    return [(family, family) for family in families()]


class AddPortForm(FlaskForm):
    device = StringField(
        _l("Port"),
        validators=[DataRequired(), form_length(BoardPort.__table__.c.device)],
    )
    family = SelectField(_l("Board family"), choices=_families)


class FirmwareForm(FlaskForm):
    # Cleaned as the library stores them (no control or bidirectional control characters)
    # before their length and presence are checked.
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), form_length(Firmware.__table__.c.name)],
        filters=[form_filter()],
    )
    version = StringField(
        _l("Version"),
        validators=[DataRequired(), form_length(Firmware.__table__.c.version)],
        filters=[form_filter()],
    )
    family = SelectField(_l("Board family"), choices=[], validate_choice=False)
    files = MultipleFileField(_l("Firmware file, folder files or ZIP"))
    address = StringField(_l("Address of a .bin file"), validators=[Optional()])
    notes = TextAreaField(
        _l("Notes"),
        validators=[Optional(), form_length(Firmware.__table__.c.notes)],
        filters=[form_filter(multiline=True)],
    )

    def validate_address(self, field: StringField) -> None:
        try:
            int(field.data, 0)
        except (TypeError, ValueError):
            raise ValidationError(_l("Write the address as a number, e.g. 0x10000.")) from None

    def address_value(self) -> int | None:
        return int(self.address.data, 0) if self.address.data else None
