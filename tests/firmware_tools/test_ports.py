"""Port listing: the VID:PID family guess and the `ports` command."""

from __future__ import annotations

import json
import time

import pytest
from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo

from firmware_tools import cli
from firmware_tools.ports import find_port, guess_family, list_board_ports


def usb_port(device, vid, pid, *, serial=None, location=None, manufacturer=None, product=None):
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid = vid, pid
    info.serial_number, info.location = serial, location
    info.manufacturer, info.product = manufacturer, product
    return info


@pytest.mark.parametrize(
    ("vid", "pid", "family", "sure"),
    [
        (0x1A86, 0x7523, "avr", False),  # CH340: Nano clones, but also ESP32 boards
        (0x10C4, 0xEA60, "esp", False),  # CP210x
        (0x0403, 0x6001, "avr", False),  # FTDI FT232R
        (0x0403, 0x6015, "avr", False),  # FTDI FT231X
        (0x2341, 0x0043, "avr", True),  # Arduino Uno R3
        (0x2341, 0x1234, "avr", False),  # some other Arduino board
        (0x2341, 0x0070, "esp", True),  # Arduino Nano ESP32 is an ESP32, not an AVR
        (0x303A, 0x1001, "esp", True),  # Espressif native USB
        (0x2E8A, 0x0005, "micropython", True),  # MicroPython on RP2040
        (0x0D28, 0x0204, "micropython", True),  # micro:bit
        (0x046D, 0xC52B, "unknown", False),  # a mouse receiver
        (None, None, "unknown", False),  # not USB
    ],
)
def test_family_guess_from_vid_pid(vid, pid, family, sure):
    guess = guess_family(vid, pid)
    assert (guess.family, guess.sure) == (family, sure)


def test_listing_keeps_usb_ports_sorted_by_hub_location_with_all_fields():
    infos = [
        usb_port("/dev/ttyACM0", 0x2E8A, 0x0005, serial="E66038B7", location="1-1.3:1.0"),
        ListPortInfo("/dev/ttyS0", skip_link_detection=True),  # built-in UART: no VID
        usb_port(
            "/dev/ttyUSB0",
            0x1A86,
            0x7523,
            location="1-1.1:1.0",
            manufacturer="QinHeng Electronics",
            product="USB Serial",
        ),
    ]
    ports = list_board_ports(infos)
    assert [p.device for p in ports] == ["/dev/ttyUSB0", "/dev/ttyACM0"]
    nano = ports[0].to_dict()
    assert nano["vid_pid"] == "1a86:7523"
    assert nano["location"] == "1-1.1:1.0"
    assert nano["manufacturer"] == "QinHeng Electronics"
    assert nano["product"] == "USB Serial"
    assert (nano["family"], nano["family_sure"]) == ("avr", False)
    pico = ports[1].to_dict()
    assert (pico["serial_number"], pico["family"], pico["family_sure"]) == (
        "E66038B7",
        "micropython",
        True,
    )


def test_find_port_knows_listed_devices_but_not_urls_or_ptys():
    ports = list_board_ports([usb_port("/dev/ttyUSB0", 0x2341, 0x0043)])
    assert find_port("/dev/ttyUSB0", ports).family == "avr"
    assert find_port("socket://127.0.0.1:7000", ports) is None
    assert find_port("/dev/pts/9", ports) is None


def test_ports_command_on_this_machine_lists_what_pyserial_finds(capsys):
    started = time.monotonic()
    assert cli.main(["ports", "--json"]) == 0
    elapsed = time.monotonic() - started
    listed = json.loads(capsys.readouterr().out)
    expected = [p.device for p in list_ports.comports() if p.vid is not None]
    assert sorted(p["device"] for p in listed) == sorted(expected)
    assert elapsed < 5  # sanity only; the 0.5 s target is measured in benchmarks/
    assert cli.main(["ports"]) == 0
    out = capsys.readouterr().out
    if not expected:
        assert "no USB serial ports found" in out


def test_ports_table_shows_unsure_guesses_with_a_question_mark(monkeypatch, capsys):
    infos = [
        usb_port("/dev/ttyUSB0", 0x1A86, 0x7523, location="1-1.1:1.0"),
        usb_port("/dev/ttyACM0", 0x0D28, 0x0204, serial="9904360258994e45", location="1-1.2"),
    ]
    monkeypatch.setattr(list_ports, "comports", lambda: infos)
    assert cli.main(["ports"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:5] == ["DEVICE", "VID:PID", "SERIAL", "LOCATION", "FAMILY"]
    nano = next(line for line in out if line.startswith("/dev/ttyUSB0"))
    assert "1a86:7523" in nano and " avr? " in nano
    microbit = next(line for line in out if line.startswith("/dev/ttyACM0"))
    assert "9904360258994e45" in microbit and " micropython " in microbit
    assert "BBC micro:bit" in microbit
    assert out[-1].startswith("2 port(s)")
