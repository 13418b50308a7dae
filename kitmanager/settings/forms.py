from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired


class BadgeAddressForm(FlaskForm):
    base_url = StringField(_l("Address in badge QR codes"), validators=[DataRequired()])
