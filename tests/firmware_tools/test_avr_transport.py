"""Ports and resets: a port without modem lines means asking the trainer, never a crash."""

from __future__ import annotations

import os
import socket

import pytest
import serial

from firmware_tools.base import BoardError, Reason
from firmware_tools.transport import (
    LineReset,
    ManualReset,
    choose_reset,
    has_modem_lines,
    open_port,
)


@pytest.fixture
def pty_port():
    master, slave = os.openpty()
    name = os.ttyname(slave)
    link = open_port(name, baudrate=57600, timeout=0.1)
    yield name, link, master
    link.close()
    os.close(master)
    os.close(slave)


def test_a_pty_opens_at_the_asked_speed_and_has_no_modem_lines(pty_port) -> None:
    _, link, master = pty_port
    assert link.baudrate == 57600
    assert not has_modem_lines(link)
    link.write(b"ping")
    assert os.read(master, 4) == b"ping"


def test_network_ports_open_and_have_no_modem_lines() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        url = f"socket://127.0.0.1:{server.getsockname()[1]}"
        with open_port(url, timeout=1.0) as link:
            peer, _ = server.accept()
            with peer:
                link.write(b"abc")
                peer.sendall(peer.recv(3))
                assert link.read(3) == b"abc"
            assert not has_modem_lines(link)


def test_every_reset_on_a_pty_becomes_a_press_and_the_trainer_is_told(pty_port) -> None:
    name, link, _ = pty_port
    told: list[str] = []
    assert isinstance(choose_reset("auto", link, name, told.append), ManualReset)
    assert told == []  # auto on a pty: no surprise to report
    for asked in ("dtr", "rts"):
        strategy = choose_reset(asked, link, name, told.append)
        assert isinstance(strategy, ManualReset)
        assert f"reset {asked} is not possible" in told[-1]
    strategy = choose_reset("none", link, name, told.append)
    strategy.reset(link)
    assert told[-1] == f"Press the reset button on the board at {name} now"


def test_an_unknown_reset_name_is_refused(pty_port) -> None:
    name, link, _ = pty_port
    with pytest.raises(ValueError, match="auto, dtr, rts, none"):
        choose_reset("button", link, name)


def test_a_line_reset_pulses_its_line() -> None:
    with serial.serial_for_url("loop://", timeout=0.1) as link:
        LineReset("rts").reset(link)
        assert link.rts is True  # left asserted, as after the falling edge
    with pytest.raises(ValueError):
        LineReset("cts")


def test_a_missing_port_says_what_to_check() -> None:
    with pytest.raises(BoardError) as caught:
        open_port("/dev/ttyUSB-none")
    assert caught.value.reason is Reason.PORT
    assert "firmware-tools ports" in str(caught.value)
