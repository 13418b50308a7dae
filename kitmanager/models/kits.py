"""Kits: their types and bills of materials, handouts and incidents."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kitmanager.extensions import db
from kitmanager.models.base import EnumString, LabelledEnum, new_token, utcnow

if TYPE_CHECKING:
    from kitmanager.models.participants import Participant
    from kitmanager.models.workshops import Team, Workshop, WorkshopSession


class KitStatus(LabelledEnum):
    """The status a trainer reads: "out" while a handout is open, else the kit's condition.

    "Out" is not stored on the kit: the open handout row is its one home (see ``Kit.status``).
    """

    READY = "ready", _l("ready")
    OUT = "out", _l("out")
    NEEDS_ATTENTION = "needs_attention", _l("needs attention")
    RETIRED = "retired", _l("retired")


class KitCondition(LabelledEnum):
    """What a trainer knows of a kit's state, whoever holds it. Stored on the kit.

    Each reads as the status of the same name; ``action`` is what the button that sets it says.
    """

    action: LazyString

    READY = "ready", KitStatus.READY.label, _l("Mark ready")
    # something missing or broken, or its board failed
    NEEDS_ATTENTION = (
        "needs_attention",
        KitStatus.NEEDS_ATTENTION.label,
        _l("Mark “needs attention”"),
    )
    RETIRED = "retired", KitStatus.RETIRED.label, _l("Retire")  # kept for its history

    def __new__(cls, value: str, label: LazyString, action: LazyString) -> KitCondition:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        member.action = action
        return member


class KitType(db.Model):
    """A kind of kit ("Line-follower kit v2") and its bill of materials."""

    __tablename__ = "kit_type"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="", info={"max_length": 2000})
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    components: Mapped[list[KitComponent]] = relationship(
        back_populates="kit_type",
        order_by="KitComponent.position",
        cascade="all, delete-orphan",
    )


class KitComponent(db.Model):
    """One line of a kit type's bill of materials: what, how many, whether it must come back
    (consumables such as jumper wires or batteries need not)."""

    __tablename__ = "kit_component"

    id: Mapped[int] = mapped_column(primary_key=True)
    kit_type_id: Mapped[int] = mapped_column(ForeignKey("kit_type.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    must_return: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    kit_type: Mapped[KitType] = relationship(back_populates="components")

    __table_args__ = (
        UniqueConstraint("kit_type_id", "name"),
        CheckConstraint("quantity > 0 AND quantity <= 1000", name="quantity"),
    )


class Kit(db.Model):
    """One physical kit: a box with a label QR (``<badge address>/k/<label_token>``).

    The board fields record the kit's microcontroller board as the board tools last saw it:
    matched by USB serial number, or, for boards without one, by the fingerprint read from the
    board.
    """

    __tablename__ = "kit"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kit_type_id: Mapped[int] = mapped_column(ForeignKey("kit_type.id", ondelete="RESTRICT"))
    label_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    condition: Mapped[KitCondition] = mapped_column(
        EnumString(KitCondition, 20), default=KitCondition.READY
    )
    notes: Mapped[str] = mapped_column(Text, default="", info={"max_length": 2000})
    board_family: Mapped[str] = mapped_column(String(40), default="")
    board_serial: Mapped[str | None] = mapped_column(String(120), unique=True)
    board_fingerprint: Mapped[str | None] = mapped_column(String(200), unique=True)
    firmware_name: Mapped[str] = mapped_column(String(120), default="")
    firmware_version: Mapped[str] = mapped_column(String(60), default="")
    last_check_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_check_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_check_detail: Mapped[str] = mapped_column(String(500), default="")
    needs_reflash: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    kit_type: Mapped[KitType] = relationship()
    open_handout: Mapped[KitHandout | None] = relationship(
        primaryjoin="and_(KitHandout.kit_id == Kit.id, KitHandout.returned_at.is_(None))",
        viewonly=True,
        uselist=False,
    )

    __table_args__ = (Index("ix_kit_condition", "condition"),)

    @property
    def status(self) -> KitStatus:
        """Out while a handout is open; otherwise the kit's condition."""
        if self.open_handout is not None:
            return KitStatus.OUT
        return KitStatus(self.condition)

    @property
    def board_check_failed(self) -> bool:
        return self.last_check_ok is False


