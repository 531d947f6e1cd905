"""Judging and storing scans. Replays are safe: a scan_id seen before gets its first answer back, and every
scan, refused ones too, is stored with a stable reason code (the pretix check-in semantics)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Awaitable, Callable
from uuid import UUID

from backend.db import atomic, defer_insert, fetchrow, grouped, inserts_deferred, insert_row, job_savepoint
from backend.errors import DomainError
from backend.scans import offline, rules
from backend.scans.rules import Refused
from backend.scans.tables import Scan
from backend.stations import service as stations
from backend.stations.tables import Station


@dataclass(frozen=True)
class ScanRequest:
    scan_id: UUID
    mode: str
    card: str  # what the scanner delivered: card URL, token, or a typed card number
    scanned_at: datetime
    details: dict = field(default_factory=dict)
    pin: str | None = None
    offline: bool = False
    # offline scans: what the station showed then ({"accepted": bool, "reason": str}) and its clock offset (ms)
    device_verdict: dict | None = None
    clock_offset_ms: int | None = None


@dataclass(frozen=True)
class DeviceRef:
    device_id: int
    station_id: int
    name: str


@dataclass(frozen=True)
class ScanContext:
    request: ScanRequest
    station: dict
    device: DeviceRef
    card: object  # backend.servicecards.service.ResolvedCard
    now: datetime
    writes_begun: list = field(default_factory=list, compare=False)  # see begin_writes

    @property
    def ledger_key(self) -> str:
        return f"scan:{self.request.scan_id}"

    def begin_writes(self) -> None:
        """A mode with Mode.marks_writes says so just before its first write; it refuses only before that."""
        self.writes_begun.append(True)


@dataclass(frozen=True)
class Outcome:
    points: int  # the change to the holder's balance
    balance: int | None
    txn_id: int | None = None
    summary: dict = field(default_factory=dict)  # what happened, for the result screen (item, hours, goods …)
    undo: dict = field(default_factory=dict)  # what the mode needs to take it back
    flags: tuple[str, ...] = ()  # why staff should look at this scan (offline conflict policy), e.g. "overdraft"


@dataclass(frozen=True)
class Mode:
    # inside the scan's transaction: write the ledger (and stock, attendance …), or raise Refused
    apply: Callable[[ScanContext], Awaitable[Outcome]]
    # for spending modes, before the transaction: how many points the holder would spend (to decide on the PIN)
    price: Callable[[ScanContext], Awaitable[int]] | None = None
    # apply calls ctx.begin_writes() just before its first write and refuses only before it: in a group's first
    # pass it then runs without a savepoint (a round trip less); anything raised after it runs the group again
    marks_writes: bool = False


class WritesToTakeBack(Exception):
    """A mode failed after writing, in a group's first pass where it had no savepoint (see Mode.marks_writes)."""


def modes() -> dict[str, Mode]:
    from backend.catalog import scans as catalog
    from backend.events import scans as events
    from backend.inservice import scans as inservice
    from backend.redemption import scans as redemption

    return {"award": Mode(catalog.award, marks_writes=True), "checkin": Mode(apply=events.checkin), "checkout": Mode(apply=events.checkout),
            "redeem_shop": Mode(apply=redemption.redeem_goods, price=redemption.goods_price),
            "redeem_offer": Mode(apply=redemption.redeem_offer, price=redemption.offer_price),
            "report_in": Mode(apply=inservice.report_in)}


async def scan(device: DeviceRef, request: ScanRequest, now: datetime) -> dict:
    """Judge one scan at the time it was made and store it; return the answer (the first one, on a replay).
    One transaction, one connection: the mode's writes sit in a savepoint, so a refusal drops them but keeps
    the scan record (and a wrong PIN's count). Concurrent scans share the commit (backend.db.grouped), each in
    its own savepoint; the answer is given only once it is committed."""
    try:
        return await grouped(lambda: _judge(device, request, now), ahead=(_cards_ahead, (request.card, request.scanned_at)))
    except DomainError:
        raise
    except Exception:
        # a concurrent replay of the same scan won the unique scan_id: give its answer
        first = await _answer_of(request.scan_id)
        if first is not None:
            return first | {"duplicate": True}
        raise


