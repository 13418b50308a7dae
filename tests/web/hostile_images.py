"""Images made on the spot for the certificate upload: a logo of an ordinary size, the largest
picture accepted (24 megapixels, under 2 MB), and a PNG whose chunks all carry valid checksums
but whose image data is no zlib stream (only decoding it finds the damage). Used by
tests/web/test_certificates_kept.py and benchmarks/hostile.py."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageDraw

__all__ = ["bilevel_png", "logo", "undecodable_png"]


def logo(image_format: str = "PNG", size: tuple[int, int] = (1000, 440)) -> bytes:
    """A logo of red discs on white, ``size`` pixels; at 6000 × 4000 (24 megapixels, the most
    accepted) it still compresses under the 2 MB upload limit."""
    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    disc = size[0] * 0.15
    for step in range(0, size[0], max(1, size[0] // 20)):
        top = step * size[1] / size[0]
        draw.ellipse((step, top, step + disc, top + disc * 0.78), fill=(200, 30, 30))
    out = io.BytesIO()
    image.save(out, format=image_format)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def undecodable_png(width: int = 200, height: int = 80) -> bytes:
    """A PNG with sound chunks (header, checksums, end) whose IDAT holds no zlib stream."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    noise = bytes((index * 73 + 41) % 256 for index in range(400))  # not a zlib header
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", noise)
        + _chunk(b"IEND", b"")
    )


def bilevel_png(size: tuple[int, int] = (20000, 20000)) -> bytes:
    """A blank picture of 1-bit pixels: a few kilobytes holding 400 megapixels."""
    out = io.BytesIO()
    Image.new("1", size).save(out, format="PNG")
    return out.getvalue()
