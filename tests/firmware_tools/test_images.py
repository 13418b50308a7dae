"""Firmware files are refused before any board is touched when they cannot be right."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_tools.base import BoardError, Reason
from firmware_tools.images import CHIPS, load_image
from tests.firmware_tools.conftest import KITBOT_HEX, OPTIBOOT_HEX


def hex_record(address: int, data: bytes, kind: int = 0) -> str:
    body = bytes((len(data), address >> 8 & 0xFF, address & 0xFF, kind)) + data
    return ":" + (body + bytes(((-sum(body)) & 0xFF,))).hex().upper()


def write_hex(path: Path, *records: str) -> Path:
    path.write_text("\n".join([*records, ":00000001FF"]) + "\n")
    return path


def refusal(path: Path, **options: object) -> str:
    with pytest.raises(BoardError) as caught:
        load_image(path, **options)  # type: ignore[arg-type]
    assert caught.value.reason is Reason.BAD_IMAGE
    return str(caught.value)


def test_the_shipped_kitbot_hex_loads_from_address_zero() -> None:
    image = load_image(KITBOT_HEX)
    assert image.address == 0
    assert image.chip == "atmega328p"
    assert 1000 < len(image.data) < CHIPS["atmega328p"].max_app_size()
    assert image.data[:2] == bytes.fromhex("0c94")  # jmp: the reset vector of an avr-gcc build


def test_gaps_between_records_are_filled_with_erased_flash(tmp_path: Path) -> None:
    path = write_hex(tmp_path / "gap.hex", hex_record(0, b"\x01\x02"), hex_record(6, b"\x03"))
    image = load_image(path)
    assert image.data == b"\x01\x02\xff\xff\xff\xff\x03"


def test_a_bad_checksum_is_refused(tmp_path: Path) -> None:
    lines = KITBOT_HEX.read_text().splitlines()
    lines[3] = lines[3][:-2] + ("00" if lines[3][-2:] != "00" else "01")
    path = tmp_path / "kitbot.hex"
    path.write_text("\n".join(lines) + "\n")
    message = refusal(path)
    assert "checksum" in message.lower()


def test_overlapping_records_are_refused(tmp_path: Path) -> None:
    path = write_hex(
        tmp_path / "twice.hex", hex_record(0x10, b"\xaa" * 4), hex_record(0x12, b"\xbb")
    )
    assert "overlap" in refusal(path).lower()


@pytest.mark.skipif(not OPTIBOOT_HEX.exists(), reason="arduino-core-avr not installed")
def test_debians_oversized_optiboot_hex_is_refused_as_an_application() -> None:
    # Debian's rebuild of optiboot is 532 B: its version word overlaps its own code.
    assert "overlap" in refusal(OPTIBOOT_HEX).lower()


def test_data_inside_the_bootloader_area_is_refused(tmp_path: Path) -> None:
    path = write_hex(
        tmp_path / "with_bootloader.hex",
        hex_record(0, b"\x0c\x94"),
        hex_record(0x7E00, b"\x11\x24"),
    )
    message = refusal(path)
    assert "bootloader area" in message
    assert "0x7E00" in message


def test_data_beyond_the_chips_flash_is_refused(tmp_path: Path) -> None:
    segment = hex_record(0, b"\x10\x00", kind=2)  # extended segment: base 0x10000
    path = write_hex(tmp_path / "big.hex", segment, hex_record(0, b"\x01"))
    assert "beyond the 32768 B flash" in refusal(path)
    small_chip = write_hex(tmp_path / "m328.hex", hex_record(0x4000, b"\x01"))
    assert "beyond the 16384 B flash" in refusal(small_chip, chip="atmega168")


def test_an_image_up_to_the_bootloader_fits(tmp_path: Path) -> None:
    path = tmp_path / "full.bin"
    path.write_bytes(b"\x00" * 32256)
    assert len(load_image(path, address=0).data) == 32256
    path.write_bytes(b"\x00" * 32257)
    assert "bootloader area" in refusal(path, address=0)


def test_a_raw_bin_needs_an_address_and_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "app.bin"
    path.write_bytes(bytes(range(10)))
    assert "--address" in refusal(path)
    image = load_image(path, address=0x100)
    assert (image.address, image.end, image.data) == (0x100, 0x10A, bytes(range(10)))


def test_esp_images_are_checked_against_the_esp_flash_size(tmp_path: Path) -> None:
    path = tmp_path / "app.bin"
    path.write_bytes(b"\xe9" + b"\x00" * 1000)
    assert load_image(path, chip="esp32", address=0x10000).address == 0x10000
    assert "beyond" in refusal(path, chip="esp32", address=4 * 1024 * 1024 - 10)


def test_a_missing_an_empty_and_a_non_text_file_are_refused(tmp_path: Path) -> None:
    assert "cannot be read" in refusal(tmp_path / "nowhere.hex")
    empty = write_hex(tmp_path / "empty.hex")
    assert "no data" in refusal(empty)
    binary = tmp_path / "photo.hex"
    binary.write_bytes(b"\xff\xd8\xff\xe0" * 10)
    assert "Intel HEX" in refusal(binary)


def test_an_eeprom_file_is_not_taken_for_a_program(tmp_path: Path) -> None:
    path = write_hex(tmp_path / "kitbot.eep", hex_record(0, b"\x0b\xad"))
    assert "EEPROM data" in refusal(path)


def test_an_unknown_chip_is_named(tmp_path: Path) -> None:
    assert "unknown chip 'atmega32u4'" in refusal(KITBOT_HEX, chip="atmega32u4")


def test_pages_are_aligned_and_padded_with_erased_bytes(tmp_path: Path) -> None:
    path = tmp_path / "odd.bin"
    path.write_bytes(b"\x01" * 200)
    image = load_image(path, address=100)
    pages = list(image.pages(128))
    assert [address for address, _ in pages] == [0, 128, 256]
    assert pages[0][1] == b"\xff" * 100 + b"\x01" * 28
    assert pages[1][1] == b"\x01" * 128
    assert pages[2][1] == b"\x01" * 44 + b"\xff" * 84