class KitHandout(db.Model):
    """A kit handed to a participant (or to their team): open until ``returned_at``.

    The partial unique index allows one open handout per kit: two stations handing out the same
    kit at the same instant cannot both succeed; the database decides, on SQLite and PostgreSQL.
    """

    __tablename__ = "kit_handout"

    id: Mapped[int] = mapped_column(primary_key=True)
    kit_id: Mapped[int] = mapped_column(ForeignKey("kit.id", ondelete="CASCADE"))
    workshop_id: Mapped[int | None] = mapped_column(
        ForeignKey("workshop.id", ondelete="SET NULL"), index=True
    )
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participant.id", ondelete="SET NULL"), index=True
    )
    # Set when the kit went to the participant's team rather than to them alone.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("workshop_session.id", ondelete="SET NULL")
    )
    out_at: Mapped[datetime] = mapped_column(DateTime)
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    out_by: Mapped[str] = mapped_column(String(120))
    station: Mapped[str] = mapped_column(String(80), default="")
    device: Mapped[str] = mapped_column(String(200), default="")
    returned_at: Mapped[datetime | None] = mapped_column(DateTime)
    returned_by: Mapped[str] = mapped_column(String(120), default="")

    kit: Mapped[Kit] = relationship()
    participant: Mapped[Participant | None] = relationship()
    team: Mapped[Team | None] = relationship()
    workshop: Mapped[Workshop | None] = relationship()
    session: Mapped[WorkshopSession | None] = relationship()

    __table_args__ = (
        Index(
            "uq_kit_handout_open",
            "kit_id",
            unique=True,
            sqlite_where=text("returned_at IS NULL"),
            postgresql_where=text("returned_at IS NULL"),
        ),
        Index("ix_kit_handout_kit_out", "kit_id", "out_at"),
    )


class KitIncident(db.Model):
    """Something missing or damaged in a kit, usually found at its return; open until resolved
    (the parts replaced or brought back)."""

    __tablename__ = "kit_incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    kit_id: Mapped[int] = mapped_column(ForeignKey("kit.id", ondelete="CASCADE"), index=True)
    handout_id: Mapped[int | None] = mapped_column(
        ForeignKey("kit_handout.id", ondelete="SET NULL")
    )
    opened_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    opened_by: Mapped[str] = mapped_column(String(120))
    note: Mapped[str] = mapped_column(Text, default="", info={"max_length": 2000})
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_by: Mapped[str] = mapped_column(String(120), default="")

    kit: Mapped[Kit] = relationship()
    handout: Mapped[KitHandout | None] = relationship()
    items: Mapped[list[KitIncidentItem]] = relationship(
        back_populates="incident", cascade="all, delete-orphan", order_by="KitIncidentItem.id"
    )


class KitIncidentItem(db.Model):
    """One component of an incident: how many are missing and how many damaged.

    The component's name is kept as it was, so the record reads the same if the bill of
    materials changes later.
    """

    __tablename__ = "kit_incident_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("kit_incident.id", ondelete="CASCADE"))
    component_id: Mapped[int | None] = mapped_column(
        ForeignKey("kit_component.id", ondelete="SET NULL")
    )
    component_name: Mapped[str] = mapped_column(String(120))
    missing: Mapped[int] = mapped_column(Integer, default=0)
    damaged: Mapped[int] = mapped_column(Integer, default=0)

    incident: Mapped[KitIncident] = relationship(back_populates="items")

    __table_args__ = (
        CheckConstraint("missing >= 0 AND damaged >= 0 AND missing + damaged > 0", name="counts"),
    )