async def _judge(device: DeviceRef, request: ScanRequest, now: datetime) -> dict:
    async with atomic() as transaction:
        # an online scan in a group's first pass stores its row with the group's others at the commit, and a
        # replay is caught there (the group then runs again, each scan reading first): a round trip less a scan.
        # Offline scans read and write as they go: replay.py counts the day's earlier ones.
        deferred = not request.offline and inserts_deferred()
        if not deferred:
            first = await _answer_of(request.scan_id)
            if first is not None:
                return first | {"duplicate": True}
        card, outcome, reason, params = None, None, "ok", {}
        judged = offline.as_judged(request, now)  # an offline scan: at its moment in server time
        try:
            if offline.refused_on_device(request):  # the person was told no: only recorded
                card = await _resolve(judged, quietly=True)
                raise Refused(*offline.device_refusal(request))
            station = await stations.station_row(device.station_id)
            rules.check_mode(request.mode, station["modes"] if station["active"] else [])
            mode = modes().get(request.mode)
            if mode is None:
                raise Refused("mode_not_available")
            card = await _resolve(judged)
            context = ScanContext(judged, station, device, card, now)
            if mode.price is not None:
                await _check_pin(context, await mode.price(context))
                savepoint = await transaction.savepoint()  # after the PIN's count, which stays
            elif mode.marks_writes and inserts_deferred():  # a group's first pass: see Mode.marks_writes
                savepoint = None
            else:  # nothing written yet: the group's savepoint for this scan serves (a round trip less)
                savepoint = job_savepoint() or await transaction.savepoint()
            try:
                outcome = await mode.apply(context)
            except BaseException as exc:
                if savepoint is not None:
                    await savepoint.rollback_to()
                elif context.writes_begun:  # nothing to take the writes back to: the group runs again, with one
                    raise WritesToTakeBack(request.mode) from exc
                raise
        except Refused as exc:
            reason, params = exc.reason, exc.params
        except DomainError as exc:
            reason, params = exc.code, exc.params
        answer = _answer(request, card, outcome is not None, reason, outcome, params)
        await _store(device, request, card, answer, outcome, now, deferred)
        return answer


async def _cards_ahead(scanned: list[tuple[str, datetime]]) -> dict:
    from backend.servicecards import service as cards

    return await cards.rows_ahead(scanned)


async def _resolve(request: ScanRequest, quietly: bool = False):
    from backend.servicecards import service as cards

    # an offline scan is judged at the time it happened: a phone code valid then is valid
    if request.offline:  # and a card revoked since is judged by the offline policy
        from backend.scans import replay

        return await replay.resolve_card(request, quietly=quietly)
    return await cards.resolve(request.card, request.scanned_at)


async def _check_pin(context: ScanContext, points: int) -> None:
    """Before the mode's savepoint, so a wrong PIN is counted even though the scan is refused."""
    from backend.servicecards import service as cards

    if rules.needs_pin(points, context.station["pin_threshold"], context.card.is_phone_code):
        if not context.request.pin:
            raise Refused("pin_required", {"points": points})
        await cards.check_pin(context.card.card_pk, context.request.pin, context.now)


async def _answer_of(scan_id: UUID) -> dict | None:
    row = await fetchrow("SELECT answer FROM scan WHERE scan_id = ?", scan_id)
    return json.loads(row["answer"]) if row else None


def _answer(request: ScanRequest, card, accepted: bool, reason: str, outcome: Outcome | None, params: dict | None = None) -> dict:
    """The device's whole view of the result; stored as is so a replay gets exactly this back."""
    return {
        "scan_id": str(request.scan_id), "mode": request.mode, "accepted": accepted, "reason": reason,
        "params": {k: v for k, v in (params or {}).items() if isinstance(v, (int, str, float, bool))},
        "points": outcome.points if outcome else 0, "balance": outcome.balance if outcome else None,
        "holder": card.masked_name if card else None, "card_number": card.card_number if card else None,
        "summary": outcome.summary if outcome else {}, "offline": request.offline,
        "scanned_at": request.scanned_at.isoformat(), "duplicate": False,
    }


