"""Board jobs: flashes and checks run on a small worker pool inside the server process.

A web request plans a job (one running BoardRun row per board, committed), hands it to the
pool and returns at once: no request ever waits on a serial port. The job's live progress
(phase, bytes, a "press reset" notice) is kept in memory for the page to poll; what each
board came to is stored in the database when the batch ends, so leaving the page changes
nothing and coming back (or a restart) shows it. One job per port at a time: a port held by a
running job, or by firmware_tools in this process, is refused with a clear message.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from firmware_tools.base import Firmware as LoadedFirmware
from firmware_tools.base import Outcome
from firmware_tools.operations import (
    PORTS,
    BatchResult,
    BoardContext,
    BoardResult,
    ProgressEvent,
    check_board,
    flash_board,
    run_batch,
)
from kitmanager.audit import Actor
from kitmanager.boards.messages import BoardsError, run_message, said
from kitmanager.boards.services import (
    FirmwareUnreadable,
    JobPlan,
    close_unreadable_runs,
    load_library_firmware,
    record_result,
    status_label,
)
from kitmanager.extensions import db
from kitmanager.models import BoardRun, BoardRunKind, BoardRunStatus, Firmware, Kit

__all__ = ["PHASES", "BoardProgress", "Job", "JobManager", "execute_plan", "jobs"]

log = logging.getLogger(__name__)

# Seconds per board and attempt, and retries with a fresh reset: firmware-tools' defaults.
TIMEOUTS = {BoardRunKind.FLASH: 180.0, BoardRunKind.CHECK: 60.0}
RETRIES = 1
# A board behind a port without a reset line waits this long for the trainer to press reset.
SYNC_TIMEOUT = 20.0
CONCURRENCY = 32  # a full hub
KEEP_FINISHED = 20  # finished jobs whose live view stays in memory

#: What each phase firmware_tools reports means to a trainer.
PHASES = {
    "waiting": _l("waiting"),
    "identify": _l("identifying the board"),
    "sync": _l("reaching the bootloader"),
    "write": _l("writing"),
    "copy": _l("copying files"),
    "verify": _l("verifying"),
    "hello": _l("asking the firmware"),
    "selftest": _l("self-test"),
    "notice": _l("waiting for you"),
    "retry": _l("trying again"),
    "done": _l("done"),
}


@dataclass
class BoardProgress:
    """One board of a running job, as the page shows it.

    ``notice`` and ``summary`` are firmware_tools' messages (or text), said in the language
    of the page that polls.
    """

    port: str
    kit: str  # the kit's code, "" for a board of no kit
    phase: str = "waiting"
    done: int = 0
    total: int = 0
    attempt: int = 1
    notice: str = ""
    status: str = BoardRunStatus.RUNNING.value
    summary: str | dict[str, Any] = ""  # a message, or one kept as {"code": ..., "params": ...}
    reason: str = ""
    needs_reflash: bool = False

    def to_dict(self) -> dict[str, Any]:
        finished = self.status != BoardRunStatus.RUNNING
        percent = round(100 * self.done / self.total) if self.total else None
        if finished:
            percent = 100 if self.status in (Outcome.PASS, Outcome.WARN) else percent
        return {
            "port": self.port,
            "kit": self.kit,
            "phase": self.phase,
            "phase_label": str(PHASES.get(self.phase, self.phase)),
            "percent": percent,
            "attempt": self.attempt,
            "notice": said(self.notice),
            "status": self.status,
            "status_label": status_label(self.status),
            "finished": finished,
            "summary": said(self.summary),
            "reason": self.reason,
            "needs_reflash": self.needs_reflash,
        }


@dataclass
class Job:
    """A job the pool runs or ran in this process."""

    id: str
    kind: BoardRunKind
    started_by: str
    boards: dict[str, BoardProgress]
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    error: str = ""

    def on_progress(self, event: ProgressEvent) -> None:
        """Take one event from firmware_tools (called from its worker threads, one at a time)."""
        board = self.boards.get(event.port)
        if board is None:
            return
        board.attempt = event.attempt
        if event.phase == "notice":
            board.notice = event.message
            return
        if event.phase == "done":
            board.phase, board.notice, board.status = "done", "", event.message
            if event.result is not None:
                self.take_result(event.result)
            return
        if event.phase != "sync":  # past the bootloader: the reset was pressed
            board.notice = ""
        board.phase, board.done, board.total = event.phase, event.done, event.total

    def take_result(self, result: BoardResult) -> None:
        """Show what ``result`` came to on its board's line."""
        board = self.boards.get(result.port)
        if board is None:
            return
        board.phase, board.notice = "done", ""
        board.status = result.status.value
        board.summary = result.summary
        board.reason = result.reason.value if result.reason else ""
        board.needs_reflash = result.needs_reflash

    def to_dict(self) -> dict[str, Any]:
        boards = [board.to_dict() for board in self.boards.values()]
        counts = {outcome.value: 0 for outcome in Outcome}
        for board in boards:
            if board["status"] in counts:
                counts[board["status"]] += 1
        return {
            "job": self.id,
            "kind": self.kind.value,
            "running": not self.finished.is_set(),
            "stopping": self.cancel.is_set() and not self.finished.is_set(),
            "started_by": self.started_by,
            "boards": boards,
            "counts": counts,
            "done": sum(counts.values()),
            "total": len(boards),
            "error": self.error,
        }


