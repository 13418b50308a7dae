"""Plain data the printouts take in and give back; no web or database types."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "BadgeData",
    "CertificateData",
    "ImageSource",
    "KitCardData",
    "KitCardLine",
    "KitLabelData",
    "RenderResult",
    "Signatory",
]

# Image bytes (PNG or JPEG) or the path of an image file.
ImageSource = bytes | str | Path


@dataclass(frozen=True)
class BadgeData:
    """One participant's badge. ``badge_name`` (if given) is printed instead of ``name``;
    ``role`` is one of participant, trainer, mentor, guest."""

    name: str
    url: str
    badge_name: str | None = None
    organisation: str = ""
    role: str = "participant"
    team: str = ""
    workshop: str = ""

    def fields(self) -> dict[str, str]:
        return {
            "name": self.badge_name or self.name,
            "full_name": self.name,
            "organisation": self.organisation,
            "role": self.role,
            "team": self.team,
            "workshop": self.workshop,
            "url": self.url,
        }


@dataclass(frozen=True)
class KitLabelData:
    """One kit's label: ``code`` like KIT-017, the URL its QR code opens, optional parts."""

    code: str
    url: str
    kit_type: str = ""
    components: Sequence[str] = ()

    def fields(self) -> dict[str, str]:
        return {"code": self.code, "kit_type": self.kit_type, "url": self.url}


@dataclass(frozen=True)
class KitCardLine:
    """One line of a contents card: ``quantity`` × ``name``; a consumable (``must_return``
    False) need not come back and is marked so."""

    name: str
    quantity: int = 1
    must_return: bool = True


@dataclass(frozen=True)
class KitCardData:
    """One kit's A6 contents card: code, kit type, the QR of its label URL and every
    component with a box to tick."""

    code: str
    url: str
    kit_type: str = ""
    components: Sequence[KitCardLine] = ()

    def fields(self) -> dict[str, str]:
        return {"code": self.code, "kit_type": self.kit_type, "url": self.url}


@dataclass(frozen=True)
class Signatory:
    """A person signing a certificate; ``signature`` is an optional image of the signature."""

    name: str
    title: str = ""
    signature: ImageSource | None = None


@dataclass(frozen=True)
class CertificateData:
    """One participant's certificate; ``verification_url`` goes into the QR code and
    ``code`` is printed so it can be typed in by hand, at ``verification_page`` (a short
    address, optional) when the QR code cannot be scanned."""

    name: str
    workshop_title: str
    dates_text: str
    hours: float | None
    verification_url: str
    code: str
    body_text: str = ""
    signatories: Sequence[Signatory] = ()
    logo: ImageSource | None = None
    verification_page: str = ""

    def fields(self, language: str = "en") -> dict[str, str]:
        """The text of each field; numbers and the hours line as ``language`` writes them."""
        from .messages import hours_attended, number_text

        return {
            "name": self.name,
            "verification_page": self.verification_page,
            "workshop_title": self.workshop_title,
            "dates_text": self.dates_text,
            "hours": "" if self.hours is None else number_text(self.hours, language),
            "hours_attended": "" if self.hours is None else hours_attended(self.hours, language),
            "body_text": self.body_text,
            "code": self.code,
            "verification_url": self.verification_url,
        }


@dataclass
class RenderResult:
    """The PDF and what the user should know about it.

    ``warnings`` holds one line per problem that did not stop printing: a character the
    font cannot draw (it would print as an empty box), text shrunk below the layout's
    minimum size, components left off a full label.
    """

    pdf: bytes
    warnings: list[str] = field(default_factory=list)
    pages: int = 0
