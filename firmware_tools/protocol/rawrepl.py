"""MicroPython's raw REPL and raw-paste mode, as bytes and board-side scripts. Pure: no I/O.

Raw REPL: ``Ctrl-A`` enters it (the board answers with ``RAW_REPL_BANNER``); the host sends
code then ``Ctrl-D``; the board answers ``OK``, the program's output, ``Ctrl-D``, its error
output, ``Ctrl-D`` and the prompt ``>``. Raw-paste mode (MicroPython 1.14+) adds flow control:
the host sends ``RAW_PASTE_REQUEST``; the board answers ``R\\x01`` and a 16-bit window size
(or ``R\\x00`` when it does not support it), then grants one more window with each ``\\x01``
it sends; the host ends the code with ``Ctrl-D`` and the board acknowledges with ``Ctrl-D``
before the output starts (no ``OK`` in this mode).

The board-side scripts here use only what every MicroPython port has (``os``, ``open``,
``sys``), and feature-test the rest (``hashlib``, ``os.uname``, ``machine.unique_id``).
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass

from firmware_tools.messages import Message

__all__ = [
    "CTRL_A",
    "CTRL_B",
    "CTRL_C",
    "CTRL_D",
    "INTERRUPT",
    "RAW_PASTE_REQUEST",
    "RAW_REPL_BANNER",
    "ExecReply",
    "PasteWindow",
    "RemoteError",
    "file_digest",
    "parse_exec_reply",
    "parse_hashes",
    "parse_identity",
    "parse_paste_header",
    "script_file_hashes",
    "script_identity",
    "script_write_file",
]

CTRL_A = b"\x01"  # enter raw REPL
CTRL_B = b"\x02"  # leave raw REPL
CTRL_C = b"\x03"  # KeyboardInterrupt: stops a running main.py
CTRL_D = b"\x04"  # run the code sent (raw REPL) / soft reset (empty line)
INTERRUPT = b"\r" + CTRL_C + CTRL_C  # twice: the first can land inside a try/except
RAW_REPL_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
RAW_PASTE_REQUEST = b"\x05A\x01"
NO_FILE = "-"  # hash script: the file does not exist
NO_HASHLIB = "?"  # hash script: the port has no hashlib.sha256


class RemoteError(Exception):
    """Code run on the board raised; ``str()`` is the exception's last line (``OSError: 28``)."""

    def __init__(self, last_line: str, traceback: str) -> None:
        super().__init__(last_line)
        self.last_line = last_line
        self.traceback = traceback


@dataclass(frozen=True)
class ExecReply:
    """What one raw-REPL run printed: ``out`` on stdout, ``err`` the traceback if it raised."""

    out: bytes
    err: bytes

    def raise_for_error(self) -> None:
        """:raise RemoteError: when the code raised on the board."""
        if self.err:
            text = self.err.decode("utf-8", errors="replace").strip()
            raise RemoteError(text.splitlines()[-1] if text else "error", text)


def parse_paste_header(header: bytes) -> int | None:
    """Return the raw-paste window size from the board's 4-byte answer, or None if refused.

    :raise ValueError: the answer is neither ``R\\x00`` nor ``R\\x01`` + window.
    """
    if header[:2] == b"R\x00":
        return None
    if header[:2] == b"R\x01" and len(header) >= 4:
        return struct.unpack("<H", header[2:4])[0]
    raise ValueError(Message("paste-unexpected-answer", header=repr(header)))


class PasteWindow:
    """Flow control of raw-paste mode: how many bytes the host may send now."""

    def __init__(self, window_size: int) -> None:
        self.window_size = window_size
        self.available = window_size
        self.aborted = False

    def feed(self, data: bytes) -> None:
        """Account for bytes the board sent while the host was pasting.

        :raise ValueError: a byte that is neither a window grant nor an abort.
        """
        for byte in data:
            if byte == 0x01:
                self.available += self.window_size
            elif byte == 0x04:
                self.aborted = True
            else:
                raise ValueError(Message("paste-unexpected-byte", byte=f"0x{byte:02x}"))

    def take(self, remaining: int) -> int:
        """Return how many of ``remaining`` bytes may be sent now, and count them as sent."""
        n = min(self.available, remaining)
        self.available -= n
        return n


