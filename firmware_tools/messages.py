"""What firmware_tools says to a trainer: every sentence by its code, in one table.

Each sentence the library shows a trainer (an error, a step's detail, a notice, where a board
sits on the hub) is a :class:`Message`: a code of :data:`MESSAGES` and the parameters its
words are made of. A Message is a ``str`` holding the English line the command line prints,
so it goes wherever text went; an application says ``message.code`` in its own words and
language from ``message.params`` (kitmanager has a translation for every code here). A
parameter is plain data (text, a number) or another Message: the board's name with its hub
place inside an error, the detail of a broken HEX line inside the file's refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["MESSAGES", "Message", "joined", "step_name"]

#: English words of every code; ``{name}`` is the parameter ``name`` (str.format).
MESSAGES: dict[str, str] = {
    # -- putting things together ----------------------------------------------------------
    "then": "{first}; {then}",
    "also": "{first}, {then}",
    "either": "{first} or {then}",
    "byte-count": "{count} bytes",
    "the-image": "the image",
    # -- ports (ports.py, transport.py) -----------------------------------------------------
    "port-not-allowed": "{port} is not a port this tool opens: give {accepted}",
    "port-empty": "an empty port is not a port this tool opens: give {accepted}",
    "port-url-options": (
        "{port}: write {scheme}://HOST:PORT with nothing after the port (no options, no path)"
    ),
    "port-not-a-device": (
        "{port} is not a serial device (it is a file, a folder or another kind of device): "
        "give {accepted}"
    ),
    "hub-socket-serial": "hub socket {socket}, serial {serial}",
    "hub-socket": "hub socket {socket}",
    "hub-serial": "serial {serial}",
    "port-at": "{port} ({place})",
    "board-id": "board id {id}",
    "cannot-open": "cannot open {name} ({why}): {hint}",
    "hint-not-found": "check the board is plugged in; `firmware-tools ports` lists the ports",
    "hint-permission": "add your user to the dialout group and log in again",
    "hint-busy": "another program (serial monitor, IDE) has it open: close it",
    "hint-open": (
        "check the board is plugged in and no other program (serial monitor, IDE) has the "
        "port open; `firmware-tools ports` lists them"
    ),
    "press-reset": "Press the reset button on the board at {name} now",
    "no-reset-lines": (
        "{name} has no DTR/RTS lines (a pty or network port): reset {reset} is not possible"
    ),
    # -- firmware files (images.py, archive.py, drivers) ------------------------------------
    "unknown-chip": "unknown chip {chip!r}: use one of {known}",
    "image-unreadable": "firmware file {file} cannot be read ({why})",
    "image-eeprom": (
        "firmware file {file} holds EEPROM data, not a program: flash the sketch's .hex"
    ),
    "hex-has-address": (
        "firmware file {file} is Intel HEX, which carries its own address: drop --address"
    ),
    "hex-too-large": (
        "firmware file {file} is {size} B of Intel HEX, more than a program for the {chip} "
        "can be ({limit} B): is it built for this chip?"
    ),
    "bin-needs-address": (
        "firmware file {file} is a raw binary: give the address to write it at (--address)"
    ),
    "bin-negative-address": (
        "firmware file {file} cannot be written at a negative address ({address})"
    ),
    "image-empty": "firmware file {file} holds no data",
    "image-in-bootloader": (
        "firmware file {file} has data at {start}-{end}, inside the bootloader area (from "
        "{limit}): use the sketch's .hex, not the one 'with_bootloader'"
    ),
    "image-beyond-flash": (
        "firmware file {file} has data up to {end}, beyond the {flash_size} B flash of the "
        "{chip}: is it built for this chip?"
    ),
    "hex-not-text": "firmware file {file} is not a text Intel HEX file",
    "hex-broken": "firmware file {file} is a broken Intel HEX file: {detail}",
    "hex-line-overlaps": "line {line} overlaps data already at {address}",
    "hex-line-no-colon": "line {line} does not start with ':'",
    "hex-line-length": "line {line} has the wrong length",
    "hex-line-not-hex": "line {line} is not hexadecimal",
    "hex-line-checksum": "line {line} has a bad checksum",
    "hex-line-record-type": "line {line} has an unknown record type {kind}",
    "hex-line-record-length": "line {line} has the wrong length for a type {kind} record",
    "zip-unreadable": "{name} is not a ZIP file that can be opened",
    "zip-damaged": "{name} is damaged ({entry} cannot be read): make the ZIP again",
    "zip-too-large": "{name} unpacks to {size} B, more than a board firmware holds ({limit} B)",
    "zip-unsupported": (
        "{name} holds {entry} encrypted or compressed other than by Deflate: zip the files "
        "again with the usual tool, without a password"
    ),
    "zip-too-many-files": ("{name} lists more files than a board firmware has (at most {limit})"),
    "zip-nested-archive": (
        "{name} holds another archive ({entry}): unpack it and give its files instead"
    ),
    "zip-size-mismatch": (
        "{name} is damaged or forged: {entry} does not unpack to the size its directory declares"
    ),
    "name-too-long": "{name} holds a name longer than {limit} bytes ({entry}): shorten it",
    "name-file-and-folder": (
        "{name} holds a file {entry} and a folder of the same name (for {other}): a board "
        "cannot keep both, rename one"
    ),
    "name-twice": "{name} holds {other} and {entry}, the same name on a board: keep one",
    "mpy-path-missing": "{path} does not exist: give a MicroPython file or a folder of them",
    "files-too-large": (
        "the files hold {size} B, more than a board firmware ({limit} B): give the kit's "
        "folder, not a larger one"
    ),
    "no-files": "no files to copy: the folder is empty (hidden files are left out)",
    "no-firmware-given": "no firmware given: name a .hex, a .bin or a folder",
    "two-firmwares": (
        "two {family} firmwares given ({first} and {second}): give one per board family"
    ),
    "firmware-family-unknown": "cannot tell which board {path} is for: pass --board {families}",
    "one-firmware-file": "an {family} board takes one firmware file, not {count}",
    "not-an-image": "{source} is {family} firmware, not an image for this board",
    "firmware-is-for": "{source} is {family} firmware",
    "firmware-not-for-board": "{sources}; the board is {family}",
    "not-esp-image": "{image} is built for {chip}, not an ESP board",
    "esp-address-sector": (
        "address {address} is not on a 4 KB flash sector boundary: use the address from the "
        "build (0x1000, 0x8000, 0x10000, ...)"
    ),
    "esp-wrong-chip": (
        "{image} is built for ESP chip id {built_for}, the board is chip id {chip_id}: build "
        "it for this board's chip"
    ),
    # -- which board (drivers, operations) --------------------------------------------------
    "unknown-board": "unknown board {name!r}: use one of {names}",
    "cannot-tell-board": "cannot tell which board is on {port}: pass --board {families}",
    "busy": (
        "{port} is busy: a {running} is running on it in this program; wait for it to "
        "finish (or cancel it), then try again"
    ),
    "no-firmware-for-known": "a {family} board ({board}): no {family} firmware given",
    "no-firmware-for-identified": "identified as {family} ({detail}): no {family} firmware given",
    "not-identified": "not identified: no {families} board answered",
    "left-alone": "{why}; skipped",
    # -- AVR boards (drivers/avr.py, protocol/stk500v1.py) -----------------------------------
    "unknown-signature": "unknown chip {signature}",
    "avr-bootloader-answers": "{bootloader} answers: {chip} ({signature})",
    "avr-flash-matches": "flash matches the image ({count} B)",
    "image-for-other-chip": (
        "{image} is built for the {chip}, but the board at {name} was given as an "
        "{board_chip}: use the firmware for this board"
    ),
    "image-beyond-bootloader": (
        "{image} ends at {end}, but the {bootloader} bootloader on {name} leaves only "
        "{limit} B: build a smaller sketch or update the bootloader"
    ),
    "wrong-signature": (
        "the board at {name} has a {chip} (signature {signature}), but the image is for the "
        "{target}: use the firmware built for this board"
    ),
    "avr-verify-mismatch": (
        "flash at {address} on {name} differs from the image: flash it again; if that repeats "
        "after a flash, replace the board"
    ),
    "older-nano": (
        "No bootloader answered at {tried} baud on {name}; if it is an older Nano, press its "
        "reset button again now ({baud} baud)"
    ),
    "sketch-running": (
        "{name} answers like a running program ({sample} at {baud} baud), not a bootloader: "
        "the reset did not happen; try --reset rts or none"
    ),
    "sketch-running-manual": (
        "{name} answers like a running program ({sample} at {baud} baud), not a bootloader: "
        "the reset did not happen; press reset when told"
    ),
    "wrong-baud": (
        "{name} sends unreadable bytes at {speeds} baud: wrong speed for this board (optiboot "
        "115200, old Nano bootloader 57600); set --baud"
    ),
    "wrong-baud-given": (
        "{name} sends unreadable bytes at {speeds} baud: wrong speed for this board (optiboot "
        "115200, old Nano bootloader 57600); set --baud or leave --baud out to try both"
    ),
    "avr-no-answer": (
        "no answer at all from {name} at {speeds} baud: check it is the right port, the USB "
        "cable carries data, and the board has a bootloader"
    ),
    "avr-no-answer-manual": (
        "no answer at all from {name} at {speeds} baud: check it is the right port, the USB "
        "cable carries data and press reset when told, and the board has a bootloader"
    ),
    "avr-no-answer-baud": (
        "no answer at all from {name} at {speeds} baud: check it is the right port, the USB "
        "cable carries data, and the board has a bootloader, or the wrong --baud or leave "
        "--baud out to try both"
    ),
    "avr-no-answer-manual-baud": (
        "no answer at all from {name} at {speeds} baud: check it is the right port, the USB "
        "cable carries data and press reset when told, and the board has a bootloader, or "
        "the wrong --baud or leave --baud out to try both"
    ),
    "avr-gone": "the board at {name} disappeared ({why}): plug it back in and retry",
    "avr-silent": "the bootloader on {name} stopped answering: check the cable and retry",
    "avr-gone-writing": (
        "the board at {name} disappeared in the middle of writing: it holds a partial program; "
        "check the cable, then flash it again"
    ),
    "avr-silent-writing": (
        "the board at {name} stopped answering in the middle of writing: it holds a partial "
        "program; check the cable, then flash it again"
    ),
    "avr-garbled": "the bootloader on {name} gave a garbled answer while {doing} ({why}): retry",
    "avr-garbled-writing": (
        "the bootloader on {name} gave a garbled answer while {doing} ({why}): flash it again"
    ),
    "doing-write-page": "writing page {address}",
    "doing-read": "reading {address}",
    "doing-command": "command {command}",
    "stk-short": "reply cut short: {got} of {wanted} bytes",
    "stk-not-insync": "reply starts with {first}, not INSYNC",
    "stk-not-ok": "reply ends with {last}, not OK",
    "bootloader-speaks-other": "the {chip}'s bootloader speaks {protocol}, not spoken here",
    "bootloader-unsupported": (
        "the {chip}'s bootloader speaks {protocol}, which firmware-tools does not speak yet: "
        "flash it from the Arduino IDE; `check --reset none` still checks its firmware"
    ),
    # -- ESP boards (drivers/esp.py) --------------------------------------------------------
    "hold-boot": "Hold BOOT and press RESET on the board at {name} now",
    "esp-bootloader-answers": "{chip} ROM bootloader answers",
    "esp-no-bootloader": (
        "no ESP bootloader answers on {name}: hold BOOT, press RESET, and try again; or check "
        "it is an ESP board and the right port"
    ),
    "esp-gone-flashing": "{name} went away while flashing ({why}): plug it in and flash again",
    "esp-verify-mismatch": "{name}: the flash does not hold what was written ({why}): flash again",
    "esptool-stopped": "{name}: esptool stopped: {why}",
    # -- MicroPython boards (drivers/micropython.py, protocol/rawrepl.py) ---------------------
    "mpy-repl-answers": "MicroPython {version} REPL on {platform}",
    "mpy-all-match": "all files match",
    "mpy-files-differ": "{count} file(s) differ from the firmware ({files}): flash again",
    "mpy-read-back-differs": (
        "{files} read back different from what was copied: flash again; if it repeats the "
        "board's storage may be full"
    ),
    "mpy-no-answer": (
        "no answer from {name}: is it a MicroPython board, the right port, and a data (not "
        "charge-only) cable?"
    ),
    "mpy-gone": "{name} went away ({why}): check the cable and plug the board in again",
    "mpy-board-said": "{name}: the board said {line}",
    "mpy-soft-reset-closed": "{name}: the port closed on soft reset (unix port restarts)",
    "on-board": "{name}: {detail}",
    "mpy-not-a-repl": (
        "answers but not as a MicroPython REPL ({seen}): install MicroPython on it, or pass "
        "the right --board"
    ),
    "mpy-identity-unreadable": "identity script printed {reply}",
    "mpy-no-end-markers": "reply without its end markers",
    "mpy-paste-stopped": "the board stopped the paste",
    "mpy-missing": "no {what} (got {got})",
    "mpy-waited": "waited for {what}, got {got}",
    "mpy-no-reply": "no {what} from {name}",
    "repl-prompt": "the normal REPL prompt",
    "repl-ok": "raw REPL OK",
    "repl-reply": "reply",
    "paste-answer": "raw-paste answer",
    "paste-window": "raw-paste window",
    "paste-grant": "raw-paste window grant",
    "paste-end": "end-of-paste acknowledgement",
    "paste-unexpected-answer": "unexpected raw-paste answer {header}",
    "paste-unexpected-byte": "unexpected byte {byte} during raw paste",
    "hashes-line-count": "hash script printed {lines} lines for {files} files",
    # -- health check (protocol/healthcheck.py, operations.py) ------------------------------
    "hello-incomplete": (
        "the firmware answered hello without a name and version ({reply}): flash the kit "
        "firmware again"
    ),
    "selftest-no-parts": (
        "the firmware's selftest reply lists no parts ({reply}): check that the kit firmware "
        "is the expected version"
    ),
    "part-unreadable": "unreadable result ({item})",
    "firmware-found": "{fw} {version}",
    "firmware-found-on": "{fw} {version} on {board}",
    "firmware-not-kit": "runs {found}, not {fw}: flash the kit firmware",
    "firmware-old-version": "runs {found}, expected version {version}: flash it again",
    "firmware-error-answer": (
        "the firmware answered {cmd!r} with an error ({error}): check the kit wiring, or flash "
        "the kit firmware again"
    ),
    "health-port-gone": "the port went away during the health check ({why}): check the cable",
    "firmware-prints": (
        "the firmware does not answer {cmd!r}, but something prints: flash the kit firmware "
        "(or check the baud rate is 115200)"
    ),
    "no-answer-to": (
        "no answer to {cmd!r} within {timeout:.0f} s: flash the kit firmware, or press reset"
    ),
    "selftest-failed": (
        "self-test failed ({parts}): check or replace that part of the kit, then check again"
    ),
    "selftest-passed": "self-test {count}/{count} parts pass",
    "port-opened": "opened",
    "bootloader-not-checked": "not checked: {why}; firmware checked",
    "reset-none": "--reset none",
    "no-reset-line": "the port has no reset line (DTR/RTS)",
    "verify-unavailable": (
        "verify alone is not available for {family} boards: use flash, which skips an "
        "unchanged firmware"
    ),
    "no-bootloader-check": "{family} boards have no bootloader check",
    # -- results and batches (operations.py) ------------------------------------------------
    "flash-unchanged": "already up to date: nothing written",
    "flash-verified": "{bytes} B written, verified in {seconds:.1f} s",
    "flash-not-verified": "{bytes} B written, not verified in {seconds:.1f} s",
    "earlier-flash-cut": "an earlier flash of this board was cut off while writing: flash it again",
    "step-said": "{step}: {detail}",
    "needs-reflash": "{message} (needs re-flash)",
    "timed-out": "no result within {timeout:.0f} s: check the board, or raise --timeout",
    "cancelled": "cancelled before it finished: run it again",
    "internal-error": "internal error: {error}",
    # the steps of a result, as a summary names them ("bootloader: not checked: ...")
    "step-port": "port",
    "step-bootloader": "bootloader",
    "step-firmware": "firmware",
    "step-identify": "identify",
    "step-flash": "flash",
    "step-verify": "verify",
    "step-check": "check",
    "step-job": "job",
    "step-cancelled": "cancelled",
    "step-timeout": "timeout",
    "step-reflash": "reflash",
    "step-selftest": "selftest:{part}",
}


class Message(str):
    """One sentence for a trainer: the English line of ``code`` made with ``params``.

    ``str(message)`` (or the message itself, a ``str``) is what the command line prints;
    ``code`` and ``params`` are what an application translates. Text cut or joined from a
    Message is plain text again: keep the Message to keep its code.

    :raise KeyError: a code that is not in :data:`MESSAGES`, or a parameter its words use
        that is not given (a bug, which the tests catch).
    """

    code: str
    params: dict[str, Any]

    def __new__(cls, code: str, /, **params: Any) -> Message:
        said = super().__new__(cls, MESSAGES[code].format_map(params))
        said.code = code
        said.params = params
        return said

    def __reduce__(self) -> tuple[Any, ...]:
        # copied and pickled from its code: str would rebuild it from the English text
        return (_rebuild, (self.code, self.params))

    def to_dict(self) -> dict[str, Any]:
        """``{"code": ..., "params": {...}}`` as JSON holds it, a Message parameter nested
        the same way."""
        return {
            "code": self.code,
            "params": {
                key: value.to_dict() if isinstance(value, Message) else value
                for key, value in self.params.items()
            },
        }


def _rebuild(code: str, params: dict[str, Any]) -> Message:
    return Message(code, **params)


def joined(items: Sequence[str], how: str = "then") -> str:
    """``items`` said one after the other with the joining code ``how`` ("then": "a; b",
    "also": "a, b", "either": "a or b"); "" for none, the item itself for one."""
    if not items:
        return ""
    said = items[0]
    for item in items[1:]:
        said = Message(how, first=said, then=item)
    return said


def step_name(name: str) -> str:
    """A result's step (``"bootloader"``, ``"selftest:motors"``) as a summary says it."""
    if name.startswith("selftest:"):
        return Message("step-selftest", part=name.split(":", 1)[1])
    code = f"step-{name}"
    return Message(code) if code in MESSAGES else name
