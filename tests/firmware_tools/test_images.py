"""Firmware files are refused before any board is touched when they cannot be right."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from firmware_tools.base import BoardError, Reason
from firmware_tools.images import CHIPS, load_image
from tests.firmware_tools.conftest import KITBOT_HEX, OPTIBOOT_HEX
from tests.firmware_tools.hostile_files import hex_record, sparse_hex


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
    # Debian's rebuild of optiboot is 532 B: its code runs past the end of the flash (its
    # version word also overlaps its code, further down the file); refused at the first.
    assert "beyond the 32768 B flash" in refusal(OPTIBOOT_HEX)


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


# -- hostile files: refused from their declared spans, before any buffer is built ----------
# (an upper bound on the time of each refusal, to catch a loop over a gap: not a speed target)

REFUSAL_S = 5.0
REFUSAL_BYTES = 50 * 1024 * 1024


def timed_refusal(path: Path, **options: object) -> tuple[str, float, int]:
    """The refusal's message, its time and the peak of memory it took (tracemalloc)."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        message = refusal(path, **options)
    finally:
        took = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return message, took, peak


def test_a_sparse_hex_is_refused_at_its_far_record_without_filling_the_gap(tmp_path: Path) -> None:
    # one byte at 0 and one at 0x18000000: a loader that fills the gap first took 43 s, 876 MB
    path = tmp_path / "sparse.hex"
    path.write_bytes(sparse_hex(0x18000000))
    message, took, peak = timed_refusal(path)
    assert "has data up to 0x18000000, beyond the 32768 B flash of the atmega328p" in message
    assert took < REFUSAL_S and peak < REFUSAL_BYTES
    esp = timed_refusal(path, chip="esp32")
    assert "beyond the 4194304 B flash of the esp32" in esp[0]
    assert esp[1] < REFUSAL_S and esp[2] < REFUSAL_BYTES


def test_a_hex_file_larger_than_any_program_for_the_chip_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.hex"
    record = hex_record(0x10, b"\xaa" * 16) + "\n"
    path.write_text(record * (512 * 1024 // len(record)))
    message, took, peak = timed_refusal(path)
    assert "of Intel HEX, more than a program for the atmega328p can be (196608 B)" in message
    assert took < REFUSAL_S and peak < REFUSAL_BYTES  # not read: it is half a megabyte


def test_a_bin_is_refused_from_its_size_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.bin"
    with path.open("wb") as file:
        file.truncate(512 * 1024 * 1024)  # sparse on disk: 512 MiB to a reader
    message, took, peak = timed_refusal(path, chip="esp32", address=0x10000)
    assert "has data up to 0x2000FFFF, beyond the 4194304 B flash of the esp32" in message
    assert took < REFUSAL_S and peak < REFUSAL_BYTES
    far = tmp_path / "far.bin"
    far.write_bytes(b"\x01" * 16)
    assert "beyond the 32768 B flash" in refusal(far, address=0x18000000)


def test_hex_records_are_read_with_their_address_records(tmp_path: Path) -> None:
    path = write_hex(
        tmp_path / "linear.hex",
        hex_record(0, b"\x00\x00", kind=4),  # extended linear address 0
        hex_record(0x100, b"\x01\x02"),
        hex_record(0, b"\x00\x00\x01\x00", kind=5),  # start address: not data
        hex_record(0x102, b"\x03"),
    )
    image = load_image(path)
    assert (image.address, image.data) == (0x100, b"\x01\x02\x03")


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("100000000C945C000C946E000C946E000C946E00AA", "does not start with ':'"),
        (":1000000Z0C945C000C946E000C946E000C946E00AA", "is not hexadecimal"),
        (":0200000001", "has the wrong length"),
        (":0100000601F8", "unknown record type 06"),
        (":0100000400FB", "wrong length for a type 04 record"),
    ],
)
def test_a_malformed_hex_line_is_named(tmp_path: Path, line: str, why: str) -> None:
    path = write_hex(tmp_path / "bad.hex", hex_record(0, b"\x0c"), line)
    message = refusal(path)
    assert message.startswith("firmware file bad.hex is a broken Intel HEX file: line 2 ")
    assert why in message
