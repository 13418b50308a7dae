"""The firmware library: the kit firmware that ships with firmware_tools, firmware uploaded by
trainers (checked by its family's driver, kept in the data dir by hash), and the current
firmware of each kit type."""

from __future__ import annotations

import hashlib
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

import firmware_tools
from firmware_tools.archive import check_names, read_zip
from firmware_tools.base import MAX_FIRMWARE_BYTES, BoardError
from firmware_tools.base import Firmware as LoadedFirmware
from firmware_tools.drivers import DRIVERS, board_kind, driver_for_files
from firmware_tools.operations import load_firmware
from kitmanager.audit import Actor, record_event
from kitmanager.boards.messages import FIRMWARE_UNREADABLE, BoardsError, kept, said, say
from kitmanager.database import insert_ignoring_conflicts
from kitmanager.extensions import db
from kitmanager.models import Firmware, KitType, KitTypeFirmware
from kitmanager.storage import (
    StorageError,
    cannot_save,
    data_folder,
    is_disk_full,
    keep_tree_private,
    private_folder,
    write_file,
)
from kitmanager.text import clean_for_column, column_limit, has_hidden_characters, show_hidden

__all__ = [
    "BUILTIN_DIR",
    "FIRMWARE_FOLDER",
    "FirmwareFile",
    "FirmwareUnreadable",
    "add_firmware",
    "current_firmware",
    "ensure_builtin_firmware",
    "firmware_by_name",
    "firmware_files",
    "firmware_library",
    "load_library_firmware",
    "set_current_firmware",
]

#: The firmware that ships with firmware_tools: in the library from the start.
BUILTIN_DIR = Path(firmware_tools.__file__).resolve().parent / "firmware"
#: Uploaded firmware lives in the data dir, one folder per hash.
FIRMWARE_FOLDER = "firmware"
_VERSION = re.compile(r"""VERSION\s*=?\s*["']([^"']+)["']""")


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


class FirmwareUnreadable(BoardsError):
    """A firmware of the library that no longer loads. Besides its message (in the language
    of the moment), ``code`` and ``params`` say it again in a reader's language later."""

    def __init__(self, firmware: Firmware, error: BoardError) -> None:
        self.code = FIRMWARE_UNREADABLE
        self.params = {"title": firmware.title, "error": kept(error.message)}
        super().__init__(say(self.code, self.params))


def load_library_firmware(firmware: Firmware) -> LoadedFirmware:
    """The firmware ready to flash.

    :raise FirmwareUnreadable: its files are gone from the data dir, or no longer load.
    """
    if not firmware.builtin:  # kept by an older version open to other accounts
        keep_tree_private(_kept_folder(firmware.sha256))
    try:
        return load_firmware(
            firmware_files(firmware), family=firmware.family, address=firmware.address
        )
    except BoardError as error:
        raise FirmwareUnreadable(firmware, error) from None


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
                raise BoardsError(said(error.message)) from None
            found = [FirmwareFile(name, data) for name, data in inner]
        else:
            found = [upload]
        unpacked += found
        total += sum(len(f.data) for f in found)
        if total > MAX_FIRMWARE_BYTES:
            raise BoardsError(say("files-too-large", {}))
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
        raise BoardsError(said(error.message)) from None
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
    driver (a HEX too large for its chip, a ``.bin`` without its address or a HEX with one,
    are refused, in the page's words) before anything is kept.

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
                _("This firmware cannot be used: %(error)s", error=said(error.message))
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
