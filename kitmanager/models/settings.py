"""Installation-wide settings an organiser changes in the app."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kitmanager.extensions import db
from kitmanager.models.base import utcnow


class AppSetting(db.Model):
    """One installation-wide setting an organiser changes in the app (the badge address, ...).

    Stored as text under a key; the code that owns a setting parses and validates it.
    """

    __tablename__ = "app_setting"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120), default="")
