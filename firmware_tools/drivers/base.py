"""What every board driver is: one class per family behind :class:`BoardDriver`.

The operations layer (flash, verify, check, batch) only ever calls these methods and reads
these class attributes, so a new board family is a new subclass registered with
:func:`firmware_tools.drivers.register_driver`, like esptool's ``CHIP_DEFS``.

A driver object is made for one port and one operation (``Driver(port, options)``), used,
then closed. Every method that talks to a board raises :class:`BoardError` for a problem the
trainer can act on, never another exception.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

from firmware_tools.base import BoardError, Firmware, FlashReport, Notice, ProgressCallback, Reason
from firmware_tools.images import FirmwareImage, load_image
from firmware_tools.messages import Message

__all__ = [
    "NOT_THIS_KIND",
    "BoardDriver",
    "DriverOptions",
    "Identification",
    "ImageDriver",
    "image_of",
]

#: Failures of a probe that mean "no board of this family answers here", not "broken port".
NOT_THIS_KIND = frozenset(
    {Reason.NO_RESPONSE, Reason.SKETCH_RUNNING, Reason.WRONG_BAUD, Reason.PROTOCOL}
)


def _no_notice(_message: str) -> None:
    return None


@dataclass(frozen=True)
class DriverOptions:
    """How the trainer asked to reach the boards; each driver uses the options that apply.

    ``reset``: "auto", "dtr", "rts" or "none" (the trainer presses reset). ``baudrate``: the
    bootloader's speed, None to try the family's usual ones. ``sync_timeout``: seconds to
    reach the bootloader, None for the driver's default. ``chip``: the target chip, None for
    the family's default or the image's. ``name``: how messages name the board (the device
    path and where it sits on the hub), "" for the bare port. ``notice``: receives messages
    for the trainer such as "Press the reset button ... now".
    """

    reset: str = "auto"
    baudrate: int | None = None
    sync_timeout: float | None = None
    chip: str | None = None
    name: str = ""
    notice: Notice = _no_notice


@dataclass(frozen=True)
class Identification:
    """What a board said about itself when asked without writing anything."""

    family: str
    detail: str  # one line for the trainer (a Message): "optiboot answers: atmega328p (1e950f)"
    identity: dict[str, str] = field(default_factory=dict)  # extra facts for the result


class Closable(Protocol):
    """What a driver keeps open while it works: a board session with a port."""

    def close(self) -> None: ...


class BoardDriver(ABC):
    """One board family. Subclasses set the class attributes and implement the methods.

    Class attributes (facts about the family, read without touching a board):

    - ``family``: its name on the command line and in results ("avr").
    - ``description``: one line saying which boards it drives, for listings.
    - ``boards``: the names trainers use for its boards, each with its chip or None
      ({"uno": "atmega328p"}); ``--board`` takes these as well as ``family``.
    - ``firmware_suffixes``: file suffixes of its firmware (".hex"); ``firmware_folders``:
      whether a folder is its firmware (MicroPython files).
    - ``bootloader_needs_reset``: its bootloader is reached only through a reset (AVR, ESP),
      so a check without a reset line skips that step.
    - ``quiet_after_open_s``: seconds to stay silent after opening the port before talking to
      the running firmware (a bootloader started by the open may read text as commands).
    """

    family: ClassVar[str]
    description: ClassVar[str] = ""
    boards: ClassVar[Mapping[str, str | None]] = {}
    firmware_suffixes: ClassVar[frozenset[str]] = frozenset()
    firmware_folders: ClassVar[bool] = False
    bootloader_needs_reset: ClassVar[bool] = True
    quiet_after_open_s: ClassVar[float] = 0.0

    def __init__(self, port: str, options: DriverOptions | None = None) -> None:
        self.port = port
        self.options = options or DriverOptions()
        #: the board session (and its port) the driver has open; :meth:`close` closes it
        self.session: Closable | None = None

    @property
    def name(self) -> str:
        """How messages name this board: its device path and hub place, or the port."""
        return self.options.name or self.port

    # -- firmware files (no board) --------------------------------------------------------

    @classmethod
    def claims(cls, paths: Sequence[Path]) -> bool:
        """True when every path looks like this family's firmware (by suffix or folder)."""
        return bool(paths) and all(
            (path.is_dir() and cls.firmware_folders)
            or (path.suffix.lower() in cls.firmware_suffixes and not path.is_dir())
            for path in paths
        )

    @classmethod
    @abstractmethod
    def load_firmware(
        cls, paths: Sequence[Path], *, chip: str | None = None, address: int | None = None
    ) -> Firmware:
        """Read and check the firmware in ``paths`` before any board is touched.

        :raise BoardError: (BAD_IMAGE) a file that cannot go on this family's boards.
        """

    @classmethod
    def bootloader_unreachable(cls, options: DriverOptions, modem: bool) -> str:
        """Why a check cannot reach the bootloader from here (a Message), or "" when it can.

        ``modem`` tells whether the port has DTR/RTS lines to reset the board with.
        """
        if cls.bootloader_needs_reset and (options.reset == "none" or not modem):
            if options.reset == "none":
                return Message("reset-none")
            return Message("no-reset-line")
        return ""

    # -- one board ------------------------------------------------------------------------

    @abstractmethod
    def flash(
        self, firmware: Firmware, *, verify: bool = True, progress: ProgressCallback
    ) -> FlashReport:
        """Put ``firmware`` on the board (verified unless ``verify`` is False) and start it.

        Report a phase of :data:`firmware_tools.base.WRITE_PHASES` before the first change.

        :raise BoardError: with ``needs_reflash`` when the board may hold a partial firmware.
        """

    def verify(self, firmware: Firmware, *, progress: ProgressCallback) -> str:
        """Compare the board with ``firmware`` without writing; return one line of what matched
        (a Message).

        :raise BoardError: VERIFY_MISMATCH naming what differs; PROTOCOL when the family
            cannot verify without flashing (this default).
        """
        raise BoardError(Message("verify-unavailable", family=self.family), reason=Reason.PROTOCOL)

    def check_bootloader(self) -> Identification:
        """Talk to the bootloader (or REPL) without writing, then leave the firmware running.

        :raise BoardError: when it does not answer as this family's bootloader.
        """
        raise BoardError(
            Message("no-bootloader-check", family=self.family), reason=Reason.NO_RESPONSE
        )

    def identify(self) -> Identification | None:
        """A safe probe before anything is written: this family's answer, or None.

        None means no board of this family answered; a port that cannot be opened raises.
        The default asks :meth:`check_bootloader`.

        :raise BoardError: PORT (or another failure that is not "not this kind of board").
        """
        try:
            return self.check_bootloader()
        except BoardError as error:
            if error.reason in NOT_THIS_KIND:
                return None
            raise

    def close(self) -> None:
        """Close the board session and its port; safe to call more than once."""
        if self.session is not None:
            self.session.close()
            self.session = None


