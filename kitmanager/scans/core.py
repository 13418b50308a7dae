"""One function answers every scan: classify the code, run the handler registered for its
kind once per ``client_id``, store the answer, replay it for a retry.

Features plug in and never import each other: check-in registers the badge handler, kits
register the kit handlers and a follower of badge scans (the pairing rule). Each registers the
undo of the changes it makes. The API and the scan station call :func:`answer_scan` and
:func:`undo_scan`; :func:`commit_once` is the one transaction block around them.

Services take an explicit actor, flush, never commit; :func:`commit_once` commits once.

A stored answer belongs to its sender: the login or API token that sent the scan first. Only
that sender, or a trainer, gets it back for the same ``client_id`` or takes the scan back
(:data:`OTHER_SENDERS_ROLE`); a station name is recorded under its sender
(:func:`station_name`); and a scan's own time lies in a window around the laptop's clock
(:func:`scan_time`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar, cast

from flask_babel import gettext as _
from sqlalchemy import bindparam, select
from werkzeug.exceptions import Conflict

from kitmanager.audit import Actor
from kitmanager.database import HotStatement, insert_ignoring_conflicts, serialized_writes
from kitmanager.extensions import db
from kitmanager.models import CheckIn, Role, ScanRequest, utcnow
from kitmanager.scans.codes import CodeKind, ScannedCode, classify_code
from kitmanager.scans.housekeeping import keep_scan_answers_for
from kitmanager.scans.outcomes import Outcome
from kitmanager.scans.subjects import ScanSession
from kitmanager.text import clean_text

__all__ = [
    "OTHER_SENDERS_ROLE",
    "SCAN_CLOCK_AHEAD",
    "Follower",
    "Handler",
    "Scan",
    "ScanOfAnotherSender",
    "ScanRaced",
    "ScanResult",
    "ScanTimeRefused",
    "Undo",
    "UndoResult",
    "answer_scan",
    "apply_once",
    "commit_once",
    "register_follower",
    "register_handler",
    "register_undo",
    "replayed_scan",
    "scan_time",
    "station_name",
    "undo_scan",
]

_T = TypeVar("_T")

SCAN_CLOCK_AHEAD = timedelta(minutes=5)
"""How far ahead of the laptop's clock a scan's own time (``scanned_at``) may be.

Phones and laptops that take their time from the network agree within seconds; a few minutes
absorb a laptop that has been offline for days. A time further ahead is a device whose clock
is set wrong, and is refused (:class:`ScanTimeRefused`). The oldest time a scan may have is
the time its stored answer is kept (:func:`~kitmanager.scans.housekeeping.keep_scan_answers_for`,
the ``SCAN_REQUEST_DAYS`` setting): an older retry could be applied twice, as nothing would
remember it.
"""

OTHER_SENDERS_ROLE = Role.TRAINER
"""Who may have the stored answer of a scan that another login or token sent (the same
``client_id``), and take that scan back: a trainer. The sender is the account (``user:amina``)
or the API token (``token:door-1``); a phone signed in by a one-time code on /join has an
account of its own, so each such phone is its own sender. A kiosk, though logged in as a
trainer, scans with a volunteer's rights (participants use it)."""

# A station name is stored in columns of this length (check-ins, handouts, returns).
_STATION_LENGTH = CheckIn.__table__.c.station.type.length
_STATION_SEPARATOR = " · "


class ScanRaced(Exception):
    """Another copy of this scan (same client id) was applied while this one was decided.

    Roll back, then :func:`replayed_scan` gives the answer the other copy got (to ``actor``,
    if it may have it).
    """

    def __init__(self, client_id: str, actor: Actor | None = None) -> None:
        super().__init__(client_id)
        self.client_id = client_id
        self.actor = actor


class ScanOfAnotherSender(Conflict):
    """A ``client_id`` that another login or token sent first: its answer is not this
    sender's to see, nor its scan to take back (see :data:`OTHER_SENDERS_ROLE`).

    An HTTP 409, so a page or an API call that meets it answers with the message.
    """

    def __init__(self) -> None:
        super().__init__(
            _(
                "Another login already sent a scan with this client_id, so its answer is not "
                "shown here. Scan the code again if it is needed."
            )
        )


