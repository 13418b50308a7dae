"""What the pages of every feature share: a request's unit of work, the workshop of a URL,
signing a browser in and out, and the kiosk a browser may be.

This is the one module that reads the browser's session for them (the login's nonce, the
kiosk): services take plain values, and no feature imports another feature's views.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, flash, session
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import login_user, logout_user
from werkzeug.exceptions import HTTPException

from kitmanager.auth.services import end_login_session, start_login_session
from kitmanager.models import User, Workshop
from kitmanager.unit_of_work import UserError, Work, unit_of_work
from kitmanager.workshops.services import get_workshop

__all__ = [
    "WORKSHOP_PATH",
    "KioskScope",
    "api_unit_of_work",
    "end_kiosk",
    "keep_kiosk_scope",
    "kiosk",
    "kiosk_scope",
    "load_workshop",
    "login_nonce",
    "page_unit_of_work",
    "refusal_message",
    "row_id",
    "sign_in",
    "sign_out",
    "small_count",
    "start_kiosk",
    "workshop_route",
]

# Where a workshop's pages live; the slug names the workshop (:func:`load_workshop`).
WORKSHOP_PATH = "/workshops/<slug>"

# Keys of the signed session cookie this module keeps.
_LOGIN_NONCE = "login_nonce"
_KIOSK = "kiosk"


def workshop_route(rest: str = "") -> str:
    """A Flask rule under a workshop's path: ``workshop_route("/badges")`` is
    ``/workshops/<slug>/badges``; the view takes ``slug``."""
    return f"{WORKSHOP_PATH}{rest}"


# ---- refusals the JSON API sends -----------------------------------------------------------

# What the API says, in the caller's language, when a refusal carries no message of its own
# (werkzeug's default sentences are English).
_PLAIN_REFUSALS = {
    403: _l("Your account's role does not allow this. Ask an organiser."),
    404: _l("Not found"),
    413: _l("The file is larger than 20 MB. Send a smaller file."),
    429: _l("Too many requests"),
}


def refusal_message(exc: HTTPException) -> str:
    """The message of an HTTP refusal for a JSON answer: its own, or the code's plain one."""
    message = exc.description
    if not message or message == type(exc).description:
        message = _PLAIN_REFUSALS.get(exc.code or 500, exc.name)
    return str(message)


# ---- numbers a browser sends ---------------------------------------------------------------

# The largest id both databases hold in an INTEGER column (PostgreSQL's is 32 bits).
_LARGEST_ID = 2**31 - 1


def row_id(text: object) -> int | None:
    """A row id a form, a query string or a JSON body gives: plain digits 0-9 (not "²" or
    "٣", which ``str.isdigit`` accepts and ``int`` may refuse) naming an id a table can hold;
    anything else None, for the caller to refuse."""
    value = str(text) if isinstance(text, (str, int)) and not isinstance(text, bool) else ""
    if not (value.isascii() and value.isdigit() and len(value) <= 10):
        return None
    number = int(value)
    return number if 0 < number <= _LARGEST_ID else None


def small_count(text: str, most: int) -> int | None:
    """A count typed in a form: plain digits 0-9 up to ``most``; anything else None."""
    value = text.strip()
    if not (value.isascii() and value.isdigit() and len(value) <= len(str(most))):
        return None
    number = int(value)
    return number if number <= most else None


# ---- the unit of work of a request ---------------------------------------------------------


def page_unit_of_work(category: str = "error") -> AbstractContextManager[Work]:
    """:func:`~kitmanager.unit_of_work.unit_of_work` for a page: a refusal
    (:class:`~kitmanager.unit_of_work.UserError`) is rolled back and flashed in ``category``;
    the page goes on, and ``work.committed`` is False."""

    def refused(refusal: UserError) -> None:
        flash(str(refusal), category)

    return unit_of_work(refused)


def api_unit_of_work(status: int = 422) -> AbstractContextManager[Work]:
    """:func:`~kitmanager.unit_of_work.unit_of_work` for the JSON API: a refusal is rolled
    back and answered ``status`` with ``{"error": message}``."""

    def refused(refusal: UserError) -> None:
        abort(status, description=str(refusal))

    return unit_of_work(refused)


# ---- the workshop of a URL -----------------------------------------------------------------


def load_workshop(slug: str) -> Workshop:
    """The workshop of this URL; 404 if unknown. (The page's language is the reader's.)"""
    workshop = get_workshop(slug)
    if workshop is None:
        abort(404)
    return workshop


# ---- signing in and out --------------------------------------------------------------------


def login_nonce() -> str | None:
    """The nonce of this browser's login, kept in its signed session cookie."""
    return session.get(_LOGIN_NONCE)


def sign_in(user: User) -> None:
    """Start a browser login for ``user``: a login row, committed (so call it outside a unit of
    work), and a fresh session cookie that carries its nonce."""
    with unit_of_work():
        nonce = start_login_session(user)
    session.clear()
    session.permanent = True
    session[_LOGIN_NONCE] = nonce
    login_user(user)


def sign_out() -> None:
    """End this browser's login for good (its cookie, even copied, no longer logs in; committed
    at once); the pages that follow stay in the language the person was using."""
    language = str(get_locale() or "")
    with unit_of_work():
        end_login_session(login_nonce())
    logout_user()
    session.clear()
    if language in current_app.config["LANGUAGES"]:
        session["language"] = language


# ---- the kiosk -----------------------------------------------------------------------------


@dataclass(frozen=True)
class KioskScope:
    """What a kiosk scans for: the workshop and the chosen session (None: the session running
    at each scan), as the server kept them when kiosk mode started."""

    workshop_id: int | None
    session_id: int | None


def kiosk() -> dict[str, Any] | None:
    """This browser's kiosk, None when it is no kiosk: ``pin`` (the PIN's proof), ``nonce``,
    ``url`` (the station page it stays on), ``workshop`` and ``session`` (its scope)."""
    return session.get(_KIOSK) or None


def start_kiosk(
    pin_proof: str, nonce: str, url: str, workshop_id: int | None, session_id: int | None
) -> None:
    """Make this browser a kiosk on the station page ``url``, scanning for that scope."""
    session[_KIOSK] = {
        "pin": pin_proof,
        "nonce": nonce,
        "url": url,
        "workshop": workshop_id,
        "session": session_id,
    }


def keep_kiosk_scope(workshop_id: int | None, session_id: int | None) -> None:
    """Keep the scope of a kiosk started before the server kept it."""
    record = session[_KIOSK]
    record.update(workshop=workshop_id, session=session_id)
    session.modified = True


def end_kiosk() -> None:
    session.pop(_KIOSK, None)


def kiosk_scope() -> KioskScope | None:
    """The workshop and session this browser's kiosk scans for; None when it is no kiosk."""
    record = kiosk()
    if record is None:
        return None
    return KioskScope(record.get("workshop"), record.get("session"))
