"""esptool's progress and messages, routed to the board whose worker thread is running.

esptool reports progress through one process-wide logger. :class:`BoardLog` replaces it with
one that hands each message and progress update to the board of the calling thread, so many
ESP boards can be flashed at once with a live line each. Imported only when an ESP board is
used: esptool and its logger take a tenth of a second to import.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from esp_pylib.logger import EspLog, EspLogBase

from firmware_tools.base import ProgressCallback

__all__ = ["ROUTER", "BoardLog"]

logger = logging.getLogger(__name__)


class BoardLog(EspLogBase):
    """esptool's logger, routing progress and warnings to the board of the calling thread.

    esptool 5 logs through esp-pylib's process-wide ``EspLog.instance``; an ``EspLogBase``
    subclass installed with ``EspLog.set_logger`` is the documented way to redirect it.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def install(self) -> BoardLog:
        """Make this esptool's logger (again, if another tool replaced it) and return it."""
        if EspLog.instance is not self:
            EspLog.set_logger(self)
        return self

    @contextlib.contextmanager
    def bind(
        self, progress: ProgressCallback, notice: Callable[[str], None], phase: str = "write"
    ) -> Iterator[None]:
        """Send what esptool reports in this thread to ``progress`` and ``notice``."""
        self._local.target = (progress, notice, phase)
        try:
            yield
        finally:
            self._local.target = None

    def _target(self) -> tuple[ProgressCallback, Callable[[str], None], str] | None:
        return getattr(self._local, "target", None)

    def progress_bar(
        self,
        cur_iter: int,
        total_iters: int,
        prefix: str = "",
        suffix: str = "",
        bar_length: int = 30,
    ) -> None:
        target = self._target()
        if target is not None:
            target[0](target[2], cur_iter, total_iters)

    def _say(self, message: str) -> None:
        target = self._target()
        if target is not None:
            target[1](message)
        else:
            logger.warning("esptool: %s", message)

    def print(self, *args: Any, **kwargs: Any) -> None:
        logger.debug("esptool: %s", " ".join(str(a) for a in args))

    def note(self, *args: Any) -> None:
        logger.debug("esptool: %s", " ".join(str(a) for a in args))

    def hint(self, *args: Any) -> None:
        logger.debug("esptool: %s", " ".join(str(a) for a in args))

    def debug(self, *args: Any) -> None:
        logger.debug("esptool: %s", " ".join(str(a) for a in args))

    def warn(self, *args: Any, suggestion: str | None = None) -> None:
        self._say(" ".join(str(a) for a in args))

    def err(self, *args: Any, suggestion: str | None = None) -> None:
        self._say(" ".join(str(a) for a in args))

    # the older names, which esptool still calls
    def warning(self, message: str, suggestion: str | None = None) -> None:
        self._say(message)

    def error(self, message: str, suggestion: str | None = None) -> None:
        self._say(message)

    def set_verbosity(self, mode: int | str) -> None:
        return None


ROUTER = BoardLog()
