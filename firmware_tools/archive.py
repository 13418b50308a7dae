"""Firmware archives: the files of a ZIP (a MicroPython kit zipped), read within a budget.

A ZIP is checked from what its directory declares before a byte is decompressed: the size
of the directory itself, the number of files, each file's size and the total, against what
a firmware can need (:data:`~firmware_tools.base.MAX_FIRMWARE_BYTES`, :data:`MAX_FILES`).
An archive inside the archive is refused (by its name or its first bytes), and each file is
inflated by a reader that stops as soon as it yields more than the directory declared, so a
ZIP that lies about its sizes costs no more than an honest one.

The names are checked first too (:func:`check_names`): files that could not all be written
in one folder, on the laptop or on a board (a file ``lib.py`` beside a folder ``lib.py/``, a
name given twice, a name longer than file systems keep), are refused before anything is
written.
"""

from __future__ import annotations

import io
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import PurePosixPath

from firmware_tools.base import MAX_FIRMWARE_BYTES, BoardError, Reason
from firmware_tools.messages import Message

__all__ = ["MAX_FILES", "MAX_NAME_BYTES", "check_names", "read_zip"]

#: The most files a firmware archive may hold. Each file takes at least one 4 KB block of a
#: board's filesystem, so 1,000 files fill 4 MB: more than the filesystem of the usual board
#: (Pico 1.4 MB, an ESP32 with 4 MB flash about 2 MB); a kit's files are a few dozen.
MAX_FILES = 1000
#: The longest name of one file or folder, in bytes of UTF-8: what the file systems of
#: laptops (ext4, APFS, NTFS) and of boards (LittleFS, FAT long names) keep.
MAX_NAME_BYTES = 255
# A directory entry is 46 bytes, the file's name and its extra fields: 1 KB each is far more
# than real names need, and caps what the directory costs to read (zipfile makes an object
# per entry; 200,000 entries in 17 MB took 5 s here) before the entries are counted.
_DIRECTORY_BYTES = MAX_FILES * 1024
# Archives (and compressed files) by name and by their first bytes: ZIP, gzip, bzip2, xz,
# 7-Zip, zstd, RAR; tar by the "ustar" mark at byte 257.
_ARCHIVE_SUFFIXES = frozenset(
    {".zip", ".tar", ".tgz", ".gz", ".bz2", ".tbz2", ".xz", ".txz", ".7z", ".zst", ".rar"}
)
_ARCHIVE_MAGIC = (
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"PK\x07\x08",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c",
    b"\x28\xb5\x2f\xfd",
    b"Rar!\x1a\x07",
)
_TAR_MARK = (257, b"ustar")
# Folders that archivers add beside the files (macOS resource forks): not the firmware's.
_SKIPPED_FOLDERS = ("__MACOSX/",)
_STORED, _DEFLATED = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED
_CHUNK = 64 * 1024
_END_RECORD = struct.Struct("<4s4H2LH")  # "end of central directory", 22 bytes
_ZIP64_LOCATOR = struct.Struct("<4sLQL")  # 20 bytes, just before the end record
_ZIP64_END_RECORD = struct.Struct("<4sQ2H2L4Q")  # 56 bytes, just before the locator
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # 30 bytes before each file's data


def read_zip(
    data: bytes, name: str = "the ZIP", *, limit: int = MAX_FIRMWARE_BYTES
) -> list[tuple[str, bytes]]:
    """The files of the ZIP ``data`` as (path inside the ZIP, bytes), folders left out.

    ``name`` is how messages name the archive (the uploaded file's name); ``limit`` is the
    most its files may hold together (less than a whole firmware when other files of the
    same firmware came before it).

    :raise BoardError: (BAD_IMAGE) with a code and parameters (all with ``name``):
        ``zip-unreadable`` not a ZIP; ``zip-damaged`` (``entry``: a file that cannot be read);
        ``zip-too-many-files`` (``limit``: it lists more files, or a larger directory);
        ``zip-too-large`` (``size``, ``limit``: bytes it declares once unpacked);
        ``zip-nested-archive`` (``entry``);
        ``zip-unsupported`` (``entry``: encrypted, or compressed other than by Deflate);
        ``zip-size-mismatch`` (``entry``: it unpacks to more, or less, than declared);
        and the refusals of :func:`check_names`.
    """
    count, directory = _declared_directory(data, name)
    if count > MAX_FILES or directory > _DIRECTORY_BYTES:
        raise _too_many(name)
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError):
        raise _refused("zip-unreadable", name) from None
    files = [
        info
        for info in infos
        if not info.is_dir() and not info.filename.startswith(_SKIPPED_FOLDERS)
    ]
    if len(files) > MAX_FILES:
        raise _too_many(name)
    check_names((info.filename for info in files), name)
    total = sum(info.file_size for info in files)
    if total > limit:
        raise _refused("zip-too-large", name, size=total, limit=limit)
    for info in files:
        if PurePosixPath(info.filename).suffix.lower() in _ARCHIVE_SUFFIXES:
            raise _nested(name, info.filename)
        if info.flag_bits & 0x1 or info.compress_type not in (_STORED, _DEFLATED):
            raise _refused("zip-unsupported", name, entry=info.filename)
    unpacked = []
    for info in files:
        content = _inflate(data, info, name)
        if _is_archive(content):
            raise _nested(name, info.filename)
        unpacked.append((info.filename, content))
    return unpacked


