"""Pure scan decisions: what a device may do, when a PIN is needed, when an offline time is implausible."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

MODES = ("checkin", "checkout", "award", "redeem_shop", "redeem_offer", "report_in")
# a mode needs this station capability
MODE_CAPABILITY = {"checkin": "checkin", "checkout": "checkin", "award": "award",
                   "redeem_shop": "redeem_shop", "redeem_offer": "redeem_offer", "report_in": "report_in"}
SPENDING_MODES = ("redeem_shop", "redeem_offer")
UNDO_WINDOW = timedelta(minutes=2)
# an online scan's clock may differ a little from ours; beyond this an offline scan's time is not believed
MAX_FUTURE = timedelta(minutes=5)
MAX_AGE = timedelta(days=7)


@dataclass(frozen=True)
class Refused(Exception):
    """A scan the rules refuse; the scan is still stored with this reason."""

    reason: str
    params: dict = field(default_factory=dict)


def check_mode(mode: str, station_modes: list[str]) -> None:
    if mode not in MODES:
        raise Refused("unknown_mode")
    if MODE_CAPABILITY[mode] not in station_modes:
        raise Refused("mode_not_allowed")


def needs_pin(points: int, threshold: int | None, is_phone_code: bool) -> bool:
    """A printed card can be used by whoever holds it, so spending above the station's threshold asks the PIN.
    A live phone code already proves the holder's phone is present."""
    return threshold is not None and not is_phone_code and points >= threshold


def time_plausible(scanned_at: datetime, now: datetime) -> bool:
    return now - MAX_AGE <= scanned_at <= now + MAX_FUTURE


def undo_allowed(received_at: datetime, accepted: bool, undone: bool, now: datetime) -> str | None:
    """None when undo is allowed, else the reason it is not. The window runs from when the server recorded it."""
    if not accepted:
        return "nothing_to_undo"
    if undone:
        return "already_undone"
    if now - received_at > UNDO_WINDOW:
        return "undo_expired"
    return None
