"""The two redeem scans: shop goods (stock, redemption windows) and a merchant's offer (validity dates, limits).

The scan core calls `goods_price` / `offer_price` before its transaction to decide on the PIN, then
`redeem_goods` / `redeem_offer` inside it; a Refused or a ledger refusal rolls back everything they wrote.
Merchant offers are not bound to redemption windows: the windows are the community shop's exchange days
(一季一兑换), while an alliance merchant accepts points whenever its offer is valid.

Offline (backend/scans/offline.py, rules 4 and 5): a redemption a station accepted while offline has been handed
over. When the balance does not cover it, it may take the balance below zero within the station's offline limit
(flagged `overdraft`), beyond it it is refused `offline_limit_exceeded`; goods short on the shelf count take the
stock to zero (flagged `stock_short`); an offer past its limits is accepted and flagged `offer_limit`.

Locks, for concurrent tills: the stock and the offer counter move by conditional UPDATEs (the row lock on
PostgreSQL, the single writer on SQLite), taken before the ledger's account rows; the per-person count of an
offer is read after the offer's row is locked, so two tills cannot both take a person's last turn.
"""
from __future__ import annotations

from datetime import datetime

from backend.clock import local_date
from backend.ledger import service as ledger
from backend.ledger.rules import PostingDraft, TransactionDraft
from backend.redemption import rules, service
from backend.redemption.tables import Goods, Offer, OfferRedemption
from backend.scans import offline, replay
from backend.scans.rules import Refused
from backend.scans.service import Outcome, ScanContext


def _receiving_account(ctx: ScanContext) -> int:
    account = ctx.station["receiving_account"]
    if account is None:
        raise Refused("no_receiving_account")
    return account


async def _record(ctx: ScanContext, points: int, receiving: int, memo: str, label: str) -> tuple[ledger.Recorded, tuple[str, ...]]:
    """Points from the holder to the shop or merchant, and the offline flags; InsufficientBalance refuses with
    `insufficient_balance` (or, for what a station accepted offline, `offline_limit_exceeded`)."""
    accepted_offline = offline.accepted_on_device(ctx.request)
    overdraft_ok = False
    if accepted_offline:
        spent = await replay.spent_offline(ctx.station["id"], ctx.card.account_id, ctx.request.scanned_at)
        overdraft_ok = offline.overdraft_verdict(spent, points, ctx.station["offline_limit"]) == "allowed"
    try:
        recorded = await ledger.record(TransactionDraft(
            kind="redemption", memo=memo, idempotency_key=ctx.ledger_key, community_id=ctx.station["community"],
            occurred_at=ctx.request.scanned_at,
            postings=(PostingDraft(ctx.card.account_id, -points), PostingDraft(receiving, points)),
            source_type="scan", source_ref=str(ctx.request.scan_id), source_label=label[:200], overdraft_ok=overdraft_ok,
        ))
    except ledger.InsufficientBalance as exc:
        if accepted_offline:
            raise Refused("offline_limit_exceeded", {"limit": ctx.station["offline_limit"], **exc.params}) from None
        raise
    balance = recorded.balances.get(ctx.card.account_id)
    return recorded, ("overdraft",) if overdraft_ok and balance is not None and balance < 0 else ()


# --- shop goods -----------------------------------------------------------------------------------------

async def _goods_choice(ctx: ScanContext) -> tuple[dict, int, int]:
    """The goods and quantity asked for, if this station may hand them out today; and where the points go."""
    receiving = _receiving_account(ctx)
    goods_id, quantity = ctx.request.details.get("goods_id"), ctx.request.details.get("quantity", 1)
    problem = rules.check_quantity(quantity)
    if problem:
        raise Refused(problem, {"max": rules.MAX_QUANTITY})
    goods = await Goods.select().where(Goods.id == goods_id).first() if type(goods_id) is int else None
    if goods is None or goods["community"] != ctx.station["community"] or not goods["active"]:
        raise Refused("goods_not_allowed")
    closed = rules.closed_until(service.as_windows(await service.windows_of(ctx.station["community"])),
                                local_date(ctx.request.scanned_at))
    if closed is not None:
        raise Refused("outside_window", closed)
    return goods, quantity, receiving


async def goods_price(ctx: ScanContext) -> int:
    goods, quantity, _ = await _goods_choice(ctx)
    return rules.goods_price(goods["points"], quantity)


async def redeem_goods(ctx: ScanContext) -> Outcome:
    goods, quantity, receiving = await _goods_choice(ctx)
    taken = await Goods.update({Goods.stock: Goods.stock - quantity}, use_auto_update=False).where(
        (Goods.id == goods["id"]) & (Goods.stock >= quantity)).returning(Goods.stock)
    shelf, flags = quantity, ()
    if not taken:
        left = await Goods.select(Goods.stock).where(Goods.id == goods["id"]).first()
        if not offline.accepted_on_device(ctx.request):
            raise Refused("out_of_stock", {"stock": left["stock"]})
        # handed out offline: the shelf had them, the count was wrong; it goes to zero, never below
        shelf, flags = offline.stock_taken(left["stock"], quantity), ("stock_short",)
        if shelf and not await Goods.update({Goods.stock: Goods.stock - shelf}, use_auto_update=False).where(
                (Goods.id == goods["id"]) & (Goods.stock >= shelf)).returning(Goods.id):
            shelf = 0
    points = rules.goods_price(goods["points"], quantity)
    recorded, spent_flags = await _record(ctx, points, receiving, f"{goods['name']} ×{quantity}",
                                          f"{ctx.station['name']} · {goods['name']} ×{quantity}")
    return Outcome(points=-points, balance=recorded.balances.get(ctx.card.account_id), txn_id=recorded.transaction_id,
                   summary={"goods": goods["name"], "quantity": quantity},
                   undo={"goods_id": goods["id"], "quantity": shelf}, flags=flags + spent_flags)


