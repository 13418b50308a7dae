"""What every model module shares: the time and token defaults, enums that carry their labels,
and the column type that stores an enum and checks its values in the database."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime, timezone
from typing import Any

from flask_babel import LazyString
from sqlalchemy import CheckConstraint, Column, String, Table, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapper
from sqlalchemy.types import SchemaType, TypeDecorator

__all__ = ["EnumString", "LabelledEnum", "new_token", "utcnow"]


def utcnow() -> datetime:
    """Now, in UTC, naive: the form every DateTime column stores."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_token(nbytes: int = 24) -> str:
    """A URL-safe random token: 24 bytes = 192 bits, well above the 128 a QR token needs."""
    return secrets.token_urlsafe(nbytes)


class LabelledEnum(str, enum.Enum):
    """A text enum whose members carry their label: ``READY = "ready", _l("ready")``.

    ``label`` is the member as a sentence or a tag says it, in the reader's language ("needs
    attention"); ``choice_label`` the same with a capital, as a choice in a list reads it.
    A member is the text of its value (``str()``, f-strings, JSON, templates), so it compares
    equal to, and hashes like, the text a form or an older row holds.
    """

    label: LazyString

    def __new__(cls, value: str, label: LazyString) -> LabelledEnum:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def choice_label(self) -> LazyString:
        return LazyString(_first_capital, self.label)


def _first_capital(label: LazyString) -> str:
    text = str(label)
    return text[:1].upper() + text[1:]


class EnumString(TypeDecorator[Any], SchemaType):
    """A text column holding an enum's values: reads give members, writes take members or
    their text, and the column's table gets ``CHECK (<column> in (<values>))``, named after
    the column.

    ``check_sorted`` lists the values by name in the CHECK, not in the enum's order (the
    order a migration already wrote, kept so the schema stays the same).
    """

    impl = String
    cache_ok = True

    def __init__(
        self,
        enum_class: type[enum.Enum],
        length: int,
        *,
        check_sorted: bool = False,
        _makes_check: bool = True,
    ):
        TypeDecorator.__init__(self, length)
        SchemaType.__init__(self)
        self.enum_class = enum_class
        self.check_sorted = check_sorted
        self._makes_check = _makes_check

    def _set_table(self, column: Column[Any], table: Table) -> None:  # type: ignore[override]
        if not self._makes_check:
            return
        values = [member.value for member in self.enum_class]
        if self.check_sorted:
            values.sort()
        listed = ", ".join(f"'{value}'" for value in values)
        table.append_constraint(CheckConstraint(f"{column.name} in ({listed})", name=column.name))

    def copy(self, **kw: Any) -> EnumString:
        # A copied table (Table.to_metadata) copies the CHECK with the other constraints.
        return EnumString(self.enum_class, self.impl.length, _makes_check=False)

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        # Text that is no member goes through unchanged: the CHECK refuses it, as before.
        return value.value if isinstance(value, enum.Enum) else value

    def process_result_value(self, value: str | None, dialect: Dialect) -> enum.Enum | None:
        return None if value is None else self.enum_class(value)


@event.listens_for(Mapper, "mapper_configured")
def _members_on_set(mapper: Mapper[Any], _class: type) -> None:
    """An enum column's attribute holds a member from the moment it is set, not only once
    read back: ``kit.condition = "retired"`` then ``kit.condition.label`` works."""
    for prop in mapper.column_attrs:
        column_type = prop.columns[0].type
        if isinstance(column_type, EnumString):
            event.listen(
                prop.class_attribute, "set", _to_member(column_type.enum_class), retval=True
            )


def _to_member(enum_class: type[enum.Enum]) -> Any:
    def to_member(_target: Any, value: Any, _old: Any, _initiator: Any) -> Any:
        try:
            return enum_class(value)
        except ValueError:  # not a value of the enum: the CHECK refuses it at the flush
            return value

    return to_member
