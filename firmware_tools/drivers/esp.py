"""ESP32 / ESP8266 boards through esptool's documented Python API.

``esptool.cmds.detect_chip`` connects (reset into the ROM bootloader by DTR/RTS, or by the
trainer holding BOOT and pressing RESET with ``reset="none"``), then the stub flasher writes
the image compressed (``write_flash``, which checks the flash MD5 afterwards) and the chip is
hard-reset so the new firmware starts. An image whose MD5 already matches the flash is not
written again.

esptool's progress goes to each board's own callback through
:mod:`firmware_tools.drivers.esptool_log`. esptool is imported only when an ESP board is used,
so listing ports and flashing other boards do not wait for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import serial

from firmware_tools.base import BoardError, Firmware, FlashReport, ProgressCallback, Reason
from firmware_tools.drivers.base import Identification, ImageDriver, image_of
from firmware_tools.images import FirmwareImage
from firmware_tools.messages import Message
from firmware_tools.ports import check_port_url
from firmware_tools.transport import cannot_open, opened

if TYPE_CHECKING:
    from esptool.util import FatalError

__all__ = ["SECTOR", "EspBoard", "EspDriver", "check_image"]

logger = logging.getLogger(__name__)

SECTOR = 0x1000  # esptool erases and writes whole 4 KB flash sectors
_IMAGE_MAGIC = 0xE9
_CONNECT_MODES = {"auto": "default-reset", "dtr": "default-reset", "rts": "default-reset"}


def check_image(image: FirmwareImage, chip_id: int | None = None) -> None:
    """Refuse an image that cannot go on an ESP, before any byte is written.

    ``chip_id`` is the connected chip's ``IMAGE_CHIP_ID`` (None for the ESP8266, whose images
    carry none): an app image built for another ESP32 variant is refused.

    :raise BoardError: BAD_IMAGE (not an ESP image, address off a sector boundary) or
        WRONG_CHIP (built for another ESP32 variant).
    """
    name = image.source or Message("the-image")
    if not image.chip.startswith("esp"):
        raise BoardError(
            Message("not-esp-image", image=name, chip=image.chip), reason=Reason.BAD_IMAGE
        )
    if image.address % SECTOR:
        raise BoardError(
            Message("esp-address-sector", address=f"0x{image.address:X}"),
            reason=Reason.BAD_IMAGE,
        )
    data = image.data
    if chip_id is not None and len(data) >= 24 and data[0] == _IMAGE_MAGIC:
        built_for = int.from_bytes(data[12:14], "little")
        if built_for != chip_id:
            raise BoardError(
                Message("esp-wrong-chip", image=name, built_for=built_for, chip_id=chip_id),
                reason=Reason.WRONG_CHIP,
            )


class EspBoard:
    """One ESP32/ESP8266 board on ``port``; same shape as the other drivers.

    ``reset`` "auto"/"dtr"/"rts" resets into the ROM bootloader through the USB-serial
    chip's DTR/RTS; "none" asks the trainer to hold BOOT and press RESET. ``baudrate`` is the
    speed after connecting (default 460800); connecting is always at 115200.
    """

    family = "esp"

    def __init__(
        self,
        port: str,
        *,
        baudrate: int | None = None,
        reset: str = "auto",
        connect_attempts: int = 3,
        notice: Callable[[str], None] | None = None,
        name: str = "",
    ) -> None:
        from firmware_tools.drivers.esptool_log import ROUTER

        self.port = port
        self.name = name or port  # how messages name the board: device path and hub place
        self.baudrate = baudrate or 460800
        self.connect_mode = _CONNECT_MODES.get(reset, "no-reset")
        self.connect_attempts = connect_attempts
        self._notice = notice or logger.warning
        self._log = ROUTER.install()
        self._esp: Any = None
        if reset == "none":
            self._notice(Message("hold-boot", name=self.name))

    def detect(self) -> str:
        """Connect and return the chip's description (``"ESP32-D0WD-V3 (revision v3.1)"``).

        :raise BoardError: NO_RESPONSE when no ESP ROM bootloader answers, PORT when the port
            cannot be opened.
        """
        with self._log.bind(lambda _phase, _done, _total: None, self._notice):
            esp = self._connect()
        with contextlib.suppress(Exception):
            return str(esp.get_chip_description())
        return str(esp.CHIP_NAME)

    def flash(
        self,
        image: FirmwareImage,
        *,
        verify: bool = True,
        progress: ProgressCallback | None = None,
    ) -> FlashReport:
        """Write ``image`` compressed, check the flash MD5, hard-reset the chip.

        esptool always compares the MD5 after writing, so ``verify=False`` saves nothing
        and is accepted for the common driver shape.

        :raise BoardError: BAD_IMAGE / WRONG_CHIP before writing; NO_RESPONSE, DISCONNECTED
            (``needs_reflash``), VERIFY_MISMATCH (``needs_reflash``) or PROTOCOL.
        """
        from esptool.cmds import attach_flash, reset_chip, write_flash
        from esptool.util import FatalError

        report = progress or (lambda _phase, _done, _total: None)
        check_image(image)
        started = time.monotonic()
        with self._log.bind(report, self._notice):
            esp = self._connect()
            chip_id = None if esp.CHIP_NAME == "ESP8266" else getattr(esp, "IMAGE_CHIP_ID", None)
            check_image(image, chip_id)
            written = 0
            try:
                esp = self._esp = esp.run_stub()
                if self.baudrate != 115200:
                    esp.change_baud(self.baudrate)
                attach_flash(esp)
                wanted = hashlib.md5(image.data).hexdigest()  # noqa: S324 - esptool's own check
                unchanged = esp.flash_md5sum(image.address, len(image.data)) == wanted
                if not unchanged:
                    write_flash(esp, [(image.address, image.data)], compress=True)
                    written = len(image.data)
                reset_chip(esp, "hard-reset")
            except FatalError as exc:
                raise self._flash_error(exc) from None
            except (serial.SerialException, OSError) as exc:
                raise BoardError(
                    Message("esp-gone-flashing", name=self.name, why=str(exc)),
                    reason=Reason.DISCONNECTED,
                    needs_reflash=True,
                ) from None
        return FlashReport(
            port=self.port,
            family=self.family,
            bytes_written=written,
            bytes_verified=len(image.data),
            skipped_unchanged=unchanged,
            duration_s=time.monotonic() - started,
            details={"chip": esp.CHIP_NAME, "address": image.address},
        )

    def restart(self) -> None:
        """Hard-reset the chip (after :meth:`detect`) so its firmware runs again."""
        from esptool.cmds import reset_chip
        from esptool.util import FatalError

        if self._esp is not None:
            quiet = self._log.bind(lambda _phase, _done, _total: None, self._notice)
            with quiet, contextlib.suppress(FatalError, serial.SerialException, OSError):
                reset_chip(self._esp, "hard-reset")

    def close(self) -> None:
        """Close the port."""
        if self._esp is not None:
            with contextlib.suppress(Exception):
                self._esp._port.close()
            self._esp = None

    def _connect(self) -> Any:
        from esptool.cmds import detect_chip
        from esptool.util import FatalError

        if self._esp is not None:
            return self._esp
        port = check_port_url(self.port)  # esptool opens it with pyserial's serial_for_url
        try:
            self._esp = detect_chip(
                port,
                baud=115200,
                connect_mode=self.connect_mode,
                connect_attempts=self.connect_attempts,
            )
        except FatalError as exc:
            if "Could not open" in str(exc):
                raise cannot_open(self.name, exc) from None
            raise BoardError(
                Message("esp-no-bootloader", name=self.name), reason=Reason.NO_RESPONSE
            ) from None
        except (serial.SerialException, OSError) as exc:
            raise cannot_open(self.name, exc) from None
        opened(self._esp._port)  # a cancelled batch closes it like the ports it opens itself
        return self._esp

    def _flash_error(self, exc: FatalError) -> BoardError:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "MD5" in text or "empty" in text:
            return BoardError(
                Message("esp-verify-mismatch", name=self.name, why=text),
                reason=Reason.VERIFY_MISMATCH,
                needs_reflash=True,
            )
        return BoardError(
            Message("esptool-stopped", name=self.name, why=text),
            reason=Reason.PROTOCOL,
            needs_reflash=True,
        )


class EspDriver(ImageDriver):
    """The ESP family for the operations: an :class:`EspBoard` per operation."""

    family = "esp"
    description = "ESP32 / ESP8266 boards through their ROM bootloader (esptool)"
    boards: ClassVar[Mapping[str, str | None]] = {"esp32": "esp32", "esp8266": "esp8266"}
    firmware_suffixes = frozenset({".bin"})
    default_chip = "esp32"

    def flash(
        self, firmware: Firmware, *, verify: bool = True, progress: ProgressCallback
    ) -> FlashReport:
        return self._open().flash(image_of(firmware), verify=verify, progress=progress)

    def check_bootloader(self) -> Identification:
        board = self._open()
        chip = board.detect()
        board.restart()
        return Identification(
            self.family, Message("esp-bootloader-answers", chip=chip), {"chip": chip}
        )

    def _open(self) -> EspBoard:
        if not isinstance(self.session, EspBoard):
            self.session = EspBoard(
                self.port,
                baudrate=self.options.baudrate,
                reset=self.options.reset,
                notice=self.options.notice,
                name=self.name,
            )
        return self.session
