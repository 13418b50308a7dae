"""A certificate as an Open Badges 3.0 ``OpenBadgeCredential``, signed as a VC-JWT (EdDSA).

Learners carry the file into badge wallets. The issuer is identified by a ``did:key`` made
from the installation's Ed25519 public key, so a wallet can check the signature with nothing
but the credential; the JOSE header also carries the key as a JWK. The payload is the
credential itself with the registered claims the Open Badges 3.0 VC-JWT format adds
(``iss`` = issuer id, ``jti`` = credential id, ``nbf`` = validFrom, ``sub`` when the subject
has an id).

Each credential carries a ``credentialStatus`` (W3C Bitstring Status List v1.0, purpose
``revocation``): its place in the installation's revocation list, served publicly at
:func:`status_list_url` and signed the same way. Revoking a certificate sets its bit; the
credential in the wallet stays as it was, and a verifier reading the list sees it revoked.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask_babel import force_locale, format_decimal, gettext
from sqlalchemy import func, select

from kitmanager.certificates.printing import dates_text
from kitmanager.certificates.services import rule_for
from kitmanager.certificates.status_list import (
    encoded_list,
    index_secret,
    list_length,
    status_index,
)
from kitmanager.extensions import db
from kitmanager.models import Certificate, utcnow
from kitmanager.signing import b64url_encode
from kitmanager.storage import forget_generated, kept_file

__all__ = [
    "CONTEXTS",
    "STATUS_LIST_PATH",
    "STATUS_LIST_TTL_S",
    "KeptStatusList",
    "credential",
    "credential_jwt",
    "did_key",
    "kept_revocation_list",
    "revocation_list_credential",
    "status_list_key_id",
    "status_list_url",
]

CONTEXTS = (
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
)
# Where the revocation list is served, followed by :func:`status_list_key_id`.
STATUS_LIST_PATH = "/credentials/status/"
# How long a verifier may keep the list before asking again (its ``ttl`` and Cache-Control):
# a revocation reaches every verifier within this.
STATUS_LIST_TTL_S = 300
_STATUS_PURPOSE = "revocation"
# Part of the kept list's name: a change to how the list is written makes it anew.
_STATUS_LIST_FORMAT = "1"
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


def status_list_key_id(public: Ed25519PublicKey) -> str:
    """The last part of the list's address: the issuer's key (its ``did:key`` without the
    prefix), so installations whose certificates open the same address never share a list."""
    return did_key(public).removeprefix("did:key:")


def status_list_url(base_url: str, public: Ed25519PublicKey) -> str:
    """The address of the revocation list of the installation whose key is ``public``."""
    return f"{base_url.rstrip('/')}{STATUS_LIST_PATH}{status_list_key_id(public)}"


def _status_entry(certificate: Certificate, base_url: str, key: Ed25519PrivateKey) -> dict:
    list_url = status_list_url(base_url, key.public_key())
    index = status_index(certificate.id, index_secret(key))
    return {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": _STATUS_PURPOSE,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def credential(certificate: Certificate, base_url: str, key: Ed25519PrivateKey) -> dict[str, Any]:
    """The OpenBadgeCredential of ``certificate`` (unsigned), from its signed facts, with its
    place in the revocation list of the installation whose key is ``key``."""
    facts = json.loads(certificate.facts)
    workshop = certificate.workshop
    issuer_id = did_key(key.public_key())
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
        "credentialStatus": _status_entry(certificate, base_url, key),
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
    return _vc_jwt(credential(certificate, base_url, key), key, certificate.issued_at)


def _vc_jwt(body: dict[str, Any], key: Ed25519PrivateKey, valid_from: datetime) -> str:
    """``body`` (a credential issued by ``key``'s ``did:key``) as a compact JWS signed with
    EdDSA, with the registered claims of the VC-JWT format."""
    public = key.public_key()
    issuer_id = did_key(public)
    payload = {
        **body,
        "iss": issuer_id,
        "jti": body["id"],
        "nbf": int(valid_from.replace(tzinfo=timezone.utc).timestamp()),
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


# ---------------------------------------------------------------- the revocation list


def revocation_list_credential(
    base_url: str,
    key: Ed25519PrivateKey,
    revoked_ids: list[int],
    highest_id: int,
    valid_from: datetime,
) -> dict[str, Any]:
    """The BitstringStatusListCredential (unsigned) whose bits are set at the places of the
    certificates ``revoked_ids``, long enough for every id up to ``highest_id``."""
    public = key.public_key()
    secret = index_secret(key)
    url = status_list_url(base_url, public)
    return {
        "@context": [CONTEXTS[0]],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": did_key(public),
        "validFrom": _iso(valid_from),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": _STATUS_PURPOSE,
            "encodedList": encoded_list(
                (status_index(i, secret) for i in revoked_ids), list_length(highest_id)
            ),
            "ttl": STATUS_LIST_TTL_S * 1000,
        },
    }


@dataclass(frozen=True)
class KeptStatusList:
    """The signed revocation list (a VC-JWT) and its entity tag (the key of its bits)."""

    jwt: bytes
    etag: str


def kept_revocation_list(base_url: str, key: Ed25519PrivateKey) -> KeptStatusList:
    """The installation's revocation list, signed by ``key``: made again only when what it
    says changes (a certificate revoked, the list growing, another address), else read from
    the data folder.

    The kept file is named after the revoked ids as the database holds them now, so a
    revocation from the command line, a restored backup or a rolled-back change is always
    reflected, with nothing to remember to call.

    :raise kitmanager.storage.StorageError: the list cannot be saved.
    """
    revoked = list(
        db.session.scalars(
            select(Certificate.id)
            .where(Certificate.revoked_at.is_not(None))
            .order_by(Certificate.id)
        )
    )
    highest = db.session.scalar(select(func.max(Certificate.id))) or 0
    public = key.public_key()
    said = [_STATUS_LIST_FORMAT, base_url, did_key(public), list_length(highest), revoked]
    etag = hashlib.sha256(json.dumps(said).encode("utf-8")).hexdigest()[:32]
    name = f"status-list-{etag}.jwt"

    def make() -> bytes:
        now = utcnow()
        body = revocation_list_credential(base_url, key, revoked, highest, now)
        return _vc_jwt(body, key, now).encode("ascii")

    jwt, made = kept_file(name, make, {})
    if made:
        forget_generated("status-list-*.jwt", keep=name)
    return KeptStatusList(jwt, etag)
