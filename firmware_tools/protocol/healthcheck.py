"""The kit firmware's health-check protocol: JSON lines at 115200 baud. Pure: no I/O.

The host sends one JSON object per line; the firmware answers one JSON object per line::

    -> {"cmd":"hello"}
    <- {"fw":"kitbot","version":"1.2.0","board":"uno","id":"..."}
    -> {"cmd":"selftest"}
    <- {"selftest":[{"part":"motors","ok":true,"detail":"..."}, ...]}

The exact selftest reply is described in firmware_tools/firmware/kitbot-avr/PROTOCOL.md; the
parser also takes the result as ``"result": "pass"|"warn"|"fail"`` instead of ``"ok"``, and the
parts as an object keyed by part name, so older firmware keeps being readable. Lines that are
not JSON (boot banners, a bootloader's noise) are ignored by the reader, not treated as errors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from firmware_tools.base import BoardError, Outcome, Reason, StepResult
from firmware_tools.messages import Message

__all__ = [
    "ExpectedFirmware",
    "Identity",
    "build_request",
    "compare_identity",
    "parse_hello",
    "parse_line",
    "parse_selftest",
]

_OUTCOME_WORDS = {
    "pass": Outcome.PASS,
    "ok": Outcome.PASS,
    "warn": Outcome.WARN,
    "fail": Outcome.FAIL,
    "error": Outcome.FAIL,
    "skipped": Outcome.SKIPPED,
    "skip": Outcome.SKIPPED,
}
# Keys other than these in a part's result are measurements, shown as "key=value".
_PART_META = {"part", "name", "ok", "result", "status", "detail", "reason"}


def build_request(cmd: str, **args: Any) -> bytes:
    """Return the request line for ``cmd`` (``"hello"``, ``"selftest"``), newline included."""
    return json.dumps({"cmd": cmd, **args}, separators=(",", ":")).encode() + b"\n"


def parse_line(line: bytes) -> dict[str, Any] | None:
    """Return the JSON object on ``line``, or None when the line is not one (noise, a banner).

    Text before the first ``{`` is dropped: a board often prints a partial line while it boots.
    """
    text = line.decode("utf-8", errors="replace").strip()
    start = text.find("{")
    if start < 0:
        return None
    try:
        value = json.loads(text[start:])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class Identity:
    """What the firmware says it is in its hello reply."""

    fw: str
    version: str
    board: str = ""
    id: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"fw": self.fw, "version": self.version, "board": self.board, "id": self.id}


@dataclass(frozen=True)
class ExpectedFirmware:
    """The firmware the trainer wants on the boards; ``version=None`` accepts any version."""

    fw: str = "kitbot"
    version: str | None = None


def parse_hello(reply: dict[str, Any]) -> Identity:
    """Read the hello reply.

    :raise BoardError: (PROTOCOL) when ``fw`` or ``version`` is missing.
    """
    fw, version = reply.get("fw"), reply.get("version")
    if not isinstance(fw, str) or not isinstance(version, str):
        raise BoardError(Message("hello-incomplete", reply=_short(reply)), reason=Reason.PROTOCOL)
    return Identity(fw, version, str(reply.get("board", "")), str(reply.get("id", "")))


def compare_identity(identity: Identity, expected: ExpectedFirmware) -> StepResult:
    """Compare the board's firmware with the expected one: one ``firmware`` step."""
    found = Message("firmware-found", fw=identity.fw, version=identity.version)
    if identity.fw != expected.fw:
        return StepResult(
            "firmware", Outcome.FAIL, Message("firmware-not-kit", found=found, fw=expected.fw)
        )
    if expected.version is not None and identity.version != expected.version:
        said = Message("firmware-old-version", found=found, version=expected.version)
        return StepResult("firmware", Outcome.FAIL, said)
    if identity.board:
        found = Message(
            "firmware-found-on", fw=identity.fw, version=identity.version, board=identity.board
        )
    return StepResult("firmware", Outcome.PASS, found)


def parse_selftest(reply: dict[str, Any]) -> list[StepResult]:
    """Turn the selftest reply into one step per part, named ``selftest:<part>``.

    :raise BoardError: (PROTOCOL) when the reply has no parts at all.
    """
    parts = reply.get("selftest", reply.get("parts"))
    if isinstance(parts, dict):
        items = [
            {"part": name, **(value if isinstance(value, dict) else {"result": value})}
            for name, value in parts.items()
        ]
    elif isinstance(parts, list):
        items = [item for item in parts if isinstance(item, dict)]
    else:
        items = []
    if not items:
        raise BoardError(Message("selftest-no-parts", reply=_short(reply)), reason=Reason.PROTOCOL)
    return [_part_step(item) for item in items]


def _part_step(item: dict[str, Any]) -> StepResult:
    name = str(item.get("part", item.get("name", "?")))
    outcome = _part_outcome(item)
    detail = str(item.get("detail", item.get("reason", "")))
    measured = ", ".join(f"{k}={v}" for k, v in item.items() if k not in _PART_META)
    text = "; ".join(t for t in (detail, measured) if t)
    if outcome is None:
        unreadable = Message("part-unreadable", item=_short(item))
        return StepResult(f"selftest:{name}", Outcome.FAIL, unreadable)
    return StepResult(f"selftest:{name}", outcome, text)


def _part_outcome(item: dict[str, Any]) -> Outcome | None:
    # "result" says warn where "ok" can only say pass or fail, so it wins when both are there
    word = item.get("result", item.get("status"))
    if isinstance(word, bool):
        return Outcome.PASS if word else Outcome.FAIL
    if word is not None:
        return _OUTCOME_WORDS.get(str(word).lower())
    if isinstance(item.get("ok"), bool):
        return Outcome.PASS if item["ok"] else Outcome.FAIL
    return None


def _short(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 80 else text[:77] + "..."