async def undo_goods(undo: dict) -> None:
    """Back on the shelf (the core reverses the points)."""
    await Goods.update({Goods.stock: Goods.stock + undo["quantity"]}, use_auto_update=False).where(
        Goods.id == undo["goods_id"])


# --- merchant offers ------------------------------------------------------------------------------------

async def _offer_choice(ctx: ScanContext) -> tuple[dict, int]:
    """The offer asked for, if it is this station's merchant's and valid on the day of the scan."""
    receiving = _receiving_account(ctx)
    offer_id = ctx.request.details.get("offer_id")
    offer = await Offer.select().where(Offer.id == offer_id).first() if type(offer_id) is int else None
    if offer is None or offer["merchant"] != receiving:
        raise Refused("offer_not_allowed")
    problem = rules.offer_problem(offer["active"], offer["valid_from"], offer["valid_to"], local_date(ctx.request.scanned_at))
    if problem:
        raise Refused(problem)
    return offer, receiving


async def _used_by_holder(ctx: ScanContext, offer_id: int) -> int:
    # per person where there is one (a resident may hold a red and a green account), else per account
    holder = (OfferRedemption.person == ctx.card.holder_person_id if ctx.card.holder_person_id is not None
              else OfferRedemption.account == ctx.card.account_id)
    return await OfferRedemption.count().where(
        (OfferRedemption.offer == offer_id) & (OfferRedemption.undone == False) & holder)  # noqa: E712


async def _check_limits(ctx: ScanContext, offer: dict, redeemed: int) -> None:
    used = await _used_by_holder(ctx, offer["id"]) if offer["per_person_limit"] is not None else 0
    problem = rules.limit_problem(offer["per_person_limit"], used, offer["total_limit"], redeemed)
    if problem:
        raise Refused(*problem)


async def offer_price(ctx: ScanContext) -> int:
    offer, _ = await _offer_choice(ctx)
    # an offer that has run out is refused before anyone types a PIN; redeem_offer checks again under the lock
    # (and there, one given offline past its limits is accepted and flagged)
    if not offline.accepted_on_device(ctx.request):
        await _check_limits(ctx, offer, offer["redeemed_count"])
    return offer["points"]


async def redeem_offer(ctx: ScanContext) -> Outcome:
    offer, receiving = await _offer_choice(ctx)
    counter = Offer.update({Offer.redeemed_count: Offer.redeemed_count + 1}, use_auto_update=False).where(
        Offer.id == offer["id"])
    if offer["total_limit"] is not None:
        counter = counter.where(Offer.redeemed_count < offer["total_limit"])
    counted = await counter.returning(Offer.redeemed_count)
    flags: tuple[str, ...] = ()
    try:
        if not counted:
            raise Refused("offer_limit_reached", {"limit": offer["total_limit"]})
        await _check_limits(ctx, offer, counted[0]["redeemed_count"] - 1)
    except Refused:
        if not offline.accepted_on_device(ctx.request):
            raise
        # given offline past a limit: it was given; staff see it
        flags = ("offer_limit",)
        if not counted:
            await Offer.update({Offer.redeemed_count: Offer.redeemed_count + 1}, use_auto_update=False).where(
                Offer.id == offer["id"])
    recorded, spent_flags = await _record(ctx, offer["points"], receiving, offer["title"],
                                          f"{ctx.station['name']} · {offer['title']}")
    redemption = await OfferRedemption.insert(OfferRedemption(
        offer=offer["id"], account=ctx.card.account_id, person=ctx.card.holder_person_id, scan_id=ctx.request.scan_id,
        txn=recorded.transaction_id, points=offer["points"], redeemed_at=ctx.request.scanned_at))
    return Outcome(points=-offer["points"], balance=recorded.balances.get(ctx.card.account_id),
                   txn_id=recorded.transaction_id, summary={"offer": offer["title"], "gives": offer["gives"]},
                   undo={"offer_id": offer["id"], "redemption_id": redemption[0]["id"]}, flags=flags + spent_flags)


async def undo_offer(undo: dict) -> None:
    """The turn goes back to the person and to the offer's total (the core reverses the points)."""
    await OfferRedemption.update({OfferRedemption.undone: True}).where(OfferRedemption.id == undo["redemption_id"])
    await Offer.update({Offer.redeemed_count: Offer.redeemed_count - 1}, use_auto_update=False).where(
        (Offer.id == undo["offer_id"]) & (Offer.redeemed_count > 0))


# --- the station config ---------------------------------------------------------------------------------

async def goods_config(station: dict, now: datetime) -> dict:
    """A shop station's goods, and whether the shop is open today."""
    if "redeem_shop" not in station["modes"]:
        return {}
    return {"goods": await service.station_goods(station["community"]),
            "shop_open": await service.shop_open(station["community"], local_date(now))}


async def offers_config(station: dict, now: datetime) -> dict:
    """A merchant till's offers valid today."""
    if "redeem_offer" not in station["modes"]:
        return {}
    return {"offers": await service.station_offers(station["receiving_account"], local_date(now))}
