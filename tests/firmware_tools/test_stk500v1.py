"""STK500v1 frames as the Arduino bootloaders expect and send them."""

from __future__ import annotations

import pytest

from firmware_tools.protocol import stk500v1 as stk


def test_commands_are_the_bytes_optiboot_reads() -> None:
    assert stk.get_sync() == b"0 "
    assert stk.read_sign() == b"u "
    assert stk.enter_progmode() == b"P "
    assert stk.leave_progmode() == b"Q "
    assert stk.get_parameter(stk.PARAM_SW_MAJOR) == b"A\x81 "


def test_addresses_go_out_as_little_endian_words() -> None:
    assert stk.load_address(0x7E00) == b"U\x00\x3f "
    assert stk.load_address(0x0100) == b"U\x80\x00 "
    with pytest.raises(ValueError):
        stk.load_address(0x101)  # flash is addressed in words


def test_page_writes_and_reads_carry_a_big_endian_length() -> None:
    page = bytes(range(128))
    assert stk.prog_page(page) == b"d\x00\x80F" + page + b" "
    assert stk.read_page(256) == b"t\x01\x00F "
    with pytest.raises(ValueError):
        stk.read_page(257)  # optiboot 4.4 keeps the length in one byte
    with pytest.raises(ValueError):
        stk.prog_page(b"")


def test_a_reply_frame_yields_its_payload() -> None:
    assert stk.parse_reply(b"\x14\x10") == b""
    assert stk.parse_reply(b"\x14\x1e\x95\x0f\x10", 3) == bytes.fromhex("1e950f")
    assert stk.reply_length(256) == 258


@pytest.mark.parametrize(
    ("reply", "payload", "words"),
    [
        (b"\x14", 0, "cut short"),
        (b"\x15\x10", 0, "NOSYNC"),
        (b"\x00\x10", 0, "0x00"),
        (b"\x14\x1e\x95\x0f\x00", 3, "not OK"),
    ],
)
def test_a_broken_reply_says_what_is_wrong(reply: bytes, payload: int, words: str) -> None:
    with pytest.raises(stk.StkReplyError, match=words):
        stk.parse_reply(reply, payload)


def test_noise_is_told_apart() -> None:
    assert stk.classify_noise(b"") is stk.Noise.SILENCE
    assert stk.classify_noise(b'{"error":"unknown command"}\n') is stk.Noise.TEXT
    assert stk.classify_noise(b"\x00\xf8\x80\xfe\x1c") is stk.Noise.GARBAGE
