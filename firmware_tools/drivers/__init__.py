"""Board drivers, one class per family, and the registry the operations look them up in.

:data:`DRIVERS` maps a family name to its :class:`~firmware_tools.drivers.base.BoardDriver`
class, as esptool's ``CHIP_DEFS`` maps chip names to loaders. The built-in families are
registered here; another family is one :func:`register_driver` call away, with no change to
the operations or the command line. The names trainers use for boards ("uno", "pico") come
from each driver's ``boards``, so :func:`board_kinds` is the one table of accepted names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from firmware_tools.base import BoardError, Reason
from firmware_tools.drivers.avr import AvrDriver
from firmware_tools.drivers.base import BoardDriver, DriverOptions, Identification
from firmware_tools.drivers.esp import EspDriver
from firmware_tools.drivers.micropython import MicroPythonDriver
from firmware_tools.messages import Message

__all__ = [
    "DRIVERS",
    "BoardDriver",
    "BoardKind",
    "DriverOptions",
    "Identification",
    "board_kind",
    "board_kinds",
    "driver_for",
    "driver_for_files",
    "families",
    "register_driver",
    "unregister_driver",
]

DRIVERS: dict[str, type[BoardDriver]] = {}


@dataclass(frozen=True)
class BoardKind:
    """A name ``--board`` takes: a family ("avr") or a board of one ("nano", chip atmega328p)."""

    name: str
    family: str
    chip: str | None = None


def register_driver(driver: type[BoardDriver]) -> type[BoardDriver]:
    """Add ``driver`` under its ``family`` (usable as a class decorator); returns it.

    :raise ValueError: when its family or one of its board names is already taken.
    """
    taken = board_kinds()
    clashes = [name for name in (driver.family, *driver.boards) if name in taken]
    if clashes:
        raise ValueError(f"board name(s) already registered: {', '.join(clashes)}")
    DRIVERS[driver.family] = driver
    return driver


def unregister_driver(family: str) -> None:
    """Remove the driver of ``family`` (a test's own family, a plug-in being unloaded)."""
    DRIVERS.pop(family, None)


def families() -> tuple[str, ...]:
    """The registered family names, in registration order."""
    return tuple(DRIVERS)


def board_kinds() -> dict[str, BoardKind]:
    """Every name ``--board`` takes: each family, then each family's board names."""
    kinds = {family: BoardKind(family, family) for family in DRIVERS}
    for family, driver in DRIVERS.items():
        for name, chip in driver.boards.items():
            kinds[name] = BoardKind(name, family, chip)
    return kinds


def board_kind(name: str) -> BoardKind:
    """The family (and chip) ``name`` stands for: "uno" is avr on an atmega328p.

    :raise BoardError: (PORT) for a name no driver knows, listing the accepted ones.
    """
    kinds = board_kinds()
    found = kinds.get(name.strip().lower())
    if found is None:
        raise BoardError(
            Message("unknown-board", name=name, names=", ".join(kinds)), reason=Reason.PORT
        )
    return found


def driver_for(family: str) -> type[BoardDriver]:
    """The driver class of ``family`` (a family or a board name such as "uno").

    :raise BoardError: (PORT) for a name no driver knows, listing the accepted ones.
    """
    return DRIVERS[board_kind(family).family]


def driver_for_files(paths: Sequence[Path]) -> type[BoardDriver]:
    """The driver whose firmware ``paths`` are, from their suffixes (or being folders).

    :raise BoardError: (BAD_IMAGE) when no family claims them.
    """
    for driver in DRIVERS.values():
        if driver.claims(paths):
            return driver
    raise BoardError(
        Message("firmware-family-unknown", path=str(paths[0]), families="|".join(DRIVERS)),
        reason=Reason.BAD_IMAGE,
    )


for _driver in (AvrDriver, MicroPythonDriver, EspDriver):
    register_driver(_driver)
