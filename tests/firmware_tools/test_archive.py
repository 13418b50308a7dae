"""Firmware ZIPs are read within a budget: sizes checked from the directory before anything
is unpacked, no archive inside, and a reader that stops where the directory said it would.

Each hostile ZIP is made in the test (tests/firmware_tools/hostile_files.py). The time and
memory bounds are upper bounds on a refusal, to catch unpacking what should be refused;
they are not speed targets.
"""

from __future__ import annotations

import io
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable

import pytest

from firmware_tools.archive import MAX_FILES, read_zip
from firmware_tools.base import MAX_FIRMWARE_BYTES, BoardError, Reason
from tests.firmware_tools.hostile_files import (
    GIB,
    ZipEntry,
    lying_zip,
    make_zip,
    many_files_zip,
    nested_zip,
    normal_zip,
    zip_bomb,
)

REFUSAL_S = 5.0
REFUSAL_BYTES = 50 * 1024 * 1024


def refused(data: bytes, name: str = "kit.zip", **options: int) -> tuple[BoardError, float, int]:
    """The refusal of ``data``, its time and the peak of memory it took (tracemalloc)."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(BoardError) as caught:
            read_zip(data, name, **options)
    finally:
        took = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert caught.value.reason is Reason.BAD_IMAGE
    assert caught.value.params["name"] == name
    return caught.value, took, peak


def test_a_kits_zip_gives_its_files_and_leaves_folders_and_macos_extras_out() -> None:
    data = normal_zip(
        {
            "kitbot/main.py": b"print('hello')\n" * 50,
            "kitbot/lib/motors.py": b"SPEED = 3\n",
            "__MACOSX/kitbot/._main.py": b"\x00\x05\x16\x07",
            "kitbot/empty.txt": b"",
        }
    )
    files = dict(read_zip(data, "kitbot.zip"))
    assert files == {
        "kitbot/main.py": b"print('hello')\n" * 50,
        "kitbot/lib/motors.py": b"SPEED = 3\n",
        "kitbot/empty.txt": b"",
    }


def test_a_zip_bomb_is_refused_from_its_declared_size_without_unpacking() -> None:
    bomb = zip_bomb(GIB)  # 1 GiB of zeros in about 1 MB, declared honestly
    assert len(bomb) < 2 * 1024 * 1024
    error, took, peak = refused(bomb, "bomb.zip")
    assert error.code == "zip-too-large"
    assert error.params["size"] == GIB and error.params["limit"] == MAX_FIRMWARE_BYTES
    assert str(error) == (
        f"bomb.zip unpacks to {GIB} B, more than a board firmware holds ({MAX_FIRMWARE_BYTES} B)"
    )
    assert took < REFUSAL_S and peak < REFUSAL_BYTES


def test_the_budget_is_what_is_left_of_the_firmware() -> None:
    data = normal_zip({"main.py": b"x" * 1000})
    error, _took, _peak = refused(data, limit=999)
    assert error.code == "zip-too-large" and error.params["limit"] == 999
    assert read_zip(data, limit=1000) == [("main.py", b"x" * 1000)]


def test_a_directory_that_lies_about_a_size_is_stopped_by_the_reader() -> None:
    # the directory says main.py is 100 B; its data inflates to 1 GiB of zeros
    error, took, peak = refused(lying_zip(declared=100, actual=GIB))
    assert error.code == "zip-size-mismatch" and error.params["entry"] == "main.py"
    assert "main.py does not unpack to the size its directory declares" in str(error)
    assert took < REFUSAL_S and peak < REFUSAL_BYTES
    # and one that declares more than there is
    short = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    packed = short.compress(b"abc") + short.flush()
    entry = ZipEntry("main.py", packed, 1000, zlib.crc32(b"abc"))
    assert refused(make_zip([entry]))[0].code == "zip-size-mismatch"


@pytest.mark.parametrize("inner_name", ["inner.zip", "firmware.tar.gz", "data.bin"])
def test_an_archive_inside_the_archive_is_refused(inner_name: str) -> None:
    # by its name, or (data.bin) by its first bytes
    error, took, peak = refused(nested_zip(inner_name))
    assert error.code == "zip-nested-archive" and error.params["entry"] == inner_name
    assert f"holds another archive ({inner_name}): unpack it" in str(error)
    assert took < REFUSAL_S and peak < REFUSAL_BYTES


@pytest.mark.parametrize(
    "make",
    [
        lambda: many_files_zip(MAX_FILES + 1),
        lambda: many_files_zip(100_000),  # 9 MB of directory
        lambda: many_files_zip(100_000, listed=3),  # the end record lies about the count
    ],
)
def test_more_files_than_a_firmware_has_are_refused_before_the_directory_is_read(
    make: Callable[[], bytes],
) -> None:
    error, took, peak = refused(make())
    assert error.code == "zip-too-many-files" and error.params["limit"] == MAX_FILES
    assert f"lists more files than a board firmware has (at most {MAX_FILES})" in str(error)
    assert took < REFUSAL_S and peak < REFUSAL_BYTES


def test_a_zip_of_as_many_files_as_allowed_is_read() -> None:
    assert len(read_zip(many_files_zip(MAX_FILES))) == MAX_FILES


def test_encryption_and_other_compressions_are_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("main.py", b"print(1)\n")
    error = refused(out.getvalue())[0]
    assert error.code == "zip-unsupported" and error.params["entry"] == "main.py"
    encrypted = bytearray(normal_zip({"main.py": b"print(1)\n"}))
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = encrypted.find(signature) + flags_at
        encrypted[at] |= 1  # the "encrypted" flag, in both headers
    assert refused(bytes(encrypted))[0].code == "zip-unsupported"


def test_a_damaged_or_foreign_file_is_not_a_zip() -> None:
    assert refused(b"PK not a zip")[0].code == "zip-unreadable"
    assert refused(b"")[0].code == "zip-unreadable"
    data = bytearray(normal_zip({"main.py": b"print('hello')\n" * 20}))
    at = data.find(b"PK\x01\x02") + 16  # the CRC in the directory
    data[at] ^= 0xFF
    error = refused(bytes(data))[0]
    assert error.code == "zip-damaged" and error.params["entry"] == "main.py"
    assert "is damaged (main.py cannot be read)" in str(error)
