"""Checking a certificate with the public key alone: the facts and signature its QR carries.

A verify URL is ``<public base URL>/verify/<code>?d=<base64url facts>&s=<base64url signature>``.
It is valid when ``d`` and ``s`` are written the one way the app writes them (base64url without
padding, :func:`kitmanager.signing.b64url_decode`), the signature is the issuer's signature of
exactly the ``d`` bytes, those bytes are the canonical JSON of the facts, and the code in the
facts is the code in the path. Any change to a fact, the code, the signature or their
spelling makes it not valid. No database is needed here: whether a certificate was revoked is
only known where its record is, and in its issuer's revocation list (certificates issued since
the lists travel sign their place in it, the optional fact ``status``).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kitmanager.signing import b64url_decode, b64url_encode, verify_signature

__all__ = [
    "FACT_KEYS",
    "Problem",
    "SignedFacts",
    "canonical_facts",
    "check_signed_facts",
    "parse_verify_url",
    "verify_url",
]

# Every fact a certificate may carry; "hours" only when some were attended; "status" (its
# place in the issuer's revocation list) on certificates issued since revocation lists travel
# to the site that checks them, so the older ones, without it, check as they always did.
FACT_KEYS = (
    "code",
    "name",
    "workshop",
    "first_date",
    "last_date",
    "issued",
    "issuer",
    "hours",
    "status",
)
_REQUIRED = frozenset(FACT_KEYS) - {"hours", "status"}
_SIGNATURE_BYTES = 64


@dataclass(frozen=True)
class SignedFacts:
    """What a verify URL carries: the code of its path, the facts bytes and the signature."""

    code: str
    data: str  # base64url of the canonical JSON
    signature: str  # base64url of the Ed25519 signature


class Problem(enum.Enum):
    """Why a verify URL is not valid; ``str()`` is the short English reason (logs, the CLI),
    the verify page says it in the reader's language."""

    ENCODING = "the facts or the signature are not base64url without padding, as issued"
    SIGNATURE = "the signature does not match the facts"
    NOT_JSON = "the signed facts are not a JSON object"
    NOT_CANONICAL = "the signed facts are not in canonical form"
    MISSING_FACT = "the signed facts lack a required fact"
    OTHER_CODE = "the code does not match the signed facts"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Check:
    """The outcome: ``valid``, the facts read (even when not valid, to show what was claimed),
    ``problem`` when not valid and, when the signature matched, ``signer``: the key it
    matched."""

    valid: bool
    code: str
    facts: dict[str, Any] | None
    problem: Problem | None = None
    signer: Ed25519PublicKey | None = None


def canonical_facts(facts: dict[str, Any]) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, UTF-8 (not ASCII-escaped)."""
    return json.dumps(facts, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def verify_url(base_url: str, code: str, data: bytes, signature: bytes) -> str:
    """The URL a certificate's QR holds."""
    return (
        f"{base_url.rstrip('/')}/verify/{quote(code)}?d={b64url_encode(data)}"
        f"&s={b64url_encode(signature)}"
    )


def parse_verify_url(url: str) -> SignedFacts | None:
    """The parts of a verify URL, or None when it is not one (no /verify/<code>, no d or s)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2 or segments[-2] != "verify":
        return None
    query = parse_qs(parts.query)
    data, signature = query.get("d", [""])[0], query.get("s", [""])[0]
    if not data or not signature:
        return None
    return SignedFacts(code=segments[-1], data=data, signature=signature)


def _facts_of(raw: bytes) -> dict[str, Any] | None:
    try:
        facts = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # nested deeper than Python goes
        return None
    return facts if isinstance(facts, dict) else None


def check_signed_facts(
    signed: SignedFacts, public_key: Ed25519PublicKey | Sequence[Ed25519PublicKey]
) -> Check:
    """Check ``signed`` with ``public_key`` alone (or any of several trusted issuers' keys);
    see the module docstring for the rules."""
    keys = [public_key] if isinstance(public_key, Ed25519PublicKey) else list(public_key)
    try:
        raw = b64url_decode(signed.data)
        signature = b64url_decode(signed.signature)
    except ValueError:
        return Check(False, signed.code, None, Problem.ENCODING)
    facts = _facts_of(raw)
    signer = None
    if len(signature) == _SIGNATURE_BYTES:
        signer = next((key for key in keys if verify_signature(key, raw, signature)), None)
    if signer is None:
        return Check(False, signed.code, facts, Problem.SIGNATURE)
    if facts is None:
        return Check(False, signed.code, None, Problem.NOT_JSON, signer)
    if canonical_facts(facts) != raw:
        return Check(False, signed.code, facts, Problem.NOT_CANONICAL, signer)
    if not set(facts) >= _REQUIRED or not set(facts) <= set(FACT_KEYS):
        return Check(False, signed.code, facts, Problem.MISSING_FACT, signer)
    if facts.get("code") != signed.code:
        return Check(False, signed.code, facts, Problem.OTHER_CODE, signer)
    return Check(True, signed.code, facts, signer=signer)
