"""The scan core: what a scanned code is, what a scan did, and applying each scan once.

- :mod:`~kitmanager.scans.codes`: the ``/b/`` and ``/k/`` paths, URL builders, classifying a
  scanned text (badge URL or bare token, kit label URL or bare kit code).
- :mod:`~kitmanager.scans.outcomes`: the outcome enum with each outcome's tone.
- :mod:`~kitmanager.scans.subjects`: the person and session rows a scan reads.
- :mod:`~kitmanager.scans.core`: the handler registry, :func:`answer_scan` (once per
  ``client_id``, the stored answer replayed), :func:`undo_scan`, :func:`commit_once`.

Check-in and kits register their handlers here and never import each other.
"""

from __future__ import annotations

from typing import Any

from kitmanager.models import Workshop
from kitmanager.scans.codes import (
    BADGE_PATH,
    KIT_CODE,
    KIT_LABEL_PATH,
    TOKEN,
    CodeKind,
    ScannedCode,
    badge_route,
    badge_url,
    classify_code,
    kit_label_route,
    kit_label_url,
)
from kitmanager.scans.core import (
    OTHER_SENDERS_ROLE,
    SCAN_CLOCK_AHEAD,
    Scan,
    ScanOfAnotherSender,
    ScanRaced,
    ScanResult,
    ScanTimeRefused,
    UndoResult,
    answer_scan,
    apply_once,
    commit_once,
    register_follower,
    register_handler,
    register_undo,
    replayed_scan,
    scan_time,
    station_name,
    undo_scan,
)
from kitmanager.scans.outcomes import Outcome, Tone

__all__ = [
    "BADGE_PATH",
    "KIT_LABEL_PATH",
    "OTHER_SENDERS_ROLE",
    "SCAN_CLOCK_AHEAD",
    "CodeKind",
    "Outcome",
    "Scan",
    "ScanOfAnotherSender",
    "ScanRaced",
    "ScanResult",
    "ScanTimeRefused",
    "ScannedCode",
    "Tone",
    "UndoResult",
    "answer_scan",
    "apply_once",
    "badge_route",
    "badge_url",
    "classify_code",
    "commit_once",
    "kit_label_route",
    "kit_label_url",
    "register_follower",
    "register_handler",
    "register_undo",
    "replayed_scan",
    "scan_time",
    "station_name",
    "station_vocabulary",
    "undo_scan",
]


def station_vocabulary(workshop: Workshop) -> dict[str, Any]:
    """What the scan station's script needs to read codes and answers as the server does:
    the paths, the token and kit code patterns, each outcome's tone and whether it is a
    change, and the workshop's pairing window in seconds."""
    return {
        "paths": {"badge": BADGE_PATH, "kit": KIT_LABEL_PATH},
        "token": f"^{TOKEN.pattern}$",
        "kit_code": f"^{KIT_CODE.pattern}$",
        "outcomes": {
            outcome.value: {"tone": outcome.tone.value, "change": outcome.change}
            for outcome in Outcome
        },
        "pair_window": workshop.pair_window_seconds,
    }