def parse_exec_reply(buffer: bytes) -> ExecReply | None:
    """Split ``out \\x04 err \\x04 >`` (after ``OK`` or the paste ack); None if incomplete."""
    first = buffer.find(CTRL_D)
    if first < 0:
        return None
    second = buffer.find(CTRL_D, first + 1)
    if second < 0 or not buffer[second + 1 :].startswith(b">"):
        return None
    return ExecReply(buffer[:first], buffer[first + 1 : second])


def file_digest(data: bytes) -> str:
    """The hex digest the hash script prints for a file holding ``data``."""
    return hashlib.sha256(data).hexdigest()


def script_file_hashes(paths: list[str]) -> str:
    """Board-side code printing one line per path: sha256 hex, ``-`` (missing) or ``?``."""
    return (
        "try:\n"
        " import hashlib\n"
        "except ImportError:\n"
        " hashlib=None\n"
        "def _kh(p):\n"
        " try:\n"
        "  f=open(p,'rb')\n"
        " except OSError:\n"
        f"  return {NO_FILE!r}\n"
        " if hashlib is None or not hasattr(hashlib,'sha256'):\n"
        "  f.close()\n"
        f"  return {NO_HASHLIB!r}\n"
        " h=hashlib.sha256()\n"
        " while True:\n"
        "  b=f.read(512)\n"
        "  if not b:\n"
        "   break\n"
        "  h.update(b)\n"
        " f.close()\n"
        " return ''.join('%02x'%x for x in h.digest())\n"
        f"for _p in {paths!r}:\n"
        " print(_kh(_p))\n"
    )


def parse_hashes(out: bytes, paths: list[str]) -> dict[str, str | None]:
    """Map each path to its on-board digest; None when missing or the board cannot hash.

    :raise ValueError: the board printed a different number of lines than paths asked.
    """
    lines = out.decode("utf-8", errors="replace").split()
    if len(lines) != len(paths):
        raise ValueError(Message("hashes-line-count", lines=len(lines), files=len(paths)))
    return {
        p: (None if h in (NO_FILE, NO_HASHLIB) else h) for p, h in zip(paths, lines, strict=True)
    }


def script_write_file(path: str, data: bytes, *, append: bool) -> str:
    """Board-side code writing ``data`` to ``path`` (creating its folders when not appending)."""
    lines = ["import os"]
    if not append:
        folder = ""
        for part in path.split("/")[:-1]:
            folder = f"{folder}/{part}" if folder else part
            lines += ["try:", f" os.mkdir({folder!r})", "except OSError:", " pass"]
    mode = "ab" if append else "wb"
    lines.append(f"f=open({path!r},{mode!r})")
    lines += [f"f.write({data[i : i + 256]!r})" for i in range(0, len(data), 256)]
    lines.append("f.close()")
    return "\n".join(lines) + "\n"


def script_identity() -> str:
    """Board-side code printing one JSON object: implementation, version, machine, unique id."""
    return (
        "import sys,os,json\n"
        "_i=sys.implementation\n"
        "_d={'implementation':_i.name,'version':'.'.join(str(v) for v in _i.version[:3]),"
        "'platform':sys.platform,'machine':getattr(_i,'_machine','')}\n"
        "if hasattr(os,'uname'):\n"
        " _u=os.uname()\n"
        " _d['machine']=_u.machine\n"
        " _d['release']=_u.release\n"
        "try:\n"
        " import machine\n"
        " _d['unique_id']=''.join('%02x'%b for b in machine.unique_id())\n"
        "except Exception:\n"
        " _d['unique_id']=''\n"
        "print(json.dumps(_d))\n"
    )


def parse_identity(out: bytes) -> dict[str, str]:
    """Read the identity script's JSON line.

    :raise ValueError: the output is not the JSON object the script prints.
    """
    value = json.loads(out.decode("utf-8", errors="replace").strip().splitlines()[-1])
    if not isinstance(value, dict):
        raise ValueError("identity is not a JSON object")
    return {str(k): str(v) for k, v in value.items()}
