"""Pure station decisions."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

STATION_KINDS = ("centre", "shop", "event", "merchant")
STATION_MODES = ("checkin", "award", "redeem_shop", "redeem_offer", "issue_cards", "report_in")
PAIRING_LIFETIME = timedelta(minutes=10)


def digest(secret: str) -> str:
    """Credentials and pairing codes are stored as hashes: a copy of the database pairs no device."""
    return hashlib.sha256(secret.encode()).hexdigest()


def pairing_usable(expires_at: datetime, used_at: datetime | None, now: datetime) -> str | None:
    """None when the code can pair a device, else why not."""
    if used_at is not None:
        return "pairing_used"
    if now > expires_at:
        return "pairing_expired"
    return None


def clean_modes(modes: list[str]) -> list[str]:
    return [m for m in STATION_MODES if m in modes]


# a device's "last seen" is written at most this often, so scanning does not add a write per request
LAST_SEEN_EVERY = timedelta(minutes=1)
RECEIVING_KINDS = ("shop", "merchant")
MAX_SETTING = 1_000_000


def station_problem(name: str, kind: str, modes: list[str], award_items: list[int], community_items: set[int],
                    receiving_kind: str | None, pin_threshold: int | None, offline_limit: int) -> tuple[str, str] | None:
    """None when a station may be set up like this, else (reason code, form field)."""
    if not name.strip():
        return "name_required", "name"
    if kind not in STATION_KINDS:
        return "bad_station_kind", "kind"
    if not clean_modes(modes):
        return "modes_required", "modes"
    if any(item not in community_items for item in award_items):
        return "item_not_in_community", "award_items"
    if "award" in modes and not award_items:
        return "award_items_required", "award_items"
    if receiving_kind is not None and receiving_kind not in RECEIVING_KINDS:
        return "bad_receiving_account", "receiving_account"
    if pin_threshold is not None and not 0 <= pin_threshold <= MAX_SETTING:
        return "bad_setting", "pin_threshold"
    if not 0 <= offline_limit <= MAX_SETTING:
        return "bad_setting", "offline_limit"
    return None


def seen_is_stale(last_seen: datetime | None, now: datetime) -> bool:
    return last_seen is None or now - last_seen >= LAST_SEEN_EVERY


def pairing_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/pair/{code}"
