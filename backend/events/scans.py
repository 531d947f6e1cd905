"""The check-in and check-out scans at an event (活动签到 / 签退), their undo, and the station's list of events.

`details` carry `event_id`; the event must belong to the station's community. Both are judged at the time of
the scan (request.scanned_at), so a scan made offline counts when it happened, not when it arrived.
"""
from __future__ import annotations

from datetime import datetime

from backend.events import service
from backend.scans.service import Outcome, ScanContext


async def checkin(ctx: ScanContext) -> Outcome:
    """Open a stay. No points yet: they are written at check-out."""
    stay = await service.check_in(ctx.request.details.get("event_id"), ctx.station["community"], ctx.card.account_id,
                                  ctx.card.holder_person_id, ctx.request.scanned_at, ctx.request.scan_id)
    return Outcome(points=0, balance=stay.balance, summary={"event": stay.title}, undo={"attendance_id": stay.attendance_id})


async def checkout(ctx: ScanContext) -> Outcome:
    """Close the stay and write the hours' points (or the event's catalogue award) to the ledger."""
    stay = await service.check_out(ctx.request.details.get("event_id"), ctx.station["community"], ctx.card.account_id,
                                   ctx.request.scanned_at, ctx.ledger_key, ctx.request.scan_id)
    return Outcome(points=stay.points, balance=stay.balance, txn_id=stay.txn_id,
                   summary={"event": stay.title, "hours": stay.hours}, undo={"attendance_id": stay.attendance_id})


async def undo_checkin(undo: dict) -> None:
    await service.undo_check_in(undo["attendance_id"])


async def undo_checkout(undo: dict) -> None:
    await service.undo_check_out(undo["attendance_id"])


async def station_events(station: dict, now: datetime) -> dict:
    """Today's and ongoing events of the station's community, for a station that checks people in."""
    if "checkin" not in station["modes"]:
        return {"events": []}
    return {"events": await service.station_events(station["community"], now)}