def runs_as_dict(job: str, runs: list[BoardRun]) -> dict[str, Any]:
    """A finished job (no longer in memory) as the page polls it, from its stored runs."""
    live = Job(job, BoardRunKind(runs[0].kind), runs[0].started_by, {})
    for run in runs:
        live.boards[run.port] = BoardProgress(
            run.port,
            run.kit.code if run.kit else "",
            phase="done" if run.finished_at else "waiting",
            status=run.status.value,
            summary=run_message(run),
            reason=run.reason,
            needs_reflash=run.needs_reflash,
        )
    live.finished.set()
    return live.to_dict()


def _board_job(
    kind: BoardRunKind,
    plan: JobPlan,
    loaded: dict[int, LoadedFirmware],
) -> Callable[[BoardContext], BoardResult]:
    specs = {spec.port: spec for spec in plan.boards}

    def job(context: BoardContext) -> BoardResult:
        spec = specs[context.port]
        if kind is BoardRunKind.FLASH:
            firmwares = {family: loaded[fid] for family, fid in spec.firmware_ids.items()}
            return flash_board(
                context.port,
                firmwares,
                family=spec.family,
                sync_timeout=SYNC_TIMEOUT,
                progress=context.progress,
                notice=context.notice,
            )
        return check_board(
            context.port,
            family=spec.family,
            expected=spec.expected,
            progress=context.progress,
            notice=context.notice,
        )

    return job


def execute_plan(
    plan: JobPlan,
    actor: Actor,
    *,
    cancel: threading.Event | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
) -> BatchResult:
    """Run ``plan`` on its boards now and store each board's result (committed) as soon as
    that board is done, so a job cut short by the server stopping keeps what it finished.

    Needs an app context. The boards are worked on in another thread while this one writes
    the results; no transaction stays open while boards are worked on. Ctrl-C (a
    KeyboardInterrupt here) stops every board, stores what each came to, and is raised again.

    :raise FirmwareUnreadable: a firmware of the plan can no longer be read (its runs are
        closed as failed).
    """
    rows = {
        fid: db.session.get(Firmware, fid)
        for spec in plan.boards
        for fid in spec.firmware_ids.values()
    }
    try:
        loaded = {fid: load_library_firmware(row) for fid, row in rows.items() if row}
    except FirmwareUnreadable as error:
        close_unreadable_runs([spec.run_id for spec in plan.boards], error)
        db.session.commit()
        raise
    db.session.commit()
    db.session.remove()
    stop = cancel if cancel is not None else threading.Event()
    done: queue.Queue[BoardResult] = queue.Queue()
    outcome: list[BatchResult | BaseException] = []

    def report(event: ProgressEvent) -> None:
        if on_progress is not None:
            on_progress(event)
        if event.phase == "done" and event.result is not None:
            done.put(event.result)

    def work() -> None:
        try:
            outcome.append(
                run_batch(
                    [spec.port for spec in plan.boards],
                    _board_job(plan.kind, plan, loaded),
                    concurrency=CONCURRENCY,
                    timeout=TIMEOUTS[plan.kind],
                    retries=RETRIES,
                    on_progress=report,
                    cancel=stop,
                )
            )
        except BaseException as error:  # handed to the caller's thread
            outcome.append(error)

    specs = {spec.port: spec for spec in plan.boards}
    stored: set[str] = set()

    def store(result: BoardResult) -> None:
        spec = specs.get(result.port)
        if spec is None or result.port in stored:
            return
        run = db.session.get(BoardRun, spec.run_id)
        if run is None:
            return
        fid = spec.firmware_ids.get(result.family)
        if fid is None and len(spec.firmware_ids) == 1:
            fid = next(iter(spec.firmware_ids.values()))
        record_result(actor, run, result, db.session.get(Firmware, fid) if fid else None)
        db.session.commit()
        stored.add(result.port)

    worker = threading.Thread(target=work, name=f"boards job {plan.job}", daemon=True)
    worker.start()
    interrupted: KeyboardInterrupt | None = None
    while worker.is_alive() or not done.empty():
        try:
            store(done.get(timeout=0.2))
        except queue.Empty:
            continue
        except KeyboardInterrupt as error:  # Ctrl-C on the command line: stop, keep results
            interrupted = error
            stop.set()
    worker.join()
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    for board in result.boards:  # every board reports done; this is only a safety net
        store(board)
    if interrupted is not None:
        raise interrupted
    return result


