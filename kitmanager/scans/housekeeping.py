"""Housekeeping of the scan core: stored scan answers do not pile up forever.

Each scan keeps its answer (a :class:`~kitmanager.models.ScanRequest` row, by the device's
``client_id``) so that a station retrying it gets the same answer and nothing is applied twice.
A retry comes within the longest stretch a station stays offline; after that (the
``SCAN_REQUEST_DAYS`` setting, 90 days unless changed) the answer has done its job and goes.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete

from kitmanager.extensions import db
from kitmanager.models import ScanRequest, utcnow

__all__ = ["keep_scan_answers_for", "prune_scan_requests"]

log = logging.getLogger(__name__)


def keep_scan_answers_for() -> timedelta:
    """How long a scan's stored answer is kept: the ``SCAN_REQUEST_DAYS`` setting."""
    return timedelta(days=current_app.config["SCAN_REQUEST_DAYS"])


def prune_scan_requests(older_than: timedelta | None = None) -> int:
    """Delete the stored answers of scans received more than ``older_than`` ago (default: the
    ``SCAN_REQUEST_DAYS`` setting) and return how many went. Flushes (the delete is sent at
    once); the caller commits.

    Only the stored answers go: check-ins, handouts, returns and the audit trail stay as they
    are. A scan sent again after its answer was pruned is applied as a new scan; that is
    harmless, as a check-in of someone already checked in is answered "already checked in".

    :raise ValueError: ``older_than`` is not a positive duration (it would delete the answers
        of scans still being retried).
    """
    if older_than is None:
        older_than = keep_scan_answers_for()
    if older_than <= timedelta(0):
        raise ValueError(f"Keep scan answers for a positive time, not {older_than}.")
    db.session.flush()  # answers added in this transaction are pruned by the same rule
    cutoff = utcnow() - older_than
    result = db.session.execute(delete(ScanRequest).where(ScanRequest.received_at < cutoff))
    removed = result.rowcount or 0
    if removed:
        log.info("Removed %d stored scan answers received before %s", removed, cutoff)
    return removed
