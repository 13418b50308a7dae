"""Accounts, passwords, login throttling and API tokens.

Services flush but never commit: the view or CLI command that calls them commits once.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext
from sqlalchemy import bindparam, case, delete, exists, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased
from werkzeug.security import check_password_hash, generate_password_hash

from kitmanager.audit import Actor, record_event
from kitmanager.database import HotStatement
from kitmanager.extensions import db
from kitmanager.models import (
    ApiToken,
    LoginSession,
    LoginThrottle,
    OneTimeLogin,
    Role,
    User,
    utcnow,
)
from kitmanager.text import safe_text
from kitmanager.unit_of_work import UserError

log = logging.getLogger(__name__)

__all__ = [
    "AuthError",
    "LoginThrottled",
    "TokenPrincipal",
    "authenticate",
    "create_phone_login",
    "create_token",
    "create_user",
    "end_login_session",
    "ensure_first_organiser",
    "find_user",
    "generate_password",
    "list_tokens",
    "list_users",
    "load_session_user",
    "load_token_principal",
    "pending_phone_login",
    "redeem_phone_login",
    "reset_password",
    "revoke_token",
    "set_password",
    "set_user_active",
    "set_user_role",
    "start_login_session",
]

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,79}$")
MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "km_"  # noqa: S105 - a prefix, not a secret
# A wrong password costs the same time as a right one, even for unknown names.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class AuthError(UserError):
    """An account or token request the user can fix; the message says how."""


class LoginThrottled(AuthError):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def generate_password() -> str:
    """Four groups of random letters and digits: easy to read aloud, 80+ bits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))


def _check_username(username: str) -> str:
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise AuthError(
            gettext(
                "'%(username)s' is not a valid user name: use 2-80 letters, digits, dots, "
                "dashes or underscores, starting with a letter or digit.",
                username=username,
            )
        )
    return username


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(
            gettext(
                "The password is too short: use at least %(min)s characters.",
                min=MIN_PASSWORD_LENGTH,
            )
        )


def _role(value: str | Role) -> Role:
    try:
        return Role(value)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise AuthError(
            gettext(
                "Unknown role '%(role)s': choose one of %(choices)s.", role=value, choices=names
            )
        ) from None


def create_user(
    actor: Actor,
    username: str,
    role: str | Role,
    password: str,
    *,
    display_name: str = "",
    language: str | None = None,
) -> User:
    """Create an account. :raise AuthError: bad name, role or password, or name taken."""
    username = _check_username(username)
    role = _role(role)
    _check_password(password)
    taken = db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower()))
    if taken is not None:
        raise AuthError(
            gettext(
                "A user named '%(username)s' already exists: choose another name.",
                username=username,
            )
        )
    user = User(
        username=username,
        display_name=display_name or username,
        role=role.value,
        password_hash=generate_password_hash(password),
        language=language,
    )
    db.session.add(user)
    db.session.flush()
    record_event(actor, "user.created", "user", user.id, username=username, role=role.value)
    return user


def find_user(username: str) -> User | None:
    return db.session.scalar(
        select(User).where(func.lower(User.username) == username.strip().lower())
    )


def set_password(actor: Actor, user: User, password: str) -> None:
    """Replace a password; every existing session of that account ends."""
    _check_password(password)
    user.password_hash = generate_password_hash(password)
    user.session_version += 1
    # A new password lifts the waits on this name, at every address.
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.username == user.username.lower()))
    record_event(actor, "user.password_changed", "user", user.id)
    db.session.flush()


def reset_password(actor: Actor, username: str) -> str:
    """Give the user a new generated password and return it (shown once)."""
    user = find_user(username)
    if user is None:
        raise no_such_user(username)
    password = generate_password()
    set_password(actor, user, password)
    return password


def no_such_user(username: str) -> AuthError:
    return AuthError(
        gettext(
            "No user named '%(username)s'. `kitmanager users list` shows them.",
            username=username,
        )
    )


def list_users() -> list[User]:
    """Every account, by user name."""
    return list(db.session.scalars(select(User).order_by(func.lower(User.username))))


