"""Boards: the firmware library and every flash or check of a board."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from firmware_tools.base import Outcome
from kitmanager.extensions import db
from kitmanager.models.base import EnumString, LabelledEnum, utcnow

if TYPE_CHECKING:
    from kitmanager.models.kits import Kit


class BoardRunKind(LabelledEnum):
    """What a board run did."""

    FLASH = "flash", _l("flash")
    CHECK = "check", _l("check")


class BoardRunStatus(LabelledEnum):
    """Where a board run stands: running, then what it came to, which is one of
    firmware_tools' outcomes (their values are the library's; ``BoardRunStatus(outcome)`` is
    a result's status, and a test checks that every outcome is one)."""

    RUNNING = "running", _l("running")
    PASS = Outcome.PASS.value, _l("PASS")
    WARN = Outcome.WARN.value, _l("WARN")
    SKIPPED = Outcome.SKIPPED.value, _l("SKIPPED")
    FAIL = Outcome.FAIL.value, _l("FAIL")


class Firmware(db.Model):
    """A firmware in the library: files kept in the data dir under ``firmware/<sha256>/``.

    ``sha256`` is the hash of what is flashed (the image file, or the MicroPython files in
    name order); ``address`` is where a raw ``.bin`` goes. ``builtin`` marks the firmware that
    ships with firmware_tools (it cannot be deleted).
    """

    __tablename__ = "firmware"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    version: Mapped[str] = mapped_column(String(60))
    family: Mapped[str] = mapped_column(String(40))
    notes: Mapped[str] = mapped_column(Text, default="", info={"max_length": 2000})
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(200))  # the file or folder name as uploaded
    address: Mapped[int | None] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer, default=0)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    added_by: Mapped[str] = mapped_column(String(120), default="")
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("name", "version", "family"),)

    @property
    def title(self) -> str:
        return f"{self.name} {self.version} ({self.family})"


class KitTypeFirmware(db.Model):
    """The current firmware of a kit type: what "Flash all" puts on its kits' boards."""

    __tablename__ = "kit_type_firmware"

    kit_type_id: Mapped[int] = mapped_column(
        ForeignKey("kit_type.id", ondelete="CASCADE"), primary_key=True
    )
    firmware_id: Mapped[int] = mapped_column(ForeignKey("firmware.id", ondelete="CASCADE"))
    set_by: Mapped[str] = mapped_column(String(120), default="")
    set_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    firmware: Mapped[Firmware] = relationship()


class BoardPort(db.Model):
    """A serial port the boards page knows beyond the USB ones it finds by itself.

    A port added by hand (a path, ``rfc2217://`` or ``socket://``) has ``hand_added``; any
    port without a USB serial number remembers here the kit bound to it and the fingerprint
    its board last reported.
    """

    __tablename__ = "board_port"

    id: Mapped[int] = mapped_column(primary_key=True)
    device: Mapped[str] = mapped_column(String(300), unique=True)
    hand_added: Mapped[bool] = mapped_column(Boolean, default=False)
    family: Mapped[str] = mapped_column(String(40), default="")  # "" : the board tells
    kit_id: Mapped[int | None] = mapped_column(ForeignKey("kit.id", ondelete="SET NULL"))
    fingerprint: Mapped[str | None] = mapped_column(String(200))
    added_by: Mapped[str] = mapped_column(String(120), default="")
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    kit: Mapped[Kit | None] = relationship()


class BoardRun(db.Model):
    """One flash or check of one board: the job it belonged to, what it came to, on which kit.

    Firmware name, version and hash are copied, so the record stays true when the firmware
    leaves the library.
    """

    __tablename__ = "board_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[BoardRunKind] = mapped_column(EnumString(BoardRunKind, 10))
    kit_id: Mapped[int | None] = mapped_column(
        ForeignKey("kit.id", ondelete="SET NULL"), index=True
    )
    port: Mapped[str] = mapped_column(String(300))
    family: Mapped[str] = mapped_column(String(40), default="")
    firmware_id: Mapped[int | None] = mapped_column(ForeignKey("firmware.id", ondelete="SET NULL"))
    firmware_name: Mapped[str] = mapped_column(String(120), default="")
    firmware_version: Mapped[str] = mapped_column(String(60), default="")
    firmware_sha256: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[BoardRunStatus] = mapped_column(
        EnumString(BoardRunStatus, 10), default=BoardRunStatus.RUNNING
    )
    reason: Mapped[str] = mapped_column(String(40), default="")
    # what it came to, in the library's English (as its command line says it; all older rows
    # have), and as the code and parameters of that message, said in the reader's language
    message: Mapped[str] = mapped_column(String(500), default="")
    message_code: Mapped[str] = mapped_column(String(60), default="")
    message_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    needs_reflash: Mapped[bool] = mapped_column(Boolean, default=False)
    duration_s: Mapped[float | None] = mapped_column(Float)
    board_serial: Mapped[str] = mapped_column(String(120), default="")
    fingerprint: Mapped[str] = mapped_column(String(200), default="")
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    started_by: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    kit: Mapped[Kit | None] = relationship()
