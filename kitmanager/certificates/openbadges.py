"""A certificate as an Open Badges 3.0 ``OpenBadgeCredential``, signed as a VC-JWT (EdDSA).

Learners carry the file into badge wallets. The issuer is identified by a ``did:key`` made
from the installation's Ed25519 public key, so a wallet can check the signature with nothing
but the credential; the JOSE header also carries the key as a JWK. The payload is the
credential itself with the registered claims the Open Badges 3.0 VC-JWT format adds
(``iss`` = issuer id, ``jti`` = credential id, ``nbf`` = validFrom, ``sub`` when the subject
has an id).
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timezone
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask_babel import force_locale, format_decimal, gettext

from kitmanager.certificates.printing import dates_text
from kitmanager.certificates.services import rule_for
from kitmanager.models import Certificate
from kitmanager.signing import b64url_encode

__all__ = ["CONTEXTS", "credential", "credential_jwt", "did_key"]

CONTEXTS = (
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
)
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_ED25519_MULTICODEC = b"\xed\x01"


def _base58btc(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = _B58[rest] + out
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + out


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def did_key(public: Ed25519PublicKey) -> str:
    """The ``did:key`` of an Ed25519 public key (multicodec 0xed01, base58btc)."""
    return "did:key:z" + _base58btc(_ED25519_MULTICODEC + _raw(public))


def _iso(value: datetime) -> str:
    return value.replace(tzinfo=timezone.utc, microsecond=0).isoformat().replace("+00:00", "Z")


def credential(certificate: Certificate, base_url: str, public: Ed25519PublicKey) -> dict[str, Any]:
    """The OpenBadgeCredential of ``certificate`` (unsigned), from its signed facts."""
    facts = json.loads(certificate.facts)
    workshop = certificate.workshop
    issuer_id = did_key(public)
    base = base_url.rstrip("/")
    rule = rule_for(workshop)
    with force_locale(workshop.language):
        if rule.min_hours is not None:
            narrative = gettext(
                "Attended at least %(hours)s hours of the workshop.",
                hours=format_decimal(rule.min_hours),
            )
        else:
            narrative = gettext(
                "Attended at least %(percent)s %% of the workshop's sessions.",
                percent=rule.min_percent,
            )
        description = gettext(
            "Took part in the workshop %(title)s, %(dates)s.",
            title=facts["workshop"],
            dates=dates_text(
                date.fromisoformat(facts["first_date"]),
                date.fromisoformat(facts["last_date"]),
                workshop.language,
            ),
        )
        name = gettext("Certificate of participation: %(title)s", title=facts["workshop"])
        evidence = gettext("Certificate %(code)s", code=certificate.code)
    achievement_id = (
        f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{base}/workshops/{workshop.slug}')}"
    )
    issued = datetime.combine(date.fromisoformat(facts["issued"]), datetime.min.time())
    return {
        "@context": list(CONTEXTS),
        "id": f"urn:uuid:{certificate.uuid}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": name,
        "description": description,
        "issuer": {"id": issuer_id, "type": ["Profile"], "name": facts["issuer"]},
        "validFrom": _iso(certificate.issued_at),
        "awardedDate": _iso(issued),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityType": "name",
                    "hashed": False,
                    "identityHash": facts["name"],
                }
            ],
            "achievement": {
                "id": achievement_id,
                "type": ["Achievement"],
                "achievementType": "Certificate",
                "name": facts["workshop"],
                "description": description,
                "criteria": {"narrative": narrative},
                "inLanguage": workshop.language,
            },
        },
        "evidence": [
            {
                "id": f"{base}/verify/{certificate.code}",
                "type": ["Evidence"],
                "name": evidence,
            }
        ],
    }


def credential_jwt(certificate: Certificate, base_url: str, key: Ed25519PrivateKey) -> str:
    """The credential as a compact JWS (VC-JWT) signed with EdDSA by ``key``."""
    public = key.public_key()
    body = credential(certificate, base_url, public)
    issuer_id = body["issuer"]["id"]
    payload = {
        **body,
        "iss": issuer_id,
        "jti": body["id"],
        "nbf": int(certificate.issued_at.replace(tzinfo=timezone.utc).timestamp()),
    }
    header = {
        "alg": "EdDSA",
        "typ": "JWT",
        "kid": f"{issuer_id}#{issuer_id.removeprefix('did:key:')}",
        "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(_raw(public))},
    }

    def part(value: dict[str, Any]) -> str:
        return b64url_encode(
            json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        )

    signing_input = f"{part(header)}.{part(payload)}"
    return f"{signing_input}.{b64url_encode(key.sign(signing_input.encode('ascii')))}"
