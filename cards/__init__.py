"""Linli cards: signed card tokens, card numbers, QR and NFC encodings, printable sheets, photo decoding.

A pure library: it knows nothing of the web framework or the database.
"""

from cards.nfc import NTAG213_USER_BYTES, NdefTooLarge, ndef_uri_message, ntag213_image, tag_image
from cards.number import (
    card_number_from_serial,
    format_card_number,
    is_valid_card_number,
    normalize_card_number,
    serial_from_card_number,
)
from cards.photo import NoCodeFound, decode_photo
from cards.qr import make_qr, qr_png, qr_svg
from cards.sheet import CardFace, render_sheet_pdf, render_sheet_svg
from cards.token import (
    CardCodeError,
    Reason,
    VerifiedToken,
    card_url,
    extract_token,
    generate_card_id,
    load_private_key,
    load_public_key,
    new_signing_key,
    sign_card,
    sign_phone_code,
    verify,
)

__all__ = [
    "NTAG213_USER_BYTES",
    "CardCodeError",
    "CardFace",
    "NdefTooLarge",
    "NoCodeFound",
    "Reason",
    "VerifiedToken",
    "card_number_from_serial",
    "card_url",
    "decode_photo",
    "extract_token",
    "format_card_number",
    "generate_card_id",
    "is_valid_card_number",
    "load_private_key",
    "load_public_key",
    "make_qr",
    "ndef_uri_message",
    "new_signing_key",
    "normalize_card_number",
    "ntag213_image",
    "qr_png",
    "qr_svg",
    "render_sheet_pdf",
    "render_sheet_svg",
    "serial_from_card_number",
    "sign_card",
    "sign_phone_code",
    "tag_image",
    "verify",
]
