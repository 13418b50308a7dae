"""Only serial ports open: a port is a serial device or a plain network serial address.

pyserial's ``serial_for_url`` opens much more: ``spy://...?file=PATH`` writes (and truncates)
PATH, ``hwgrep://`` opens whatever port matches, ``alt://`` picks an implementation class.
Each is refused before pyserial sees it, with what is accepted, in the library, the
transport, the operations, the ESP driver (esptool opens its port itself) and the CLI.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_tools import cli
from firmware_tools.base import BoardError, Reason
from firmware_tools.drivers.esp import EspBoard
from firmware_tools.operations import check_board
from firmware_tools.ports import ACCEPTED_PORTS, check_port_url
from firmware_tools.transport import open_port

SECRET = b"the signing key: must survive\n"


@pytest.fixture
def pty_device() -> Iterator[str]:
    controller, device = os.openpty()
    yield os.ttyname(device)
    os.close(controller)
    os.close(device)


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """A file a spy:// port would write to (the database, signing_key.pem...)."""
    path = tmp_path / "signing_key.pem"
    path.write_bytes(SECRET)
    return path


def refused(text: str) -> BoardError:
    with pytest.raises(BoardError) as caught:
        check_port_url(text)
    assert caught.value.reason is Reason.PORT
    return caught.value


def test_serial_devices_and_plain_network_addresses_are_accepted(pty_device: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        url = f"socket://127.0.0.1:{server.getsockname()[1]}"
        assert check_port_url(url) == url
        with open_port(url) as link:  # and it opens
            assert link.is_open
    assert check_port_url(pty_device) == pty_device
    with open_port(pty_device) as link:
        assert link.is_open
    for accepted in (
        "rfc2217://192.168.1.20:4000",
        "socket://kitbot-hub.local:4000",
        "rfc2217://[::1]:2217",
        "/dev/ttyUSB-not-plugged-in",  # a board not plugged in yet: opening it says so
        "/dev/cu.usbserial-1420",
        "/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0",
        "/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0-port0",
    ):
        assert check_port_url(accepted) == accepted
    assert check_port_url("  SOCKET://10.0.0.5:4000 ") == "socket://10.0.0.5:4000"
    assert check_port_url("com3", windows=True) == "COM3"


@pytest.mark.parametrize(
    "port",
    [
        "spy:///dev/null?file=/tmp/x",
        "alt:///dev/ttyUSB0?class=PosixPollSerial",
        "hwgrep://.*",
        "loop://",
        "loop://?logging=debug",
        "cp2110://0001:004a:00",
        "/etc/passwd",
        "/dev/null",
        "/dev/sda",
        "/dev/tty",  # this process's terminal
        "/dev/tty1",  # a console of the machine
        "/dev/ttyUSB0/../../etc/passwd",
        "ttyUSB0",
        "COM3",  # not on this machine: COMn is a Windows port
        "socket://10.0.0.5",
        "socket://10.0.0.5:0",
        "socket://10.0.0.5:70000",
        "socket://user@10.0.0.5:4000",
        "",
        "/dev/ttyUSB0\x00",
        "/dev/ttyUSB\u202e7",  # a right-to-left override: shows as another port
        "socket://10.0.0.5:4000\u200b",
    ],
)
def test_other_ports_are_refused_with_what_is_accepted(port: str) -> None:
    error = refused(port)
    assert error.code == ("port-not-allowed" if port.strip() else "port-empty")
    assert error.params == {"port": port.strip(), "accepted": ACCEPTED_PORTS}
    assert "is not a port this tool opens: give a serial device (/dev/ttyUSB0" in str(error)
    assert "socket://HOST:PORT or rfc2217://HOST:PORT with nothing after the port" in str(error)


@pytest.mark.parametrize(
    "port",
    [
        "socket://127.0.0.1:4000?logging=debug",
        "rfc2217://127.0.0.1:4000?ign_set_control",
        "socket://127.0.0.1:4000/",
        "socket://127.0.0.1:4000#x",
    ],
)
def test_a_network_address_with_options_is_refused(port: str) -> None:
    error = refused(port)
    assert error.code == "port-url-options"
    assert "with nothing after the port (no options, no path)" in str(error)


def test_a_regular_file_is_refused_even_under_a_serial_device_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "plain-file"
    plain.write_text("not a port")
    assert refused(str(plain)).code == "port-not-allowed"
    # /dev is not the tests' to write: show the names a regular file and a link to one
    link = tmp_path / "link-to-file"
    link.symlink_to(plain)
    real_stat = os.stat
    placed = {"/dev/ttyKIT0": str(plain), "/dev/serial/by-id/kit": str(link)}
    monkeypatch.setattr(os, "stat", lambda path, *a, **k: real_stat(placed.get(path, path)))
    for name in placed:
        error = refused(name)
        assert error.code == "port-not-a-device"
        assert f"{name} is not a serial device" in str(error)
    assert plain.read_text() == "not a port"


def test_a_spy_port_never_opens_its_file_through_the_library(target: Path) -> None:
    spy = f"spy:///dev/null?file={target}"
    with pytest.raises(BoardError) as caught:
        open_port(spy)
    assert caught.value.code == "port-not-allowed"
    result = check_board(spy, family="avr")
    assert result.reason is Reason.PORT and "is not a port this tool opens" in result.message
    with pytest.raises(BoardError) as caught:
        EspBoard(spy, connect_attempts=1).detect()  # esptool would open it with pyserial
    assert caught.value.reason is Reason.PORT
    assert target.read_bytes() == SECRET


def test_a_spy_port_never_opens_its_file_through_the_command_line(
    target: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spy = f"spy:///dev/null?file={target}"
    code = cli.main(["check", "--port", spy, "--board", "avr", "--quiet"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert err.startswith(f"firmware-tools: {spy} is not a port this tool opens: give")
    assert "socket://HOST:PORT" in err
    assert target.read_bytes() == SECRET
    for port in ("hwgrep://.*", "alt:///dev/null?class=Serial", "socket://h:1?logging=debug"):
        assert cli.main(["check", "--port", port, "--board", "avr", "--quiet"]) == cli.EXIT_USAGE
        assert port in capsys.readouterr().err
