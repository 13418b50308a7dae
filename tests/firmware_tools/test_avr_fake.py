"""What the trainer is told when an AVR board misbehaves, on the fake optiboot board."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from firmware_tools.base import BoardError, Reason
from firmware_tools.drivers.avr import AvrBoard
from firmware_tools.images import FirmwareImage
from tests.firmware_tools.conftest import presser
from tests.firmware_tools.fake_avr import ATMEGABOOT, FakeAvr, Faults

Factory = Callable[..., FakeAvr]


def image_of(size: int, seed: int = 1) -> FirmwareImage:
    data = bytes((i * 31 + seed) & 0xFF for i in range(size))
    return FirmwareImage(data, 0, "atmega328p", "sketch.hex")


def board_for(fake: FakeAvr, **options: object) -> AvrBoard:
    options.setdefault("notice", presser(fake))
    options.setdefault("sync_timeout", 3.0)
    return AvrBoard(fake.port, reset="none", **options)  # type: ignore[arg-type]


def failure(board: AvrBoard, image: FirmwareImage | None = None, **options: object) -> BoardError:
    with pytest.raises(BoardError) as caught:
        if image is None:
            board.read_signature()
        else:
            board.flash(image, **options)  # type: ignore[arg-type]
    return caught.value


def test_flash_writes_verifies_and_starts_the_sketch(fake_board: Factory) -> None:
    fake = fake_board(rate_limited=False)
    image = image_of(3000)
    phases: list[tuple[str, int, int]] = []
    report = board_for(fake).flash(image, progress=lambda *p: phases.append(p))
    assert fake.flash[:3000] == image.data
    assert report.bytes_written == 24 * 128 and report.bytes_verified == 24 * 128
    assert not report.skipped_unchanged
    assert report.details["bootloader"] == "optiboot"
    assert ("write", 3072, 3072) in phases and ("verify", 3072, 3072) in phases


def test_an_unchanged_image_is_not_written_again(fake_board: Factory) -> None:
    fake = fake_board(rate_limited=False)
    image = image_of(3000)
    board_for(fake).flash(image)
    written = fake.pages_written
    report = board_for(fake).flash(image)
    assert report.skipped_unchanged and report.bytes_written == 0
    assert report.bytes_verified == 3072
    assert fake.pages_written == written


def test_only_the_changed_page_is_written(fake_board: Factory) -> None:
    fake = fake_board(rate_limited=False)
    image = image_of(3000)
    board_for(fake).flash(image)
    changed = bytearray(image.data)
    changed[1500] ^= 0xFF
    written = fake.pages_written
    report = board_for(fake).flash(FirmwareImage(bytes(changed), 0, "atmega328p"))
    assert fake.pages_written == written + 1
    assert report.bytes_written == 128 and not report.skipped_unchanged
    assert fake.flash[:3000] == changed


def test_the_trainer_is_asked_to_press_reset_on_a_pty(fake_board: Factory) -> None:
    fake = fake_board(rate_limited=False)
    notice = presser(fake)
    signature = AvrBoard(fake.port, reset="auto", notice=notice).read_signature()
    assert signature == bytes.fromhex("1e950f")
    assert notice.messages == [f"Press the reset button on the board at {fake.port} now"]
    assert fake.resets == 1


def test_asking_for_dtr_on_a_pty_falls_back_to_a_press(fake_board: Factory) -> None:
    fake = fake_board(rate_limited=False)
    notice = presser(fake)
    AvrBoard(fake.port, reset="dtr", notice=notice).read_signature()
    assert "has no DTR/RTS lines" in notice.messages[0]
    assert fake.resets == 1


def test_silence_means_wrong_port_cable_or_no_bootloader(fake_board: Factory) -> None:
    fake = fake_board(rate_limited=False, faults=Faults(silent=True))
    error = failure(board_for(fake, sync_timeout=1.5))
    assert error.reason is Reason.NO_RESPONSE
    assert "no answer at all" in str(error) and "right port" in str(error)


def test_a_sketch_still_running_means_the_reset_did_not_happen(fake_board: Factory) -> None:
    faults = Faults(sketch_text=b"distance 23 cm\r\n", no_reset=True)
    fake = fake_board(rate_limited=False, faults=faults)
    error = failure(board_for(fake, sync_timeout=1.5))
    assert error.reason is Reason.SKETCH_RUNNING
    assert "'distance 23 cm' at 115200 baud" in str(error)
    assert "reset did not happen" in str(error)


def test_the_wrong_baud_rate_is_named(fake_board: Factory) -> None:
    # An old Nano at 57600 given 115200: its bootloader gives up on the unreadable sync and
    # the sketch's output arrives as garbage.
    fake = fake_board(model=ATMEGABOOT, rate_limited=False, faults=Faults(sketch_text=b"hi\n"))
    error = failure(board_for(fake, baudrate=115200, sync_timeout=1.5))
    assert error.reason is Reason.WRONG_BAUD
    assert "wrong speed" in str(error) and "57600" in str(error)
    assert "leave --baud out" in str(error)


def test_a_silent_board_at_a_forced_baud_mentions_the_baud(fake_board: Factory) -> None:
    fake = fake_board(model=ATMEGABOOT, rate_limited=False)
    error = failure(board_for(fake, baudrate=115200, sync_timeout=1.5))
    assert error.reason is Reason.NO_RESPONSE
    assert "or the wrong --baud" in str(error)


def test_the_old_bootloader_is_found_at_57600_when_no_baud_is_given(fake_board: Factory) -> None:
    fake = fake_board(model=ATMEGABOOT, rate_limited=False)
    notice = presser(fake)
    report = board_for(fake, notice=notice, sync_timeout=4.0).flash(image_of(500))
    assert report.details["bootloader"] == "atmegaboot"
    assert report.details["baudrate"] == 57600
    assert "older Nano" in notice.messages[1]


def test_an_image_too_big_for_the_old_bootloader_is_refused_before_writing(
    fake_board: Factory,
) -> None:
    fake = fake_board(model=ATMEGABOOT, rate_limited=False)
    error = failure(board_for(fake, baudrate=57600), image_of(31000))
    assert error.reason is Reason.BAD_IMAGE and "leaves only 30720 B" in str(error)
    assert fake.pages_written == 0


def test_a_different_chip_is_refused_before_writing(fake_board: Factory) -> None:
    fake = fake_board(rate_limited=False, signature=bytes.fromhex("1e9406"))
    error = failure(board_for(fake), image_of(500))
    assert error.reason is Reason.WRONG_CHIP
    assert "atmega168" in str(error) and "atmega328p" in str(error)
    assert fake.pages_written == 0


def test_an_image_for_another_chip_than_the_board_is_refused(fake_board: Factory) -> None:
    fake = fake_board(rate_limited=False)
    error = failure(board_for(fake, chip="atmega168"), image_of(500))
    assert error.reason is Reason.BAD_IMAGE and "given as an atmega168" in str(error)
    assert fake.resets == 0  # refused before the board was touched


def test_a_board_pulled_out_mid_page_needs_a_reflash(fake_board: Factory) -> None:
    fake = fake_board(rate_limited=False, faults=Faults(vanish_in_page=5))
    error = failure(board_for(fake), image_of(3000))
    assert error.reason is Reason.DISCONNECTED and error.needs_reflash
    assert "partial" in str(error) and "flash it again" in str(error)


def test_a_byte_lost_on_the_line_mid_flash_needs_a_reflash(fake_board: Factory) -> None:
    fake = fake_board(rate_limited=False, faults=Faults(drop_in_page=3))
    error = failure(board_for(fake), image_of(3000))
    assert error.needs_reflash
    assert error.reason in (Reason.DISCONNECTED, Reason.PROTOCOL)
    # the trainer flashes again and the board recovers
    report = board_for(fake).flash(image_of(3000))
    assert fake.flash[:3000] == image_of(3000).data and report.bytes_verified == 3072


def test_a_flash_cell_that_does_not_take_the_write_fails_the_verify(fake_board: Factory) -> None:
    fake = fake_board(rate_limited=False, faults=Faults(stuck_address=0x123))
    error = failure(board_for(fake), image_of(1000))
    assert error.reason is Reason.VERIFY_MISMATCH and error.needs_reflash
    assert "0x0123" in str(error)
    report = board_for(fake).flash(image_of(1000, seed=7), verify=False)
    assert report.bytes_verified == 0


def test_verify_alone_compares_without_writing(fake_board: Factory) -> None:
    fake = fake_board(rate_limited=False)
    image = image_of(2000)
    board_for(fake).flash(image)
    written = fake.pages_written
    assert board_for(fake).verify(image) == 16 * 128
    other = FirmwareImage(os.urandom(2000), 0, "atmega328p")
    with pytest.raises(BoardError) as caught:
        board_for(fake).verify(other)
    assert caught.value.reason is Reason.VERIFY_MISMATCH
    assert fake.pages_written == written


def test_a_late_reset_press_after_the_bootloader_answered_is_survived(
    fake_board: Factory,
) -> None:
    # The press comes just after the sync, as the signature is asked: nothing written yet.
    fake = fake_board(faults=Faults(press_on_command=0x75))
    report = board_for(fake).flash(image_of(1000))
    assert fake.resets == 2
    assert fake.flash[:1000] == image_of(1000).data and report.bytes_verified == 1024


def test_a_reset_press_in_the_middle_of_writing_needs_a_reflash(fake_board: Factory) -> None:
    fake = fake_board(rate_limited=False, faults=Faults(press_on_command=0x64))
    error = failure(board_for(fake), image_of(1000))
    assert error.needs_reflash and error.reason is Reason.DISCONNECTED


def test_the_fake_board_keeps_the_line_rate(fake_board: Factory) -> None:
    fake = fake_board()
    image = image_of(2560)  # 20 pages: 20 x (137 B + 4.5 ms) + 10 x 263 B read back
    report = board_for(fake).flash(image)
    floor = (20 * 137 + 10 * 263) / 11520 + 20 * 0.0045
    assert report.details["write_s"] + report.details["verify_s"] >= floor * 0.95
