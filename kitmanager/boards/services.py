"""Boards: the firmware library, the ports boards sit on and the kit each belongs to, and
what every flash or check came to, stored on the kit.

One service layer for the boards page, its JSON endpoints and the ``kitmanager boards``
commands. Services take an explicit actor, flush, never commit; the caller commits once.
Nothing here opens a serial port: the work on boards is firmware_tools' and runs in
:mod:`kitmanager.boards.jobs`, outside any web request.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.orm import joinedload

import firmware_tools
from firmware_tools.archive import check_names, read_zip
from firmware_tools.base import MAX_FIRMWARE_BYTES, BoardError
from firmware_tools.base import Firmware as LoadedFirmware
from firmware_tools.drivers import DRIVERS, board_kind, driver_for_files, families
from firmware_tools.images import HEX_SUFFIXES
from firmware_tools.operations import BoardResult, load_firmware
from firmware_tools.ports import check_port_url, hub_place, list_board_ports
from firmware_tools.protocol.healthcheck import ExpectedFirmware
from kitmanager.audit import Actor, record_event
from kitmanager.database import insert_ignoring_conflicts
from kitmanager.extensions import db
from kitmanager.kits.services import (
    HistoryEntry,
    kit_by_code,
    kit_by_token,
    register_history_source,
    set_condition,
)
from kitmanager.models import (
    BoardPort,
    BoardRun,
    BoardRunKind,
    BoardRunStatus,
    Firmware,
    Kit,
    KitCondition,
    KitType,
    KitTypeFirmware,
    utcnow,
)
from kitmanager.scans import CodeKind, classify_code
from kitmanager.storage import (
    StorageError,
    cannot_save,
    data_folder,
    is_disk_full,
    keep_tree_private,
    private_folder,
    write_file,
)
from kitmanager.text import (
    clean_for_column,
    column_limit,
    has_hidden_characters,
    show_hidden,
)

__all__ = [
    "BUILTIN_DIR",
    "FIRMWARE_FOLDER",
    "BoardSpec",
    "BoardsError",
    "FirmwareFile",
    "JobPlan",
    "PortView",
    "add_firmware",
    "add_port",
    "bind_port",
    "board_history_entries",
    "board_runs_of",
    "close_orphan_runs",
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

#: The firmware that ships with firmware_tools: in the library from the start.
BUILTIN_DIR = Path(firmware_tools.__file__).resolve().parent / "firmware"
#: Uploaded firmware lives in the data dir, one folder per hash.
FIRMWARE_FOLDER = "firmware"
_VERSION = re.compile(r"""VERSION\s*=?\s*["']([^"']+)["']""")
# The most a firmware holds (firmware_tools' figure), as pages say it: "16 MB".
_FIRMWARE_MB = MAX_FIRMWARE_BYTES // (1024 * 1024)


#: How a run's outcome reads in the pages and in the kit's history.
STATUS_LABELS = {
    BoardRunStatus.RUNNING.value: _l("running"),
    BoardRunStatus.PASS.value: _l("PASS"),
    BoardRunStatus.WARN.value: _l("WARN"),
    BoardRunStatus.SKIPPED.value: _l("SKIPPED"),
    BoardRunStatus.FAIL.value: _l("FAIL"),
}


def status_label(status: str) -> str:
    """``"fail"`` as the trainer reads it: "FAIL", "ÉCHEC"."""
    return str(STATUS_LABELS.get(status, status))


class BoardsError(ValueError):
    """A boards request the user can fix; the message says how."""


_ACCEPTED_PORTS = _l(
    "Write a serial device (/dev/ttyUSB0, /dev/ttyACM0, /dev/serial/by-id/…, COM3 on "
    "Windows), or socket://HOST:PORT or rfc2217://HOST:PORT with nothing after the port."
)
# firmware_tools' refusals in the page's language, by their code; each takes the error's
# parameters (``accepted`` and ``limit`` are said here, in the page's words).
_REFUSALS = {
    "port-not-allowed": _l("%(port)s is not a port kitmanager opens. %(accepted)s"),
    "port-not-a-device": _l(
        "%(port)s is not a serial device (it is a file, a folder or another kind of device). "
        "%(accepted)s"
    ),
    "port-url-options": _l("%(port)s has options or a path after the port. %(accepted)s"),
    "zip-unreadable": _l("%(name)s is not a ZIP file that can be opened."),
    "zip-too-large": _l("The firmware is larger than %(limit)s MB: that is not a board firmware."),
    "zip-too-many-files": _l(
        "%(name)s holds more files than a board firmware has (at most %(limit)s)."
    ),
    "zip-nested-archive": _l(
        "%(name)s holds another archive (%(entry)s): unpack it and upload its files instead."
    ),
    "zip-unsupported": _l(
        "%(name)s holds %(entry)s encrypted or compressed other than with Deflate: zip the "
        "files again with the usual tool, without a password."
    ),
    "zip-size-mismatch": _l(
        "%(name)s is damaged or forged: %(entry)s does not unpack to the size its list of "
        "files declares."
    ),
    "name-too-long": _l(
        "%(name)s holds a file or folder name longer than %(limit)s bytes (%(entry)s; a letter "
        "with an accent takes 2 bytes, many other letters 3). Shorten it and upload again."
    ),
    "name-twice": _l(
        "%(name)s holds %(other)s and %(entry)s, the same name on a board (capitals aside). "
        "Keep one of them and upload again."
    ),
    "name-file-and-folder": _l(
        "%(name)s holds a file %(entry)s and a folder of the same name (for %(other)s): a "
        "board cannot keep both. Rename one of them and upload again."
    ),
}


def _refusal(error: BoardError) -> str:
    """``error`` in the page's language when its code is known here; else its own line."""
    message = _REFUSALS.get(error.code)
    if message is None:
        return str(error)
    params = {key: show_hidden(str(value))[:200] for key, value in error.params.items()}
    params["accepted"] = str(_ACCEPTED_PORTS)
    if error.code == "zip-too-large":
        params["limit"] = str(_FIRMWARE_MB)
    try:
        return str(message) % params
    except (KeyError, ValueError):  # a library that names its parameters otherwise
        return str(error)


