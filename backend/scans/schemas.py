"""The scan API's wire format (msgspec): what devices send, and the answer they get."""
from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec


class DeviceVerdict(msgspec.Struct, forbid_unknown_fields=True):
    """What an offline station showed the person at the time (judged on the device from its cached data)."""

    accepted: bool
    reason: str = "ok"  # the device's reason code when it refused
    params: dict[str, int | str] = {}  # the numbers its message needed (balance, price …)


class ScanIn(msgspec.Struct, forbid_unknown_fields=True):
    scan_id: UUID  # made on the device; a repeat gets the first answer
    scanned_at: datetime  # when the card was scanned (device clock, with time zone)
    mode: str  # checkin | checkout | award | redeem_shop | redeem_offer
    card: str = msgspec.field()  # the card URL, token or card number as scanned or typed
    details: dict[str, int | str] = {}  # item_id, event_id, goods_id, quantity, offer_id
    pin: str | None = None
    offline: bool = False  # judged on the device while offline, sent later
    device_verdict: DeviceVerdict | None = None  # offline scans: what the station showed
    clock_offset_ms: int | None = None  # device clock minus server clock, last measured online


class ScanBatchIn(msgspec.Struct, forbid_unknown_fields=True):
    scans: list[ScanIn]


class ScanOut(msgspec.Struct):
    scan_id: str
    accepted: bool
    reason: str  # "ok" or a stable refusal code
    message: str  # the reason in the device's language
    mode: str
    points: int
    balance: int | None
    holder: str | None  # masked name
    card_number: str | None
    summary: dict
    offline: bool
    duplicate: bool
    scanned_at: str
    status: int  # the HTTP status this scan alone would get: 200 recorded, 422 refused for good
