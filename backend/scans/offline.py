"""The offline conflict policy: how the server judges a scan a station made while the network was down.

A station that is offline answers at once from what it cached (card keys, revoked cards, rosters, goods, the
card's last known balance) and sends each scan later with `offline=true`, what it showed the person
(`device_verdict`) and its clock offset measured while it was last online. The server judges the scan again.
What happened at the counter has happened: goods were handed out, a volunteer was told "checked in". So the
server does not silently undo the station; where its own judgement differs it records the scan and flags it for
staff (the flagged-scans list, backend/scans/flagged.py), who accept it as is or reverse it.

The policy, in plain words:

1. **Refused on the device → refused here, never applied.** The person was told no, so nothing happened.
   The scan is stored refused with the station's reason and `on_device: true`; it is not flagged.
2. **The time.** A scan is judged at the moment it was made, in server time: the device's `scanned_at` minus
   its measured clock offset (never later than its arrival). A clock off by more than CLOCK_SKEW_TOLERANCE
   flags the scan `clock_skew` (the device's clock needs fixing, the scan itself stands). If even the corrected
   time is not believable — after its arrival beyond MAX_FUTURE, or older than MAX_AGE — the only time we are
   sure of is that the scan happened before it arrived, so it is judged at its arrival and flagged
   `implausible_time`.
3. **A card revoked while the station was offline.** Revoked after the scan: the scan is normal (the card
   was good then). Revoked before the scan but the station accepted it (its revocation list was stale):
   accepted — it happened at the counter — and flagged `revoked_card`, so staff can see who used a lost card.
4. **Spending beyond the balance** (two offline stations, or two tills, spending the same points). The station
   had only a last known balance, so the station's `offline_limit` is what it may let one account spend
   offline in a day. If the balance covers the redemption, it is normal. If not, it is accepted as long as the
   account's offline spending at this station that day, this one included, stays within the offline limit:
   the debit takes the balance below zero (the account shows what it owes) and the scan is flagged
   `overdraft`. Beyond the limit it is refused `offline_limit_exceeded`: the station should not have accepted it.
5. **Stock and offer limits.** Goods already handed out were on the shelf, so the stock count was wrong: the
   stock goes to zero (never below) and the scan is accepted and flagged `stock_short`. An offer whose total or
   per-person limit ran out is likewise accepted and flagged `offer_limit`.
6. **A check-in after the event's end** is refused `event_ended`: no minute after the end earns anything, so
   the stay would be empty. A check-out made offline counts the hours up to its own (corrected) time.
7. **The server says no where the station said yes** (any other refusal of a scan the device accepted — a
   wrong PIN, the offline limit, an event that ended): the refusal stands, and the scan is flagged `overruled`
   so staff know the person was told yes and can follow it up.
8. **A replay** of the same scan_id gets its first answer; nothing is judged twice.

An offline scan without a device verdict (an old client) is judged strictly, like an online one, at its
corrected time: without knowing that the station said yes, nothing was handed out on the server's word.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from backend.scans.rules import MAX_AGE, MAX_FUTURE

# beyond this the device's clock is wrong enough that staff should fix it
CLOCK_SKEW_TOLERANCE = timedelta(minutes=5)
OFFLINE_FLAGS = ("clock_skew", "implausible_time", "revoked_card", "overdraft", "stock_short", "offer_limit",
                 "overruled")
_REASON = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def refused_on_device(request) -> bool:
    """The station showed a refusal: the scan is only recorded."""
    return bool(request.offline and request.device_verdict is not None and not request.device_verdict.get("accepted"))


def accepted_on_device(request) -> bool:
    """The station showed "accepted": whatever it handed out has been handed out."""
    return bool(request.offline and request.device_verdict is not None and request.device_verdict.get("accepted"))


def device_refusal(request) -> tuple[str, dict]:
    """The stored reason of a scan refused on the device: its own code if it looks like one."""
    reason = str((request.device_verdict or {}).get("reason") or "")
    params = {k: v for k, v in ((request.device_verdict or {}).get("params") or {}).items()
              if _REASON.match(str(k)) and isinstance(v, (int, str)) and len(str(v)) <= 64}
    return (reason if _REASON.match(reason) and reason != "ok" else "refused_on_device"), params | {"on_device": True}


@dataclass(frozen=True)
class Timing:
    judged_at: datetime  # the moment the scan is judged at, in server time
    flags: tuple[str, ...]


def timing(scanned_at: datetime, clock_offset_ms: int | None, offline: bool, received_at: datetime) -> Timing:
    """When an offline scan is judged (rule 2). Online scans are judged at their scanned_at as sent."""
    if not offline:
        return Timing(scanned_at, ())
    offset = timedelta(milliseconds=clock_offset_ms or 0)
    flags = ("clock_skew",) if abs(offset) > CLOCK_SKEW_TOLERANCE else ()
    corrected = scanned_at - offset
    if not received_at - MAX_AGE <= corrected <= received_at + MAX_FUTURE:
        return Timing(received_at, flags + ("implausible_time",))
    # a little ahead (clocks drift after the last measurement): it happened before it arrived
    return Timing(min(corrected, received_at), flags)


def as_judged(request, received_at: datetime):
    """The request as the modes judge it: at its server-time moment (the stored scan keeps the device's time)."""
    judged_at = timing(request.scanned_at, request.clock_offset_ms, request.offline, received_at).judged_at
    return request if judged_at == request.scanned_at else replace(request, scanned_at=judged_at)


def stored_flags(request, accepted: bool, received_at: datetime, card=None) -> tuple[str, ...]:
    """The flags the scan core adds to a stored offline scan: its timing (rule 2), a card used after it was
    revoked (rule 3) and `overruled` (rule 7). `card`: the resolved card (its `active` and `revoked_at`) or None."""
    if not request.offline:
        return ()
    timed = timing(request.scanned_at, request.clock_offset_ms, request.offline, received_at)
    flags = timed.flags
    if accepted and card is not None and card_verdict(card.revoked_at, card.active, timed.judged_at, True) == "flag":
        flags += ("revoked_card",)
    if accepted_on_device(request) and not accepted:
        flags += ("overruled",)
    return flags


CardVerdict = Literal["ok", "flag", "refuse"]


def card_verdict(revoked_at: datetime | None, active: bool, judged_at: datetime, device_accepted: bool) -> CardVerdict:
    """Rule 3. `active`: the card's state now; `revoked_at`: when it stopped (None: unknown, so long ago)."""
    if active:
        return "ok"
    if revoked_at is not None and revoked_at > judged_at:
        return "ok"
    return "flag" if device_accepted else "refuse"


OverdraftVerdict = Literal["allowed", "refused"]


def overdraft_verdict(spent_offline_before: int, points: int, offline_limit: int) -> OverdraftVerdict:
    """Rule 4, when the balance does not cover a redemption the station accepted offline: may it go below zero?
    `spent_offline_before`: the account's offline spending at this station that day, before this scan."""
    return "allowed" if offline_limit > 0 and spent_offline_before + points <= offline_limit else "refused"


def owes(balance: int) -> int:
    """What an account owes: the points below zero."""
    return max(0, -balance)


def stock_taken(stock: int, quantity: int) -> int:
    """Rule 5: goods handed out offline take the stock down to zero at most."""
    return max(0, min(stock, quantity))
