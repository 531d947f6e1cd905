"""Signed card tokens: the payload behind every card QR code, NFC tag and phone code.

Binary layout (all integers big-endian), then base64url without padding:

    version 1, printed card : version(1) key_id(1) card_id(8)                signature(64)  = 74 bytes
    version 2, phone code   : version(1) key_id(1) card_id(8) expires_at(4)  signature(64)  = 78 bytes

The Ed25519 signature covers every byte before it, so the version and expiry cannot be altered.
See cards/README.md for why base64url rather than base32.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

CARD_ID_BYTES = 8
SIGNATURE_BYTES = 64
VERSION_CARD = 1
VERSION_PHONE_CODE = 2

_HEADER = struct.Struct(">BB8s")
_EXPIRY = struct.Struct(">I")
_SIGNED_LENGTH = {
    VERSION_CARD: _HEADER.size,
    VERSION_PHONE_CODE: _HEADER.size + _EXPIRY.size,
}

# Generous bounds on purpose: a future version may be longer or shorter, and verify() reports the precise reason.
_TOKEN_TEXT = re.compile(r"[A-Za-z0-9_-]{16,512}")
# Any scheme and host, optionally a path prefix (an instance served below a sub-path), then /c/<token>.
_CARD_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s?#]+(?:/[^\s?#]*)?/c/([A-Za-z0-9_-]{16,512})/?", re.IGNORECASE)


class Reason(StrEnum):
    """Stable reason codes for a rejected card code, shared by this library, the backend and the stations."""

    MALFORMED = "malformed"
    UNKNOWN_VERSION = "unknown_version"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    # Decided by the backend, which knows the card's state; listed here so everyone uses the same codes.
    REVOKED = "revoked"
    UNKNOWN_CARD = "unknown_card"


class CardCodeError(ValueError):
    def __init__(self, reason: Reason | str) -> None:
        self.reason = Reason(reason)
        super().__init__(self.reason.value)


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    version: int
    key_id: int
    card_id: bytes
    expires_at: datetime | None  # only phone codes expire

    @property
    def is_phone_code(self) -> bool:
        return self.version == VERSION_PHONE_CODE


def generate_card_id() -> bytes:
    return secrets.token_bytes(CARD_ID_BYTES)


def new_signing_key() -> tuple[bytes, bytes]:
    """Return (private_bytes, public_bytes), 32 raw bytes each."""
    key = Ed25519PrivateKey.generate()
    return key.private_bytes_raw(), key.public_key().public_bytes_raw()


def load_private_key(raw: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(raw)


def load_public_key(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


def sign_card(card_id: bytes, key_id: int, private_key: Ed25519PrivateKey | bytes) -> str:
    return _sign(_header(VERSION_CARD, key_id, card_id), private_key)


def sign_phone_code(card_id: bytes, key_id: int, private_key: Ed25519PrivateKey | bytes, expires_at: datetime) -> str:
    signed = _header(VERSION_PHONE_CODE, key_id, card_id) + _EXPIRY.pack(_unix_seconds(expires_at))
    return _sign(signed, private_key)


def verify(token: str, public_keys: Mapping[int, Ed25519PublicKey | bytes], now: datetime) -> VerifiedToken:
    """Check a token's structure, key and signature (and expiry for phone codes); raise CardCodeError if not valid.

    Revocation and whether the card exists are for the caller to decide.
    """
    now_seconds = _unix_seconds(now)
    raw = _decode_text(token)
    if not raw:
        raise CardCodeError(Reason.MALFORMED)
    signed_length = _SIGNED_LENGTH.get(raw[0])
    if signed_length is None:
        raise CardCodeError(Reason.UNKNOWN_VERSION)
    if len(raw) != signed_length + SIGNATURE_BYTES:
        raise CardCodeError(Reason.MALFORMED)
    signed, signature = raw[:signed_length], raw[signed_length:]
    version, key_id, card_id = _HEADER.unpack_from(signed)

    public_key = public_keys.get(key_id)
    if public_key is None:
        raise CardCodeError(Reason.UNKNOWN_KEY)
    if isinstance(public_key, bytes):
        public_key = load_public_key(public_key)
    try:
        public_key.verify(signature, signed)
    except InvalidSignature:
        raise CardCodeError(Reason.BAD_SIGNATURE) from None

    expires_at = None
    if version == VERSION_PHONE_CODE:
        (expiry,) = _EXPIRY.unpack_from(signed, _HEADER.size)
        if now_seconds >= expiry:
            raise CardCodeError(Reason.EXPIRED)
        expires_at = datetime.fromtimestamp(expiry, timezone.utc)
    return VerifiedToken(version=version, key_id=key_id, card_id=card_id, expires_at=expires_at)


def extract_token(text: str) -> str:
    """Return the token from a raw token or a card URL, as a camera or keyboard-wedge scanner delivers it.

    Only the shape is checked; verify() decides whether the token is valid.
    """
    text = text.strip()
    if _TOKEN_TEXT.fullmatch(text):
        return text
    match = _CARD_URL.fullmatch(text)
    if match is None:
        raise CardCodeError(Reason.MALFORMED)
    return match.group(1)


def card_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/c/{token}"


def _header(version: int, key_id: int, card_id: bytes) -> bytes:
    if len(card_id) != CARD_ID_BYTES:
        raise ValueError(f"card_id must be {CARD_ID_BYTES} bytes, got {len(card_id)}")
    if not 0 <= key_id <= 255:
        raise ValueError(f"key_id must fit in one byte, got {key_id}")
    return _HEADER.pack(version, key_id, card_id)


def _sign(signed: bytes, private_key: Ed25519PrivateKey | bytes) -> str:
    if isinstance(private_key, bytes):
        private_key = load_private_key(private_key)
    return _encode_text(signed + private_key.sign(signed))


def _encode_text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode_text(token: str) -> bytes:
    if not _TOKEN_TEXT.fullmatch(token):
        raise CardCodeError(Reason.MALFORMED)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise CardCodeError(Reason.MALFORMED) from None
    # Unused trailing bits would give one token several spellings; accept the canonical one only.
    if _encode_text(raw) != token:
        raise CardCodeError(Reason.MALFORMED)
    return raw


def _unix_seconds(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise TypeError("datetimes must be timezone-aware")
    seconds = int(moment.timestamp())
    if not 0 <= seconds <= 0xFFFFFFFF:
        raise ValueError(f"{moment} does not fit an unsigned 32-bit Unix time")
    return seconds
