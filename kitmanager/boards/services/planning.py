"""What a flash or check job does on each board: the ports it works on, the family each board
is treated as, the firmware put on it or expected of it; one running BoardRun per board."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from flask_babel import gettext as _

from firmware_tools.protocol.healthcheck import ExpectedFirmware
from kitmanager.audit import Actor, record_event
from kitmanager.boards.messages import BoardsError
from kitmanager.boards.services.library import current_firmware
from kitmanager.boards.services.ports import PortView, known_ports
from kitmanager.extensions import db
from kitmanager.models import BoardRun, BoardRunKind, Firmware, Kit

__all__ = ["BoardSpec", "JobPlan", "expected_for", "plan_job"]


@dataclass
class BoardSpec:
    """What a job does on one port: the family to treat it as (None: the port tells), the
    firmware rows to flash (one per family) or the firmware a check expects."""

    port: str
    run_id: int
    kit_id: int | None
    family: str | None
    firmware_ids: dict[str, int] = field(default_factory=dict)
    expected: ExpectedFirmware | None = None


@dataclass
class JobPlan:
    """A job planned and stored (one running BoardRun per board), ready for the pool."""

    job: str
    kind: BoardRunKind
    boards: list[BoardSpec]
    started_by: str


def expected_for(kit: Kit | None) -> ExpectedFirmware:
    """What a check of ``kit``'s board expects: its type's current firmware, name and
    version; else the kit firmware in any version."""
    current = current_firmware(kit.kit_type_id if kit else None)
    if current is None:
        return ExpectedFirmware()
    return ExpectedFirmware(fw=current.name, version=current.version)


def plan_job(
    actor: Actor,
    kind: BoardRunKind,
    devices: Sequence[str] | None,
    firmware: Sequence[Firmware] | None = None,
    usb: Iterable | None = None,
) -> JobPlan:
    """Plan a flash or check of the boards on ``devices`` (None: every known port) and store
    one running BoardRun per board.

    A flash puts ``firmware`` on each board (one per family: the board's family picks), or,
    with None, the current firmware of the board's kit type.

    :raise BoardsError: no ports, a port not connected, or (flash) a board without a
        firmware to put on it.
    """
    plan = JobPlan(secrets.token_hex(8), kind, [], actor.name[:120])
    without = []
    chosen = _chosen_ports(devices, usb)
    for port in chosen:
        rows = _firmware_for(port, kind, firmware)
        if kind is BoardRunKind.FLASH and not rows:
            without.append(port.kit.code if port.kit else port.device)
            continue
        plan.boards.append(_plan_board(plan, port, rows))
    if without:
        raise BoardsError(
            _(
                "No firmware to flash on %(boards)s: choose a firmware, or mark one as the "
                "current firmware of their kit type in the firmware library.",
                boards=", ".join(without),
            )
        )
    ports = [port.device for port in chosen]
    record_event(actor, f"boards.{kind.value}", "board_job", None, job=plan.job, ports=ports)
    return plan


def _chosen_ports(devices: Sequence[str] | None, usb: Iterable | None) -> list[PortView]:
    """The ports ``devices`` names (each once, in order), or every known port for None.

    :raise BoardsError: none, or one that is not connected now.
    """
    ports = {p.device: p for p in known_ports(usb)}
    chosen = list(ports) if devices is None else list(dict.fromkeys(devices))
    if not chosen:
        raise BoardsError(_("No boards to work on: plug them in, or add their ports."))
    missing = [device for device in chosen if device not in ports]
    if missing:
        raise BoardsError(
            _("Not connected now: %(ports)s. Refresh the page.", ports=", ".join(missing))
        )
    return [ports[device] for device in chosen]


def _family_of(port: PortView) -> str | None:
    """The family to treat ``port``'s board as: the one given with a port added by hand, else
    its kit's for a USB chip found on boards of many families; None: the port tells."""
    if port.hand_added:
        return port.family
    if not port.family_sure and port.kit and port.kit.board_family:
        return port.kit.board_family
    return None


def _firmware_for(
    port: PortView, kind: BoardRunKind, firmware: Sequence[Firmware] | None
) -> list[Firmware]:
    """What a flash puts on ``port``'s board: ``firmware``, else the current firmware of its
    kit's type (none for a check, or when there is nothing to put)."""
    if kind is not BoardRunKind.FLASH:
        return []
    if firmware:
        return list(firmware)
    current = current_firmware(port.kit.kit_type_id if port.kit else None)
    return [current] if current else []


def _plan_board(plan: JobPlan, port: PortView, rows: list[Firmware]) -> BoardSpec:
    """Store the running BoardRun of ``port`` in ``plan``'s job; return what the job does
    there. One firmware row is copied on the run; several wait for the board's family."""
    family = _family_of(port)
    run = BoardRun(
        job=plan.job,
        kind=plan.kind.value,
        kit_id=port.kit.id if port.kit else None,
        port=port.device,
        family=family or (port.family if port.family_sure else ""),
        firmware_id=rows[0].id if len(rows) == 1 else None,
        firmware_name=rows[0].name if rows else "",
        firmware_version=rows[0].version if len(rows) == 1 else "",
        firmware_sha256=rows[0].sha256 if len(rows) == 1 else "",
        started_by=plan.started_by,
    )
    db.session.add(run)
    db.session.flush()
    expected = expected_for(port.kit) if plan.kind is BoardRunKind.CHECK else None
    firmware_ids = {row.family: row.id for row in rows}
    return BoardSpec(port.device, run.id, run.kit_id, family, firmware_ids, expected)
