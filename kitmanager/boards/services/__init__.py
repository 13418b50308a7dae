"""Boards: the firmware library, the ports boards sit on and the kit each belongs to, and
what every flash or check came to, stored on the kit.

One service layer for the boards page, its JSON endpoints and the ``kitmanager boards``
commands, in four modules along its seams: :mod:`.library` (the firmware library),
:mod:`.ports` (ports and the kit each board belongs to), :mod:`.planning` (what a job does
on each board) and :mod:`.results` (what it came to, on the run, on its kit and in the kit's
history). Every public name is here too: ``from kitmanager.boards.services import X``.

Services take an explicit actor, flush, never commit; the caller commits once. Nothing here
opens a serial port: the work on boards is firmware_tools' and runs in
:mod:`kitmanager.boards.jobs`, outside any web request.
"""

from __future__ import annotations

from kitmanager.boards.messages import BoardsError
from kitmanager.boards.services.library import (
    BUILTIN_DIR,
    FIRMWARE_FOLDER,
    FirmwareFile,
    FirmwareUnreadable,
    add_firmware,
    current_firmware,
    ensure_builtin_firmware,
    firmware_by_name,
    firmware_files,
    firmware_library,
    load_library_firmware,
    set_current_firmware,
)
from kitmanager.boards.services.planning import BoardSpec, JobPlan, expected_for, plan_job
from kitmanager.boards.services.ports import (
    PortView,
    add_port,
    bind_port,
    find_kit,
    known_ports,
    remove_port,
)
from kitmanager.boards.services.results import (
    board_fingerprint,
    board_history_entries,
    board_runs_of,
    close_orphan_runs,
    close_unreadable_runs,
    job_runs,
    latest_job,
    record_result,
    status_label,
)

__all__ = [
    "BUILTIN_DIR",
    "FIRMWARE_FOLDER",
    "BoardSpec",
    "BoardsError",
    "FirmwareFile",
    "FirmwareUnreadable",
    "JobPlan",
    "PortView",
    "add_firmware",
    "add_port",
    "bind_port",
    "board_fingerprint",
    "board_history_entries",
    "board_runs_of",
    "close_orphan_runs",
    "close_unreadable_runs",
    "current_firmware",
    "ensure_builtin_firmware",
    "expected_for",
    "find_kit",
    "firmware_by_name",
    "firmware_files",
    "firmware_library",
    "job_runs",
    "known_ports",
    "latest_job",
    "load_library_firmware",
    "plan_job",
    "record_result",
    "remove_port",
    "set_current_firmware",
    "status_label",
]
