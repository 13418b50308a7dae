"""The ports boards sit on and the kit each board belongs to: USB ports found now, ports added
by hand (a path, ``socket://`` or ``rfc2217://``), a board bound to a kit by its label, and
known again by its USB serial number or the fingerprint it reported."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from firmware_tools.base import BoardError
from firmware_tools.drivers import DRIVERS, board_kind, families
from firmware_tools.ports import check_port_url, hub_place, list_board_ports
from kitmanager.audit import Actor, record_event
from kitmanager.boards.messages import BoardsError, run_message, said
from kitmanager.extensions import db
from kitmanager.kits.services import kit_by_code, kit_by_token
from kitmanager.models import BoardPort, BoardRun, Kit, KitCondition
from kitmanager.scans import CodeKind, classify_code

__all__ = [
    "PortView",
    "add_port",
    "bind_port",
    "claim_fingerprint",
    "claim_serial",
    "find_kit",
    "known_ports",
    "port_row",
    "remove_port",
]


@dataclass
class PortView:
    """One port as the boards page shows it."""

    device: str
    family: str  # the guess ("avr"), the one given for a hand-added port, or "unknown"
    family_sure: bool
    board: str  # what the USB id says ("Arduino Uno R3"), "" when it cannot tell
    serial_number: str | None
    location: str | None
    hand_added: bool
    kit: Kit | None = None
    last_run: BoardRun | None = None

    @property
    def place(self) -> str:
        """Where the board sits on the hub ("hub socket 1-1.2, serial 7523A1"), or "", in the
        page's language."""
        return said(hub_place(self.location, self.serial_number))

    @property
    def last_message(self) -> str:
        """What the last flash or check of this port came to, in the page's language."""
        return run_message(self.last_run) if self.last_run is not None else ""


def _kits_by(column, values: Iterable[str]) -> dict[str, Kit]:
    wanted = [value for value in values if value]
    if not wanted:
        return {}
    rows = db.session.scalars(
        select(Kit).options(joinedload(Kit.kit_type)).where(column.in_(wanted))
    )
    return {getattr(kit, column.key): kit for kit in rows}


def known_ports(usb: Iterable | None = None) -> list[PortView]:
    """The USB serial ports connected now, then the ports added by hand, each with its kit.

    A board's kit is found by its USB serial number, else by the fingerprint it last
    reported on that port, else by the kit bound to the port. ``usb`` defaults to what
    pyserial lists (no port is opened).
    """
    found = list_board_ports() if usb is None else list(usb)
    stored = {row.device: row for row in db.session.scalars(select(BoardPort))}
    views = [
        PortView(
            p.device,
            p.family,
            p.family_sure,
            p.board,
            p.serial_number,
            p.location,
            False,
        )
        for p in found
    ]
    views += [
        PortView(row.device, row.family or "unknown", bool(row.family), "", None, None, True)
        for row in stored.values()
        if row.hand_added
    ]
    by_serial = _kits_by(Kit.board_serial, (v.serial_number or "" for v in views))
    by_print = _kits_by(Kit.board_fingerprint, (row.fingerprint or "" for row in stored.values()))
    for view in views:
        row = stored.get(view.device)
        view.kit = (
            by_serial.get(view.serial_number or "")
            or (by_print.get(row.fingerprint or "") if row else None)
            or (row.kit if row else None)
        )
    last = _last_runs([v.device for v in views])
    for view in views:
        view.last_run = last.get(view.device)
    return views


def _last_runs(devices: list[str]) -> dict[str, BoardRun]:
    if not devices:
        return {}
    runs = db.session.scalars(
        select(BoardRun).where(BoardRun.port.in_(devices)).order_by(BoardRun.id)
    )
    return {run.port: run for run in runs}


def port_row(device: str) -> BoardPort:
    """The stored row of ``device``, added (not flushed) when there is none yet."""
    row = db.session.scalar(select(BoardPort).where(BoardPort.device == device))
    if row is None:
        row = BoardPort(device=device, hand_added=False)
        db.session.add(row)
    return row


