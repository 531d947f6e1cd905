"""The database side of the offline conflict policy (the rules and their reasons are in backend/scans/offline.py):
the card as it was when an offline scan was made, and what an account has spent offline at a station that day."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from backend.clock import local_date, zone
from backend.scans import offline
from backend.scans.rules import SPENDING_MODES
from backend.scans.tables import Scan


async def resolve_card(request, *, quietly: bool = False):
    """The card behind an offline scan (`request` as judged: scanned_at in server time). A card revoked after the
    scan resolves as usual; one revoked before it only when the station accepted the scan (rule 3), and then the
    scan core flags it. `quietly`: None instead of a refusal (a scan refused on the device is only recorded)."""
    from backend.servicecards import service as cards
    from backend.servicecards.rules import CardRejected

    try:
        card = await cards.resolve(request.card, request.scanned_at, allow_revoked=True)
    except CardRejected:
        if quietly:
            return None
        raise
    if not quietly and offline.card_verdict(card.revoked_at, card.active, request.scanned_at,
                                            offline.accepted_on_device(request)) == "refuse":
        raise CardRejected("revoked")
    return card


async def spent_offline(station_id: int, account_id: int, at: datetime) -> int:
    """Points the account spent in scans accepted offline at this station on the local day of `at` (rule 4)."""
    day = local_date(at)
    start = datetime.combine(day, time.min, tzinfo=zone())
    rows = await Scan.select(Scan.points).where(
        (Scan.station == station_id) & (Scan.account == account_id) & (Scan.offline == True)  # noqa: E712
        & (Scan.accepted == True) & Scan.undone_at.is_null() & Scan.mode.is_in(list(SPENDING_MODES))  # noqa: E712
        & (Scan.judged_at >= start) & (Scan.judged_at < start + timedelta(days=1)))
    return sum(-r["points"] for r in rows if r["points"] < 0)
