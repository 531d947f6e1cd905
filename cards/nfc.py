"""NDEF encoding of a card URL for NFC tags (NFC Forum URI record type, Type 2 tag TLV layout)."""

from __future__ import annotations

import struct

NTAG213_USER_BYTES = 144

# NFC Forum URI Record Type Definition, table 3. Index = identifier code; longest prefix wins.
_URI_PREFIXES = (
    "", "http://www.", "https://www.", "http://", "https://", "tel:", "mailto:",
    "ftp://anonymous:anonymous@", "ftp://ftp.", "ftps://", "sftp://", "smb://", "nfs://", "ftp://", "dav://",
    "news:", "telnet://", "imap:", "rtsp://", "urn:", "pop:", "sip:", "sips:", "tftp:", "btspp://",
    "btl2cap://", "btgoep://", "tcpobex://", "irdaobex://", "file://", "urn:epc:id:", "urn:epc:tag:",
    "urn:epc:pat:", "urn:epc:raw:", "urn:epc:", "urn:nfc:",
)  # fmt: skip
_BY_LENGTH = sorted(enumerate(_URI_PREFIXES), key=lambda item: len(item[1]), reverse=True)

_MB, _ME, _SR = 0x80, 0x40, 0x10
_TNF_WELL_KNOWN = 0x01
_NDEF_TLV, _TERMINATOR_TLV = 0x03, 0xFE


class NdefTooLarge(ValueError):
    def __init__(self, size: int, capacity: int) -> None:
        self.size = size
        self.capacity = capacity
        super().__init__(f"NDEF image is {size} bytes; the tag holds {capacity}")


def ndef_uri_message(url: str) -> bytes:
    """One NDEF message holding a single URI record (a short record whenever the URI allows)."""
    code, prefix = next((code, prefix) for code, prefix in _BY_LENGTH if url.startswith(prefix))
    payload = bytes([code]) + url[len(prefix) :].encode("utf-8")
    flags = _MB | _ME | _TNF_WELL_KNOWN
    if len(payload) <= 0xFF:
        header = struct.pack(">BBB", flags | _SR, 1, len(payload))
    else:
        header = struct.pack(">BBI", flags, 1, len(payload))
    return header + b"U" + payload


def tag_image(url: str, capacity: int) -> bytes:
    """The bytes to write from the first user page of an NFC Forum Type 2 tag: NDEF TLV, Terminator TLV."""
    message = ndef_uri_message(url)
    if len(message) < 0xFF:
        length = bytes([len(message)])
    else:
        length = struct.pack(">BH", 0xFF, len(message))
    image = bytes([_NDEF_TLV]) + length + message + bytes([_TERMINATOR_TLV])
    if len(image) > capacity:
        raise NdefTooLarge(len(image), capacity)
    return image


def ntag213_image(url: str) -> bytes:
    return tag_image(url, NTAG213_USER_BYTES)
