"""What a scan did: the outcome vocabulary of the API, the scan station and the stored answers.

Each outcome carries the tone a station shows it in and whether it changed something an undo
can take back; the station's script and openapi.json derive from this enum.
"""

from __future__ import annotations

import enum

__all__ = ["Outcome", "Tone"]


class Tone(str, enum.Enum):
    OK = "ok"
    WARN = "warn"
    BAD = "bad"


class Outcome(str, enum.Enum):
    """The API's ``outcome`` strings, each with its :class:`Tone` and whether it is a change."""

    tone: Tone
    change: bool

    def __new__(cls, value: str, tone: Tone, change: bool = False) -> Outcome:
        member = str.__new__(cls, value)
        member._value_ = value
        member.tone = tone
        member.change = change
        return member

    # Badges
    CHECKED_IN = ("checked_in", Tone.OK, True)
    ALREADY_CHECKED_IN = ("already_checked_in", Tone.WARN)
    UNKNOWN_CODE = ("unknown_code", Tone.BAD)
    REVOKED = ("revoked", Tone.BAD)
    NO_SESSION = ("no_session", Tone.WARN)
    WRONG_WORKSHOP = ("wrong_workshop", Tone.BAD)
    # A kit label that cannot be used here: not one of this laptop's kits, or at a kiosk.
    KIT_LABEL = ("kit_label", Tone.WARN)
    # Kits: waiting for a badge, the handout question and its answer, the return.
    KIT_WAITING = ("kit_waiting", Tone.WARN)
    KIT_NEEDS_CONFIRMATION = ("kit_needs_confirmation", Tone.WARN)
    KIT_HANDED_OUT = ("kit_handed_out", Tone.OK, True)
    KIT_UNAVAILABLE = ("kit_unavailable", Tone.BAD)
    KIT_RETURN = ("kit_return", Tone.WARN)
    KIT_RETURNED = ("kit_returned", Tone.OK, True)
    KIT_NOT_OUT = ("kit_not_out", Tone.BAD)
