"""The ESP driver: what can be tested honestly without an ESP chip or emulator.

Covered: refusal of a port where no ESP ROM bootloader answers, image and address checks,
progress routed per board through esptool's own progress machinery, and that every esptool
call the driver makes exists with those parameters in the installed esptool. Not covered: a
real connect, stub upload, compressed write and MD5 check (no ESP hardware here).
"""

from __future__ import annotations

import inspect
import os
import threading

import pytest
from esptool import cmds
from esptool.loader import ESPLoader
from esptool.logger import log as esptool_log
from esptool.targets import CHIP_DEFS

from firmware_tools.base import BoardError, Reason
from firmware_tools.drivers.esp import EspBoard, check_image
from firmware_tools.drivers.esptool_log import ROUTER
from firmware_tools.images import FirmwareImage
from firmware_tools.operations import flash_board, load_firmware


def app_image(chip_id: int, size: int = 4096) -> bytes:
    header = bytearray(24)
    header[0] = 0xE9
    header[12:14] = chip_id.to_bytes(2, "little")
    return bytes(header) + bytes(size - 24)


def test_a_silent_port_is_refused_with_what_to_do():
    controller, device = os.openpty()
    try:
        board = EspBoard(os.ttyname(device), connect_attempts=1)
        with pytest.raises(BoardError) as caught:
            board.detect()
        board.close()
    finally:
        os.close(controller)
        os.close(device)
    assert caught.value.reason is Reason.NO_RESPONSE
    assert "hold BOOT, press RESET" in str(caught.value)


def test_a_port_that_cannot_be_opened_is_a_port_error():
    board = EspBoard("socket://127.0.0.1:9", connect_attempts=1)
    with pytest.raises(BoardError) as caught:
        board.detect()
    assert caught.value.reason is Reason.PORT


def test_flash_on_a_non_esp_port_fails_that_board_only(tmp_path):
    firmware_file = tmp_path / "app.bin"
    firmware_file.write_bytes(app_image(CHIP_DEFS["esp32"].IMAGE_CHIP_ID))
    firmware = load_firmware([firmware_file], address=0x10000)
    assert firmware.family == "esp"
    controller, device = os.openpty()
    try:
        result = flash_board(os.ttyname(device), firmware)
    finally:
        os.close(controller)
        os.close(device)
    assert result.status.value == "fail"
    assert result.reason is Reason.NO_RESPONSE
    assert "no ESP bootloader answers" in result.message


def test_images_for_another_chip_or_off_a_sector_are_refused_before_writing():
    esp32 = CHIP_DEFS["esp32"].IMAGE_CHIP_ID
    esp32s3 = CHIP_DEFS["esp32s3"].IMAGE_CHIP_ID
    good = FirmwareImage(app_image(esp32), 0x10000, "esp32", "app.bin")
    check_image(good, esp32)
    with pytest.raises(BoardError) as caught:
        check_image(good, esp32s3)
    assert caught.value.reason is Reason.WRONG_CHIP
    with pytest.raises(BoardError) as caught:
        check_image(FirmwareImage(b"\xff" * 16, 0x10010, "esp32", "app.bin"))
    assert caught.value.reason is Reason.BAD_IMAGE and "4 KB" in str(caught.value)
    with pytest.raises(BoardError) as caught:
        check_image(FirmwareImage(b"\x0c\x94", 0, "atmega328p", "kitbot.hex"))
    assert caught.value.reason is Reason.BAD_IMAGE


def test_a_bin_without_address_is_refused(tmp_path):
    firmware_file = tmp_path / "app.bin"
    firmware_file.write_bytes(app_image(0))
    with pytest.raises(BoardError) as caught:
        load_firmware([firmware_file])
    assert caught.value.reason is Reason.BAD_IMAGE and "--address" in str(caught.value)


def test_esptool_progress_goes_to_the_board_whose_thread_reports_it():
    ROUTER.install()
    seen: dict[str, list[tuple[str, int, int]]] = {"a": [], "b": []}
    both_started = threading.Barrier(2)

    def flash_like_esptool(name: str, total: int) -> None:
        progress = lambda *event: seen[name].append(event)  # noqa: E731
        with ROUTER.bind(progress, lambda _message: None):
            both_started.wait()
            # the same progress API esptool's write_flash uses
            with esptool_log.progress(total=total, unit="B") as bar:
                for _ in range(total // 1024):
                    bar.update(advance=1024)

    threads = [
        threading.Thread(target=flash_like_esptool, args=("a", 8192)),
        threading.Thread(target=flash_like_esptool, args=("b", 4096)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen["a"][-1] == ("write", 8192, 8192)
    assert seen["b"][-1] == ("write", 4096, 4096)
    assert {total for _, _, total in seen["a"]} == {8192}
    assert {total for _, _, total in seen["b"]} == {4096}


def test_esptool_warnings_reach_the_board_notice():
    ROUTER.install()
    notices = []
    with ROUTER.bind(lambda *_event: None, notices.append):
        esptool_log.warning("Chip was NOT reset.")
    assert notices == ["Chip was NOT reset."]


@pytest.mark.parametrize(
    ("function", "parameters"),
    [
        (cmds.detect_chip, {"port", "baud", "connect_mode", "connect_attempts"}),
        (cmds.attach_flash, {"esp"}),
        (cmds.write_flash, {"esp", "addr_data", "kwargs"}),
        (cmds.reset_chip, {"esp", "reset_mode"}),
    ],
)
def test_the_esptool_functions_used_exist_with_these_parameters(function, parameters):
    assert parameters <= set(inspect.signature(function).parameters)


def test_the_loader_methods_used_exist():
    for name in ("run_stub", "change_baud", "flash_md5sum"):
        assert callable(getattr(ESPLoader, name))
    for chip in ("esp32", "esp32s3", "esp8266"):
        assert callable(CHIP_DEFS[chip].get_chip_description)
        assert isinstance(CHIP_DEFS[chip].CHIP_NAME, str)
    assert "compress" in inspect.getdoc(cmds.write_flash)
    assert "hard-reset" in inspect.getsource(cmds.reset_chip)