class ScanTimeRefused(ValueError):
    """A scan's own time that cannot be right (see :data:`SCAN_CLOCK_AHEAD`); the message
    says that the device's clock looks wrong and what to do."""


@dataclass
class ScanResult:
    """The answer to one scan, as the API sends it and a station shows it."""

    outcome: Outcome
    message: str
    participant: dict[str, Any] | None = None
    session: dict[str, Any] | None = None
    checked_in_at: str | None = None  # ISO time in the workshop's zone
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def undoable(self) -> bool:
        """Whether this answer changed something that an undo takes back."""
        if self.extra.get("undone"):
            return False
        check_in = self.extra.get("check_in") or {}
        return self.outcome.change or (
            check_in.get("outcome") in _CHANGES and not check_in.get("undone")
        )

    def to_json(self) -> dict[str, Any]:
        # By hand, not dataclasses.asdict: its deep copy was a tenth of a scan's time.
        return {
            "outcome": self.outcome.value,
            "message": self.message,
            "participant": self.participant,
            "session": self.session,
            "checked_in_at": self.checked_in_at,
            **self.extra,
            "undoable": self.undoable,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScanResult:
        data = dict(data)
        data.pop("undoable", None)
        return cls(
            outcome=Outcome(data.pop("outcome")),
            message=data.pop("message", ""),
            participant=data.pop("participant", None),
            session=data.pop("session", None),
            checked_in_at=data.pop("checked_in_at", None),
            extra=data,
        )


_CHANGES = frozenset(outcome.value for outcome in Outcome if outcome.change)


@dataclass(frozen=True)
class Scan:
    """One scan as a station or the API sends it.

    ``partner`` is the code of the earlier scan a person paired this one with (a badge for a
    kit, a kit for a badge); ``confirm`` says the person confirmed the handout question.
    ``session`` is the chosen session (None: the one running at ``at``); ``workshop_id`` the
    station's workshop, whose badges alone it accepts. A kiosk hands out no kits.
    """

    code: ScannedCode
    at: datetime
    partner: ScannedCode | None = None
    session: ScanSession | None = None
    workshop_id: int | None = None
    station: str = ""
    client_id: str | None = None
    confirm: bool = False
    # With ``confirm``: the reasons to think twice the person saw (None: whatever they are).
    seen_reasons: tuple[str, ...] | None = None
    kiosk: bool = False

    @classmethod
    def read(
        cls, code: str, *, at: datetime | None = None, partner: str | None = None, **fields: Any
    ) -> Scan:
        """The scan of the text ``code`` (paired with the text ``partner``) at its own time
        ``at`` (see :func:`scan_time`)."""
        return cls(
            code=classify_code(code),
            at=scan_time(at),
            partner=classify_code(partner) if partner else None,
            **fields,
        )


Handler = Callable[[Actor, Scan], ScanResult]
Follower = Callable[[Actor, Scan, ScanResult], ScanResult]
# Takes back what an answer (as stored) changed; the message names it, or None: nothing done.
Undo = Callable[[Actor, dict[str, Any]], "str | None"]

_handlers: dict[CodeKind, Handler] = {}
_followers: dict[CodeKind, list[Follower]] = {}
_undos: dict[Outcome, Undo] = {}


def register_handler(kind: CodeKind, handler: Handler) -> None:
    """``handler`` answers scans of ``kind`` (one handler a kind; registering again replaces)."""
    _handlers[kind] = handler


def register_follower(kind: CodeKind, follower: Follower) -> None:
    """``follower`` sees every answer to a scan of ``kind`` and may extend it (pairing)."""
    if follower not in _followers.setdefault(kind, []):
        _followers[kind].append(follower)


def register_undo(outcome: Outcome, undo: Undo) -> None:
    """``undo`` takes back what an answer with ``outcome`` changed."""
    _undos[outcome] = undo


def scan_time(value: datetime | None) -> datetime:
    """The scan's own time in naive UTC (a naive ``value`` is UTC); now when None.

    :raise ScanTimeRefused: ``value`` is more than :data:`SCAN_CLOCK_AHEAD` ahead of now, or
        older than the time a scan's answer is kept (the device's clock is wrong).
    """
    now = utcnow()
    if value is None:
        return now
    latest, oldest = now + SCAN_CLOCK_AHEAD, now - keep_scan_answers_for()
    if value.tzinfo is not None:  # compared as it is: year 1 or 9999 cannot be converted
        latest, oldest = (t.replace(tzinfo=timezone.utc) for t in (latest, oldest))
    if value > latest:
        raise ScanTimeRefused(
            _(
                "This scan's time (%(time)s) is ahead of the laptop's clock: the device's clock "
                "looks wrong. Set it to the right time, then scan again.",
                time=value.isoformat(timespec="minutes"),
            )
        )
    if value < oldest:
        raise ScanTimeRefused(
            _(
                "This scan's time (%(time)s) is more than %(days)s days ago: the device's clock "
                "looks wrong. Set it to the right time, then scan again.",
                time=value.isoformat(timespec="minutes"),
                days=keep_scan_answers_for().days,
            )
        )
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def station_name(actor: Actor, label: str = "") -> str:
    """The station a scan is recorded under: its sender's own name (``user:amina``,
    ``token:door-1``), followed by the ``label`` the device gives itself, if any
    (``user:amina · door 2``). No device can record scans under another's name: a label
    always stands after its sender's. A name this returns, given again as ``label``, gives
    the same name.
    """
    own = actor.name
    label = clean_text(label)
    if label == own or label.startswith(own + _STATION_SEPARATOR):
        label = label[len(own) + len(_STATION_SEPARATOR) :]
    return f"{own}{_STATION_SEPARATOR}{label}"[:_STATION_LENGTH] if label else own[:_STATION_LENGTH]


def _unknown(code: ScannedCode) -> ScanResult:
    return ScanResult(
        Outcome.UNKNOWN_CODE,
        _("Not a badge or a kit label of this workshop. Please ask a trainer."),
    )


def _decide(actor: Actor, scan: Scan) -> ScanResult:
    handler = _handlers.get(scan.code.kind)
    result = handler(actor, scan) if handler is not None else _unknown(scan.code)
    if result.outcome is Outcome.UNKNOWN_CODE and scan.code.alternative is not None:
        other = _handlers.get(scan.code.alternative)
        if other is not None:
            code = ScannedCode(scan.code.alternative, scan.code.text.upper(), scan.code.text)
            scan = replace(scan, code=code)
            second = other(actor, scan)
            if second.outcome is not Outcome.UNKNOWN_CODE:
                result = second
    for follower in _followers.get(scan.code.kind, ()):
        result = follower(actor, scan, result)
    return result


def answer_scan(actor: Actor, scan: Scan) -> tuple[ScanResult, bool]:
    """Apply one scan; ``(result, replayed)``. With a ``client_id`` seen before, nothing is
    applied and the first answer comes back with ``replayed`` True.

    :raise ScanRaced: another copy of the same scan was applied meanwhile (roll back).
    """
    return apply_once(actor, scan.client_id, lambda: _decide(actor, scan))


_STORED_OUTCOME = HotStatement(
    select(ScanRequest.outcome, ScanRequest.actor).where(
        ScanRequest.client_id == bindparam("client_id")
    )
)


def _sender(actor: Actor) -> str:
    """What a stored answer keeps of its sender (``ScanRequest.actor``)."""
    return actor.name[: ScanRequest.__table__.c.actor.type.length]


def _refuse_other_senders(actor: Actor | None, sender: str) -> None:
    """:raise ScanOfAnotherSender: ``actor`` is neither ``sender`` nor a trainer."""
    if actor is not None and sender != _sender(actor) and not actor.allows(OTHER_SENDERS_ROLE):
        raise ScanOfAnotherSender()


def _stored_outcome(client_id: str, actor: Actor | None) -> dict[str, Any] | None:
    """The stored answer of ``client_id``, if any, for ``actor`` (None: whoever asks).

    :raise ScanOfAnotherSender: another sender's answer, and ``actor`` is no trainer.
    """
    row = _STORED_OUTCOME.first({"client_id": client_id})
    if row is None:
        return None
    outcome, sender = row
    _refuse_other_senders(actor, sender)
    return outcome


def replayed_scan(client_id: str, actor: Actor | None = None) -> ScanResult:
    """The stored answer to the scan sent with ``client_id`` (after :class:`ScanRaced`), for
    ``actor`` (None: whoever asks).

    :raise ScanOfAnotherSender: another sender's answer, and ``actor`` is no trainer.
    """
    return ScanResult.from_json(_stored_outcome(client_id, actor) or {"outcome": "unknown_code"})


def apply_once(
    actor: Actor, client_id: str | None, decide: Callable[[], ScanResult]
) -> tuple[ScanResult, bool]:
    """Run ``decide`` once per ``client_id``; ``(result, replayed)``.

    With a ``client_id`` seen before nothing runs and the stored answer comes back with
    ``replayed`` True; otherwise the answer is stored under ``client_id``, with ``actor`` as
    its sender. What ``decide`` raises is not stored (the caller rolls back).
    :raise ScanRaced: when another copy with the same ``client_id`` was applied meanwhile.
    :raise ScanOfAnotherSender: another login or token sent ``client_id`` first, and
        ``actor`` is no trainer (:data:`OTHER_SENDERS_ROLE`).
    """
    if client_id:
        stored = _stored_outcome(client_id, actor)
        if stored:
            return ScanResult.from_json(stored), True
    result = decide()
    if client_id and None is insert_ignoring_conflicts(
        ScanRequest,
        client_id=client_id,
        actor=_sender(actor),
        received_at=utcnow(),
        outcome=result.to_json(),
    ):
        # The same scan arrived twice at the same instant and the other copy was applied
        # first: this copy's writes must go (the caller rolls back) and its answer is theirs.
        raise ScanRaced(client_id, actor)
    return result, False


def commit_once(apply: Callable[[], _T]) -> _T:
    """Run ``apply`` (an :func:`answer_scan`, another ``apply_once`` call, or an undo) as one
    transaction, writes serialized: commit what it did, or roll back and replay the other
    copy's answer, ``(result, True)``, after :class:`ScanRaced`. Anything else it raises is
    rolled back and raised (:class:`ScanOfAnotherSender` too, when the other copy was
    another sender's).
    """
    with serialized_writes():
        try:
            outcome = apply()
        except ScanRaced as raced:
            db.session.rollback()
            outcome = cast(_T, (replayed_scan(raced.client_id, raced.actor), True))
        except BaseException:
            db.session.rollback()
            raise
        db.session.commit()
    return outcome


@dataclass(frozen=True)
class UndoResult:
    undone: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"undone": self.undone, "message": self.message}


