"""Kits in the JSON API: the return checklist a station submits, and the restock list."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify
from flask_babel import gettext

from kitmanager.api import bp
from kitmanager.api.parsing import json_body, limited_text, scanned_at, station_of
from kitmanager.api.scans import scan_answer
from kitmanager.kits.scans import record_return
from kitmanager.kits.services import KitError, kit_by_token, restock_list
from kitmanager.models import KitIncident
from kitmanager.scans import commit_once
from kitmanager.security import current_actor
from kitmanager.web import row_id

NOTE_LIMIT = KitIncident.__table__.c.note.info["max_length"]


def _counts(data: dict[str, Any], key: str) -> dict[int, int]:
    """``{"<component id>": count, ...}`` as ints; 422 for anything else."""
    value = data.get(key) or {}
    problem = gettext(
        "'%(field)s' must be an object of component id to count, such as {\"12\": 1}", field=key
    )
    if not isinstance(value, dict):
        abort(422, description=problem)
    counts = {}
    for component, count in value.items():
        if row_id(component) is None or isinstance(count, bool) or not isinstance(count, int):
            abort(422, description=problem)
        if not 0 <= count <= 100_000:
            abort(422, description=problem)
        counts[int(component)] = count
    return counts


@bp.post("/kits/<token>/return")
def kit_return(token: str):
    """Record the return checklist of the kit with label ``token``: ``missing`` and
    ``damaged`` counts per component id, a ``note``; the same ``client_id`` again is applied
    once and answers the same."""
    data = json_body()
    kit = kit_by_token(token)
    if kit is None:
        abort(404, description=gettext("no kit has this label"))
    missing = _counts(data, "missing")
    damaged = _counts(data, "damaged")
    note = limited_text(data, "note", NOTE_LIMIT) or ""
    client_id = limited_text(data, "client_id", 64, None) or None
    at = scanned_at(data)
    actor = current_actor()
    station = station_of(data, actor)
    try:
        answer = commit_once(
            lambda: record_return(
                actor,
                kit,
                missing=missing,
                damaged=damaged,
                note=note,
                client_id=client_id,
                station=station,
                at=at,
            )
        )
    except KitError as refused:
        abort(422, description=str(refused))
    return scan_answer(*answer)


@bp.get("/kits/restock")
def kits_restock():
    """Missing and damaged components summed over open incidents, by kit type."""
    return jsonify(
        restock=[
            {
                "kit_type": line.kit_type,
                "component": line.component,
                "missing": line.missing,
                "damaged": line.damaged,
                "total": line.total,
                "kits": line.kits,
            }
            for line in restock_list()
        ]
    )
