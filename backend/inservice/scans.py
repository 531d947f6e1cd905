"""The "report_in" scan (回家报到): an in-service member's card scanned at a station of their home community checks
them in for this month and takes on the project the station has chosen; the community's check-in item is awarded
within its caps (a cap or colour that rules out the points never refuses the check-in: the answer says why)."""
from __future__ import annotations

from datetime import datetime

from backend.inservice import service
from backend.ledger import service as ledger
from backend.scans.service import Outcome, ScanContext


async def report_in(ctx: ScanContext) -> Outcome:
    done = await service.check_in_at_station(
        ctx.card.holder_person_id, ctx.station["community"], ctx.request.details.get("project_id"), ctx.request.scanned_at,
        str(ctx.request.scan_id), ctx.ledger_key, ctx.card.account_id, ctx.station["name"])
    notes = [] if done.in_window else [{"reason": "report_outside_week"}]
    if done.awarded.note:
        notes.append(done.awarded.note)
    balance = done.awarded.balance if done.awarded.account_id == ctx.card.account_id else None
    if balance is None:  # no points, or they went to the member's other account: show the card's own balance
        balance = await ledger.balance(ctx.card.account_id)
    return Outcome(points=done.awarded.points, balance=balance, txn_id=done.awarded.txn_id,
                   summary={"project": done.project, "month": done.month, "notes": notes},
                   undo={"check_in_id": done.check_in_id})


async def undo_report_in(undo: dict) -> None:
    await service.undo_station_check_in(undo["check_in_id"])


async def station_projects(station: dict, now: datetime) -> dict:
    """The projects a member can take on at this station (the station config's choices for report_in)."""
    if "report_in" not in station["modes"]:
        return {"report_projects": []}
    rows = await service.projects(station["community"])
    return {"report_projects": [{"id": p["id"], "name": p["name"]} for p in rows]}
