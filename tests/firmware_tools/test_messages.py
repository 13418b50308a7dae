"""firmware_tools says every sentence as a code and parameters; its command line still prints
the English it always printed, and an application can say the same code in its own words."""

from __future__ import annotations

import copy
import os
import pickle
import re
import threading
from pathlib import Path

import pytest

from firmware_tools import cli
from firmware_tools.base import BoardError, Reason
from firmware_tools.images import load_image
from firmware_tools.messages import MESSAGES, Message, joined, step_name
from firmware_tools.operations import check_job, run_batch
from firmware_tools.transport import ManualReset

LIBRARY = Path(__file__).resolve().parents[2] / "firmware_tools"


@pytest.fixture
def silent_port():
    """A pty with nothing behind it: a board that never answers."""
    controller, device = os.openpty()
    yield os.ttyname(device)
    os.close(controller)
    os.close(device)


def test_an_error_is_its_english_line_with_a_code_and_the_values_it_is_made_of(tmp_path):
    binary = tmp_path / "app.bin"
    binary.write_bytes(bytes(range(64)))
    with pytest.raises(BoardError) as caught:
        load_image(binary, chip="esp32")
    error = caught.value
    assert str(error) == (
        "firmware file app.bin is a raw binary: give the address to write it at (--address)"
    )
    assert error.code == "bin-needs-address" and error.params == {"file": "app.bin"}
    assert error.reason is Reason.BAD_IMAGE


def test_a_message_inside_a_message_keeps_its_own_code(tmp_path):
    broken = tmp_path / "kitbot.hex"
    broken.write_text(":10000000not a hex file\n")
    with pytest.raises(BoardError) as caught:
        load_image(broken)
    error = caught.value
    assert (
        str(error)
        == "firmware file kitbot.hex is a broken Intel HEX file: line 1 is not hexadecimal"
    )
    detail = error.params["detail"]
    assert isinstance(detail, Message) and detail.code == "hex-line-not-hex"
    assert error.message.to_dict() == {
        "code": "hex-broken",
        "params": {
            "file": "kitbot.hex",
            "detail": {"code": "hex-line-not-hex", "params": {"line": 1}},
        },
    }


def test_a_copied_or_pickled_message_keeps_its_code():
    said = Message(
        "cannot-open", name="/dev/ttyUSB0", why="Permission denied", hint=Message("hint-permission")
    )
    for again in (copy.deepcopy(said), pickle.loads(pickle.dumps(said))):
        assert again == said and again.code == "cannot-open"
        assert again.params["hint"].code == "hint-permission"


def test_a_driver_outside_the_library_may_say_plain_text():
    error = BoardError("the plotter is out of paper", reason=Reason.PROTOCOL)
    assert str(error) == "the plotter is out of paper"
    assert error.code == "" and error.params == {}


def test_joined_and_step_names_say_the_english_the_summaries_always_said():
    assert joined([]) == "" and joined(["a"]) == "a"
    assert joined(["a", "b", "c"]) == "a; b; c" and joined(["x", "y"], "either") == "x or y"
    assert step_name("bootloader").code == "step-bootloader"
    assert step_name("selftest:motors") == "selftest:motors"
    assert step_name("selftest:motors").params == {"part": "motors"}
    assert step_name("a step of a plug-in") == "a step of a plug-in"


def test_every_code_the_library_says_is_in_the_table():
    """A code written in the library without its English would fail only when said."""
    used = set()
    for path in LIBRARY.rglob("*.py"):
        used |= set(re.findall(r"""Message\(\s*["']([a-z0-9+-]+)["']""", path.read_text()))
    assert used and used <= set(MESSAGES)


# -- the command line prints the English it always printed ----------------------------------


def test_the_command_line_prints_a_refused_file_in_english(tmp_path, capsys):
    binary = tmp_path / "app.bin"
    binary.write_bytes(bytes(range(64)))
    assert cli.main(["flash", str(binary), "--port", "/dev/ttyUSB0"]) == 2
    assert capsys.readouterr().err == (
        "firmware-tools: firmware file app.bin is a raw binary: give the address to write it "
        "at (--address)\n"
    )


def test_the_command_line_prints_a_failed_check_in_english(silent_port, capsys):
    argv = ["check", "--port", silent_port, "--board", "avr", "--hello-timeout", "1"]
    assert cli.main([*argv, "--retries", "0", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "no answer to 'hello' within 1 s: flash the kit firmware, or press reset" in out
    assert "not checked: the port has no reset line (DTR/RTS); firmware checked" in out


def test_a_cancelled_board_and_a_reset_to_press_are_said_in_english(silent_port):
    stop = threading.Event()
    stop.set()
    batch = run_batch([silent_port], check_job(family="avr"), cancel=stop)
    (board,) = batch.boards
    assert board.message == "cancelled before it finished: run it again"
    assert board.message.code == "cancelled"
    assert "cancelled before it finished: run it again" in cli.summary_table(batch)
    heard: list[str] = []
    ManualReset("/dev/ttyUSB3", heard.append).reset(None)
    assert heard == ["Press the reset button on the board at /dev/ttyUSB3 now"]
    assert heard[0].code == "press-reset" and heard[0].params == {"name": "/dev/ttyUSB3"}
