"""What a scanned text is, and the addresses that badges and kit labels carry.

A badge QR holds ``<badge address>/b/<token>`` and a kit label ``<badge address>/k/<token>``;
a keyboard-wedge scanner or a person may also send the bare token, or a kit's printed code
(KIT-017). Only the path counts, so badges printed with an old address of the laptop still
work. The paths, the token pattern and the kit code pattern are written here once: routes,
URL builders, the scan station's script (through :func:`station_vocabulary`) and the boards
page derive from them.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from kitmanager.models import Kit

__all__ = [
    "BADGE_PATH",
    "KIT_CODE",
    "KIT_CODE_LENGTH",
    "KIT_LABEL_PATH",
    "TOKEN",
    "CodeKind",
    "ScannedCode",
    "badge_route",
    "badge_url",
    "classify_code",
    "kit_label_route",
    "kit_label_url",
    "token_digest",
]

BADGE_PATH = "/b/"
KIT_LABEL_PATH = "/k/"
# Tokens are random (``secrets.token_urlsafe``): a badge's or a kit label's.
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
# What a kit's box says, upper-cased: KIT-017, ROBOT.3, 12 (as long as the column allows).
KIT_CODE_LENGTH: int = Kit.__table__.c.code.type.length
KIT_CODE = re.compile(rf"[A-Z0-9][A-Z0-9._-]{{0,{KIT_CODE_LENGTH - 1}}}")


class CodeKind(str, enum.Enum):
    BADGE = "badge"  # a badge URL or a bare badge token
    KIT = "kit"  # a kit label URL
    KIT_CODE = "kit_code"  # a kit's printed code, typed or scanned
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ScannedCode:
    """A classified scan: its kind and the token or code it carries.

    ``alternative`` is another reading of the same text (a bare text that fits both a badge
    token and a kit code): tried when the first reading finds nothing.
    """

    kind: CodeKind
    value: str = ""
    text: str = ""
    alternative: CodeKind | None = None


def classify_code(code: str) -> ScannedCode:
    """What a scanned or typed text is (see the module's docstring)."""
    text = (code or "").strip()
    if "/" in text:
        path = urlsplit(text).path
        for prefix, kind in ((BADGE_PATH, CodeKind.BADGE), (KIT_LABEL_PATH, CodeKind.KIT)):
            position = path.rfind(prefix)
            if position >= 0:
                token = path[position + len(prefix) :].rstrip("/")
                if TOKEN.fullmatch(token):
                    return ScannedCode(kind, token, text)
        return ScannedCode(CodeKind.UNKNOWN, "", text)
    upper = text.upper()
    kit_code = KIT_CODE.fullmatch(upper) is not None
    if TOKEN.fullmatch(text):
        return ScannedCode(CodeKind.BADGE, text, text, CodeKind.KIT_CODE if kit_code else None)
    if kit_code:
        return ScannedCode(CodeKind.KIT_CODE, upper, text)
    return ScannedCode(CodeKind.UNKNOWN, "", text)


def badge_url(base_url: str, token: str) -> str:
    """What a badge QR carries: the badge address and the holder's random token."""
    return f"{base_url.rstrip('/')}{BADGE_PATH}{token}"


def kit_label_url(base_url: str, token: str) -> str:
    """What a kit label QR carries: the badge address and the label's random token."""
    return f"{base_url.rstrip('/')}{KIT_LABEL_PATH}{token}"


def badge_route(rest: str = "") -> str:
    """A Flask rule under the badge path: ``badge_route("/check-in")`` is
    ``/b/<token>/check-in``."""
    return f"{BADGE_PATH}<token>{rest}" if rest else f"{BADGE_PATH}<path:token>"


def kit_label_route(rest: str = "") -> str:
    """A Flask rule under the kit label path, as :func:`badge_route`."""
    return f"{KIT_LABEL_PATH}<path:token>{rest}"


def token_digest(token: str) -> str:
    """What a station's offline copy keeps of a badge's or a kit label's token: the start of
    its SHA-256, enough to name a scan without holding a token that opens anything."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]