class JobManager:
    """The server's board jobs: a small pool, the live view of each job, one job per port."""

    def __init__(self, app: Flask, workers: int = 2) -> None:
        self.app = app
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="boards-job")
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()

    def busy_ports(self) -> dict[str, str]:
        """Port -> job id of every port a running job holds."""
        with self._lock:
            return {
                port: job.id
                for job in self._jobs.values()
                if not job.finished.is_set()
                for port in job.boards
            }

    def check_free(self, ports: list[str]) -> None:
        """:raise BoardsError: when a port is held by a running job or another operation."""
        held = self.busy_ports()
        busy = [port for port in ports if port in held or PORTS.busy(port)]
        if busy:
            raise BoardsError(
                _(
                    "Busy: %(ports)s. A job is running on it; wait for it to end (or stop it), "
                    "then try again.",
                    ports=", ".join(busy),
                )
            )

    def submit(self, plan: JobPlan, actor: Actor) -> Job:
        """Run ``plan`` (stored and committed already) on the pool; returns at once.

        :raise BoardsError: a port of the plan is busy (checked again, under the lock).
        """
        kits = {
            kit.id: kit.code
            for kit in (db.session.get(Kit, s.kit_id) for s in plan.boards if s.kit_id)
            if kit is not None
        }
        boards = {
            spec.port: BoardProgress(spec.port, kits.get(spec.kit_id or 0, ""))
            for spec in plan.boards
        }
        job = Job(plan.job, plan.kind, plan.started_by, boards)
        with self._lock:
            held = {p for j in self._jobs.values() if not j.finished.is_set() for p in j.boards}
            busy = [port for port in boards if port in held]
            if busy:
                raise BoardsError(_("Busy: %(ports)s.", ports=", ".join(busy)))
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP_FINISHED:
                oldest = next(iter(self._jobs.values()))
                if not oldest.finished.is_set():
                    break
                self._jobs.popitem(last=False)
        self.pool.submit(self._run, job, plan, actor)
        return job

    def _run(self, job: Job, plan: JobPlan, actor: Actor) -> None:
        with self.app.app_context():
            try:
                batch = execute_plan(plan, actor, cancel=job.cancel, on_progress=job.on_progress)
                for result in batch.boards:
                    job.take_result(result)
            except Exception as error:  # a bug must not leave the job "running" forever
                log.exception("board job %s failed", job.id)
                db.session.rollback()
                job.error = str(error)
                summary: str | dict[str, Any] = str(error)
                if isinstance(error, FirmwareUnreadable):  # said in the language of who polls
                    summary = {"code": error.code, "params": error.params}
                for board in job.boards.values():
                    if board.status == BoardRunStatus.RUNNING:
                        board.status, board.summary = BoardRunStatus.FAIL.value, summary
            finally:
                db.session.remove()
                job.finished.set()

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def stop(self, job_id: str) -> bool:
        """Stop a running job: every board ends done, or cancelled (marked for re-flash when
        it was being written). False when no such job runs here."""
        job = self.get(job_id)
        if job is None or job.finished.is_set():
            return False
        job.cancel.set()
        return True


def jobs() -> JobManager:
    """This app's job manager."""
    return current_app.extensions["boards_jobs"]
