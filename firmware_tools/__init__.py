"""firmware_tools: find, flash, verify and health-check workshop robot boards.

Usable alone from Python (this API) and from the ``firmware-tools`` command. The web app calls
the operations: :func:`flash_board`, :func:`verify_board`, :func:`check_board`, and
:func:`run_batch` with :func:`flash_job` / :func:`check_job` (cancellable with an event);
each board's result is a :class:`BoardResult` with ``to_dict()``. Board families are drivers
in :data:`DRIVERS`; :func:`register_driver` adds one, and :func:`board_kinds` lists every name
``--board`` takes. :data:`PORTS` is the process's per-port state (one job at a time, boards
that need a re-flash). :func:`check_port_url` says whether a port is one this tool opens.
Every sentence for a trainer (errors, notices, results) is a :class:`Message`: its English
line, and a code of :data:`MESSAGES` with parameters an application can say in its language.
"""

from firmware_tools.base import (
    BoardError,
    Firmware,
    FlashReport,
    Outcome,
    ProgressCallback,
    Reason,
    StepResult,
)
from firmware_tools.drivers import (
    DRIVERS,
    BoardDriver,
    BoardKind,
    DriverOptions,
    Identification,
    board_kind,
    board_kinds,
    register_driver,
    unregister_driver,
)
from firmware_tools.messages import MESSAGES, Message
from firmware_tools.operations import (
    PORTS,
    BatchResult,
    BoardContext,
    BoardResult,
    PortRegistry,
    ProgressEvent,
    check_board,
    check_job,
    firmware_by_family,
    flash_board,
    flash_job,
    load_firmware,
    run_batch,
    verify_board,
)
from firmware_tools.ports import PortInfo, check_port_url, guess_family, list_board_ports
from firmware_tools.protocol.healthcheck import ExpectedFirmware

__all__ = [
    "DRIVERS",
    "MESSAGES",
    "PORTS",
    "BatchResult",
    "BoardContext",
    "BoardDriver",
    "BoardError",
    "BoardKind",
    "BoardResult",
    "DriverOptions",
    "ExpectedFirmware",
    "Firmware",
    "FlashReport",
    "Identification",
    "Message",
    "Outcome",
    "PortInfo",
    "PortRegistry",
    "ProgressCallback",
    "ProgressEvent",
    "Reason",
    "StepResult",
    "board_kind",
    "board_kinds",
    "check_board",
    "check_job",
    "check_port_url",
    "firmware_by_family",
    "flash_board",
    "flash_job",
    "guess_family",
    "list_board_ports",
    "load_firmware",
    "register_driver",
    "run_batch",
    "unregister_driver",
    "verify_board",
]
