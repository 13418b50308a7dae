"""What the boards feature says to a person: its refusal, and every message of firmware_tools
in the page's language.

firmware_tools says each sentence as a code and parameters (:mod:`firmware_tools.messages`,
whose English its own command line prints). :data:`WORDS` holds this app's words for every one
of those codes, in the page's language and the page's terms (a form field, not a command-line
flag), so a French page speaks French about boards. A board run keeps the code and
parameters of its message (:func:`stored`), said when the run is shown (:func:`said`), in the
language of whoever reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l

from firmware_tools.base import MAX_FIRMWARE_BYTES
from firmware_tools.messages import Message
from kitmanager.text import show_hidden
from kitmanager.unit_of_work import UserError

if TYPE_CHECKING:
    from kitmanager.models import BoardRun

__all__ = [
    "FIRMWARE_MB",
    "FIRMWARE_UNREADABLE",
    "PAGE_PARAMS",
    "SERVER_STOPPED",
    "WORDS",
    "BoardsError",
    "kept",
    "run_message",
    "said",
    "say",
    "stored",
]


class BoardsError(UserError):
    """A boards request the user can fix; the message says how."""


#: The most a firmware holds (firmware_tools' figure), as pages say it: "16 MB".
FIRMWARE_MB = MAX_FIRMWARE_BYTES // (1024 * 1024)
# The app's own codes, kept on a run like the library's.
SERVER_STOPPED = "server-stopped"
FIRMWARE_UNREADABLE = "firmware-unreadable"
# A parameter said longer than this is cut: a board's reply or a file name is not a page.
_PARAM_CHARS = 200

_ACCEPTED_PORTS = _l(
    "Write a serial device (/dev/ttyUSB0, /dev/ttyACM0, /dev/serial/by-id/…, COM3 on "
    "Windows), or socket://HOST:PORT or rfc2217://HOST:PORT with nothing after the port."
)
#: Parameters a page says in its own words, whatever the library gave.
PAGE_PARAMS: dict[str, object] = {"accepted": _ACCEPTED_PORTS, "firmware_mb": FIRMWARE_MB}
_TOO_LARGE = _l("The firmware is larger than %(firmware_mb)s MB: that is not a board firmware.")
_NO_ANSWER = _l(
    "no answer at all from %(name)s at %(speeds)s baud: check it is the right port, the USB "
    "cable carries data, and the board has a bootloader"
)
_NO_ANSWER_MANUAL = _l(
    "no answer at all from %(name)s at %(speeds)s baud: check it is the right port, the USB "
    "cable carries data and the board has a bootloader, and press reset when asked"
)
_WRONG_BAUD = _l(
    "%(name)s sends unreadable bytes at %(speeds)s baud: the wrong speed for this board "
    "(optiboot 115200, old Nano bootloader 57600)"
)

#: This app's words for each code of firmware_tools (every one: a test checks), then its own.
WORDS: dict[str, Any] = {
    # putting things together
    "then": _l("%(first)s; %(then)s"),
    "also": _l("%(first)s, %(then)s"),
    "either": _l("%(first)s or %(then)s"),
    "byte-count": _l("%(count)s bytes"),
    "the-image": _l("the image"),
    # ports
    "port-not-allowed": _l("%(port)s is not a port kitmanager opens. %(accepted)s"),
    "port-empty": _l("The port is empty. %(accepted)s"),
    "port-url-options": _l("%(port)s has options or a path after the port. %(accepted)s"),
    "port-not-a-device": _l(
        "%(port)s is not a serial device (it is a file, a folder or another kind of device). "
        "%(accepted)s"
    ),
    "hub-socket-serial": _l("hub socket %(socket)s, serial %(serial)s"),
    "hub-socket": _l("hub socket %(socket)s"),
    "hub-serial": _l("serial %(serial)s"),
    "port-at": _l("%(port)s (%(place)s)"),
    "board-id": _l("board id %(id)s"),
    "cannot-open": _l("cannot open %(name)s (%(why)s): %(hint)s"),
    "hint-not-found": _l(
        "check the board is plugged in; the Boards page lists the ports connected now"
    ),
    "hint-permission": _l(
        "add the account that runs kitmanager to the dialout group, then log in again"
    ),
    "hint-busy": _l("another program (serial monitor, IDE) has it open: close it"),
    "hint-open": _l(
        "check the board is plugged in and no other program (serial monitor, IDE) has the port open"
    ),
    "press-reset": _l("Press the reset button on the board at %(name)s now"),
    "no-reset-lines": _l(
        "%(name)s has no reset line (a pty or network port): press its reset button when asked"
    ),
    # firmware files
    "unknown-chip": _l("unknown chip “%(chip)s”: use one of %(known)s"),
    "image-unreadable": _l("the file %(file)s cannot be read (%(why)s)"),
    "image-eeprom": _l("the file %(file)s holds EEPROM data, not a program: use the sketch's .hex"),
    "hex-has-address": _l(
        "an Intel HEX file carries its own address: leave “Address of a .bin file” empty"
    ),
    "hex-too-large": _l(
        "the file %(file)s is %(size)s B of Intel HEX, more than a program for the %(chip)s "
        "can be (%(limit)s B): is it built for this chip?"
    ),
    "bin-needs-address": _l(
        "a .bin file needs the address to write it at: fill in “Address of a .bin file” (for "
        "example 0x10000)"
    ),
    "bin-negative-address": _l(
        "the file %(file)s cannot be written at a negative address (%(address)s)"
    ),
    "image-empty": _l("the file %(file)s holds no data"),
    "image-in-bootloader": _l(
        "the file %(file)s has data at %(start)s-%(end)s, inside the bootloader area (from "
        "%(limit)s): use the sketch's .hex, not the one “with_bootloader”"
    ),
    "image-beyond-flash": _l(
        "the file %(file)s has data up to %(end)s, beyond the %(flash_size)s B flash of the "
        "%(chip)s: is it built for this chip?"
    ),
    "hex-not-text": _l("the file %(file)s is not a text Intel HEX file"),
    "hex-broken": _l("the file %(file)s is a broken Intel HEX file: %(detail)s"),
    "hex-line-overlaps": _l("line %(line)s overlaps data already at %(address)s"),
    "hex-line-no-colon": _l("line %(line)s does not start with “:”"),
    "hex-line-length": _l("line %(line)s has the wrong length"),
    "hex-line-not-hex": _l("line %(line)s is not hexadecimal"),
    "hex-line-checksum": _l("line %(line)s has a bad checksum"),
    "hex-line-record-type": _l("line %(line)s has an unknown record type %(kind)s"),
    "hex-line-record-length": _l("line %(line)s has the wrong length for a type %(kind)s record"),
    "zip-unreadable": _l("%(name)s is not a ZIP file that can be opened."),
    "zip-damaged": _l("%(name)s is damaged (%(entry)s cannot be read): make the ZIP again."),
    "zip-too-large": _TOO_LARGE,
    "zip-unsupported": _l(
        "%(name)s holds %(entry)s encrypted or compressed other than with Deflate: zip the "
        "files again with the usual tool, without a password."
    ),
    "zip-too-many-files": _l(
        "%(name)s holds more files than a board firmware has (at most %(limit)s)."
    ),
    "zip-nested-archive": _l(
        "%(name)s holds another archive (%(entry)s): unpack it and upload its files instead."
    ),
    "zip-size-mismatch": _l(
        "%(name)s is damaged or forged: %(entry)s does not unpack to the size its list of "
        "files declares."
    ),
    "name-too-long": _l(
        "%(name)s holds a file or folder name longer than %(limit)s bytes (%(entry)s; a letter "
        "with an accent takes 2 bytes, many other letters 3). Shorten it and upload again."
    ),
    "name-file-and-folder": _l(
        "%(name)s holds a file %(entry)s and a folder of the same name (for %(other)s): a "
        "board cannot keep both. Rename one of them and upload again."
    ),
    "name-twice": _l(
        "%(name)s holds %(other)s and %(entry)s, the same name on a board (capitals aside). "
        "Keep one of them and upload again."
    ),
    "mpy-path-missing": _l("%(path)s is missing: upload the firmware again"),
    "files-too-large": _TOO_LARGE,
    "no-files": _l("there are no files to copy: the folder is empty (hidden files are left out)"),
    "no-firmware-given": _l("no firmware was given: upload a .hex, a .bin or a folder"),
    "two-firmwares": _l(
        "two %(family)s firmwares were given (%(first)s and %(second)s): choose one per board "
        "family"
    ),
    "firmware-family-unknown": _l(
        "the files do not tell which boards %(path)s is for: choose the board family"
    ),
    "one-firmware-file": _l("a %(family)s board takes one firmware file, not %(count)s"),
    "not-an-image": _l("%(source)s is %(family)s firmware, not an image for this board"),
    "firmware-is-for": _l("%(source)s is %(family)s firmware"),
    "firmware-not-for-board": _l("%(sources)s; the board is %(family)s"),
    "not-esp-image": _l("%(image)s is built for %(chip)s, not an ESP board"),
    "esp-address-sector": _l(
        "the address %(address)s is not on a 4 KB flash sector boundary: use the address from "
        "the build (0x1000, 0x8000, 0x10000, …)"
    ),
    "esp-wrong-chip": _l(
        "%(image)s is built for ESP chip id %(built_for)s, the board is chip id %(chip_id)s: "
        "build it for this board's chip"
    ),
    # which board
    "unknown-board": _l("unknown board “%(name)s”: use one of %(names)s"),
    "cannot-tell-board": _l(
        "the kind of board on %(port)s is not known: add the port by hand with its board family"
    ),
    "busy": _l(
        "%(port)s is busy: a %(running)s is running on it; wait for it to end (or stop it), "
        "then try again"
    ),
    "no-firmware-for-known": _l("a %(family)s board (%(board)s): no %(family)s firmware chosen"),
    "no-firmware-for-identified": _l(
        "identified as %(family)s (%(detail)s): no %(family)s firmware chosen"
    ),
    "not-identified": _l("not identified: no %(families)s board answered"),
    "left-alone": _l("%(why)s; left alone"),
    # AVR boards
    "unknown-signature": _l("unknown chip %(signature)s"),
    "avr-bootloader-answers": _l("%(bootloader)s answers: %(chip)s (%(signature)s)"),
    "avr-flash-matches": _l("the flash matches the image (%(count)s B)"),
    "image-for-other-chip": _l(
        "%(image)s is built for the %(chip)s, but the board at %(name)s is an %(board_chip)s: "
        "use the firmware for this board"
    ),
    "image-beyond-bootloader": _l(
        "%(image)s ends at %(end)s, but the %(bootloader)s bootloader on %(name)s leaves only "
        "%(limit)s B: build a smaller sketch or update the bootloader"
    ),
    "wrong-signature": _l(
        "the board at %(name)s has a %(chip)s (signature %(signature)s), but the image is for "
        "the %(target)s: use the firmware built for this board"
    ),
    "avr-verify-mismatch": _l(
        "the flash at %(address)s on %(name)s differs from the image: flash it again; if that "
        "happens again after a flash, replace the board"
    ),
    "older-nano": _l(
        "No bootloader answered at %(tried)s baud on %(name)s; if it is an older Nano, press "
        "its reset button again now (%(baud)s baud)"
    ),
    "sketch-running": _l(
        "%(name)s answers like a running program (%(sample)s at %(baud)s baud), not a "
        "bootloader: the reset did not happen; try again"
    ),
    "sketch-running-manual": _l(
        "%(name)s answers like a running program (%(sample)s at %(baud)s baud), not a "
        "bootloader: the reset did not happen; press reset when asked"
    ),
    # kitmanager never chooses a baud rate: what to do is the same with one
    "wrong-baud": _WRONG_BAUD,
    "wrong-baud-given": _WRONG_BAUD,
    "avr-no-answer": _NO_ANSWER,
    "avr-no-answer-baud": _NO_ANSWER,
    "avr-no-answer-manual": _NO_ANSWER_MANUAL,
    "avr-no-answer-manual-baud": _NO_ANSWER_MANUAL,
    "avr-gone": _l("the board at %(name)s disappeared (%(why)s): plug it back in and try again"),
    "avr-silent": _l("the bootloader on %(name)s stopped answering: check the cable and try again"),
    "avr-gone-writing": _l(
        "the board at %(name)s disappeared in the middle of writing: it holds a partial "
        "program; check the cable, then flash it again"
    ),
    "avr-silent-writing": _l(
        "the board at %(name)s stopped answering in the middle of writing: it holds a partial "
        "program; check the cable, then flash it again"
    ),
    "avr-garbled": _l(
        "the bootloader on %(name)s gave a garbled answer while %(doing)s (%(why)s): try again"
    ),
    "avr-garbled-writing": _l(
        "the bootloader on %(name)s gave a garbled answer while %(doing)s (%(why)s): flash it again"
    ),
    "doing-write-page": _l("writing page %(address)s"),
    "doing-read": _l("reading %(address)s"),
    "doing-command": _l("command %(command)s"),
    "stk-short": _l("reply cut short: %(got)s of %(wanted)s bytes"),
    "stk-not-insync": _l("reply starts with %(first)s, not INSYNC"),
    "stk-not-ok": _l("reply ends with %(last)s, not OK"),
    "bootloader-speaks-other": _l(
        "the bootloader of the %(chip)s speaks %(protocol)s, which kitmanager does not speak"
    ),
    "bootloader-unsupported": _l(
        "the bootloader of the %(chip)s speaks %(protocol)s, which kitmanager does not speak "
        "yet: flash it from the Arduino IDE; a check still checks its firmware"
    ),
    # ESP boards
    "hold-boot": _l("Hold BOOT and press RESET on the board at %(name)s now"),
    "esp-bootloader-answers": _l("%(chip)s ROM bootloader answers"),
    "esp-no-bootloader": _l(
        "no ESP bootloader answers on %(name)s: hold BOOT, press RESET, and try again; or check "
        "it is an ESP board and the right port"
    ),
    "esp-gone-flashing": _l(
        "%(name)s went away while flashing (%(why)s): plug it in and flash again"
    ),
    "esp-verify-mismatch": _l(
        "%(name)s: the flash does not hold what was written (%(why)s): flash again"
    ),
    "esptool-stopped": _l("%(name)s: esptool stopped: %(why)s"),
    # MicroPython boards
    "mpy-repl-answers": _l("MicroPython %(version)s REPL on %(platform)s"),
    "mpy-all-match": _l("all files match"),
    "mpy-files-differ": _l("files differ from the firmware (%(files)s): flash again"),
    "mpy-read-back-differs": _l(
        "%(files)s read back different from what was copied: flash again; if that happens "
        "again, the board's storage may be full"
    ),
    "mpy-no-answer": _l(
        "no answer from %(name)s: is it a MicroPython board, the right port, and a data (not "
        "charge-only) cable?"
    ),
    "mpy-gone": _l("%(name)s went away (%(why)s): check the cable and plug the board in again"),
    "mpy-board-said": _l("%(name)s: the board said %(line)s"),
    "mpy-soft-reset-closed": _l("%(name)s: the port closed on soft reset (unix port restarts)"),
    "on-board": _l("%(name)s: %(detail)s"),
    "mpy-not-a-repl": _l(
        "answers but not as a MicroPython REPL (%(seen)s): install MicroPython on it, or add "
        "the port with its board family"
    ),
    "mpy-identity-unreadable": _l("the identity script printed %(reply)s"),
    "mpy-no-end-markers": _l("a reply without its end markers"),
    "mpy-paste-stopped": _l("the board stopped the paste"),
    "mpy-missing": _l("%(what)s did not come (got %(got)s)"),
    "mpy-waited": _l("waited for %(what)s, got %(got)s"),
    "mpy-no-reply": _l("%(name)s did not send %(what)s"),
    "repl-prompt": _l("the normal REPL prompt"),
    "repl-ok": _l("the raw REPL OK"),
    "repl-reply": _l("the reply"),
    "paste-answer": _l("the raw-paste answer"),
    "paste-window": _l("the raw-paste window"),
    "paste-grant": _l("the raw-paste window grant"),
    "paste-end": _l("the end-of-paste acknowledgement"),
    "paste-unexpected-answer": _l("unexpected raw-paste answer %(header)s"),
    "paste-unexpected-byte": _l("unexpected byte %(byte)s during the raw paste"),
    "hashes-line-count": _l("the hash script printed %(lines)s lines for %(files)s files"),
    # health check
    "hello-incomplete": _l(
        "the firmware answered hello without a name and version (%(reply)s): flash the kit "
        "firmware again"
    ),
    "selftest-no-parts": _l(
        "the firmware's self-test reply lists no parts (%(reply)s): check that the kit firmware "
        "is the expected version"
    ),
    "part-unreadable": _l("unreadable result (%(item)s)"),
    "firmware-found": _l("%(fw)s %(version)s"),
    "firmware-found-on": _l("%(fw)s %(version)s on %(board)s"),
    "firmware-not-kit": _l("runs %(found)s, not %(fw)s: flash the kit firmware"),
    "firmware-old-version": _l("runs %(found)s, expected version %(version)s: flash it again"),
    "firmware-error-answer": _l(
        "the firmware answered “%(cmd)s” with an error (%(error)s): check the kit wiring, or "
        "flash the kit firmware again"
    ),
    "health-port-gone": _l("the port went away during the health check (%(why)s): check the cable"),
    "firmware-prints": _l(
        "the firmware does not answer “%(cmd)s”, but something prints: flash the kit firmware "
        "(or check its baud rate is 115200)"
    ),
    "no-answer-to": _l(
        "no answer to “%(cmd)s” within %(timeout)s s: flash the kit firmware, or press reset"
    ),
    "selftest-failed": _l(
        "self-test failed (%(parts)s): check or replace that part of the kit, then check again"
    ),
    "selftest-passed": _l("self-test %(count)s/%(count)s parts pass"),
    "port-opened": _l("opened"),
    "bootloader-not-checked": _l("not checked: %(why)s; firmware checked"),
    "reset-none": _l("the reset is pressed by hand"),
    "no-reset-line": _l("the port has no reset line (DTR/RTS)"),
    "verify-unavailable": _l(
        "%(family)s boards cannot be verified alone: flash them, which skips an unchanged firmware"
    ),
    "no-bootloader-check": _l("%(family)s boards have no bootloader check"),
    # results and batches
    "flash-unchanged": _l("already up to date: nothing written"),
    "flash-verified": _l("%(bytes)s B written, verified, in %(seconds)s s"),
    "flash-not-verified": _l("%(bytes)s B written, not verified, in %(seconds)s s"),
    "earlier-flash-cut": _l(
        "an earlier flash of this board was cut off while writing: flash it again"
    ),
    "step-said": _l("%(step)s: %(detail)s"),
    "needs-reflash": _l("%(message)s (needs re-flash)"),
    "timed-out": _l("no result within %(timeout)s s: check the board, then run it again"),
    "cancelled": _l("stopped before it finished: run it again"),
    "internal-error": _l("internal error: %(error)s"),
    "step-port": _l("port"),
    "step-bootloader": _l("bootloader"),
    "step-firmware": _l("firmware"),
    "step-identify": _l("identification"),
    "step-flash": _l("flash"),
    "step-verify": _l("verification"),
    "step-check": _l("check"),
    "step-job": _l("job"),
    "step-cancelled": _l("stop"),
    "step-timeout": _l("time limit"),
    "step-reflash": _l("re-flash"),
    "step-selftest": _l("self-test %(part)s"),
    # this app's own
    SERVER_STOPPED: _l("The server stopped before this board was done: run it again."),
    FIRMWARE_UNREADABLE: _l("The firmware %(title)s cannot be read (%(error)s). Upload it again."),
}


def said(message: object) -> str:
    """``message`` in the page's language: a firmware_tools
    :class:`~firmware_tools.messages.Message`, or its stored form (``{"code": ..., "params":
    ...}``); any other text as it is (a driver's own words, a board's reply)."""
    if isinstance(message, Message):
        return say(message.code, message.params, str(message))
    if isinstance(message, Mapping):
        return say(str(message.get("code", "")), message.get("params") or {})
    return "" if message is None else str(message)


def say(code: str, params: Mapping[str, Any], fallback: str = "") -> str:
    """The words of ``code`` with ``params``, in the page's language; ``fallback`` (else the
    code) for a code this app has no words for, or parameters that do not fit them."""
    words = WORDS.get(code)
    if words is None:
        return fallback or code
    values = {key: _param(value) for key, value in params.items()}
    values.update({key: str(value) for key, value in PAGE_PARAMS.items()})
    try:
        return str(words) % values
    except (KeyError, ValueError, TypeError):  # parameters named otherwise (a newer library)
        return fallback or code


def _param(value: object) -> str:
    if isinstance(value, Message | Mapping):
        return said(value)
    if isinstance(value, float):
        return format_decimal(value)
    if isinstance(value, str):
        return show_hidden(value)[:_PARAM_CHARS]
    return str(value)


def run_message(run: BoardRun) -> str:
    """What ``run`` came to, in the page's language: said from its code and parameters; a run
    kept before they were (its English line only) as it was kept."""
    if not run.message_code:
        return run.message
    return say(run.message_code, run.message_params or {}, run.message)


def stored(message: str) -> tuple[str, dict[str, Any]]:
    """The code and parameters to keep of ``message`` ("" and {} for plain text), as
    :func:`say` reads them back."""
    if not isinstance(message, Message):
        return "", {}
    return message.code, message.to_dict()["params"]


def kept(message: str) -> str | dict[str, Any]:
    """``message`` as a parameter of a kept message: a library Message as its code and
    parameters (:func:`said` reads them back), other text as it is."""
    return message.to_dict() if isinstance(message, Message) else str(message)
