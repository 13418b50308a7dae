"""The health-check protocol, as bytes and JSON: requests, replies, identity comparison."""

from __future__ import annotations

import json

import pytest

from firmware_tools.base import BoardError, Outcome, Reason
from firmware_tools.protocol.healthcheck import (
    ExpectedFirmware,
    Identity,
    build_request,
    compare_identity,
    parse_hello,
    parse_line,
    parse_selftest,
)

# The example reply of firmware_tools/firmware/kitbot-avr/PROTOCOL.md, byte for byte.
AVR_SELFTEST = (
    b'{"selftest":[{"part":"motors","result":"pass","detail":"left 249 mA, right 249 mA",'
    b'"ma":[249,249]},{"part":"distance","result":"pass","detail":"about 24 cm","cm":24,'
    b'"mv":1197},{"part":"line","result":"pass","detail":"3 sensors respond","raw":[409,511,613]'
    b'},{"part":"battery","result":"pass","detail":"ok","mv":7398}]}\r\n'
)


def test_requests_are_one_json_object_per_line():
    assert build_request("hello") == b'{"cmd":"hello"}\n'
    assert json.loads(build_request("selftest")) == {"cmd": "selftest"}


def test_lines_that_are_not_json_objects_are_noise_not_errors():
    assert parse_line(b"\x00\xfe garbage from a reset\r\n") is None
    assert parse_line(b'["a list"]') is None
    assert parse_line(b'{"fw": "kitbot", "version"') is None  # cut off mid-line
    # a partial line printed while booting, then the reply
    assert parse_line(b'\x14\x10{"fw":"kitbot","version":"1.2.0"}\r') == {
        "fw": "kitbot",
        "version": "1.2.0",
    }


def test_hello_reply_gives_the_identity():
    reply = parse_line(b'{"fw":"kitbot","version":"1.2.0","board":"uno","id":"0badc0de"}')
    assert parse_hello(reply) == Identity("kitbot", "1.2.0", "uno", "0badc0de")


def test_hello_without_version_is_a_protocol_error():
    with pytest.raises(BoardError) as caught:
        parse_hello({"fw": "kitbot"})
    assert caught.value.reason is Reason.PROTOCOL
    assert "flash the kit firmware" in str(caught.value)


@pytest.mark.parametrize(
    ("identity", "expected", "outcome", "words"),
    [
        (Identity("kitbot", "1.2.0", "uno"), ExpectedFirmware("kitbot", "1.2.0"), "pass", "uno"),
        (Identity("kitbot", "1.1.0"), ExpectedFirmware("kitbot", None), "pass", "1.1.0"),
        (Identity("kitbot", "1.1.0"), ExpectedFirmware("kitbot", "1.2.0"), "fail", "expected"),
        (Identity("blink", "0.1"), ExpectedFirmware("kitbot", None), "fail", "not kitbot"),
    ],
)
def test_identity_is_compared_with_the_expected_firmware(identity, expected, outcome, words):
    step = compare_identity(identity, expected)
    assert step.name == "firmware"
    assert step.outcome is Outcome(outcome)
    assert words in step.detail


def test_the_avr_firmware_selftest_example_reads_as_four_passing_parts():
    steps = parse_selftest(parse_line(AVR_SELFTEST))
    assert [s.name for s in steps] == [
        "selftest:motors",
        "selftest:distance",
        "selftest:line",
        "selftest:battery",
    ]
    assert all(s.outcome is Outcome.PASS for s in steps)
    assert steps[1].detail == "about 24 cm; cm=24, mv=1197"


def test_selftest_warn_and_fail_come_through_with_their_reason():
    reply = {
        "selftest": [
            {"part": "battery", "result": "warn", "detail": "battery low", "mv": 6800},
            {"part": "line", "result": "fail", "detail": "a line sensor is stuck"},
            {"part": "motors", "result": "maybe"},
        ]
    }
    battery, line, motors = parse_selftest(reply)
    assert (battery.outcome, battery.detail) == (Outcome.WARN, "battery low; mv=6800")
    assert (line.outcome, line.detail) == (Outcome.FAIL, "a line sensor is stuck")
    assert motors.outcome is Outcome.FAIL and "unreadable" in motors.detail


def test_selftest_parts_as_an_object_or_with_ok_flags_are_read_too():
    steps = parse_selftest({"selftest": {"motors": "pass", "battery": {"ok": False, "mv": 900}}})
    assert [(s.name, s.outcome) for s in steps] == [
        ("selftest:motors", Outcome.PASS),
        ("selftest:battery", Outcome.FAIL),
    ]


def test_selftest_without_parts_is_a_protocol_error():
    with pytest.raises(BoardError) as caught:
        parse_selftest({"error": "unknown command"})
    assert caught.value.reason is Reason.PROTOCOL