def _change_keeping_an_organiser(user: User, **values: object) -> None:
    """Apply ``values`` to ``user`` unless that leaves no active organiser.

    The check and the change are one UPDATE, so two organisers demoting each other at the
    same moment cannot both succeed (SQLite runs writes one at a time).

    :raise AuthError: ``user`` is the last active organiser and would stop being one.
    """
    role = Role(values.get("role", user.role))
    active = values.get("disabled_at", user.disabled_at) is None
    statement = update(User).where(User.id == user.id).values(**values)
    if (
        user.role_enum is Role.ORGANISER
        and user.is_active
        and not (role is Role.ORGANISER and active)
    ):
        other = aliased(User)
        statement = statement.where(
            exists().where(
                other.role == Role.ORGANISER.value,
                other.disabled_at.is_(None),
                other.id != user.id,
            )
        )
    result = db.session.execute(statement.execution_options(synchronize_session=False))
    if result.rowcount == 0:
        raise AuthError(
            gettext(
                "'%(username)s' is the only organiser left: make another account an organiser "
                "first, so someone can still manage accounts.",
                username=user.username,
            )
        )
    db.session.refresh(user)


def set_user_role(actor: Actor, user: User, role: str | Role) -> None:
    """Give ``user`` another role. :raise AuthError: unknown role, or the last organiser."""
    role = _role(role)
    if role is user.role_enum:
        return
    before = user.role
    _change_keeping_an_organiser(user, role=role.value)
    record_event(actor, "user.role_changed", "user", user.id, before=before, after=role.value)
    db.session.flush()


def set_user_active(actor: Actor, user: User, active: bool) -> None:
    """Disable an account (its sessions end at once and it cannot log in) or enable it again.

    :raise AuthError: disabling the last active organiser.
    """
    if active == user.is_active:
        return
    if active:
        _change_keeping_an_organiser(user, disabled_at=None)
    else:
        # A new session version: logins from before the account was disabled stay ended.
        _change_keeping_an_organiser(
            user, disabled_at=utcnow(), session_version=User.session_version + 1
        )
    record_event(actor, "user.enabled" if active else "user.disabled", "user", user.id)
    db.session.flush()


def ensure_first_organiser() -> tuple[User, str] | None:
    """With no organiser yet (a fresh install, or only other accounts made from the command
    line), create ``organiser`` with a generated password, returned once."""
    if db.session.scalar(select(func.count(User.id)).where(User.role == Role.ORGANISER.value)):
        return None
    if find_user("organiser") is not None:
        return None  # an account of that name with another role: leave it to the people
    from kitmanager.audit import cli_actor

    password = generate_password()
    user = create_user(cli_actor(), "organiser", Role.ORGANISER, password)
    return user, password


class _IpThrottle:
    """Failures per client address in a sliding window, in memory (one server process).

    A coarse guard against one address trying many names; it only ever slows that address.
    """

    def __init__(self, limit: int = 20, window: float = 600.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked_for(self, address: str) -> int:
        now = time.monotonic()
        with self._lock:
            times = self._failures.get(address)
            while times and now - times[0] > self.window:
                times.popleft()
            if times and len(times) >= self.limit:
                return int(self.window - (now - times[0])) + 1
        return 0

    def fail(self, address: str) -> None:
        with self._lock:
            self._failures.setdefault(address, deque()).append(time.monotonic())

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()


ip_throttle = _IpThrottle()

# The lock after too many failures doubles each time (1, 2, 4, 8, 16 x the base), up to this.
MAX_LOCK_SECONDS = 900
_LOCK_STEPS = 5
# Throttle rows of names nobody has tried for this long are forgotten.
THROTTLE_MEMORY = timedelta(days=1)


def _throttle_key(username: str, address: str) -> tuple[str, str]:
    name_column = LoginThrottle.__table__.c.username
    address_column = LoginThrottle.__table__.c.address
    return username.strip().lower()[: name_column.type.length], address[
        : address_column.type.length
    ]


def _upsert_insert():  # the dialect's INSERT with ON CONFLICT (SQLite and PostgreSQL alike)
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(LoginThrottle)


def _claim_attempt(username: str, address: str) -> int:
    """Count this login attempt before its password is checked; 0, or seconds to wait.

    One atomic statement per attempt (an upsert that only counts while the key is not locked),
    committed in its own short transaction before the slow password check: however many
    guesses arrive at once, at most ``LOGIN_MAX_FAILURES`` of them reach a password check
    before the lock, and no lock is needed around the checks. Call it before the request's
    session has written anything.
    """
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    base = current_app.config["LOGIN_LOCK_SECONDS"]
    now = utcnow()
    table = LoginThrottle.__table__
    locks = [
        now + timedelta(seconds=min(base * 2**step, MAX_LOCK_SECONDS))
        for step in range(_LOCK_STEPS)
    ]
    counted = table.c.failures + 1
    # The lock is set by the same statement that counts the attempt reaching the limit.
    lock_after = case(
        *((counted >= limit + step, locks[step]) for step in reversed(range(_LOCK_STEPS))),
        else_=None,
    )
    name, address = _throttle_key(username, address)
    statement = (
        _upsert_insert()
        .values(
            username=name,
            address=address,
            failures=1,
            locked_until=locks[0] if limit <= 1 else None,
            last_attempt_at=now,
        )
        .on_conflict_do_update(
            index_elements=[table.c.username, table.c.address],
            set_={"failures": counted, "locked_until": lock_after, "last_attempt_at": now},
            where=(table.c.failures < limit) | (table.c.locked_until <= now),
        )
        .returning(table.c.failures)
    )
    with db.engine.begin() as connection:
        if connection.execute(statement).first() is not None:
            connection.execute(delete(table).where(table.c.last_attempt_at < now - THROTTLE_MEMORY))
            return 0
        locked_until = connection.execute(
            select(table.c.locked_until).where(table.c.username == name, table.c.address == address)
        ).scalar()
    if locked_until is None:  # cleared by a success in between: wait the base time anyway
        return base
    return max(1, int((locked_until - now).total_seconds()) + 1)


def _throttled(seconds: int) -> LoginThrottled:
    # One message whatever was throttled (name or address), known name or not.
    return LoginThrottled(
        gettext("Too many failed logins. Try again in %(seconds)s s.", seconds=seconds), seconds
    )


def authenticate(username: str, password: str, address: str = "") -> User:
    """Check a login. Failures are counted per user name and address: after
    ``LOGIN_MAX_FAILURES`` that name waits at that address (longer each time), while the same
    person logs in from another device as usual. Unknown names are throttled the same way.

    :raise LoginThrottled: too many recent failures; ``retry_after`` seconds to wait.
    :raise AuthError: wrong name or password (one message for both).
    """
    wait = ip_throttle.blocked_for(address) or _claim_attempt(username, address)
    if wait:
        raise _throttled(wait)
    user = find_user(username)
    if user is None or not user.is_active:
        check_password_hash(_DUMMY_HASH, password)
        user = None
    elif not check_password_hash(user.password_hash, password):
        user = None
    if user is None:
        ip_throttle.fail(address)  # the attempt itself is already counted
        raise AuthError(gettext("Wrong user name or password."))
    name, address = _throttle_key(username, address)
    db.session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.username == name, LoginThrottle.address == address
        )
    )
    user.last_login_at = utcnow()
    db.session.flush()
    return user


