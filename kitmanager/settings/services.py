"""Stored settings (table ``app_setting``). Services take an explicit actor, flush, never commit."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask_babel import gettext

from kitmanager.audit import Actor, record_event
from kitmanager.extensions import db
from kitmanager.models import AppSetting, utcnow
from kitmanager.unit_of_work import UserError

__all__ = [
    "BADGE_BASE_URL",
    "CERTIFICATE_BASE_URL",
    "SettingError",
    "check_base_url",
    "get_setting",
    "set_badge_base_url",
    "set_certificate_base_url",
    "set_setting",
    "stored_base_url",
]

BADGE_BASE_URL = "badge_base_url"
# The organiser's permanent site, in certificate QR codes ("" or unset: the badge address).
CERTIFICATE_BASE_URL = "certificate_base_url"
_URL_LIMIT = 200  # a QR code of a longer badge URL no longer fits the small labels


class SettingError(UserError):
    """A setting value the user can fix; the message says how."""


def get_setting(key: str) -> str | None:
    """The stored value of ``key``, or None when it was never set."""
    row = db.session.get(AppSetting, key)
    return row.value if row is not None else None


def set_setting(actor: Actor, key: str, value: str) -> bool:
    """Store ``value`` under ``key`` with an audit row; False when it was already that."""
    row = db.session.get(AppSetting, key)
    old = row.value if row is not None else None
    if old == value:
        return False
    if row is None:
        row = AppSetting(key=key, value=value)
        db.session.add(row)
    row.value = value
    row.updated_at = utcnow()
    row.updated_by = actor.name[:120]
    record_event(actor, "setting.changed", "app_setting", None, key=key, old=old, new=value)
    db.session.flush()
    return True


def check_base_url(value: str) -> str:
    """``value`` as a badge address (http or https, a host, no query), without a final slash.

    :raise SettingError: with a message that says what a valid address looks like.
    """
    text = (value or "").strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.hostname in ("0.0.0.0", "::")  # noqa: S104 - "listen everywhere", not a place
        or parts.query
        or parts.fragment
        or parts.username is not None
        or any(ch.isspace() for ch in text)
        or len(text) > _URL_LIMIT
    ):
        raise SettingError(
            gettext(
                "'%(value)s' is not a web address for badges: write it like "
                "http://10.42.0.1:5000 (http:// or https://, the laptop's address, the port).",
                value=text[:_URL_LIMIT],
            )
        )
    del port  # parsed only to refuse a port that is not a number
    return text.rstrip("/")


def stored_base_url() -> str | None:
    """The badge address stored in the app, or None."""
    return get_setting(BADGE_BASE_URL)


def set_badge_base_url(actor: Actor, value: str) -> bool:
    """Validate and store the badge address; False when it was already that.

    :raise SettingError: not an http(s) address.
    """
    return set_setting(actor, BADGE_BASE_URL, check_base_url(value))


def set_certificate_base_url(actor: Actor, value: str) -> bool:
    """Store the public address certificate QR codes open ("" = the badge address).

    :raise SettingError: not an http(s) address.
    """
    text = (value or "").strip()
    return set_setting(actor, CERTIFICATE_BASE_URL, check_base_url(text) if text else "")
