"""The check-in and check-out scans at an event (活动签到 / 签退), their undo, and the station's list of events.

`details` carry `event_id`; the event must belong to the station's community. Both are judged at the time of
the scan (request.scanned_at), so a scan made offline counts when it happened, not when it arrived.
A check-in made offline after the event's end is refused `event_ended` (backend/scans/offline.py rule 6): no
minute after the end earns anything.
"""
from __future__ import annotations

from datetime import datetime

from backend.errors import Conflict
from backend.events import service
from backend.events.tables import Event
from backend.scans.rules import Refused
from backend.scans.service import Outcome, ScanContext


async def checkin(ctx: ScanContext) -> Outcome:
    """Open a stay. No points yet: they are written at check-out."""
    try:
        stay = await service.check_in(ctx.request.details.get("event_id"), ctx.station["community"], ctx.card.account_id,
                                      ctx.card.holder_person_id, ctx.request.scanned_at, ctx.request.scan_id)
    except Conflict as exc:
        if exc.code == "outside_event_hours" and ctx.request.offline:
            ends = await Event.select(Event.ends_at).where(Event.id == ctx.request.details.get("event_id")).first()
            if ends is not None and ctx.request.scanned_at >= ends["ends_at"]:
                raise Refused("event_ended", {"closes": exc.params.get("closes", "")}) from None
        raise
    return Outcome(points=0, balance=stay.balance, summary={"event": stay.title}, undo={"attendance_id": stay.attendance_id})


async def checkout(ctx: ScanContext) -> Outcome:
    """Close the stay and write the hours' points (or the event's catalogue award) to the ledger."""
    stay = await service.check_out(ctx.request.details.get("event_id"), ctx.station["community"], ctx.card.account_id,
                                   ctx.request.scanned_at, ctx.ledger_key, ctx.request.scan_id)
    return Outcome(points=stay.points, balance=stay.balance, txn_id=stay.txn_id,
                   summary={"event": stay.title, "hours": stay.hours}
                   | ({"notes": [stay.capped, {"reason": "hours_recorded_no_points"}]} if stay.capped else {}),
                   undo={"attendance_id": stay.attendance_id})


async def undo_checkin(undo: dict) -> None:
    await service.undo_check_in(undo["attendance_id"])


async def undo_checkout(undo: dict) -> None:
    await service.undo_check_out(undo["attendance_id"])


async def station_events(station: dict, now: datetime) -> dict:
    """Today's and ongoing events of the station's community, for a station that checks people in."""
    if "checkin" not in station["modes"]:
        return {"events": []}
    return {"events": await service.station_events(station["community"], now)}
