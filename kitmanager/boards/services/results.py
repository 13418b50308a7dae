"""What each flash or check came to: stored on its run and on its kit (firmware, last check,
re-flash mark, condition), read back by job, and shown as lines of the kit's history."""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from firmware_tools.base import Reason
from firmware_tools.drivers import DRIVERS
from firmware_tools.operations import BoardResult
from firmware_tools.ports import UNKNOWN
from kitmanager.audit import Actor, record_event
from kitmanager.boards.messages import SERVER_STOPPED, run_message, said, stored
from kitmanager.boards.services.library import FirmwareUnreadable
from kitmanager.boards.services.ports import claim_fingerprint, claim_serial, port_row
from kitmanager.extensions import db
from kitmanager.kits.services import HistoryEntry, register_history_source, set_condition
from kitmanager.models import (
    BoardRun,
    BoardRunKind,
    BoardRunStatus,
    Firmware,
    Kit,
    KitCondition,
    utcnow,
)

__all__ = [
    "board_fingerprint",
    "board_history_entries",
    "board_runs_of",
    "close_orphan_runs",
    "close_unreadable_runs",
    "job_runs",
    "latest_job",
    "record_result",
    "status_label",
]

# The longest message a run keeps in English (its column); the code and parameters are whole.
_MESSAGE_CHARS = BoardRun.__table__.c.message.type.length


def status_label(status: str) -> str:
    """A run's status as the trainer reads it: "FAIL", "ÉCHEC"."""
    try:
        return str(BoardRunStatus(status).label)
    except ValueError:
        return str(status)


def board_fingerprint(result: BoardResult) -> str:
    """What identifies a board without a USB serial number: its family, chip and the id
    its firmware or REPL reports ("" when it reported none)."""
    if not result.board_id:
        return ""
    chip = result.identity.get("chip", "")
    return ":".join(part for part in (result.family, chip, result.board_id) if part)[:200]


def record_result(
    actor: Actor, run: BoardRun, result: BoardResult, firmware: Firmware | None = None
) -> None:
    """Store what a flash or check came to on ``run`` and on its kit.

    A flash that went through records the firmware on the kit and ends its re-flash mark;
    one that left the board half written, or was stopped before it finished, marks the kit
    for re-flash and "needs attention". A check records its result on the kit; a failed
    check sets the kit to "needs attention" (which the handout then warns about); a check
    stopped by the trainer changes nothing on the kit. A kit set to "needs attention" stays
    so until a trainer marks it ready.
    """
    stopped = result.reason is Reason.CANCELLED
    flashed = run.kind == BoardRunKind.FLASH and result.flash is not None and result.ok
    _store_on_run(run, result, firmware, stopped=stopped, flashed=flashed)
    kit = run.kit
    db.session.flush()
    if kit is None:
        record_event(actor, f"board.{run.kind}", "board_run", run.id, status=run.status)
        return
    _claim_board(kit, run)
    if flashed and firmware is not None:
        kit.firmware_name, kit.firmware_version = firmware.name, firmware.version
    if run.kind == BoardRunKind.CHECK and not stopped:  # a stopped check tells nothing
        _store_check(kit, run, result)
    _store_reflash(kit, run, flashed=flashed)
    db.session.flush()
    record_event(
        actor,
        f"board.{run.kind}",
        "kit",
        kit.id,
        run=run.id,
        status=run.status,
        reason=run.reason,
        needs_reflash=run.needs_reflash,
        firmware=f"{run.firmware_name} {run.firmware_version}".strip(),
    )
    _ask_attention(actor, kit, run, result, stopped=stopped)


def _store_on_run(
    run: BoardRun,
    result: BoardResult,
    firmware: Firmware | None,
    *,
    stopped: bool,
    flashed: bool,
) -> None:
    """What ``result`` came to, on ``run``: status, message (its English line, and its code
    and parameters), the board's identity, the firmware flashed, the re-flash mark."""
    summary = result.summary or result.message
    run.status = BoardRunStatus(result.status.value)
    run.reason = result.reason.value if result.reason else ""
    run.message = str(summary)[:_MESSAGE_CHARS]
    run.message_code, run.message_params = stored(summary)
    run.duration_s = round(result.duration_s, 3)
    run.family = result.family if result.family != UNKNOWN else run.family
    run.board_serial = result.serial_number or ""
    run.fingerprint = board_fingerprint(result)
    run.steps = [step.to_dict() for step in result.steps]
    run.finished_at = utcnow()
    # a flash stopped before it went through may have left the board half written
    stopped_flash = run.kind == BoardRunKind.FLASH and stopped and not flashed
    run.needs_reflash = result.needs_reflash or stopped_flash
    if firmware is not None:
        run.firmware_id, run.firmware_name = firmware.id, firmware.name
        run.firmware_version, run.firmware_sha256 = firmware.version, firmware.sha256
    if run.fingerprint:
        port_row(run.port).fingerprint = run.fingerprint


def _claim_board(kit: Kit, run: BoardRun) -> None:
    """The board of ``run`` is ``kit``'s: by its USB serial number, else its fingerprint."""
    if run.board_serial:
        claim_serial(kit, run.board_serial)
    elif run.fingerprint:
        claim_fingerprint(kit, run.fingerprint)
    if run.family in DRIVERS:
        kit.board_family = run.family


