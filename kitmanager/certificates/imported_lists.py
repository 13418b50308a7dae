"""Revocation lists brought here from the workshop laptops whose certificates this
installation trusts (``kitmanager certificates trust``).

A laptop whose certificate address is the organisation's permanent site signs its
certificates, and its revocation list, with its own key: the site cannot make that list. The
laptop writes the list it serves (``kitmanager certificates status-list export``, or the
download on its certificate address page) and the site imports it (``... status-list
import``, or the upload on the same page). An imported list is signed by a key the site
trusts, is the ``revocation`` BitstringStatusListCredential at that key's list address, and
is never older than the one already here, so an old list cannot undo a revocation. It is kept
whole, one file per key (``status_lists/<key id>.json`` in the data folder, 0600, written at
once), served as it came at the address the laptop's badges name, and read by the verify
page for the certificates that sign their place in it (the fact ``status``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import current_app
from flask_babel import format_datetime, gettext, ngettext

from kitmanager.audit import Actor, record_event
from kitmanager.certificates.openbadges import STATUS_LIST_PATH, did_key, status_list_key_id
from kitmanager.certificates.status_list import decoded_list, is_set
from kitmanager.models import utcnow
from kitmanager.signing import (
    SIGNING_KEY_FILE,
    b64url_decode,
    load_or_create_signing_key,
    trusted_public_keys,
    verify_signature,
)
from kitmanager.storage import private_folder, write_file
from kitmanager.unit_of_work import UserError

__all__ = [
    "MAX_LIST_FILE_BYTES",
    "STATUS_LISTS_FOLDER",
    "ImportResult",
    "ImportedList",
    "IssuerStatus",
    "SignedList",
    "StatusListError",
    "import_status_list",
    "imported_list",
    "imported_lists",
    "issuer_status",
    "read_signed_list",
]

STATUS_LISTS_FOLDER = "status_lists"
# A list of a million certificates, all revoked, is about 170 KB: a larger file is no list.
MAX_LIST_FILE_BYTES = 2 * 1024 * 1024
# A laptop's clock may be off by hours (a time zone, a flat battery); a list dated further
# ahead would shut out every later list until that date comes.
_CLOCK_SLACK = timedelta(days=1)
# One import at a time compares with the kept list and replaces it.
_lock = threading.Lock()


class StatusListError(UserError):
    """A revocation list that cannot be imported; the message says why and what to do."""


@dataclass(frozen=True)
class SignedList:
    """A revocation list read and checked: its VC-JWT (as served), the key that signed it,
    its address, when it was made (``validFrom``, UTC) and its bits."""

    jwt: str
    signer: Ed25519PublicKey
    url: str
    made_at: datetime
    bits: bytes

    @property
    def key_id(self) -> str:
        return status_list_key_id(self.signer)

    @property
    def etag(self) -> str:
        return hashlib.sha256(self.jwt.encode("ascii")).hexdigest()[:32]

    @property
    def revoked_count(self) -> int:
        return sum(byte.bit_count() for byte in self.bits)


@dataclass(frozen=True)
class ImportedList:
    """A list kept here and when it was brought here (UTC)."""

    list: SignedList
    brought_at: datetime


@dataclass(frozen=True)
class ImportResult:
    """The list now kept, and whether this import changed it (the same list again does not)."""

    imported: ImportedList
    changed: bool

    def message(self) -> str:
        """What happened, for the page and the command line."""
        if not self.changed:
            return gettext("This revocation list is already here; nothing changed.")
        listed = self.imported.list
        return ngettext(
            "Revocation list imported (made on %(made)s): %(num)s certificate revoked in it. "
            "This site now serves it and its verify page reads it.",
            "Revocation list imported (made on %(made)s): %(num)s certificates revoked in it. "
            "This site now serves it and its verify page reads it.",
            listed.revoked_count,
            made=format_datetime(listed.made_at, "short"),
        )


@dataclass(frozen=True)
class IssuerStatus:
    """What this site knows of a certificate's revocation on the laptop that issued it: the
    laptop's list brought here (None: never) and the certificate's place in it (None: the
    certificate was issued before certificates signed their place)."""

    imported: ImportedList | None
    index: int | None

    @property
    def revoked(self) -> bool | None:
        """True or False as the list brought here says; None when that cannot be told here.
        A place beyond the list is a certificate issued after the list was made: not revoked
        in it."""
        if self.imported is None or self.index is None:
            return None
        return is_set(self.imported.list.bits, self.index)


def _not_a_list() -> StatusListError:
    return StatusListError(
        gettext(
            "This file is not a kitmanager revocation list: import the file that "
            "`kitmanager certificates status-list export` wrote on the laptop."
        )
    )


def _instant(value: Any) -> datetime | None:
    """An XML Schema dateTime (``2026-12-01T08:00:00Z``) as naive UTC; None if it is not one
    with a time zone."""
    if not isinstance(value, str):
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value  # Python 3.10 reads no Z
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def _json_part(text: str) -> dict[str, Any]:
    try:
        value = json.loads(b64url_decode(text))
    except (ValueError, RecursionError):  # not base64url, not UTF-8, not JSON, too deep
        raise _not_a_list() from None
    if not isinstance(value, dict):
        raise _not_a_list()
    return value


def read_signed_list(data: bytes, keys: Sequence[Ed25519PublicKey]) -> SignedList:
    """The revocation list in ``data`` (a compact VC-JWT, as a list address serves it), signed
    by one of ``keys``.

    :raise StatusListError: not a signed list, signed by none of ``keys``, not the
        ``revocation`` list at the address of the key that signed it, or without its date.
    """
    try:
        jwt = data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise _not_a_list() from None
    parts = jwt.split(".")
    if len(parts) != 3:
        raise _not_a_list()
    header, body = _json_part(parts[0]), _json_part(parts[1])
    try:
        signature = b64url_decode(parts[2])
    except ValueError:
        raise _not_a_list() from None
    if header.get("alg") != "EdDSA":
        raise _not_a_list()
    signed = f"{parts[0]}.{parts[1]}".encode("ascii")
    signer = next((key for key in keys if verify_signature(key, signed, signature)), None)
    if signer is None:
        raise StatusListError(
            gettext(
                "This list is not signed by a key this site trusts: run `kitmanager "
                "certificates trust laptop-key.pem` here with the laptop's public key, then "
                "import the list again."
            )
        )
    subject = body.get("credentialSubject")
    types = body.get("type")
    if (
        not isinstance(types, list)
        or "BitstringStatusListCredential" not in types
        or not isinstance(subject, dict)
        or subject.get("type") != "BitstringStatusList"
    ):
        raise _not_a_list()
    if subject.get("statusPurpose") != "revocation":
        raise StatusListError(
            gettext("This status list is not a revocation list: nothing was imported.")
        )
    url = body.get("id")
    issuer = body.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    try:
        address = urlsplit(url) if isinstance(url, str) else None
    except ValueError:
        address = None
    if (
        issuer_id != did_key(signer)
        or address is None
        or address.scheme not in ("http", "https")
        or not address.path.endswith(f"{STATUS_LIST_PATH}{status_list_key_id(signer)}")
    ):
        raise StatusListError(
            gettext(
                "This list is not the revocation list of the key that signed it: nothing was "
                "imported. Export it again on the laptop."
            )
        )
    made_at = _instant(body.get("validFrom"))
    try:
        bits = decoded_list(subject.get("encodedList"))
    except ValueError:
        raise _not_a_list() from None
    if made_at is None:
        raise _not_a_list()
    return SignedList(jwt, signer, url, made_at, bits)


def _data_dir() -> Path:
    return Path(current_app.config["DATA_DIR"])


def _own_key(data_dir: Path) -> Ed25519PublicKey | None:
    """This installation's public key; None where none was made (nothing signed here)."""
    if not (data_dir / SIGNING_KEY_FILE).is_file():
        return None
    return load_or_create_signing_key(data_dir).public_key()


