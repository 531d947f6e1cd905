"""Pure decisions about service cards: PIN format and lockout, phone-code timing, what a typed card number is.

No I/O: (state, input, now) -> outcome, or a domain error with a stable reason code.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from cards import Reason, is_valid_card_number, normalize_card_number, serial_from_card_number
from backend.errors import Conflict, InvalidInput

STATES = ("active", "revoked")
REVOKE_REASONS = ("lost", "replaced", "staff")
# organisations have no colour of their own; their cards use the organisation colour
CARD_KINDS = ("person", "organisation")

PIN_LENGTH = 6
MAX_PIN_FAILURES = 5
PIN_LOCKOUT = timedelta(minutes=15)

# A phone code lives this long; the phone asks for a fresh one every PHONE_CODE_REFRESH, so the code on screen
# always has at least (lifetime - refresh) to go, even when a refresh is late, and a screenshot dies within a minute.
PHONE_CODE_LIFETIME = timedelta(seconds=60)
PHONE_CODE_REFRESH = timedelta(seconds=30)
# tests and demos may ask for a faster refresh (`/me/card?refresh=3`), never a slower one
MIN_REFRESH_SECONDS = 2

# Random 9-digit serials: a number typed at a till says nothing about how many cards exist or who got which.
MIN_SERIAL = 100_000_000
MAX_SERIAL = 999_999_999


class CardRejected(Conflict):
    """A scanned or typed card code that does not stand for a usable card. `code` is a cards.Reason value."""

    def __init__(self, reason: Reason | str, **params: object) -> None:
        super().__init__(Reason(reason).value, **params)

    @property
    def reason(self) -> Reason:
        return Reason(self.code)


class PinRejected(Conflict):
    """pin_required | pin_not_set | wrong_pin (remaining=…) | pin_locked (minutes=…)."""


# --- what the scanner or keyboard delivered --------------------------------------------------------------

@dataclass(frozen=True)
class TypedNumber:
    serial: int
    number: str  # the ten digits


# an ASCII character other than a digit, a dash or a space: NFKC leaves ASCII as it is, so such text can never
# normalise to the digits of a card number
_NOT_A_NUMBER = re.compile(r"[!-,./:-~]")


def typed_card_number(text: str) -> TypedNumber | None:
    """A card number typed in at a till (spaces, dashes, full-width digits allowed) -> its serial.

    None when the text is not digits at all (then it is a token or a URL); CardRejected(malformed) when it is
    digits but not a valid card number (wrong length or check digit)."""
    if _NOT_A_NUMBER.search(text):  # a URL or a token (the common case on the scan path): no need to normalise it
        return None
    number = normalize_card_number(text)
    if not number or not (number.isascii() and number.isdigit()):
        return None
    if not is_valid_card_number(number):
        raise CardRejected(Reason.MALFORMED)
    return TypedNumber(serial_from_card_number(number), number)


def card_state_reason(state: str) -> Reason | None:
    """A card that exists: None when it may be used, else why not."""
    return None if state == "active" else Reason.REVOKED


# --- PIN -------------------------------------------------------------------------------------------------

def normalize_pin(pin: str | None) -> str:
    # full-width digits from a Chinese input method count as digits
    return unicodedata.normalize("NFKC", pin or "").strip()


def check_new_pin(pin: str | None, confirm: str | None) -> str:
    """A PIN someone chooses: six digits, typed the same twice, not trivially guessable."""
    pin, confirm = normalize_pin(pin), normalize_pin(confirm)
    if not (len(pin) == PIN_LENGTH and pin.isascii() and pin.isdigit()):
        raise InvalidInput("bad_pin", field="new_pin", length=PIN_LENGTH)
    if pin != confirm:
        raise InvalidInput("pin_mismatch", field="confirm_pin")
    if too_simple(pin):
        raise InvalidInput("pin_too_simple", field="new_pin")
    return pin


def too_simple(pin: str) -> bool:
    """111111, 123456, 987654 and the like: the first PINs anyone tries."""
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:])}
    return len(steps) == 1 and steps.pop() in (-1, 0, 1)


def pin_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and locked_until > now


def minutes_left(locked_until: datetime, now: datetime) -> int:
    return max(1, -(-int((locked_until - now).total_seconds()) // 60))


def before_pin_check(has_pin: bool, locked_until: datetime | None, pin: str | None, now: datetime) -> str:
    """What must hold before a PIN is compared with the hash; returns the normalised PIN."""
    if pin_locked(locked_until, now):
        raise PinRejected("pin_locked", minutes=minutes_left(locked_until, now))
    if not has_pin:
        raise PinRejected("pin_not_set")
    pin = normalize_pin(pin)
    if not pin:
        raise PinRejected("pin_required")
    return pin


def after_wrong_pin(failures: int, now: datetime) -> tuple[int, datetime | None]:
    """Count a wrong PIN; the fifth in a row locks the card's PIN for a while (and starts the count again)."""
    failures += 1
    if failures >= MAX_PIN_FAILURES:
        return 0, now + PIN_LOCKOUT
    return failures, None


def wrong_pin_error(failures: int, locked_until: datetime | None, now: datetime) -> PinRejected:
    if locked_until is not None:
        return PinRejected("pin_locked", minutes=minutes_left(locked_until, now))
    return PinRejected("wrong_pin", remaining=MAX_PIN_FAILURES - failures)


# --- phone codes -----------------------------------------------------------------------------------------

def phone_code_expiry(now: datetime) -> datetime:
    """Whole seconds (the token carries Unix seconds), rounded down so a code never outlives its lifetime."""
    return (now + PHONE_CODE_LIFETIME).replace(microsecond=0)


def refresh_seconds(requested: int | None) -> int:
    """How often the phone asks for a fresh code: the default, or faster when asked (tests), never slower."""
    default = int(PHONE_CODE_REFRESH.total_seconds())
    if requested is None:
        return default
    return max(MIN_REFRESH_SECONDS, min(default, requested))


# --- issuing ---------------------------------------------------------------------------------------------

def may_have_card(kind: str) -> bool:
    return kind in CARD_KINDS


def card_colour(kind: str, colour: str | None) -> str:
    """The colour printed on the card: the account colour, organisation purple, blue when unset."""
    if kind == "organisation":
        return "organisation"
    return colour if colour in ("red", "blue", "green") else "blue"


def next_key_id(used: list[int]) -> int:
    """Key ids are one byte in the token and never reused (a retired key's cards must stay unknown)."""
    candidate = max(used, default=0) + 1
    if candidate > 255:
        raise Conflict("no_key_ids_left")
    return candidate
