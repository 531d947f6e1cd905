"""Card numbers for manual entry: a 9-digit serial plus a Damm check digit, printed as `1234 5678 90`.

The Damm check digit detects every single-digit error and every adjacent transposition, with digits only
(unlike ISO 7064 mod 11,2, which needs an `X`).
"""

from __future__ import annotations

import unicodedata

SERIAL_DIGITS = 9
CARD_NUMBER_DIGITS = SERIAL_DIGITS + 1
MAX_SERIAL = 10**SERIAL_DIGITS - 1

# The totally anti-symmetric quasigroup of order 10 from Damm's thesis (2004).
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def damm_check_digit(digits: str) -> str:
    interim = 0
    for digit in digits:
        interim = _DAMM[interim][int(digit)]
    return str(interim)


def card_number_from_serial(serial: int) -> str:
    if not 0 <= serial <= MAX_SERIAL:
        raise ValueError(f"serial must be between 0 and {MAX_SERIAL}, got {serial}")
    digits = f"{serial:0{SERIAL_DIGITS}d}"
    return digits + damm_check_digit(digits)


def serial_from_card_number(text: str) -> int:
    if not is_valid_card_number(text):
        raise ValueError(f"not a valid card number: {text!r}")
    return int(normalize_card_number(text)[:SERIAL_DIGITS])


def format_card_number(number: str) -> str:
    number = normalize_card_number(number)
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def normalize_card_number(text: str) -> str:
    # NFKC turns full-width digits from a Chinese input method into ASCII ones.
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if not ch.isspace() and ch != "-")


def is_valid_card_number(text: str) -> bool:
    number = normalize_card_number(text)
    return (
        len(number) == CARD_NUMBER_DIGITS and number.isascii() and number.isdigit() and damm_check_digit(number) == "0"
    )