# -- firmware library ---------------------------------------------------------------------


@dataclass(frozen=True)
class FirmwareFile:
    """One uploaded file: its path inside the upload ("main.py", "lib/x.py") and bytes."""

    name: str
    data: bytes


def _builtin_entries() -> list[tuple[str, Path, Path]]:
    """(version, path to load, file holding the version) of each firmware in BUILTIN_DIR."""
    entries = []
    for folder in sorted(p for p in BUILTIN_DIR.iterdir() if p.is_dir()):
        hexes = sorted(folder.glob("*.hex"))
        if hexes:
            target, versioned = hexes[0], next(iter(sorted(folder.glob("*.c"))), hexes[0])
        else:
            target, versioned = folder, folder / "main.py"
        found = _VERSION.search(versioned.read_text(encoding="utf-8", errors="replace"))
        entries.append((found.group(1) if found else "0", target, versioned))
    return entries


def _digest(paths: Sequence[Path]) -> tuple[str, int]:
    """SHA-256 and size of what is flashed: the file, or a folder's files in name order."""
    files: list[tuple[str, bytes]] = []
    for path in paths:
        if path.is_dir():
            files += [
                (p.relative_to(path).as_posix(), p.read_bytes())
                for p in sorted(path.rglob("*"))
                if p.is_file() and "__pycache__" not in p.parts
            ]
        else:
            files.append((path.name, path.read_bytes()))
    if len(files) == 1:
        return hashlib.sha256(files[0][1]).hexdigest(), len(files[0][1])
    digest = hashlib.sha256()
    for name, data in files:
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest(), sum(len(data) for _name, data in files)


