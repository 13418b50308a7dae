from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from kitmanager.models import ApiToken, Role, User


def _max(column) -> Length:
    return Length(max=column.type.length)


def _role_field() -> SelectField:
    # Labels come from the templates' role_label; the values are the Role enum's.
    return SelectField(_l("Role"), choices=[SelectChoice(r.value, r.value) for r in Role])


class UserForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), _max(User.username)])
    display_name = StringField(
        _l("Name shown in the app"), validators=[Optional(), _max(User.display_name)]
    )
    role = _role_field()
    password = PasswordField(
        _l("Password (leave empty to generate one)"), validators=[Optional(), Length(max=200)]
    )


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), _max(ApiToken.name)])
    role = _role_field()


class RoleForm(FlaskForm):
    role = _role_field()


class ConfirmForm(FlaskForm):
    """An empty form: a POST button with its CSRF token."""
