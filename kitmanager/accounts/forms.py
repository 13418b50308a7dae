from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from kitmanager.models import ApiToken, Role, User
from kitmanager.text import form_filter, form_length


def _role_field() -> SelectField:
    # The template shows each role's label; the values are the Role enum's.
    return SelectField(_l("Role"), choices=[SelectChoice(r.value, r.value) for r in Role])


class UserForm(FlaskForm):
    username = StringField(
        _l("User name"),
        filters=[form_filter()],
        validators=[DataRequired(), form_length(User.__table__.c.username)],
    )
    display_name = StringField(
        _l("Name shown in the app"),
        filters=[form_filter()],
        validators=[Optional(), form_length(User.__table__.c.display_name)],
    )
    role = _role_field()
    password = PasswordField(
        _l("Password (leave empty to generate one)"), validators=[Optional(), Length(max=200)]
    )


class TokenForm(FlaskForm):
    name = StringField(
        _l("Token name"),
        filters=[form_filter()],
        validators=[DataRequired(), form_length(ApiToken.__table__.c.name)],
    )
    role = _role_field()


class RoleForm(FlaskForm):
    role = _role_field()


class ConfirmForm(FlaskForm):
    """An empty form: a POST button with its CSRF token."""