def undo_scan(actor: Actor, client_id: str) -> UndoResult | None:
    """Take back what the scan sent with ``client_id`` changed (a check-in, a handout, a
    return), each through the undo its feature registered; the message names it. None when
    no such scan arrived. Undoing twice, or a scan that changed nothing, says so.

    :raise ScanOfAnotherSender: another login or token sent that scan, and ``actor`` is no
        trainer (:data:`OTHER_SENDERS_ROLE`).
    """
    stored = db.session.scalars(
        select(ScanRequest).where(ScanRequest.client_id == client_id).with_for_update()
    ).first()
    if stored is None or not stored.outcome:
        return None
    _refuse_other_senders(actor, stored.actor)
    answer = dict(stored.outcome)
    nothing = _("Nothing to undo: that scan changed nothing.")
    if answer.get("undone"):
        return UndoResult(False, _("Nothing to undo: that change was already undone."))
    messages = []
    check_in = answer.get("check_in") or {}
    for value in (answer.get("outcome"), check_in.get("outcome")):
        undo = _undos.get(Outcome(value)) if value in _CHANGES else None
        if undo is not None:
            message = undo(actor, answer)
            if message:
                messages.append(message)
    if not messages:
        return UndoResult(False, nothing)
    answer["undone"] = True
    if check_in:
        answer["check_in"] = {**check_in, "undone": True}
    stored.outcome = answer
    db.session.flush()
    return UndoResult(True, " ".join(messages))