def ensure_builtin_firmware() -> None:
    """Put the kitbot firmware that ships with firmware_tools in the library (once)."""
    known = {
        (row.family, row.version)
        for row in db.session.scalars(select(Firmware).where(Firmware.builtin.is_(True)))
    }
    for version, target, _versioned in _builtin_entries():
        loaded = load_firmware([target])
        if (loaded.family, version) in known:
            continue
        sha, size = _digest([target])
        # two first visits at the same instant: the database keeps one row
        insert_ignoring_conflicts(
            Firmware,
            name="kitbot",
            version=version,
            family=loaded.family,
            notes=_("The kit firmware that ships with kitmanager."),
            sha256=sha,
            source=str(target.relative_to(BUILTIN_DIR)),
            size=size,
            builtin=True,
            added_by="kitmanager",
        )


def firmware_library() -> list[Firmware]:
    """Every firmware, by name, family and newest version first."""
    ensure_builtin_firmware()
    rows = list(db.session.scalars(select(Firmware)))
    return sorted(rows, key=lambda r: (r.name.casefold(), r.family, _version_key(r.version)))


def _version_key(version: str) -> tuple:
    # newest first: "1.10.0" after "1.9.0", numbers before words
    parts = re.split(r"[.\-+]", version)
    return tuple((0, -int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def firmware_files(firmware: Firmware) -> list[Path]:
    """The paths ``firmware_tools.operations.load_firmware`` takes for ``firmware``."""
    if firmware.builtin:
        return [BUILTIN_DIR / firmware.source]
    folder = _kept_folder(firmware.sha256)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return [folder] if firmware.family in _folder_families() or len(files) != 1 else files


def _kept_folder(sha256: str) -> Path:
    """Where an uploaded firmware's files are kept: ``firmware/<sha256>`` in the data dir."""
    return data_folder(FIRMWARE_FOLDER) / sha256


def _folder_families() -> set[str]:
    return {family for family, driver in DRIVERS.items() if driver.firmware_folders}


def load_library_firmware(firmware: Firmware) -> LoadedFirmware:
    """The firmware ready to flash.

    :raise BoardsError: its files are gone from the data dir, or no longer load.
    """
    if not firmware.builtin:  # kept by an older version open to other accounts
        keep_tree_private(_kept_folder(firmware.sha256))
    try:
        return load_firmware(
            firmware_files(firmware), family=firmware.family, address=firmware.address
        )
    except BoardError as error:
        raise BoardsError(
            _(
                "The firmware %(title)s cannot be read (%(error)s). Upload it again.",
                title=firmware.title,
                error=str(error),
            )
        ) from None


# A file's name in a firmware, with its folders: the library shows a one-file firmware's name.
_FILE_NAME = Firmware.__table__.c.source


def _refuse_hidden(name: str) -> None:
    """A file name is written on the board as it is: one with characters the text cleaning
    removes is refused, not changed."""
    if has_hidden_characters(name):
        raise BoardsError(
            _(
                "The file name “%(name)s” holds invisible characters (shown here as [U+…]) "
                "that can hide or disguise a name. Rename the file without them and upload "
                "it again.",
                name=show_hidden(name)[:200],
            )
        )


def _clean_upload(files: Iterable[FirmwareFile]) -> list[FirmwareFile]:
    """The files of an upload, each ZIP opened (within what is left of a firmware's size:
    firmware_tools checks its declared sizes and names before unpacking it), with safe
    relative names and one top folder (a folder picked in the browser, or zipped) taken off.

    :raise BoardsError: more than a firmware holds, a ZIP that firmware_tools refuses, a name
        that leaves the firmware's folder, holds invisible characters or is too long, or
        names that cannot all be written in one folder (a file and a folder of the same name).
    """
    unpacked: list[FirmwareFile] = []
    total = 0
    for upload in files:
        _refuse_hidden(upload.name)
        if upload.name.lower().endswith(".zip"):
            try:
                inner = read_zip(upload.data, upload.name, limit=MAX_FIRMWARE_BYTES - total)
            except BoardError as error:
                raise BoardsError(_refusal(error)) from None
            found = [FirmwareFile(name, data) for name, data in inner]
        else:
            found = [upload]
        unpacked += found
        total += sum(len(f.data) for f in found)
        if total > MAX_FIRMWARE_BYTES:
            raise BoardsError(
                _(
                    "The firmware is larger than %(limit)s MB: that is not a board firmware.",
                    limit=_FIRMWARE_MB,
                )
            )
    cleaned: list[FirmwareFile] = []
    for upload in unpacked:
        _refuse_hidden(upload.name)
        parts = [p for p in PurePosixPath(upload.name.replace("\\", "/")).parts if p != "/"]
        if not parts or any(p in ("..", ".") for p in parts):
            raise BoardsError(_("The file name %(name)s is not allowed.", name=upload.name[:200]))
        cleaned.append(FirmwareFile("/".join(parts), upload.data))
    tops = {f.name.split("/", 1)[0] for f in cleaned}
    if len(tops) == 1 and all("/" in f.name for f in cleaned):
        cleaned = [FirmwareFile(f.name.split("/", 1)[1], f.data) for f in cleaned]
    limit = column_limit(_FILE_NAME)
    for upload in cleaned:
        if len(upload.name) > limit:
            raise BoardsError(
                _(
                    "The file name “%(start)s…” is %(length)s characters long with its "
                    "folders; the limit is %(limit)s. Rename it and upload it again.",
                    start=upload.name[:40],
                    length=len(upload.name),
                    limit=limit,
                )
            )
    try:
        check_names((f.name for f in cleaned), _("The firmware"))
    except BoardError as error:
        raise BoardsError(_refusal(error)) from None
    return cleaned


_NAME_TOO_LONG = _l(
    "The firmware's name is %(length)s characters long; the limit is %(limit)s. Shorten it."
)
_VERSION_TOO_LONG = _l(
    "The version is %(length)s characters long; the limit is %(limit)s. Shorten it."
)
_NOTES_TOO_LONG = _l(
    "The notes are %(length)s characters long; the limit is %(limit)s. Shorten them."
)


def add_firmware(
    actor: Actor,
    *,
    name: str,
    version: str,
    files: Sequence[FirmwareFile],
    family: str = "",
    address: int | None = None,
    notes: str = "",
) -> Firmware:
    """Add an uploaded firmware: an Intel HEX file, a ``.bin`` with its ``address``, or
    MicroPython files (a folder's files, or a ZIP of them).

    The family comes from ``family`` or the files; the files are checked by the family's
    driver (a HEX too large for its chip is refused) before anything is kept.

    :raise BoardsError: nothing uploaded, a file the driver refuses, a name, version or notes
        too long or with a broken character, or the same name, version and family already in
        the library.
    """
    columns = Firmware.__table__.c
    name = clean_for_column(name, columns.name, _NAME_TOO_LONG, refuse=BoardsError)
    version = clean_for_column(version, columns.version, _VERSION_TOO_LONG, refuse=BoardsError)
    notes = clean_for_column(
        notes, columns.notes, _NOTES_TOO_LONG, multiline=True, refuse=BoardsError
    )
    if not name or not version:
        raise BoardsError(_("Give the firmware a name and a version."))
    cleaned = _clean_upload(files)
    if not cleaned:
        raise BoardsError(_("Choose the firmware file (or folder, or ZIP) to upload."))
    folder_upload = len(cleaned) > 1 or "/" in cleaned[0].name
    if not folder_upload:  # said in the page's words, not the command line's (--address)
        suffix = PurePosixPath(cleaned[0].name).suffix.lower()
        if suffix == ".bin" and address is None:
            raise BoardsError(
                _(
                    "A .bin file needs the address to write it at: fill in “Address of a "
                    ".bin file” (for example 0x10000)."
                )
            )
        if suffix in HEX_SUFFIXES and address is not None:
            raise BoardsError(
                _(
                    "An Intel HEX file carries its own address: leave “Address of a .bin "
                    "file” empty."
                )
            )
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "firmware"
        for upload in cleaned:
            _write_scratch(root, upload)
        paths = [root] if folder_upload else [root / cleaned[0].name]
        try:
            family = board_kind(family).family if family else driver_for_files(paths).family
            if family in _folder_families():
                paths = [root]
            loaded = load_firmware(paths, family=family, address=address)
        except BoardError as error:
            raise BoardsError(
                _("This firmware cannot be used: %(error)s", error=str(error))
            ) from None
        sha, size = _digest(paths)
        exists = db.session.scalar(
            select(Firmware.id).where(
                Firmware.name == name, Firmware.version == version, Firmware.family == family
            )
        )
        if exists:
            raise BoardsError(
                _(
                    "%(name)s %(version)s for %(family)s boards is already in the library: "
                    "give the new one another version.",
                    name=name,
                    version=version,
                    family=family,
                )
            )
        _keep_files(_kept_folder(sha), cleaned)
    source = cleaned[0].name if not folder_upload else _("%(count)s files", count=len(cleaned))
    firmware = Firmware(
        name=name,
        version=version,
        family=loaded.family,
        notes=notes,
        sha256=sha,
        source=source,
        address=address,
        size=size,
        added_by=actor.name[:120],
    )
    db.session.add(firmware)
    db.session.flush()
    record_event(
        actor,
        "firmware.add",
        "firmware",
        firmware.id,
        name=name,
        version=version,
        family=family,
        sha256=sha,
    )
    return firmware


def _write_scratch(root: Path, upload: FirmwareFile) -> None:
    """Write ``upload`` under ``root`` (a scratch folder) for the driver to check.

    :raise BoardsError: this laptop's file system refuses the name.
    :raise StorageError: the disk is full.
    """
    target = root / upload.name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(upload.data)
    except OSError as exc:
        if is_disk_full(exc):
            raise cannot_save(target.parent, exc) from exc
        raise BoardsError(
            _(
                "The file %(name)s cannot be written on this laptop (%(reason)s). Rename it "
                "and upload it again.",
                name=upload.name[:200],
                reason=exc.strerror or str(exc),
            )
        ) from None


def _keep_files(keep: Path, files: Sequence[FirmwareFile]) -> None:
    """Keep ``files`` in the folder ``keep`` of the data dir (folders 0700, files 0600): all
    of them or none, written beside it and renamed when complete. A folder already there
    holds the same files (its name is their hash): it is only tightened.

    :raise StorageError: the disk is full, or the data dir cannot be written.
    """
    private_folder(keep.parent)
    if keep.is_dir():
        keep_tree_private(keep)
        return
    partial = keep.with_name(f"{keep.name}.partial-{secrets.token_hex(4)}")
    try:
        private_folder(partial)
        for upload in files:
            target = partial / upload.name
            private_folder(target.parent)
            write_file(target, upload.data)
        partial.rename(keep)
    except (OSError, StorageError) as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if keep.is_dir():
            return  # the same files, kept by another upload an instant earlier
        if isinstance(exc, OSError):
            raise cannot_save(keep.parent, exc) from exc
        raise


def set_current_firmware(actor: Actor, kit_type: KitType, firmware: Firmware | None) -> None:
    """Make ``firmware`` the one "Flash all" puts on ``kit_type``'s boards (None: no more)."""
    db.session.execute(delete(KitTypeFirmware).where(KitTypeFirmware.kit_type_id == kit_type.id))
    if firmware is not None:
        db.session.add(
            KitTypeFirmware(
                kit_type_id=kit_type.id, firmware_id=firmware.id, set_by=actor.name[:120]
            )
        )
    db.session.flush()
    record_event(
        actor,
        "firmware.current",
        "kit_type",
        kit_type.id,
        firmware=firmware.id if firmware else None,
    )


def current_firmware(kit_type_id: int | None) -> Firmware | None:
    """The current firmware of a kit type, or None."""
    if kit_type_id is None:
        return None
    return db.session.scalar(
        select(Firmware)
        .join(KitTypeFirmware, KitTypeFirmware.firmware_id == Firmware.id)
        .where(KitTypeFirmware.kit_type_id == kit_type_id)
    )


def firmware_by_name(text: str) -> list[Firmware]:
    """The firmware a command line names: ``NAME`` (its newest version for each family),
    ``NAME@VERSION`` or a library id.

    :raise BoardsError: no firmware by that name, listing the names there are.
    """
    library = firmware_library()
    name, _sep, version = text.strip().partition("@")
    if name.isdigit() and not version:
        found = [row for row in library if row.id == int(name)]
    else:
        found = [
            row
            for row in library
            if row.name.casefold() == name.casefold() and (not version or row.version == version)
        ]
    newest: dict[str, Firmware] = {}
    for row in found:  # the library lists the newest version of each family first
        newest.setdefault(row.family, row)
    if not newest:
        names = ", ".join(sorted({f"{row.name}@{row.version}" for row in library}))
        raise BoardsError(
            _("No firmware %(name)s in the library. There is: %(names)s.", name=text, names=names)
        )
    return list(newest.values())


# -- ports and the kit each board belongs to ------------------------------------------------


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
        """Where the board sits on the hub ("hub socket 1-1.2, serial 7523A1"), or ""."""
        return hub_place(self.location, self.serial_number)


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


def _port_row(device: str) -> BoardPort:
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
        raise BoardsError(_refusal(error)) from None
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


def _claim_serial(kit: Kit, serial: str) -> None:
    """The board with USB serial ``serial`` is ``kit``'s (a board moves with its kit)."""
    if kit.board_serial == serial:
        return
    db.session.execute(update(Kit).where(Kit.board_serial == serial).values(board_serial=None))
    kit.board_serial = serial


def _claim_fingerprint(kit: Kit, fingerprint: str) -> None:
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
        _claim_serial(kit, port.serial_number)
        kit.board_fingerprint = None
    else:
        kit.board_serial = None
        row = row or _port_row(device)
        row.kit_id = kit.id
    fingerprint = row.fingerprint if row is not None else None
    if fingerprint:
        _claim_fingerprint(kit, fingerprint)
    elif not port.serial_number:
        kit.board_fingerprint = None
    if port.family in DRIVERS and port.family_sure and not kit.board_family:
        kit.board_family = port.family
    db.session.flush()
    record_event(actor, "board.bind", "kit", kit.id, port=device, serial=port.serial_number)
    return kit


# -- jobs: what to run on each board, and what it came to ----------------------------------


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
    ports = {p.device: p for p in known_ports(usb)}
    chosen = list(ports) if devices is None else list(dict.fromkeys(devices))
    if not chosen:
        raise BoardsError(_("No boards to work on: plug them in, or add their ports."))
    missing = [device for device in chosen if device not in ports]
    if missing:
        raise BoardsError(
            _("Not connected now: %(ports)s. Refresh the page.", ports=", ".join(missing))
        )
    job = secrets.token_hex(8)
    plan = JobPlan(job, kind, [], actor.name[:120])
    without = []
    for device in chosen:
        port = ports[device]
        family = port.family if port.hand_added else None
        if family is None and not port.family_sure and port.kit and port.kit.board_family:
            family = port.kit.board_family  # a USB chip found on many boards: the kit knows
        rows: list[Firmware] = []
        if kind is BoardRunKind.FLASH:
            rows = list(firmware) if firmware else []
            if not rows:
                current = current_firmware(port.kit.kit_type_id if port.kit else None)
                rows = [current] if current else []
            if not rows:
                without.append(port.kit.code if port.kit else device)
                continue
        run = BoardRun(
            job=job,
            kind=kind.value,
            kit_id=port.kit.id if port.kit else None,
            port=device,
            family=family or (port.family if port.family_sure else ""),
            firmware_id=rows[0].id if len(rows) == 1 else None,
            firmware_name=rows[0].name if rows else "",
            firmware_version=rows[0].version if len(rows) == 1 else "",
            firmware_sha256=rows[0].sha256 if len(rows) == 1 else "",
            started_by=actor.name[:120],
        )
        db.session.add(run)
        db.session.flush()
        plan.boards.append(
            BoardSpec(
                device,
                run.id,
                run.kit_id,
                family,
                {row.family: row.id for row in rows},
                expected_for(port.kit) if kind is BoardRunKind.CHECK else None,
            )
        )
    if without:
        raise BoardsError(
            _(
                "No firmware to flash on %(boards)s: choose a firmware, or mark one as the "
                "current firmware of their kit type in the firmware library.",
                boards=", ".join(without),
            )
        )
    record_event(actor, f"boards.{kind.value}", "board_job", None, job=job, ports=chosen)
    return plan


def board_fingerprint(result: BoardResult) -> str:
    """What identifies a board without a USB serial number: its family, chip and the id
    its firmware or REPL reports ("" when it reported none)."""
    if not result.board_id:
        return ""
    chip = result.identity.get("chip", "")
    return ":".join(part for part in (result.family, chip, result.board_id) if part)[:200]


def record_result(
    actor: Actor, run: BoardRun, result: BoardResult, firmware: Firmware | None = None
) -> None:
    """Store what a flash or check came to on ``run`` and on its kit.

    A flash that went through records the firmware on the kit and ends its re-flash mark;
    one that left the board half written, or was stopped before it finished, marks the kit
    for re-flash and "needs attention". A check records its result on the kit; a failed
    check sets the kit to "needs attention" (which the handout then warns about); a check
    stopped by the trainer changes nothing on the kit. A kit set to "needs attention" stays
    so until a trainer marks it ready.
    """
    stopped = result.reason is not None and result.reason.value == "cancelled"
    run.status = result.status.value
    run.reason = result.reason.value if result.reason else ""
    run.message = (result.summary or result.message)[:500]
    run.duration_s = round(result.duration_s, 3)
    run.family = result.family if result.family != "unknown" else run.family
    run.board_serial = result.serial_number or ""
    run.fingerprint = board_fingerprint(result)
    run.steps = [step.to_dict() for step in result.steps]
    run.finished_at = utcnow()
    flashed = run.kind == BoardRunKind.FLASH.value and result.flash is not None and result.ok
    run.needs_reflash = result.needs_reflash or (
        run.kind == BoardRunKind.FLASH.value and stopped and not flashed
    )
    if firmware is not None:
        run.firmware_id, run.firmware_name = firmware.id, firmware.name
        run.firmware_version, run.firmware_sha256 = firmware.version, firmware.sha256
    if run.fingerprint:
        port = _port_row(run.port)
        port.fingerprint = run.fingerprint
    kit = run.kit
    db.session.flush()
    if kit is None:
        record_event(actor, f"board.{run.kind}", "board_run", run.id, status=run.status)
        return
    if run.board_serial:
        _claim_serial(kit, run.board_serial)
    elif run.fingerprint:
        _claim_fingerprint(kit, run.fingerprint)
    if run.family in DRIVERS:
        kit.board_family = run.family
    if flashed and firmware is not None:
        kit.firmware_name, kit.firmware_version = firmware.name, firmware.version
    if run.kind == BoardRunKind.CHECK.value and not stopped:  # a stopped check tells nothing
        kit.last_check_at = run.finished_at
        kit.last_check_ok = result.ok
        kit.last_check_detail = run.message[: Kit.__table__.c.last_check_detail.type.length]
        if result.identity.get("fw"):
            kit.firmware_name = result.identity["fw"][:120]
            kit.firmware_version = result.identity.get("version", "")[:60]
    if flashed or (run.kind == BoardRunKind.CHECK.value and result.ok and not run.needs_reflash):
        kit.needs_reflash = kit.needs_reflash and not flashed
    if run.needs_reflash:
        kit.needs_reflash = True
    db.session.flush()
    record_event(
        actor,
        f"board.{run.kind}",
        "kit",
        kit.id,
        run=run.id,
        status=run.status,
        reason=run.reason,
        needs_reflash=run.needs_reflash,
        firmware=f"{run.firmware_name} {run.firmware_version}".strip(),
    )
    failed_check = run.kind == BoardRunKind.CHECK.value and not result.ok and not stopped
    if (failed_check or run.needs_reflash) and kit.condition == KitCondition.READY.value:
        note = (
            _("Board check failed: %(detail)s", detail=run.message)
            if failed_check
            else _("Board needs a re-flash: %(detail)s", detail=run.message)
        )
        set_condition(actor, kit, KitCondition.NEEDS_ATTENTION, note)


def job_runs(job: str) -> list[BoardRun]:
    """The runs of one job, in the order the boards were given."""
    return list(
        db.session.scalars(
            select(BoardRun)
            .options(joinedload(BoardRun.kit))
            .where(BoardRun.job == job)
            .order_by(BoardRun.id)
        )
    )


def latest_job() -> str | None:
    """The job started last, running or not (None before the first)."""
    return db.session.scalar(select(BoardRun.job).order_by(BoardRun.id.desc()).limit(1))


def close_orphan_runs(job: str) -> int:
    """Mark as stopped the runs of ``job`` still "running" though no worker runs them (the
    server stopped in the middle); a flash among them may have left its board half written,
    so its kit is marked for re-flash. Returns how many were closed."""
    closed = 0
    for run in job_runs(job):
        if run.status != BoardRunStatus.RUNNING.value:
            continue
        run.status = BoardRunStatus.FAIL.value
        run.reason = "cancelled"
        run.message = _("The server stopped before this board was done: run it again.")
        run.finished_at = utcnow()
        if run.kind == BoardRunKind.FLASH.value:
            run.needs_reflash = True
            if run.kit is not None:
                run.kit.needs_reflash = True
        closed += 1
    db.session.flush()
    return closed


def board_runs_of(kit: Kit) -> list[BoardRun]:
    """Every flash and check of ``kit``'s board, newest first."""
    return list(
        db.session.scalars(
            select(BoardRun)
            .where(BoardRun.kit_id == kit.id, BoardRun.status != BoardRunStatus.RUNNING.value)
            .order_by(BoardRun.id.desc())
        )
    )


def board_history_entries(kit: Kit) -> list[HistoryEntry]:
    """Each flash and check of ``kit``'s board as lines of its history (kind "board_flash"
    or "board_check"; ``details["run"]`` is the BoardRun); registered with kits below."""
    entries = []
    for run in board_runs_of(kit):
        firmware = f"{run.firmware_name} {run.firmware_version}".strip()
        if run.firmware_sha256:
            firmware = f"{firmware} (SHA-256 {run.firmware_sha256[:12]}…)"
        if run.kind == BoardRunKind.FLASH.value:
            summary = _(
                "Board flashed with %(firmware)s: %(status)s",
                firmware=firmware or "?",
                status=status_label(run.status),
            )
        else:
            summary = _("Board checked: %(status)s", status=status_label(run.status))
        if run.message:
            summary = f"{summary} · {run.message}"
        if run.needs_reflash:
            reflash = _("needs re-flash")
            summary = f"{summary} · {reflash}"
        if run.duration_s is not None:
            summary = f"{summary} ({run.duration_s:.1f} s)"
        entries.append(
            HistoryEntry(
                run.finished_at or run.started_at,
                f"board_{run.kind}",
                summary,
                run.started_by,
                {"run": run, "sha256": run.firmware_sha256},
            )
        )
    return entries


register_history_source(board_history_entries)