def check_names(paths: Iterable[str], name: str = "the firmware") -> None:
    """Check that the files ``paths`` (relative, folders separated by "/") can all be written
    in one folder, on a laptop and on a board.

    Names are compared as case-insensitive file systems (FAT on boards, Windows and macOS
    laptops) compare them: capitals and Unicode normalisation aside.

    :raise BoardError: (BAD_IMAGE) with a code and parameters (all with ``name`` and
        ``entry``, the path refused):
        ``name-too-long`` (``limit``: a file or folder name longer than
        :data:`MAX_NAME_BYTES` bytes);
        ``name-twice`` (``other``: a path given before, the same name but for capitals);
        ``name-file-and-folder`` (``other``: a file whose name another path needs as a folder).
    """
    files: dict[str, str] = {}  # compared path -> the path as given
    folders: dict[str, str] = {}
    for path in paths:
        parts = [part for part in path.split("/") if part]
        for part in parts:
            if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
                raise _refused("name-too-long", name, entry=path, limit=MAX_NAME_BYTES)
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            key = _compared(folder)
            if key in files:
                raise _file_and_folder(name, files[key], path)
            folders.setdefault(key, path)
        key = _compared("/".join(parts))
        if key in folders:
            raise _file_and_folder(name, path, folders[key])
        if key in files:
            raise _refused("name-twice", name, entry=path, other=files[key])
        files[key] = path


def _compared(path: str) -> str:
    return unicodedata.normalize("NFC", path).lower()


def _file_and_folder(name: str, file: str, inside: str) -> BoardError:
    return _refused("name-file-and-folder", name, entry=file, other=inside)


def _declared_directory(data: bytes, name: str) -> tuple[int, int]:
    """(entries, bytes) of the central directory, as the end record declares them.

    Found where :mod:`zipfile` looks for it (the last 22 bytes, else the last signature in
    the last 64 KB), with the ZIP64 record just before it when there is one, so the sizes
    checked are the ones zipfile then reads.
    """
    tail = data[-(_END_RECORD.size + (1 << 16)) :]
    at = len(tail) - _END_RECORD.size
    if at < 0 or tail[at : at + 4] != b"PK\x05\x06" or tail[-2:] != b"\x00\x00":
        at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _END_RECORD.size:
        raise _refused("zip-unreadable", name)
    record = _END_RECORD.unpack_from(tail, at)
    count, size = record[4], record[5]
    end_at = len(data) - len(tail) + at
    locator_at = end_at - _ZIP64_LOCATOR.size
    if locator_at >= _ZIP64_END_RECORD.size:
        locator = _ZIP64_LOCATOR.unpack_from(data, locator_at)
        if locator[0] == b"PK\x06\x07":
            zip64 = _ZIP64_END_RECORD.unpack_from(data, locator_at - _ZIP64_END_RECORD.size)
            if zip64[0] == b"PK\x06\x06":
                count, size = zip64[7], zip64[8]
    return count, size


def _inflate(data: bytes, info: zipfile.ZipInfo, name: str) -> bytes:
    """The bytes of ``info``, never more than its declared size (the reader stops there)."""
    declared = info.file_size
    header_at = info.header_offset
    if header_at < 0 or header_at + _LOCAL_HEADER.size > len(data):
        raise _damaged(name, info.filename)
    header = _LOCAL_HEADER.unpack_from(data, header_at)
    if header[0] != b"PK\x03\x04":
        raise _damaged(name, info.filename)
    start = header_at + _LOCAL_HEADER.size + header[9] + header[10]
    packed = memoryview(data)[start : start + info.compress_size]
    if len(packed) != info.compress_size:
        raise _damaged(name, info.filename)
    if info.compress_type == _STORED:
        if info.compress_size != declared:
            raise _size_mismatch(name, info.filename)
        content = bytes(packed)
    else:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        out = bytearray()
        try:
            for at in range(0, len(packed), _CHUNK):
                # at most one byte more than declared: enough to know it lies
                out += inflater.decompress(packed[at : at + _CHUNK], declared + 1 - len(out))
                if len(out) > declared:
                    raise _size_mismatch(name, info.filename)
                if inflater.eof:
                    break
        except zlib.error:
            raise _damaged(name, info.filename) from None
        if not inflater.eof or len(out) != declared:
            raise _size_mismatch(name, info.filename)
        content = bytes(out)
    if zlib.crc32(content) != info.CRC:
        raise _damaged(name, info.filename)
    return content


def _is_archive(content: bytes) -> bool:
    offset, mark = _TAR_MARK
    return content.startswith(_ARCHIVE_MAGIC) or content[offset : offset + len(mark)] == mark


def _too_many(name: str) -> BoardError:
    return _refused("zip-too-many-files", name, limit=MAX_FILES)


def _nested(name: str, entry: str) -> BoardError:
    return _refused("zip-nested-archive", name, entry=entry)


def _damaged(name: str, entry: str) -> BoardError:
    return _refused("zip-damaged", name, entry=entry)


def _size_mismatch(name: str, entry: str) -> BoardError:
    return _refused("zip-size-mismatch", name, entry=entry)


def _refused(code: str, name: str, **params: object) -> BoardError:
    return BoardError(Message(code, name=name, **params), reason=Reason.BAD_IMAGE)
