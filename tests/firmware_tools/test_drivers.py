"""The driver registry: a new board family is a new driver, and the names trainers use."""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from firmware_tools import cli
from firmware_tools.base import BoardError, Firmware, FlashReport, ProgressCallback, Reason
from firmware_tools.drivers import (
    DRIVERS,
    BoardDriver,
    Identification,
    board_kind,
    board_kinds,
    register_driver,
    unregister_driver,
)
from firmware_tools.drivers.micropython import BoardFile
from firmware_tools.operations import (
    flash_board,
    flash_job,
    load_firmware,
    resolve_family,
    run_batch,
    verify_board,
)
from firmware_tools.transport import open_port


class EchoDriver(BoardDriver):
    """A made-up family: its "board" echoes what it is sent; flashing checks the echo."""

    family = "echo"
    description = "a test board that echoes every byte"
    boards = {"echobox": None}  # noqa: RUF012 - a test's class attribute
    firmware_suffixes = frozenset({".echo"})
    bootloader_needs_reset = False

    @classmethod
    def load_firmware(
        cls, paths: Sequence[Path], *, chip: str | None = None, address: int | None = None
    ) -> Firmware:
        files = tuple(BoardFile(path.name, path.read_bytes()) for path in paths)
        return Firmware(cls.family, ", ".join(map(str, paths)), files=files)

    def flash(
        self, firmware: Firmware, *, verify: bool = True, progress: ProgressCallback
    ) -> FlashReport:
        data = b"".join(f.data for f in firmware.files)
        link = open_port(self.port, timeout=1.0, name=self.name)
        try:
            progress("write", 0, len(data))
            link.write(data)
            back = link.read(len(data))
            progress("write", len(data), len(data))
        finally:
            link.close()
        if back != data:
            raise BoardError("the echo differs", reason=Reason.VERIFY_MISMATCH, needs_reflash=True)
        return FlashReport(self.port, self.family, len(data), len(data), False, 0.0)

    def check_bootloader(self) -> Identification:
        link = open_port(self.port, timeout=1.0)
        try:
            link.write(b"?")
            answered = link.read(1) == b"?"
        finally:
            link.close()
        if not answered:
            raise BoardError("no echo", reason=Reason.NO_RESPONSE)
        return Identification(self.family, "echo answers")


@pytest.fixture
def echo_family() -> Iterator[type[EchoDriver]]:
    register_driver(EchoDriver)
    yield EchoDriver
    unregister_driver(EchoDriver.family)


@pytest.fixture
def echo_port() -> Iterator[str]:
    """A pty whose other end sends back every byte it gets: the echo family's "board"."""
    master, slave = os.openpty()
    tty.setraw(slave)
    stop = threading.Event()

    def echo() -> None:
        while not stop.is_set():
            if select.select([master], [], [], 0.05)[0]:
                with contextlib.suppress(OSError):
                    os.write(master, os.read(master, 4096))

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    yield os.ttyname(slave)  # the slave stays open: the host may close and reopen the port
    stop.set()
    thread.join()
    os.close(master)
    os.close(slave)


@pytest.fixture
def echo_firmware(tmp_path: Path) -> Path:
    path = tmp_path / "blink.echo"
    path.write_bytes(b"blink " * 100)
    return path


def test_a_new_family_is_driven_by_the_operations_without_changing_them(
    echo_family, echo_firmware, echo_port, capsys
):
    port = echo_port
    firmware = load_firmware([echo_firmware])  # the suffix says which family
    assert firmware.family == "echo"
    assert resolve_family(port, "echobox") == "echo"  # its board name, from the driver

    result = flash_board(port, firmware)
    assert result.ok, result.message
    assert result.family == "echo" and result.flash.bytes_written == 600

    events = []
    batch = run_batch([port], flash_job(firmware, family="echobox"), on_progress=events.append)
    assert batch.ok and batch.boards[0].family == "echo"
    assert ("write", 600) in [(event.phase, event.done) for event in events]

    # what the family does not implement is refused in words, not with a crash
    verified = verify_board(port, firmware)
    assert verified.reason is Reason.PROTOCOL
    assert "verify alone is not available for echo boards" in verified.message

    # the command line takes the new family and its board name too
    code = cli.main(["flash", str(echo_firmware), "--port", port, "--board", "echobox", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[1].split()[:3] == [port, "echo", "PASS"]


def test_a_family_or_board_name_is_registered_once(echo_family):
    class Again(EchoDriver):
        boards = {"uno": "atmega328p"}  # noqa: RUF012 - a test's class attribute

    Again.family = "echo2"
    with pytest.raises(ValueError, match="uno"):
        register_driver(Again)
    assert "echo2" not in DRIVERS


# -- the names trainers use -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "family", "chip"),
    [
        ("uno", "avr", "atmega328p"),
        ("nano", "avr", "atmega328p"),
        ("mega", "avr", "atmega2560"),
        ("esp32", "esp", "esp32"),
        ("esp8266", "esp", "esp8266"),
        ("pico", "micropython", None),
        ("microbit", "micropython", None),
        ("Uno", "avr", "atmega328p"),  # as typed
        ("avr", "avr", None),  # the family names keep working
    ],
)
def test_board_names_map_to_their_family_and_chip(name, family, chip):
    kind = board_kind(name)
    assert (kind.family, kind.chip) == (family, chip)


def test_an_unknown_board_name_lists_the_accepted_ones(capsys):
    code = cli.main(["check", "--port", "/dev/null", "--board", "arduino"])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown board 'arduino'" in err
    for name in board_kinds():
        assert name in err
    assert "uno" in err and "microbit" in err


def test_a_board_name_brings_its_chip_to_the_firmware():
    kitbot = "firmware_tools/firmware/kitbot-avr/kitbot.hex"
    assert load_firmware([kitbot], family="nano").image.chip == "atmega328p"
    mega = load_firmware([kitbot], family="mega")  # an image small enough for any AVR
    assert (mega.family, mega.image.chip) == ("avr", "atmega2560")
    with pytest.raises(BoardError) as caught:
        load_firmware(["firmware_tools/firmware/kitbot-micropython"], family="esp32")
    assert caught.value.reason is Reason.BAD_IMAGE


def test_a_mega_is_refused_before_its_stk500v2_bootloader_is_sent_stk500v1(tmp_path):
    kitbot = "firmware_tools/firmware/kitbot-avr/kitbot.hex"
    board = "/dev/ttyKIT-none"  # never opened: the image is refused first
    result = flash_board(board, load_firmware([kitbot], family="mega"), family="mega")
    assert result.reason is Reason.BAD_IMAGE
    assert "stk500v2" in result.message and "Arduino IDE" in result.message
