"""Flagged scans, for staff: the scans the offline conflict policy (backend/scans/offline.py) marked for a person
to look at, and settling each one — accept it as is (a note says why) or reverse it (a ledger reversal pointing
at the scan's transaction, never an edit; goods go back on the shelf, an offer's turn back to the person).

What an account owes after an offline overdraft is simply its negative balance: the next points it earns pay it
back. Writing a debt off is a ledger adjustment on the existing ledger page, not something this list does.
Every resolution is audited in the same transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Awaitable, Callable

from backend.audit import service as audit
from backend.db import atomic
from backend.errors import Conflict, DomainError, InvalidInput, NotFound
from backend.ledger import service as ledger
from backend.people.rules import Principal, require_scope
from backend.scans import offline
from backend.scans.tables import Scan, ScanResolution
from backend.stations.tables import Station

CAPABILITY = "scans.review"
ACTIONS = ("accept", "reverse")
STATUSES = ("open", "resolved", "all")
MAX_NOTE = 500
PAGE = 200


@dataclass(frozen=True)
class Filters:
    status: str = "open"
    station: int | None = None
    flag: str | None = None


def check_resolution(action: str, note: str | None) -> str:
    """The note, trimmed: every resolution says why."""
    if action not in ACTIONS:
        raise InvalidInput("bad_action", field="action")
    text = (note or "").strip()
    if not text:
        raise InvalidInput("note_required", field="note")
    if len(text) > MAX_NOTE:
        raise InvalidInput("note_too_long", field="note", max=MAX_NOTE)
    return text


def _in_scope(principal: Principal):
    where = None
    for path in principal.scope_paths(CAPABILITY):
        clause = Scan.station.community.path.like(f"{path}%")
        where = clause if where is None else where | clause
    return where


async def stations(principal: Principal) -> list[dict]:
    """The stations whose flagged scans this person may see, for the filter."""
    where = None
    for path in principal.scope_paths(CAPABILITY):
        clause = Station.community.path.like(f"{path}%")
        where = clause if where is None else where | clause
    if where is None:
        return []
    return await Station.select(Station.id, Station.name).where(where).order_by(Station.name).order_by(Station.id)


async def open_count(principal: Principal) -> int:
    """Flagged scans nobody has resolved yet, in this person's part of the tree."""
    scope = _in_scope(principal)
    if scope is None:
        return 0
    return await Scan.count().where(scope & (Scan.flagged == True)  # noqa: E712
                                    & Scan.id.not_in(ScanResolution.select(ScanResolution.scan)))


async def flagged(principal: Principal, filters: Filters) -> list[dict]:
    """The flagged scans, newest first: who (masked), which card, the points, the holder's balance now and what
    the account owes, and how each was resolved."""
    scope = _in_scope(principal)
    if scope is None:
        return []
    where = scope & (Scan.flagged == True)  # noqa: E712
    resolved = ScanResolution.select(ScanResolution.scan)
    if filters.status == "open":
        where &= Scan.id.not_in(resolved)
    elif filters.status == "resolved":
        where &= Scan.id.is_in(resolved)
    if filters.station is not None:
        where &= Scan.station == filters.station
    query = Scan.select(
        Scan.id, Scan.scan_id, Scan.mode, Scan.scanned_at, Scan.received_at, Scan.offline, Scan.accepted, Scan.reason,
        Scan.points, Scan.answer, Scan.flags, Scan.txn, Scan.undone_at, Scan.account,
        Scan.station.name.as_alias("station_name"), Scan.account.balance.as_alias("balance"),
    ).where(where).output(load_json=True).order_by(Scan.received_at, ascending=False).order_by(Scan.id, ascending=False)
    if not filters.flag:
        query = query.limit(PAGE)
    rows = await query
    if filters.flag:  # flags are a JSON list, read here alike on both engines; flagged scans are few
        rows = [r for r in rows if filters.flag in (r["flags"] or [])][:PAGE]
    resolutions = {}
    if rows:
        for r in await ScanResolution.select(
                ScanResolution.all_columns(), ScanResolution.resolved_by.display_name.as_alias("by")).where(
                ScanResolution.scan.is_in([r["id"] for r in rows])):
            resolutions[r["scan"]] = r
    for r in rows:
        r["holder"] = (r["answer"] or {}).get("holder")
        r["card_number"] = (r["answer"] or {}).get("card_number")
        r["owes"] = offline.owes(r["balance"]) if r["balance"] is not None else None
        r["resolution"] = resolutions.get(r["id"])
        r["reversible"] = r["accepted"] and r["undone_at"] is None
    return rows


def _reverse_steps() -> dict[str, Callable[[dict], Awaitable[None]]]:
    """What a reversal puts back besides the points. A check-out keeps its closed stay (reopening it would let the
    automatic check-out credit the hours again); only its points are reversed."""
    from backend.events import scans as events
    from backend.redemption import scans as redemption

    return {"checkin": events.undo_checkin, "redeem_shop": redemption.undo_goods, "redeem_offer": redemption.undo_offer}


async def resolve(principal: Principal, scan_pk: int, action: str, note: str | None, now: datetime) -> dict:
    """Settle one flagged scan, once. `accept`: it stands as recorded. `reverse`: the scan is taken back."""
    text = check_resolution(action, note)
    row = await Scan.select(
        Scan.all_columns(), Scan.station.community.as_alias("community"),
        Scan.station.community.path.as_alias("path"),
    ).where((Scan.id == scan_pk) & (Scan.flagged == True)).output(load_json=True).first()  # noqa: E712
    if row is None:
        raise NotFound("flagged_scan_not_found")
    require_scope(principal, CAPABILITY, row["path"])
    try:
        async with atomic():
            if await ScanResolution.exists().where(ScanResolution.scan == scan_pk):
                raise Conflict("already_resolved")
            txn = None
            if action == "reverse":
                txn = await _reverse(principal, row, text, now)
            await ScanResolution.insert(ScanResolution(scan=scan_pk, action=action, note=text,
                                                       resolved_by=principal.user_id, resolved_at=now, txn=txn))
            await audit.log(principal.user_id, f"scan.resolve_{action}", "scan", str(row["scan_id"]), row["community"],
                            before={"flags": row["flags"], "points": row["points"], "accepted": row["accepted"]},
                            after={"action": action, "note": text, "reversal": txn})
    except DomainError:
        raise
    except Exception:
        # a concurrent resolution of the same scan won the unique index
        if await ScanResolution.exists().where(ScanResolution.scan == scan_pk):
            raise Conflict("already_resolved") from None
        raise
    return {"scan": scan_pk, "action": action, "reversal": txn}


async def _reverse(principal: Principal, row: dict, note: str, now: datetime) -> int | None:
    if not row["accepted"]:
        raise Conflict("nothing_to_reverse")
    taken = await Scan.update({Scan.undone_at: now}).where((Scan.id == row["id"]) & Scan.undone_at.is_null()).returning(Scan.id)
    if not taken:
        raise Conflict("already_undone")
    txn = None
    if row["txn"] is not None:
        txn = (await ledger.reverse(row["txn"], memo=f"复核撤销扫码：{note}"[:500], actor_id=principal.user_id,
                                    idempotency_key=f"flagged:{row['scan_id']}", now=now)).transaction_id
    step = _reverse_steps().get(row["mode"])
    undo = (row["details"] or {}).get("undo") or {}
    if step is not None and undo:
        await step(undo)
    return txn
