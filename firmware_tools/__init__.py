"""firmware_tools: find, flash, verify and health-check workshop robot boards.

Usable alone from Python (this API) and from the ``firmware-tools`` command. The web app calls
the operations: :func:`flash_board`, :func:`check_board`, :func:`run_batch` with
:func:`flash_job` / :func:`check_job`; each board's result is a :class:`BoardResult` with
``to_dict()``.
"""

from firmware_tools.base import (
    BoardError,
    FlashReport,
    Outcome,
    ProgressCallback,
    Reason,
    StepResult,
)
from firmware_tools.operations import (
    BatchResult,
    BoardContext,
    BoardResult,
    Firmware,
    ProgressEvent,
    check_board,
    check_job,
    flash_board,
    flash_job,
    load_firmware,
    run_batch,
    verify_board,
)
from firmware_tools.ports import PortInfo, guess_family, list_board_ports
from firmware_tools.protocol.healthcheck import ExpectedFirmware

__all__ = [
    "BatchResult",
    "BoardContext",
    "BoardError",
    "BoardResult",
    "ExpectedFirmware",
    "Firmware",
    "FlashReport",
    "Outcome",
    "PortInfo",
    "ProgressCallback",
    "ProgressEvent",
    "Reason",
    "StepResult",
    "check_board",
    "check_job",
    "flash_board",
    "flash_job",
    "guess_family",
    "list_board_ports",
    "load_firmware",
    "run_batch",
    "verify_board",
]