async def _store(device: DeviceRef, request: ScanRequest, card, answer: dict, outcome: Outcome | None, now: datetime,
                 deferred: bool = False) -> None:
    flags = list(outcome.flags) if outcome else []
    flags += offline.stored_flags(request, answer["accepted"], now, card)
    # every column, by name: insert_row skips piccolo's query building (this runs on every scan)
    row = dict(
        scan_id=request.scan_id, device=device.device_id, station=device.station_id, mode=request.mode,
        card_pk=card.card_pk if card else None, account=card.account_id if card else None,
        scanned_at=request.scanned_at, received_at=now, offline=request.offline, accepted=answer["accepted"],
        reason=answer["reason"], points=answer["points"], details=request.details | {"undo": outcome.undo if outcome else {}},
        answer=answer, txn=outcome.txn_id if outcome else None, undone_at=None, flagged=bool(flags), flags=list(flags),
        judged_at=offline.as_judged(request, now).scanned_at,
    )
    if not (deferred and defer_insert(Scan, row)):
        await insert_row(Scan, row, returning=None)


async def undo(device: DeviceRef, scan_id: UUID, now: datetime) -> dict:
    """Take back an accepted scan shortly after, from the same station: a reversal, logged."""
    from backend.audit import service as audit
    from backend.ledger import service as ledger

    row = await Scan.select().where((Scan.scan_id == scan_id) & (Scan.station == device.station_id)).output(load_json=True).first()
    if row is None:
        raise Refused("scan_not_found")
    problem = rules.undo_allowed(row["received_at"], row["accepted"], row["undone_at"] is not None, now)
    if problem:
        raise Refused(problem)
    undo_steps = undo_handlers()
    async with atomic():
        taken = await Scan.update({Scan.undone_at: now}).where((Scan.id == row["id"]) & Scan.undone_at.is_null()).returning(Scan.id)
        if not taken:
            raise Refused("already_undone")
        if row["txn"] is not None:
            await ledger.reverse(row["txn"], memo="撤销扫码", actor_id=None, idempotency_key=f"undo:{scan_id}", now=now)
        step = undo_steps.get(row["mode"])
        if step is not None:
            await step(row["details"].get("undo", {}))
        await audit.log(None, "scan.undo", "scan", str(scan_id), None,
                        after={"device": device.device_id, "station": device.station_id, "points": row["points"]})
    return row["answer"] | {"undone": True}


def undo_handlers() -> dict[str, Callable[[dict], Awaitable[None]]]:
    """What a mode puts back besides the points (stock, attendance …), from the `undo` data its apply returned."""
    from backend.events import scans as events
    from backend.inservice import scans as inservice
    from backend.redemption import scans as redemption

    return {"checkin": events.undo_checkin, "checkout": events.undo_checkout,
            "redeem_shop": redemption.undo_goods, "redeem_offer": redemption.undo_offer,
            "report_in": inservice.undo_report_in}


async def station_config(station_id: int, now: datetime) -> dict:
    """The station, its modes and the choices each mode offers today (items in force, events, goods, offers)."""
    from backend.catalog import service as catalog
    from backend.clock import local_date

    station = await Station.select().where(Station.id == station_id).output(load_json=True).first()
    items = await catalog.items_in_force(station["award_items"], local_date(now))
    config = {
        "station": {"id": station["id"], "name": station["name"], "kind": station["kind"], "modes": station["modes"],
                    "pin_threshold": station["pin_threshold"], "offline_limit": station["offline_limit"]},
        "award_items": [{"id": i.id, "label": i.label, "points": i.points, "colours": i.colours} for i in items],
    }
    for extend in config_extensions():
        config |= await extend(station, now)
    return config


def config_extensions() -> list[Callable[[dict, datetime], Awaitable[dict]]]:
    """Each mode's domain adds its own choices (events for check-in, goods, offers) to the station config."""
    from backend.events import scans as events
    from backend.inservice import scans as inservice
    from backend.redemption import scans as redemption

    return [events.station_events, redemption.goods_config, redemption.offers_config,
            inservice.station_projects]
