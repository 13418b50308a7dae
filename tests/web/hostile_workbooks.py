"""Workbooks (.xlsx) made on the spot: a sign-up sheet the way Excel writes one, and hostile
ones built on it (a comment bomb, a zip bomb declared honestly, a lying directory, a workbook
inside the workbook). Used by tests/web/test_workbook_budget.py and benchmarks/hostile.py.

Each maker returns the file's bytes in about a second at most: a long stretch of the same
byte is compressed once per MiB and the compressed MiB repeated, never built in memory.
"""

from __future__ import annotations

import dataclasses
import zlib
from xml.sax.saxutils import escape

from tests.firmware_tools.hostile_files import ZipEntry, make_zip, normal_zip

__all__ = [
    "comment_bomb",
    "doctype_workbook",
    "honest_bomb",
    "long_tag",
    "lying_directory",
    "many_parts",
    "nested_workbook",
    "normal_zip",
    "signup_parts",
    "signup_workbook",
]

MIB = 1 << 20
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
SHEET = "xl/worksheets/sheet1.xml"


def _column(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def signup_parts(rows: int = 2, columns: int = 4) -> dict[str, bytes]:
    """The parts of a one-sheet sign-up workbook as Excel saves it: text in the shared-strings
    part, numbers in the cells. ``rows`` people below a header of ``columns`` questions."""
    headers = ["Name", "Email", "Phone"] + [f"Question {i}" for i in range(4, columns + 1)]
    strings: dict[str, int] = {}

    def text(value: str) -> str:
        return str(strings.setdefault(value, len(strings)))

    lines = []
    for r in range(rows + 1):
        cells = []
        for c in range(columns):
            ref = f"{_column(c)}{r + 1}"
            if r == 0:
                cells.append(f'<c r="{ref}" t="s"><v>{text(headers[c])}</v></c>')
            elif c == 2:
                cells.append(f'<c r="{ref}"><v>{254712000000 + r}</v></c>')
            else:
                value = ("Wanjiru Kamau", "@example.org", "", "yes", "Lions")[min(c, 4)]
                value = f"{value} {r}" if c != 1 else f"person{r}{value}"
                cells.append(f'<c r="{ref}" t="s"><v>{text(value)}</v></c>')
        lines.append(f'<row r="{r + 1}">{"".join(cells)}</row>')
    last = f"{_column(columns - 1)}{rows + 1}"
    sheet = (
        f'<worksheet xmlns="{_MAIN}" xmlns:r="{_DOC_RELS}"><dimension ref="A1:{last}"/>'
        f"<sheetData>{''.join(lines)}</sheetData></worksheet>"
    )
    shared = "".join(f"<si><t>{escape(value)}</t></si>" for value in strings)
    return {
        "[Content_Types].xml": _DECLARATION
        + (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_CONTENT_TYPE}.sheet.main+xml"/>'
            f'<Override PartName="/{SHEET}" ContentType="{_CONTENT_TYPE}.worksheet+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" '
            f'ContentType="{_CONTENT_TYPE}.sharedStrings+xml"/></Types>'
        ).encode(),
        "_rels/.rels": _DECLARATION
        + (
            f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" '
            f'Type="{_DOC_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ).encode(),
        "xl/workbook.xml": _DECLARATION
        + (
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_DOC_RELS}"><sheets>'
            '<sheet name="Sign-ups" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ).encode(),
        "xl/_rels/workbook.xml.rels": _DECLARATION
        + (
            f'<Relationships xmlns="{_RELS}">'
            f'<Relationship Id="rId1" Type="{_DOC_RELS}/worksheet" '
            'Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{_DOC_RELS}/sharedStrings" '
            'Target="sharedStrings.xml"/></Relationships>'
        ).encode(),
        SHEET: _DECLARATION + sheet.encode(),
        "xl/sharedStrings.xml": _DECLARATION
        + (f'<sst xmlns="{_MAIN}" uniqueCount="{len(strings)}">{shared}</sst>').encode(),
    }


def signup_workbook(rows: int = 5_000, columns: int = 30) -> bytes:
    """A sign-up sheet of ``rows`` people and ``columns`` questions, as Excel saves it."""
    return normal_zip(signup_parts(rows, columns))


def _stretched(head: bytes, filler: bytes, mib: int, tail: bytes) -> ZipEntry:
    """A Deflate entry holding ``head``, ``filler`` (1 byte) repeated ``mib`` MiB, ``tail``."""
    squeezer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    piece = bytes(filler) * MIB
    start = squeezer.compress(head) + squeezer.flush(zlib.Z_FULL_FLUSH)
    middle = squeezer.compress(piece) + squeezer.flush(zlib.Z_FULL_FLUSH)
    packed = start + middle * mib + squeezer.compress(tail) + squeezer.flush()
    crc = zlib.crc32(head)
    for _ in range(mib):
        crc = zlib.crc32(piece, crc)
    return ZipEntry("", packed, len(head) + mib * MIB + len(tail), zlib.crc32(tail, crc))


def _with(parts: dict[str, bytes], name: str, entry: ZipEntry) -> bytes:
    """``parts`` zipped by hand, the part ``name`` being ``entry`` (in its place)."""
    entries = []
    for part, data in parts.items():
        if part == name:
            entries.append(dataclasses.replace(entry, name=name))
        else:
            squeezer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
            packed = squeezer.compress(data) + squeezer.flush()
            entries.append(ZipEntry(part, packed, len(data), zlib.crc32(data)))
    return make_zip(entries)


def comment_bomb(mib: int = 250) -> bytes:
    """The sheet of a small sign-up list with an XML comment of ``mib`` MiB before its cells:
    250 MiB pack into about 250 KB (the workbook the attack used)."""
    parts = signup_parts()
    head, tail = parts[SHEET].split(b"<sheetData>")
    return _with(parts, SHEET, _stretched(head + b"<!--", b"x", mib, b"--><sheetData>" + tail))


def long_tag(mib: int = 20) -> bytes:
    """The sheet of a small sign-up list whose first tag carries an attribute of ``mib`` MiB:
    one token, like the comment, but no comment to look for."""
    parts = signup_parts()
    head, tail = parts[SHEET].split(b"<sheetData>")
    entry = _stretched(head + b'<sheetPr codeName="', b"x", mib, b'"/><sheetData>' + tail)
    return _with(parts, SHEET, entry)


def honest_bomb(mib: int = 200) -> bytes:
    """A shared-strings part of one text of ``mib`` MiB, its size declared honestly."""
    parts = signup_parts()
    name = "xl/sharedStrings.xml"
    head, tail = parts[name].split(b"<si>", 1)
    return _with(parts, name, _stretched(head + b"<si><t>", b"a", mib, b"</t></si><si>" + tail))


def lying_directory(mib: int = 256) -> bytes:
    """A workbook whose directory declares ``[Content_Types].xml`` at its true size and
    checksum, while its data inflates to ``mib`` MiB more of spaces after it."""
    parts = signup_parts()
    name = "[Content_Types].xml"
    true = parts[name]
    inflated = _stretched(true, b" ", mib, b"")
    return _with(parts, name, dataclasses.replace(inflated, size=len(true), crc=zlib.crc32(true)))


def nested_workbook() -> bytes:
    """A sign-up workbook carrying another workbook as an embedded object."""
    parts = signup_parts()
    parts["xl/embeddings/Microsoft_Excel_Worksheet.xlsx"] = normal_zip(signup_parts())
    return normal_zip(parts)


def doctype_workbook() -> bytes:
    """A sign-up workbook whose shared text declares entities and uses one."""
    parts = signup_parts()
    name = "xl/sharedStrings.xml"
    declaration, body = parts[name].split(b"\r\n", 1)
    entities = b'<!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
    parts[name] = declaration + b"\r\n" + entities + body.replace(b"Lions 1", b"&b;")
    return normal_zip(parts)


def many_parts(count: int = 5_000) -> bytes:
    """A sign-up workbook with ``count`` more (tiny) parts."""
    parts = signup_parts()
    parts.update({f"customXml/item{i}.xml": b"<a/>" for i in range(count)})
    return normal_zip(parts)
