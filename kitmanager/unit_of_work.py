"""One transaction for each request or command, and the error a user can fix.

A view, an API handler or a command runs the services it calls inside :func:`unit_of_work`:
what they wrote is committed once when the block ends, or rolled back, whatever the block
raises. Services flush and never commit. A :class:`UserError` is a refusal (a name already
taken, a kit already out, a file that is no list of people): rolled back like any failure, its
message is shown instead of a traceback, by the caller's choice: a page flashes it
(:func:`kitmanager.web.page_unit_of_work`), the JSON API answers it
(:func:`kitmanager.web.api_unit_of_work`), a command prints it (:func:`command_unit_of_work`).

Scans have their own block, :func:`kitmanager.scans.commit_once`, which also takes the
writers' turn and replays a raced copy's answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import click

from kitmanager.extensions import db

__all__ = ["UserError", "Work", "command_unit_of_work", "discard_work", "unit_of_work"]


class UserError(ValueError):
    """A request refused for a reason its user can fix; the message says what happened and
    what to do. Every feature's error derives from it (a ValueError, as each of them was)."""


@dataclass
class Work:
    """How a :func:`unit_of_work` block ended: ``committed``, or refused with ``refusal`` (the
    :class:`UserError` it raised, rolled back and handed to the caller's ``refused``)."""

    committed: bool = False
    refusal: UserError | None = None


@contextmanager
def unit_of_work(refused: Callable[[UserError], object] | None = None) -> Iterator[Work]:
    """Commit what the block wrote when it ends; roll back whatever it raises, and raise it.

    With ``refused``, a :class:`UserError` is rolled back and handed to ``refused`` (which may
    raise, as ``abort(422)`` does) instead of raised: the rest of the block is skipped and the
    :class:`Work` the block got says so. A failed commit is rolled back and raised. Blocks do
    not nest: the inner one would commit the outer one's work.
    """
    work = Work()
    try:
        yield work
    except UserError as refusal:
        db.session.rollback()
        if refused is None:
            raise
        work.refusal = refusal
        refused(refusal)
        return
    except BaseException:
        db.session.rollback()
        raise
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    work.committed = True


def discard_work() -> None:
    """Roll back what the request did so far, for an error page that must not trip over a
    failed transaction (a database error, a full disk)."""
    db.session.rollback()


def _command_refused(refusal: UserError) -> None:
    raise click.ClickException(str(refusal)) from None


def command_unit_of_work() -> AbstractContextManager[Work]:
    """:func:`unit_of_work` for a command: a refusal ends it with its message (exit code 1)."""
    return unit_of_work(_command_refused)
