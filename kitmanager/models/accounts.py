"""Accounts and how they sign in: users, login sessions, throttles, API and one-time tokens."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kitmanager.extensions import db
from kitmanager.models.base import EnumString, LabelledEnum, new_token, utcnow


class Role(LabelledEnum):
    """Account roles, each including everything the lower ones may do."""

    VOLUNTEER = "volunteer", _l("volunteer")  # scanning only
    TRAINER = "trainer", _l("trainer")  # sessions, scanning, kits, boards
    ORGANISER = "organiser", _l("organiser")  # everything

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_ROLE_RANK = {Role.VOLUNTEER: 1, Role.TRAINER: 2, Role.ORGANISER: 3}


class User(UserMixin, db.Model):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    # The CHECK lists the roles by name, as migration 0001 wrote it.
    role: Mapped[Role] = mapped_column(EnumString(Role, 20, check_sorted=True))
    password_hash: Mapped[str] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(10))
    # Bumped on password reset so existing sessions of that account stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def role_enum(self) -> Role:
        return self.role

    @property
    def actor(self) -> str:
        return f"user:{self.username}"

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


class LoginSession(db.Model):
    """One browser login. Logging out ends it here, so a copied cookie stops working too."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)


class LoginThrottle(db.Model):
    """Recent failed logins for one user name (as typed, known or not) from one address.

    Throttling counts per name *and* address, so guessing at one address never locks the
    person out on their own phone, and an unknown name is throttled exactly like a real one.
    """

    __tablename__ = "login_throttle"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80))  # lower-cased
    address: Mapped[str] = mapped_column(String(64))
    # Attempts since the last success, counted before the password is checked.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    __table_args__ = (UniqueConstraint("username", "address"),)


class ApiToken(db.Model):
    """A bearer token for scripts and scanner apps; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    # The CHECK lists the roles by name, as migration 0001 wrote it.
    role: Mapped[Role] = mapped_column(EnumString(Role, 20, check_sorted=True))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def role_enum(self) -> Role:
        return self.role

    @property
    def actor(self) -> str:
        return f"token:{self.name}"


class OneTimeLogin(db.Model):
    """A QR code an organiser shows so one phone signs in as a volunteer, once, for minutes.

    Only the SHA-256 of its secret is kept; using it creates the phone's volunteer account.
    """

    __tablename__ = "one_time_login"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(120))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
