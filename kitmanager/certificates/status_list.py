"""The bits of a W3C Bitstring Status List v1.0 (a W3C Recommendation): where each certificate's
status sits in the list, and the list as its ``encodedList``.

A credential names its place in the list (``statusListIndex``); bit 1 there means revoked.
The place comes from the certificate's row id, unique and never changed, which the database
does not hand out again because the app revokes certificates and never deletes them. (Two
things can remove certificates: restoring an older backup, and ``demo --replace`` wiping the
demo workshop; a new certificate may then get the id of one they removed, and that removed
one's credentials follow the new one's bit.) A keyed permutation turns the id into the place:
each block of :data:`LIST_BITS` ids maps one to one onto the same block of places, so two
certificates never share a bit, while a place tells no one how many certificates were issued
or in which order (the spec asks for places that look random). The key is derived from the
installation's private key, so only this installation can tell which place is whose.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import zlib
from collections.abc import Iterable
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kitmanager.signing import b64url_decode, b64url_encode

__all__ = [
    "LIST_BITS",
    "MAX_LIST_BYTES",
    "decoded_list",
    "encoded_list",
    "index_secret",
    "is_set",
    "list_length",
    "status_index",
]

# The smallest list the spec allows (16 KB of bits); a list holds whole blocks of it.
LIST_BITS = 131_072
# The most bits a list read from elsewhere may unpack to (1024 blocks, 134 million
# certificates): a few bytes of GZIP can claim gigabytes.
MAX_LIST_BYTES = 1024 * LIST_BITS // 8
_HALF_BITS = 9  # a Feistel network on 18 bits, walked down into the 17 bits of a block
_HALF_MASK = (1 << _HALF_BITS) - 1
_ROUNDS = 4  # four rounds make a pseudo-random permutation (Luby-Rackoff)


def index_secret(key: Ed25519PrivateKey) -> bytes:
    """The secret that places certificates in the list, derived from the installation's key
    (restored with it from a backup, so places never move)."""
    raw = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return hmac.new(raw, b"kitmanager bitstring status list places", hashlib.sha256).digest()


def _round_value(secret: bytes, round_number: int, half: int) -> int:
    digest = hmac.new(secret, bytes((round_number, half >> 8, half & 0xFF)), "sha256").digest()
    return int.from_bytes(digest[:2], "big") & _HALF_MASK


@lru_cache(maxsize=4)
def _round_functions(secret: bytes) -> tuple[tuple[int, ...], ...]:
    """Each Feistel round's function as a table of its 512 values (made once per secret)."""
    return tuple(
        tuple(_round_value(secret, round_number, half) for half in range(1 << _HALF_BITS))
        for round_number in range(_ROUNDS)
    )


def _feistel(value: int, rounds: tuple[tuple[int, ...], ...]) -> int:
    left, right = value >> _HALF_BITS, value & _HALF_MASK
    for function in rounds:
        left, right = right, left ^ function[right]
    return (left << _HALF_BITS) | right


def status_index(certificate_id: int, secret: bytes) -> int:
    """The place of certificate ``certificate_id`` in the list: one to one within each block
    of :data:`LIST_BITS` ids, never shared."""
    rounds = _round_functions(secret)
    block, offset = divmod(certificate_id, LIST_BITS)
    place = _feistel(offset, rounds)
    while place >= LIST_BITS:  # cycle walking: a permutation of the block, not of 18 bits
        place = _feistel(place, rounds)
    return block * LIST_BITS + place


def list_length(highest_id: int) -> int:
    """How many bits the list has when the highest certificate id is ``highest_id``: whole
    blocks, at least one, so every certificate issued has its place in it."""
    return (max(highest_id, 0) // LIST_BITS + 1) * LIST_BITS


def encoded_list(set_bits: Iterable[int], length: int) -> str:
    """The ``encodedList`` of a list of ``length`` bits where ``set_bits`` are 1: index 0 is
    the left-most bit of the first byte, GZIP-compressed, multibase base64url (``u``).

    :raise ValueError: an index outside the list.
    """
    bits = bytearray(length // 8)
    for index in set_bits:
        if not 0 <= index < length:
            raise ValueError(f"status list index {index} is outside a list of {length} bits")
        bits[index // 8] |= 0x80 >> (index % 8)
    # mtime=0: the same bits always compress to the same text
    return "u" + b64url_encode(gzip.compress(bytes(bits), mtime=0))


def decoded_list(encoded: str) -> bytes:
    """The bits of an ``encodedList`` as :func:`encoded_list` writes it (at most
    :data:`MAX_LIST_BYTES`).

    :raise ValueError: not multibase base64url, not one whole GZIP member, or too long.
    """
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise ValueError("an encodedList starts with u (multibase base64url)")
    unpacker = zlib.decompressobj(wbits=31)  # GZIP only
    try:
        bits = unpacker.decompress(b64url_decode(encoded[1:]), MAX_LIST_BYTES + 1)
    except zlib.error as exc:
        raise ValueError(f"the encodedList is not GZIP ({exc})") from None
    if len(bits) > MAX_LIST_BYTES:
        raise ValueError("the encodedList holds more bits than any list here")
    if not unpacker.eof or unpacker.unused_data or not bits:
        raise ValueError("the encodedList is not one whole GZIP member")
    return bits


def is_set(bits: bytes, index: int) -> bool:
    """Whether bit ``index`` of ``bits`` is 1 (a place beyond the list is not set)."""
    return 0 <= index < len(bits) * 8 and bool(bits[index // 8] & (0x80 >> (index % 8)))