def start_login_session(user: User) -> str:
    """Record a browser login; the returned nonce goes into the signed session cookie."""
    login = LoginSession(user_id=user.id)
    db.session.add(login)
    db.session.flush()
    return login.nonce


def end_login_session(nonce: str | None) -> None:
    """Log this browser out for good: its cookie, even copied elsewhere, no longer logs in."""
    if not nonce:
        return
    db.session.execute(
        update(LoginSession)
        .where(LoginSession.nonce == nonce, LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def load_session_user(session_id: str, nonce: str | None) -> User | None:
    """The account of a browser login: ``session_id`` is ``<id>:<session_version>`` (what
    Flask-Login keeps), ``nonce`` the login's nonce from the same session cookie; None when
    that login has ended.

    A password reset (new session_version) ends every session of the account; logging out ends
    that one login.
    """
    try:
        user_id, version = (int(part) for part in session_id.split(":", 1))
    except ValueError:
        return None
    user = db.session.get(User, user_id)
    if user is None or user.session_version != version or not user.is_active:
        return None
    live = db.session.scalar(
        select(LoginSession.id).where(
            LoginSession.nonce == (nonce or ""),
            LoginSession.user_id == user.id,
            LoginSession.ended_at.is_(None),
        )
    )
    return user if live is not None else None


def _hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough: no dictionary to guess from.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class TokenPrincipal:
    """What ``current_user`` is for a request authenticated by an API token."""

    token_id: int
    name: str
    role_enum: Role
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    @property
    def actor(self) -> str:
        return f"token:{self.name}"

    def get_id(self) -> str:  # pragma: no cover - tokens never go into a session
        return ""


def create_token(actor: Actor, name: str, role: str | Role) -> tuple[ApiToken, str]:
    """Create a bearer token; the secret is returned once and only its hash is kept."""
    name = _check_username(name)
    role = _role(role)
    if db.session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise AuthError(
            gettext(
                "A token named '%(name)s' already exists: revoke it or choose another name.",
                name=name,
            )
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name, role=role.value, token_hash=_hash_token(secret), created_by_id=actor.user_id
    )
    db.session.add(token)
    db.session.flush()
    record_event(actor, "token.created", "api_token", token.id, name=name, role=role.value)
    return token, secret


def revoke_token(actor: Actor, name: str) -> ApiToken:
    token = db.session.scalar(select(ApiToken).where(ApiToken.name == name))
    if token is None:
        raise AuthError(
            gettext("No token named '%(name)s'. `kitmanager tokens list` shows them.", name=name)
        )
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record_event(actor, "token.revoked", "api_token", token.id, name=name)
        db.session.flush()
    return token


def list_tokens() -> list[ApiToken]:
    """Every token, active ones first, then by name."""
    return list(
        db.session.scalars(
            select(ApiToken).order_by(ApiToken.revoked_at.is_not(None), ApiToken.name)
        )
    )


# ``last_used_at`` is kept to the minute: a busy scanner does not write on every request.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


def _note_token_use(token_id: int, name: str, last_used_at: datetime | None) -> None:
    """Stamp the token's ``last_used_at`` if the last stamp is older than
    ``TOKEN_USE_RESOLUTION``.

    Its own short transaction, because a read request never commits; a failure (a full disk)
    only loses the stamp, never the request.
    """
    now = utcnow()
    stale = now - TOKEN_USE_RESOLUTION
    if last_used_at is not None and last_used_at > stale:
        return
    table = ApiToken.__table__
    try:
        with db.engine.begin() as connection:
            connection.execute(
                update(table)
                .where(
                    table.c.id == token_id,
                    table.c.last_used_at.is_(None) | (table.c.last_used_at <= stale),
                )
                .values(last_used_at=now)
            )
    except SQLAlchemyError:
        log.warning("Could not record the use of token %s", name, exc_info=True)


# Built once, plain columns: every API request (every scan) looks its token up.
_TOKEN_BY_HASH = HotStatement(
    select(
        ApiToken.id, ApiToken.name, ApiToken.role, ApiToken.revoked_at, ApiToken.last_used_at
    ).where(ApiToken.token_hash == bindparam("token_hash"))
)


def load_token_principal(secret: str) -> TokenPrincipal | None:
    """The principal of a bearer token, or None if unknown or revoked; notes its use."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    # On the session's connection, without the ORM: every API request passes here.
    token = _TOKEN_BY_HASH.first({"token_hash": _hash_token(secret)})
    if token is None:
        return None
    token_id, name, role, revoked_at, last_used_at = token
    if revoked_at is not None:
        return None
    _note_token_use(token_id, name, last_used_at)
    return TokenPrincipal(token_id=token_id, name=name, role_enum=Role(role))


# A phone sign-in QR is shown on the laptop and scanned across the table: minutes are plenty.
PHONE_LOGIN_MINUTES = 5


def create_phone_login(actor: Actor, label: str) -> tuple[OneTimeLogin, str]:
    """A one-time sign-in for one phone as a volunteer, valid for a few minutes.

    Returns the row and its secret (shown once, inside a QR code; only its hash is kept).
    """
    label = " ".join(safe_text(label).split())[:120] or gettext("Volunteer phone")
    secret = secrets.token_urlsafe(24)
    row = OneTimeLogin(
        token_hash=_hash_token(secret),
        label=label,
        created_by=actor.name[:120],
        expires_at=utcnow() + timedelta(minutes=PHONE_LOGIN_MINUTES),
    )
    db.session.add(row)
    db.session.flush()
    record_event(actor, "phone_login.created", "one_time_login", row.id, label=label)
    return row, secret


def pending_phone_login(secret: str) -> OneTimeLogin | None:
    """The unused, unexpired one-time sign-in behind ``secret``, if any."""
    return db.session.scalar(
        select(OneTimeLogin).where(
            OneTimeLogin.token_hash == _hash_token(secret),
            OneTimeLogin.used_at.is_(None),
            OneTimeLogin.expires_at > utcnow(),
        )
    )


def redeem_phone_login(secret: str, device: str = "") -> User | None:
    """Use a one-time sign-in: the first phone gets a new volunteer account, any later one None.

    The claim is one UPDATE that only an unused, unexpired row matches, so two phones
    scanning the same code at once cannot both get in.
    """
    now = utcnow()
    claimed = db.session.execute(
        update(OneTimeLogin)
        .where(
            OneTimeLogin.token_hash == _hash_token(secret),
            OneTimeLogin.used_at.is_(None),
            OneTimeLogin.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return None
    row = db.session.scalars(
        select(OneTimeLogin).where(OneTimeLogin.token_hash == _hash_token(secret))
    ).one()
    actor = Actor(name=row.created_by, role=Role.ORGANISER, device=device)
    user = create_user(
        actor,
        f"phone-{secrets.token_hex(4)}",
        Role.VOLUNTEER,
        generate_password(),  # never shown: this account signs in by its QR code only
        display_name=row.label,
    )
    row.user_id = user.id
    db.session.flush()
    return user
