"""The raw REPL's bytes, without a board: paste flow control, replies, script output."""

from __future__ import annotations

import pytest

from firmware_tools.protocol import rawrepl


def test_the_paste_answer_gives_the_window_or_says_no():
    assert rawrepl.parse_paste_header(b"R\x01\x80\x00") == 128
    assert rawrepl.parse_paste_header(b"R\x00") is None
    with pytest.raises(ValueError):
        rawrepl.parse_paste_header(b"\x05A")  # an old MicroPython echoing the request


def test_the_paste_window_grows_with_each_grant_and_notes_an_abort():
    window = rawrepl.PasteWindow(128)
    assert window.take(300) == 128
    assert window.take(300) == 0  # wait for the board
    window.feed(b"\x01\x01")
    assert window.take(300) == 256
    window.feed(b"\x04")
    assert window.aborted
    with pytest.raises(ValueError):
        window.feed(b"x")


def test_an_exec_reply_is_split_into_output_and_error_once_complete():
    assert rawrepl.parse_exec_reply(b"hello\r\n\x04") is None
    reply = rawrepl.parse_exec_reply(b"hello\r\n\x04\x04>")
    assert reply == rawrepl.ExecReply(b"hello\r\n", b"")
    reply.raise_for_error()
    failed = rawrepl.parse_exec_reply(
        b'\x04Traceback (most recent call last):\r\n  File "<stdin>", line 1\r\n'
        b"OSError: [Errno 28] ENOSPC\r\n\x04>"
    )
    with pytest.raises(rawrepl.RemoteError) as caught:
        failed.raise_for_error()
    assert str(caught.value) == "OSError: [Errno 28] ENOSPC"


def test_hash_lines_map_to_files_and_missing_ones_to_none():
    digest = rawrepl.file_digest(b"x = 1\n")
    out = f"{digest}\r\n-\r\n?\r\n".encode()
    assert rawrepl.parse_hashes(out, ["main.py", "gone.py", "lib.py"]) == {
        "main.py": digest,
        "gone.py": None,
        "lib.py": None,
    }
    with pytest.raises(ValueError):
        rawrepl.parse_hashes(out, ["main.py"])


def test_a_write_script_creates_folders_only_on_the_first_chunk():
    first = rawrepl.script_write_file("lib/kit/motors.py", b"\x00'\"\n", append=False)
    assert "os.mkdir('lib')" in first and "os.mkdir('lib/kit')" in first
    assert "open('lib/kit/motors.py','wb')" in first
    assert "f.write(b'\\x00\\'\"\\n')" in first
    later = rawrepl.script_write_file("lib/kit/motors.py", b"more", append=True)
    assert "mkdir" not in later and "'ab'" in later