def add_port(actor: Actor, device: str, family: str) -> BoardPort:
    """Add a port that is not USB: a serial device path, ``rfc2217://host:port`` or
    ``socket://host:port`` (a board behind a network serial server). Its ``family`` must be
    given: such a port cannot tell which board is behind it.

    :raise BoardsError: a port firmware_tools does not open (it says what it does, see
        :func:`firmware_tools.ports.check_port_url`), an unknown family, or a port already
        there.
    """
    try:
        device = check_port_url(device)
    except BoardError as error:
        raise BoardsError(said(error.message)) from None
    if len(device) > BoardPort.__table__.c.device.type.length:
        raise BoardsError(_("This port address is too long."))
    try:
        family = board_kind(family).family
    except BoardError:
        raise BoardsError(
            _("Choose the board family: %(families)s.", families=", ".join(families()))
        ) from None
    row = db.session.scalar(select(BoardPort).where(BoardPort.device == device))
    if row is not None and row.hand_added:
        raise BoardsError(_("%(port)s is already in the list.", port=device))
    row = row or BoardPort(device=device)
    row.hand_added, row.family, row.added_by = True, family, actor.name[:120]
    db.session.add(row)
    db.session.flush()
    record_event(actor, "board_port.add", "board_port", row.id, device=device, family=family)
    return row


def remove_port(actor: Actor, device: str) -> None:
    """Forget a port added by hand (its board runs stay in each kit's history).

    :raise BoardsError: no such port added by hand.
    """
    row = db.session.scalar(
        select(BoardPort).where(BoardPort.device == device, BoardPort.hand_added.is_(True))
    )
    if row is None:
        raise BoardsError(_("%(port)s is not in the list of ports added by hand.", port=device))
    db.session.delete(row)
    db.session.flush()
    record_event(actor, "board_port.remove", "board_port", row.id, device=device)


def find_kit(text: str) -> Kit:
    """The kit a scanned or typed label names: its code (KIT-017), its label address
    (``.../k/<token>``) or the bare token.

    :raise BoardsError: no such kit.
    """
    text = (text or "").strip()
    scanned = classify_code(text)
    kit = None
    if scanned.kind is CodeKind.KIT:
        kit = kit_by_token(scanned.value)
    elif scanned.kind is not CodeKind.UNKNOWN:  # a typed code, or a bare label token
        kit = kit_by_code(text) or kit_by_token(text)
    if kit is None:
        raise BoardsError(
            _(
                "No kit has the label “%(label)s”. Scan the kit's label, or type its code "
                "(KIT-017).",
                label=text[:60],
            )
        )
    return kit


def claim_serial(kit: Kit, serial: str) -> None:
    """The board with USB serial ``serial`` is ``kit``'s (a board moves with its kit)."""
    if kit.board_serial == serial:
        return
    db.session.execute(update(Kit).where(Kit.board_serial == serial).values(board_serial=None))
    kit.board_serial = serial


def claim_fingerprint(kit: Kit, fingerprint: str) -> None:
    """The board that reports ``fingerprint`` is ``kit``'s (a board moves with its kit)."""
    if kit.board_fingerprint == fingerprint:
        return
    db.session.execute(
        update(Kit).where(Kit.board_fingerprint == fingerprint).values(board_fingerprint=None)
    )
    kit.board_fingerprint = fingerprint


def bind_port(actor: Actor, device: str, label: str, usb: Iterable | None = None) -> Kit:
    """Say that the board on ``device`` belongs to the kit whose label is ``label``.

    A USB board with a serial number is remembered by it (it stays the kit's on any
    socket of the hub); any other by its port, and by the fingerprint it reports at its
    next flash or check.

    :raise BoardsError: no such kit, a retired kit, or no such port connected.
    """
    kit = find_kit(label)
    if kit.condition == KitCondition.RETIRED.value:
        raise BoardsError(
            _(
                "%(code)s is retired: bind the board to a kit in use, or mark %(code)s ready "
                "on its page first.",
                code=kit.code,
            )
        )
    port = next((p for p in known_ports(usb) if p.device == device), None)
    if port is None:
        raise BoardsError(
            _("%(port)s is not connected now: plug the board in, or add the port.", port=device)
        )
    # the kit has one board: whatever named its board before no longer does
    db.session.execute(update(BoardPort).where(BoardPort.kit_id == kit.id).values(kit_id=None))
    row = db.session.scalar(select(BoardPort).where(BoardPort.device == device))
    if port.serial_number:
        claim_serial(kit, port.serial_number)
        kit.board_fingerprint = None
    else:
        kit.board_serial = None
        row = row or port_row(device)
        row.kit_id = kit.id
    fingerprint = row.fingerprint if row is not None else None
    if fingerprint:
        claim_fingerprint(kit, fingerprint)
    elif not port.serial_number:
        kit.board_fingerprint = None
    if port.family in DRIVERS and port.family_sure and not kit.board_family:
        kit.board_family = port.family
    db.session.flush()
    record_event(actor, "board.bind", "kit", kit.id, port=device, serial=port.serial_number)
    return kit
