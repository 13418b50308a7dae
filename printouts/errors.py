"""The one exception family of the printouts package."""

from __future__ import annotations

__all__ = ["ImageError", "LayoutError", "PrintoutError"]


class PrintoutError(Exception):
    """A problem the caller can fix; the message is one line that says what to do."""


class LayoutError(PrintoutError):
    """A layout name is unknown, a layout file is broken, or a layout cannot hold the data."""


class ImageError(PrintoutError):
    """An image given to a printout (logo, background, signature) cannot be read."""