class ImageDriver(BoardDriver):
    """A family whose firmware is one image file built for a chip (AVR .hex, ESP .bin).

    ``default_chip`` is the chip an image is checked against when none is given.
    """

    default_chip: ClassVar[str]

    @classmethod
    def load_firmware(
        cls, paths: Sequence[Path], *, chip: str | None = None, address: int | None = None
    ) -> Firmware:
        """Exactly one file, loaded for ``chip`` (default :attr:`default_chip`).

        :raise BoardError: (BAD_IMAGE) several files, or a file :func:`load_image` refuses.
        """
        if len(paths) != 1:
            raise BoardError(
                Message("one-firmware-file", family=cls.family, count=len(paths)),
                reason=Reason.BAD_IMAGE,
            )
        image = load_image(paths[0], chip=chip or cls.default_chip, address=address)
        return Firmware(cls.family, str(paths[0]), image=image)


def image_of(firmware: Firmware) -> FirmwareImage:
    """The image of an image family's firmware.

    :raise BoardError: (BAD_IMAGE) for a firmware of files (MicroPython) instead.
    """
    if firmware.image is None:
        raise BoardError(
            Message("not-an-image", source=firmware.source, family=firmware.family),
            reason=Reason.BAD_IMAGE,
        )
    return firmware.image