def _store_check(kit: Kit, run: BoardRun, result: BoardResult) -> None:
    """A check's result on ``kit``: when, whether it passed, why not, the firmware found."""
    kit.last_check_at = run.finished_at
    kit.last_check_ok = result.ok
    kit.last_check_detail = run.message[: Kit.__table__.c.last_check_detail.type.length]
    if result.identity.get("fw"):
        kit.firmware_name = result.identity["fw"][:120]
        kit.firmware_version = result.identity.get("version", "")[:60]


def _store_reflash(kit: Kit, run: BoardRun, *, flashed: bool) -> None:
    """A flash that went through ends ``kit``'s re-flash mark; a run that needs one sets it
    (a passing check leaves the mark as it is)."""
    if flashed:
        kit.needs_reflash = False
    if run.needs_reflash:
        kit.needs_reflash = True


def _ask_attention(
    actor: Actor, kit: Kit, run: BoardRun, result: BoardResult, *, stopped: bool
) -> None:
    """A failed check, or a board to flash again, sets a ready ``kit`` to "needs attention"
    with a note saying why."""
    failed_check = run.kind == BoardRunKind.CHECK and not result.ok and not stopped
    if not (failed_check or run.needs_reflash) or kit.condition != KitCondition.READY:
        return
    detail = said(result.summary or result.message)
    if failed_check:
        note = _("Board check failed: %(detail)s", detail=detail)
    else:
        note = _("Board needs a re-flash: %(detail)s", detail=detail)
    set_condition(actor, kit, KitCondition.NEEDS_ATTENTION, note)


def job_runs(job: str) -> list[BoardRun]:
    """The runs of one job, in the order the boards were given."""
    return list(
        db.session.scalars(
            select(BoardRun)
            .options(joinedload(BoardRun.kit))
            .where(BoardRun.job == job)
            .order_by(BoardRun.id)
        )
    )


def latest_job() -> str | None:
    """The job started last, running or not (None before the first)."""
    return db.session.scalar(select(BoardRun.job).order_by(BoardRun.id.desc()).limit(1))


def close_orphan_runs(job: str) -> int:
    """Mark as stopped the runs of ``job`` still "running" though no worker runs them (the
    server stopped in the middle); a flash among them may have left its board half written,
    so its kit is marked for re-flash. Returns how many were closed."""
    closed = 0
    for run in job_runs(job):
        if run.status != BoardRunStatus.RUNNING:
            continue
        run.status = BoardRunStatus.FAIL
        run.reason = Reason.CANCELLED.value
        run.message, run.message_code, run.message_params = "", SERVER_STOPPED, {}
        run.finished_at = utcnow()
        if run.kind == BoardRunKind.FLASH:
            run.needs_reflash = True
            if run.kit is not None:
                run.kit.needs_reflash = True
        closed += 1
    db.session.flush()
    return closed


def close_unreadable_runs(run_ids: Iterable[int], error: FirmwareUnreadable) -> None:
    """Fail the runs ``run_ids`` of a job that cannot start: its firmware no longer loads."""
    for run_id in run_ids:
        run = db.session.get(BoardRun, run_id)
        if run is None:
            continue
        run.status = BoardRunStatus.FAIL
        run.reason = Reason.BAD_IMAGE.value
        run.message = str(error)[:_MESSAGE_CHARS]
        run.message_code, run.message_params = error.code, error.params
    db.session.flush()


def board_runs_of(kit: Kit) -> list[BoardRun]:
    """Every flash and check of ``kit``'s board, newest first."""
    return list(
        db.session.scalars(
            select(BoardRun)
            .where(BoardRun.kit_id == kit.id, BoardRun.status != BoardRunStatus.RUNNING)
            .order_by(BoardRun.id.desc())
        )
    )


def board_history_entries(kit: Kit) -> list[HistoryEntry]:
    """Each flash and check of ``kit``'s board as lines of its history (kind "board_flash"
    or "board_check"; ``details["run"]`` is the BoardRun), in the reader's language;
    registered with kits below."""
    return [
        HistoryEntry(
            run.finished_at or run.started_at,
            f"board_{run.kind}",
            _history_line(run),
            run.started_by,
            {"run": run, "sha256": run.firmware_sha256},
        )
        for run in board_runs_of(kit)
    ]


def _history_line(run: BoardRun) -> str:
    """ "Board flashed with kitbot 1.2.0 (SHA-256 …): PASS · what it came to (2.1 s)"."""
    status = status_label(run.status)
    if run.kind == BoardRunKind.FLASH:
        firmware = f"{run.firmware_name} {run.firmware_version}".strip()
        if run.firmware_sha256:
            firmware = f"{firmware} (SHA-256 {run.firmware_sha256[:12]}…)"
        line = _(
            "Board flashed with %(firmware)s: %(status)s", firmware=firmware or "?", status=status
        )
    else:
        line = _("Board checked: %(status)s", status=status)
    message = run_message(run)
    if message:
        line = f"{line} · {message}"
    if run.needs_reflash:
        reflash = _("needs re-flash")
        line = f"{line} · {reflash}"
    if run.duration_s is not None:
        line = f"{line} ({run.duration_s:.1f} s)"
    return line


register_history_source(board_history_entries)
