"""Hostile firmware files made on the spot: zip bombs, lying ZIP directories, nested archives,
a sparse Intel HEX. Used by the tests and by benchmarks/hostile.py.

Each maker returns the file's bytes and builds them in well under a second: a gigabyte of
zeros is written as one compressed megabyte repeated, never as a gigabyte in memory.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass

__all__ = [
    "GIB",
    "ZipEntry",
    "deflated_zeros",
    "hex_record",
    "lying_zip",
    "make_zip",
    "many_files_zip",
    "nested_zip",
    "normal_zip",
    "sparse_hex",
    "zip_bomb",
]

GIB = 1 << 30
_MIB = 1 << 20
# zlib.crc32 of 1 GiB of zeros (computing it takes seconds here)
_CRC_OF_A_GIB_OF_ZEROS = 0x5B64C2B0


@dataclass(frozen=True)
class ZipEntry:
    """One file of a hand-made ZIP: what its headers declare, and its packed bytes."""

    name: str
    packed: bytes
    size: int  # the uncompressed size the headers declare
    crc: int
    method: int = zipfile.ZIP_DEFLATED


def make_zip(entries: list[ZipEntry], listed: int | None = None) -> bytes:
    """A ZIP of ``entries``, exactly as declared (true or not); its end record says it holds
    ``listed`` files (default: how many there are, at most 65,535)."""
    out = io.BytesIO()
    directory = io.BytesIO()
    for entry in entries:
        name = entry.name.encode()
        offset = out.tell()
        out.write(
            struct.pack(
                "<4s5H3L2H",
                b"PK\x03\x04",
                20,
                0,
                entry.method,
                0,
                0x21,
                entry.crc,
                len(entry.packed),
                entry.size,
                len(name),
                0,
            )
        )
        out.write(name + entry.packed)
        directory.write(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                20,
                20,
                0,
                entry.method,
                0,
                0x21,
                entry.crc,
                len(entry.packed),
                entry.size,
                len(name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
        )
        directory.write(name)
    start = out.tell()
    out.write(directory.getvalue())
    count = min(len(entries), 0xFFFF) if listed is None else listed
    size = len(directory.getvalue())
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, size, start, 0))
    return out.getvalue()


def deflated_zeros(size: int) -> bytes:
    """A raw Deflate stream of ``size`` zero bytes (a whole number of MiB), made fast: one
    compressed MiB, flushed so that it can be repeated, then the end of the stream."""
    assert size % _MIB == 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    piece = compressor.compress(bytes(_MIB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return piece * (size // _MIB) + compressor.flush()


def zip_bomb(size: int = GIB, name: str = "zeros.bin") -> bytes:
    """A ZIP of one file of ``size`` zeros, declared honestly (about 1 MB per GiB)."""
    crc = _CRC_OF_A_GIB_OF_ZEROS if size == GIB else zlib.crc32(bytes(size))
    return make_zip([ZipEntry(name, deflated_zeros(size), size, crc)])


def lying_zip(declared: int = 100, actual: int = GIB) -> bytes:
    """A ZIP whose directory declares ``declared`` bytes for ``main.py`` while its data
    inflates to ``actual`` bytes of zeros."""
    crc = zlib.crc32(bytes(declared))
    return make_zip([ZipEntry("main.py", deflated_zeros(actual), declared, crc)])


def normal_zip(files: dict[str, bytes]) -> bytes:
    """An ordinary ZIP of ``files``, as zipfile writes it."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def nested_zip(inner_name: str = "inner.zip") -> bytes:
    """A ZIP holding ``main.py`` and another ZIP (a bomb) named ``inner_name``."""
    inner = zip_bomb(16 * _MIB)
    return normal_zip({"main.py": b"print('hello')\n", inner_name: inner})


def many_files_zip(count: int, listed: int | None = None) -> bytes:
    """A ZIP of ``count`` empty files, whose end record says it holds ``listed``."""
    entries = [ZipEntry(f"{i:x}.py", b"", 0, 0, zipfile.ZIP_STORED) for i in range(count)]
    return make_zip(entries, listed)


def hex_record(address: int, data: bytes, kind: int = 0) -> str:
    """One Intel HEX line: ``kind`` 0 data, 1 end, 2 segment, 4 linear address."""
    body = bytes((len(data), address >> 8 & 0xFF, address & 0xFF, kind)) + data
    return ":" + (body + bytes(((-sum(body)) & 0xFF,))).hex().upper()


def sparse_hex(far: int = 0x18000000) -> bytes:
    """56 bytes of Intel HEX: one byte at 0 and one at ``far`` (a gap of ``far`` bytes that
    a naive loader fills in)."""
    lines = [
        hex_record(0, b"\x0c"),
        hex_record(0, (far >> 16).to_bytes(2, "big"), kind=4),
        hex_record(far & 0xFFFF, b"\x94"),
        hex_record(0, b"", kind=1),
    ]
    return ("\n".join(lines) + "\n").encode()
