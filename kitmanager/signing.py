"""The installation's Ed25519 signing key: made once, kept in the data folder (0600).

Certificates are signed with it, and anything else this installation vouches for (report
bundles) is signed with the same key, so one public key checks them all. Anyone holding only
the exported public key (PEM) can verify a signature; nothing else about the app is needed.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kitmanager.config import PRIVATE_FILE_MODE, keep_private

__all__ = [
    "SIGNING_KEY_FILE",
    "TRUSTED_KEYS_FOLDER",
    "SigningKeyError",
    "b64url_decode",
    "b64url_encode",
    "installation_key",
    "load_or_create_signing_key",
    "load_public_key",
    "public_key_pem",
    "trust_public_key",
    "trusted_public_keys",
    "verify_signature",
]

SIGNING_KEY_FILE = "signing_key.pem"
# Public keys of other installations whose signatures this one accepts (a permanent site
# that checks certificates issued on workshop laptops): one PEM file each.
TRUSTED_KEYS_FOLDER = "trusted_keys"

_cache: dict[Path, Ed25519PrivateKey] = {}
_lock = threading.Lock()


class SigningKeyError(Exception):
    """The signing key or a public key cannot be used; the message says what to do."""


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 style)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """The bytes of ``text`` written the one way :func:`b64url_encode` writes them: base64url
    without padding, so that encoding the bytes again gives ``text`` back. One value has one
    spelling, so a signed text read from outside cannot be passed around in variants.

    :raise ValueError: anything else: padding, ``+`` or ``/``, spaces or line breaks, unused
        trailing bits that are not zero, a length no encoding has.
    """
    if not isinstance(text, str):
        raise ValueError("not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc
    # The decoder skips characters it does not know and ignores trailing bits: comparing
    # with the encoding of what it read refuses every variant at once.
    if b64url_encode(data) != text:
        raise ValueError("not canonical base64url (no padding, - and _, nothing else)")
    return data


def load_or_create_signing_key(data_dir: Path) -> Ed25519PrivateKey:
    """The key in ``data_dir``, created (mode 0600, O_EXCL so two processes agree) if absent.

    :raise SigningKeyError: the file exists but is not an Ed25519 key, or cannot be written.
    """
    path = Path(data_dir) / SIGNING_KEY_FILE
    with _lock:
        cached = _cache.get(path)
        if cached is not None and path.is_file():
            return cached
        keep_private(path)
        try:
            key = _read_key(path)
        except FileNotFoundError:
            key = _create_key(path)
        _cache[path] = key
        return key


def _read_key(path: Path) -> Ed25519PrivateKey:
    data = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError as exc:
        raise SigningKeyError(
            f"{path} is not a readable signing key ({exc}). Restore it from a backup: "
            "certificates already issued can only be checked with the key that signed them."
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 key; restore the right file.")
    return key


def _create_key(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return _read_key(path)  # another process made it first: use theirs
    except OSError as exc:
        raise SigningKeyError(
            f"Cannot create the signing key in {path.parent} ({exc.strerror}). Check the data "
            "folder's permissions."
        ) from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    return key


def installation_key() -> Ed25519PrivateKey:
    """The signing key of the running app (its ``DATA_DIR``)."""
    from flask import current_app

    return load_or_create_signing_key(Path(current_app.config["DATA_DIR"]))


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public half as a PEM text (SubjectPublicKeyInfo), to publish."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(pem: bytes | str) -> Ed25519PublicKey:
    """An Ed25519 public key from its PEM text.

    :raise SigningKeyError: not a PEM public key, or not Ed25519.
    """
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise SigningKeyError(
            "This is not a PEM public key: use the file `kitmanager certificates public-key` "
            "wrote (it starts with -----BEGIN PUBLIC KEY-----)."
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(
            "This public key is not an Ed25519 key; use the one kitmanager wrote."
        )
    return key


def verify_signature(public: Ed25519PublicKey, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` is ``public``'s signature of ``data``."""
    try:
        public.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def trust_public_key(data_dir: Path, pem: bytes | str) -> tuple[Path, bool]:
    """Accept signatures by the key ``pem`` from now on; returns its file and whether it is
    new (trusting a key twice, or this installation's own key, changes nothing).

    :raise SigningKeyError: not an Ed25519 public key in PEM.
    """
    key = load_public_key(pem)
    raw = _raw_public(key)
    folder = Path(data_dir) / TRUSTED_KEYS_FOLDER
    path = folder / f"{b64url_encode(raw)}.pem"
    own = _raw_public(load_or_create_signing_key(Path(data_dir)).public_key())
    if raw == own or path.exists():
        return path, False
    folder.mkdir(mode=0o700, exist_ok=True)
    path.write_text(public_key_pem(key), encoding="ascii")
    return path, True


def trusted_public_keys(
    data_dir: Path, *, create: bool = True, own: bool = True
) -> list[Ed25519PublicKey]:
    """This installation's public key first, then the keys it was told to trust. With
    ``create=False`` a data folder without a signing key makes none (and lists only the keys
    it trusts, perhaps none); with ``own=False`` only the keys it was told to trust."""
    keys = []
    if own and (create or (Path(data_dir) / SIGNING_KEY_FILE).is_file()):
        keys.append(load_or_create_signing_key(Path(data_dir)).public_key())
    for path in sorted((Path(data_dir) / TRUSTED_KEYS_FOLDER).glob("*.pem")):
        try:
            keys.append(load_public_key(path.read_bytes()))
        except (OSError, SigningKeyError):
            continue  # a damaged file vouches for nothing
    return keys