def _path(data_dir: Path, key_id: str) -> Path:
    return data_dir / STATUS_LISTS_FOLDER / f"{key_id}.json"


def _kept(data_dir: Path, signer: Ed25519PublicKey) -> ImportedList | None:
    """The list kept for ``signer``, checked again; None when none is kept (or its file was
    damaged: it then vouches for nothing)."""
    try:
        stored = json.loads(_path(data_dir, status_list_key_id(signer)).read_bytes())
        listed = read_signed_list(stored["jwt"].encode("ascii"), [signer])
        brought_at = datetime.fromisoformat(stored["brought_at"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return ImportedList(listed, brought_at)


def _covers(bits: bytes, other: bytes) -> bool:
    """Whether every bit set in ``other`` is set in ``bits``."""
    return all(
        byte & ~(bits[i] if i < len(bits) else 0) == 0 for i, byte in enumerate(other) if byte
    )


def import_status_list(actor: Actor, data: bytes) -> ImportResult:
    """Keep the revocation list ``data`` (the file ``status-list export`` wrote on a laptop)
    for the trusted key that signed it, in place of an older one; the same list again changes
    nothing. Writes one audit row when it changes the list.

    :raise StatusListError: not a list, not signed by a key trusted here (or signed by this
        installation's own key), not a revocation list at that key's address, dated later
        than tomorrow, or older than the list already kept for that key.
    :raise kitmanager.storage.StorageError: the list cannot be saved.
    """
    if len(data) > MAX_LIST_FILE_BYTES:
        raise _not_a_list()
    data_dir = _data_dir()
    own = _own_key(data_dir)
    keys = trusted_public_keys(data_dir, own=False)
    listed = read_signed_list(data, [*keys, *([own] if own else [])])
    if own is not None and listed.key_id == status_list_key_id(own):
        raise StatusListError(
            gettext(
                "This is this installation's own revocation list: it is kept up to date here "
                "already, nothing to import."
            )
        )
    now = utcnow()
    if listed.made_at > now + _CLOCK_SLACK:
        raise StatusListError(
            gettext(
                "This revocation list is dated %(made)s, later than today here: check the date "
                "and time of the laptop that made it, then export it again.",
                made=format_datetime(listed.made_at, "short"),
            )
        )
    with _lock:
        kept = _kept(data_dir, listed.signer)
        if kept is not None:
            if kept.list.jwt == listed.jwt:
                return ImportResult(kept, changed=False)
            if listed.made_at < kept.list.made_at or (
                listed.made_at == kept.list.made_at and not _covers(listed.bits, kept.list.bits)
            ):
                raise StatusListError(
                    gettext(
                        "This revocation list was made on %(made)s, before the one already here "
                        "(made on %(kept)s): nothing was imported, so no revocation is undone. "
                        "Export the list again on the laptop and import the new file.",
                        made=format_datetime(listed.made_at, "short"),
                        kept=format_datetime(kept.list.made_at, "short"),
                    )
                )
        record_event(
            actor,
            "certificate.status_list_imported",
            "status_list",
            None,
            key=listed.key_id,
            url=listed.url,
            made_at=listed.made_at.isoformat(),
            revoked=listed.revoked_count,
        )
        folder = private_folder(data_dir / STATUS_LISTS_FOLDER)
        stored = {"jwt": listed.jwt, "brought_at": now.isoformat()}
        write_file(folder / f"{listed.key_id}.json", json.dumps(stored).encode("utf-8"))
    return ImportResult(ImportedList(listed, now), changed=True)


def imported_list(key_id: str) -> ImportedList | None:
    """The list imported for ``key_id`` (a :func:`status_list_key_id`); None when that key is
    not trusted here, is this installation's own, or no list was imported for it."""
    data_dir = _data_dir()
    for key in trusted_public_keys(data_dir, own=False):
        if status_list_key_id(key) == key_id:
            return _kept(data_dir, key)
    return None


def imported_lists() -> list[ImportedList]:
    """Every list imported for a key trusted here, most recently brought first."""
    data_dir = _data_dir()
    kept = (_kept(data_dir, key) for key in trusted_public_keys(data_dir, own=False))
    return sorted((k for k in kept if k is not None), key=lambda k: k.brought_at, reverse=True)


def issuer_status(signer: Ed25519PublicKey, facts: dict[str, Any]) -> IssuerStatus | None:
    """For a certificate whose signed ``facts`` check with ``signer``: what the list of the
    laptop that issued it, as brought here, says. None when ``signer`` is this installation's
    own key (its records say whether it revoked the certificate)."""
    data_dir = _data_dir()
    own = _own_key(data_dir)
    key_id = status_list_key_id(signer)
    if own is not None and status_list_key_id(own) == key_id:
        return None
    index = facts.get("status")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        index = None
    return IssuerStatus(imported_list(key_id), index)
