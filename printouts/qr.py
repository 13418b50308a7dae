"""QR codes as PDF vector paths.

The symbol is encoded here (byte mode, fixed mask) because the generic encoder's
polynomial arithmetic and automatic mask choice cost about 1-5 ms per code, which is
most of the time of a 1,000-badge sheet. The version and error-correction tables come
from the ``qrcode`` package so the two encoders agree on the standard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from operator import itemgetter

from qrcode import util as _qr_util
from qrcode.base import rs_blocks as _rs_blocks
from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_L, ERROR_CORRECT_M, ERROR_CORRECT_Q

from .errors import PrintoutError

__all__ = [
    "MIN_MODULE_MM",
    "QUIET_ZONE_MODULES",
    "QrSymbol",
    "encode_qr",
    "qr_path_operators",
]

QUIET_ZONE_MODULES = 4
MIN_MODULE_MM = 0.4
# Mask 1 (even rows inverted) keeps horizontal runs intact, so fewer rectangles are drawn;
# every mask is valid QR, and the tests decode every code the package prints.
FIXED_MASK = 1

_EC_LEVELS = {
    "L": ERROR_CORRECT_L,
    "M": ERROR_CORRECT_M,
    "Q": ERROR_CORRECT_Q,
    "H": ERROR_CORRECT_H,
}
_DARK_RUN = re.compile("1+")


@dataclass(frozen=True)
class QrSymbol:
    """A QR symbol without its quiet zone, as ``size`` rows of "0"/"1" characters (1 = dark)
    joined by a "0" separator, so one scan of ``flat`` finds every run of dark modules."""

    version: int
    size: int
    flat: str

    @property
    def rows(self) -> tuple[bytes, ...]:
        """The modules row by row, as bytes of 0 and 1."""
        stride = self.size + 1
        return tuple(
            bytes(int(ch) for ch in self.flat[r * stride : r * stride + self.size])
            for r in range(self.size)
        )

    @property
    def size_with_quiet_zone(self) -> int:
        return self.size + 2 * QUIET_ZONE_MODULES


# --- Galois field GF(256), primitive polynomial 0x11D --------------------------------------

_EXP = [0] * 512
_LOG = [0] * 256
_value = 1
for _i in range(255):
    _EXP[_i] = _value
    _LOG[_value] = _i
    _value <<= 1
    if _value & 0x100:
        _value ^= 0x11D
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]


def _gf_mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


@cache
def _ec_table(ec_count: int) -> tuple[int, ...]:
    """For each feedback byte, its products with the generator's coefficients, packed
    big-endian into one int so a division step is a shift and an XOR."""
    generator = [1]
    for i in range(ec_count):
        # multiply by (x - alpha^i); subtraction is XOR in GF(256)
        nxt = [0] * (len(generator) + 1)
        for j, coef in enumerate(generator):
            nxt[j] ^= coef
            nxt[j + 1] ^= _gf_mul(coef, _EXP[i])
        generator = nxt
    tail = generator[1:]
    return tuple(int.from_bytes(bytes(_gf_mul(c, f) for c in tail), "big") for f in range(256))


def _ec_codewords(data: bytes, ec_count: int) -> bytes:
    """Reed-Solomon error-correction codewords: the remainder of data(x) * x^n / g(x)."""
    table = _ec_table(ec_count)
    shift = 8 * (ec_count - 1)
    keep = (1 << (8 * ec_count)) - 1
    remainder = 0
    for byte in data:
        remainder = ((remainder << 8) & keep) ^ table[byte ^ (remainder >> shift)]
    return remainder.to_bytes(ec_count, "big")


# --- symbol layout per version ---------------------------------------------------------------


@dataclass(frozen=True)
class _Template:
    rows: tuple[bytes, ...]  # function patterns drawn, data modules 0
    positions: tuple[tuple[int, int], ...]  # data modules in placement order


@cache
def _template(version: int) -> _Template:
    n = version * 4 + 17
    grid: list[list[int | None]] = [[None] * n for _ in range(n)]

    def finder(top: int, left: int) -> None:
        for r in range(-1, 8):
            for c in range(-1, 8):
                rr, cc = top + r, left + c
                if not (0 <= rr < n and 0 <= cc < n):
                    continue
                ring = (0 <= r <= 6 and c in (0, 6)) or (0 <= c <= 6 and r in (0, 6))
                grid[rr][cc] = int(ring or (2 <= r <= 4 and 2 <= c <= 4))

    finder(0, 0)
    finder(n - 7, 0)
    finder(0, n - 7)
    centres = _qr_util.pattern_position(version)
    for row in centres:
        for col in centres:
            if grid[row][col] is not None:
                continue  # overlaps a finder pattern
            for r in range(-2, 3):
                for c in range(-2, 3):
                    grid[row + r][col + c] = int(max(abs(r), abs(c)) != 1)
    for i in range(8, n - 8):
        if grid[i][6] is None:
            grid[i][6] = int(i % 2 == 0)
        if grid[6][i] is None:
            grid[6][i] = int(i % 2 == 0)
    # format information areas and the dark module; filled per mask and level later
    for i in range(9):
        if grid[8][i] is None:
            grid[8][i] = 0
        if grid[i][8] is None:
            grid[i][8] = 0
    for i in range(8):
        grid[8][n - 1 - i] = 0
        grid[n - 1 - i][8] = 0
    grid[n - 8][8] = 1
    if version >= 7:
        bits = _qr_util.BCH_type_number(version)
        for i in range(18):
            bit = (bits >> i) & 1
            grid[i // 3][i % 3 + n - 11] = bit
            grid[i % 3 + n - 11][i // 3] = bit

    positions: list[tuple[int, int]] = []
    upward = True
    col = n - 1
    while col > 0:
        if col == 6:
            col -= 1  # the vertical timing pattern is skipped as a whole column
        rows = range(n - 1, -1, -1) if upward else range(n)
        for r in rows:
            for c in (col, col - 1):
                if grid[r][c] is None:
                    positions.append((r, c))
        upward = not upward
        col -= 2
    return _Template(
        rows=tuple(bytes(v or 0 for v in line) for line in grid), positions=tuple(positions)
    )


def _mask_bit(mask: int, r: int, c: int) -> bool:
    return _qr_util.mask_func(mask)(r, c)


@cache
def _masked_template(version: int, ec: int, mask: int) -> tuple[tuple[int, ...], int]:
    """For every cell of the flat symbol (rows plus a separator each), the index of the
    character it takes from ``data bits + "01"``; and the mask as an int over data bits."""
    template = _template(version)
    n = version * 4 + 17
    rows = [bytearray(line) for line in template.rows]
    bits = _qr_util.BCH_type_info((ec << 3) | mask)
    for i in range(15):
        bit = (bits >> i) & 1
        rows[i if i < 6 else (i + 1 if i < 8 else n - 15 + i)][8] = bit
        rows[8][n - i - 1 if i < 8 else (15 - i if i == 8 else 14 - i)] = bit
    count = len(template.positions)
    data_index = {pos: i for i, pos in enumerate(template.positions)}
    light, dark = count, count + 1
    cells: list[int] = []
    for r in range(n):
        for c in range(n):
            index = data_index.get((r, c))
            cells.append(index if index is not None else (dark if rows[r][c] else light))
        cells.append(light)
    mask_value = 0
    for r, c in template.positions:
        mask_value = (mask_value << 1) | int(_mask_bit(mask, r, c))
    return tuple(cells), mask_value


def _data_capacity(version: int, ec: int) -> int:
    return sum(block.data_count for block in _rs_blocks(version, ec))


def _choose_version(length: int, ec: int) -> int:
    for version in range(1, 41):
        count_bits = 8 if version < 10 else 16
        if 4 + count_bits + 8 * length <= 8 * _data_capacity(version, ec):
            return version
    raise PrintoutError(
        f"text of {length} bytes is too long for a QR code; use a URL under 2,000 characters"
    )


def encode_qr(text: str, error_correction: str = "M") -> QrSymbol:
    """Encode ``text`` (UTF-8, byte mode) at the smallest version that holds it.

    :raise PrintoutError: the text is empty or too long, or the level is not L, M, Q or H.
    """
    if not text:
        raise PrintoutError("a QR code needs a non-empty URL; give every item its URL")
    try:
        ec = _EC_LEVELS[error_correction]
    except KeyError:
        raise PrintoutError(
            f"unknown QR error correction {error_correction!r}; use one of L, M, Q, H"
        ) from None
    data = text.encode("utf-8")
    version = _choose_version(len(data), ec)
    capacity = _data_capacity(version, ec)
    count_bits = 8 if version < 10 else 16

    value = (0b0100 << count_bits) | len(data)
    value = (value << (8 * len(data))) | int.from_bytes(data, "big")
    nbits = 4 + count_bits + 8 * len(data)
    terminator = min(4, capacity * 8 - nbits)
    nbits += terminator
    pad_to_byte = -nbits % 8
    value <<= terminator + pad_to_byte
    nbits += pad_to_byte
    codewords = bytearray(value.to_bytes(nbits // 8, "big"))
    pad = 0xEC
    while len(codewords) < capacity:
        codewords.append(pad)
        pad ^= 0xEC ^ 0x11

    data_blocks: list[bytes] = []
    ec_blocks: list[bytes] = []
    offset = 0
    for block in _rs_blocks(version, ec):
        chunk = bytes(codewords[offset : offset + block.data_count])
        offset += block.data_count
        data_blocks.append(chunk)
        ec_blocks.append(_ec_codewords(chunk, block.total_count - block.data_count))
    final = bytearray()
    for i in range(max(len(b) for b in data_blocks)):
        final.extend(b[i] for b in data_blocks if i < len(b))
    for i in range(len(ec_blocks[0])):
        final.extend(b[i] for b in ec_blocks)

    cells, mask_value = _masked_template(version, ec, FIXED_MASK)
    npos = len(_template(version).positions)
    stream = int.from_bytes(final, "big") << (npos - 8 * len(final))  # remainder bits are 0
    source = format(stream ^ mask_value, f"0{npos}b") + "01"
    flat = "".join(itemgetter(*cells)(source))
    return QrSymbol(version=version, size=version * 4 + 17, flat=flat)


class _RectOperators(dict):
    """The "col row width 1 re" operator of each run of dark modules, by its span in the
    flat symbol; most runs recur between codes of one size, so formatting is done once."""

    LIMIT = 200_000  # entries; beyond this, large symbols are formatted without caching

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def __missing__(self, span: tuple[int, int]) -> str:
        start, end = span
        row, col = divmod(start, self.stride)
        text = f"{col} {row} {end - start} 1 re"
        if len(self) < self.LIMIT:
            self[span] = text
        return text


@cache
def _rect_operators(stride: int) -> _RectOperators:
    return _RectOperators(stride)


def qr_path_operators(symbol: QrSymbol, x: float, y: float, size: float) -> str:
    """PDF content operators drawing ``symbol`` with its quiet zone in the square
    of side ``size`` points whose lower-left corner is (``x``, ``y``).

    The quiet zone is painted white so a background or colour band cannot touch the code.
    Dark modules of one row that touch are drawn as one rectangle.
    """
    total = symbol.size_with_quiet_zone
    module = size / total
    parts = [
        f"q 1 g {x:.3f} {y:.3f} {size:.3f} {size:.3f} re f",
        # module units, origin at the top-left of the symbol, y growing downwards
        f"{module:.5f} 0 0 {-module:.5f} {x + QUIET_ZONE_MODULES * module:.3f} "
        f"{y + size - QUIET_ZONE_MODULES * module:.3f} cm 0 g",
    ]
    rects = _rect_operators(symbol.size + 1)
    parts.extend(map(rects.__getitem__, map(re.Match.span, _DARK_RUN.finditer(symbol.flat))))
    parts.append("f Q")
    return "\n".join(parts)
