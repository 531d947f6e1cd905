"""The points shop's goods and redemption windows, merchants' offers, a merchant's statement, and the catalogue
residents see. Staff writes are one transaction each, with their audit entry inside it. Redeeming itself is a
scan: see backend/redemption/scans.py."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from backend.accounts.tables import Account
from backend.audit import service as audit
from backend.clock import local_date
from backend.community.tables import Node
from backend.db import atomic
from backend.errors import NotFound, PermissionDenied
from backend.ledger.tables import Posting
from backend.people.rules import Principal, mask_name, require_scope
from backend.people.tables import RoleGrant
from backend.redemption import rules
from backend.redemption.rules import ClerkGrant, Window
from backend.redemption.tables import Goods, Offer, OfferRedemption, RedemptionWindow
from backend.stations.tables import Device, Station

_CHUNK = 500  # ids per IN (...), well inside SQLite's limit on bound parameters


# --- communities and merchants a user acts for ----------------------------------------------------------

async def communities_in(principal: Principal, capability: str) -> list[dict]:
    """The communities the principal holds `capability` in, in tree order."""
    paths = principal.scope_paths(capability)
    rows = await Node.select(Node.id, Node.name, Node.path).where(Node.kind == "community").order_by(Node.id)
    return [r for r in rows if any(r["path"].startswith(p) for p in paths)]


async def _community(principal: Principal, capability: str, community_id: int) -> dict:
    node = await Node.select(Node.id, Node.name, Node.path, Node.kind).where(Node.id == community_id).first()
    if node is None or node["kind"] != "community":
        raise NotFound("node_not_found")
    require_scope(principal, capability, node["path"])
    return node


async def _grants(principal: Principal) -> list[ClerkGrant]:
    rows = await RoleGrant.select(RoleGrant.role, RoleGrant.node.path.as_alias("path"), RoleGrant.merchant_account_id).where(
        RoleGrant.user == principal.user_id)
    return [ClerkGrant(r["role"], r["path"], r["merchant_account_id"]) for r in rows]


async def _merchant_rows(where=None) -> list[dict]:
    query = Account.select(Account.id, Account.name, Account.community, Account.community.name.as_alias("community_name"),
                           Account.community.path.as_alias("community_path")).where(
        (Account.kind == "merchant") & (Account.active == True))  # noqa: E712 — piccolo builds SQL from ==
    if where is not None:
        query = query.where(where)
    return await query.order_by(Account.id)


async def merchants_managed(principal: Principal) -> list[dict]:
    """The merchant accounts whose offers and statement the principal may see: all merchants under an admin's
    grant, a clerk's own merchant."""
    grants = await _grants(principal)
    return [m for m in await _merchant_rows() if rules.may_manage_offers(grants, m["id"], m["community_path"])]


async def merchant(principal: Principal, merchant_id: int) -> dict:
    """One merchant account the principal manages; another merchant's is refused."""
    rows = await _merchant_rows(Account.id == merchant_id)
    if not rows:
        raise NotFound("not_a_merchant")
    if not rules.may_manage_offers(await _grants(principal), merchant_id, rows[0]["community_path"]):
        raise PermissionDenied("other_merchant")
    return rows[0]


# --- shop goods -----------------------------------------------------------------------------------------

async def goods_of(community_id: int, active_only: bool = False) -> list[dict]:
    query = Goods.select().where(Goods.community == community_id)
    if active_only:
        query = query.where(Goods.active == True)  # noqa: E712
    return await query.order_by(Goods.points).order_by(Goods.id)


async def goods(goods_id: int) -> dict:
    row = await Goods.select(Goods.all_columns(), Goods.community.path.as_alias("path")).where(Goods.id == goods_id).first()
    if row is None:
        raise NotFound("goods_not_found")
    return row


async def _goods(principal: Principal, goods_id: int) -> dict:
    row = await goods(goods_id)
    require_scope(principal, "shop.manage", row["path"])
    return row


async def add_goods(principal: Principal, community_id: int, name: str, points: int | None, stock: int | None) -> int:
    await _community(principal, "shop.manage", community_id)
    name = rules.check_goods(name, points, stock)
    async with atomic():
        goods_id = (await Goods.insert(Goods(community=community_id, name=name, points=points, stock=stock)))[0]["id"]
        await audit.log(principal.user_id, "goods.add", "goods", goods_id, community_id,
                        after={"name": name, "points": points, "stock": stock})
    return goods_id


async def restock(principal: Principal, goods_id: int, quantity: int | None) -> int:
    """Add delivered goods to the stock; returns the new stock. The addition happens in the UPDATE itself, so
    a restock never loses a redemption made at the same moment."""
    row = await _goods(principal, goods_id)
    rules.check_restock(quantity)
    async with atomic():
        updated = await Goods.update({Goods.stock: Goods.stock + quantity}, use_auto_update=False).where(
            Goods.id == goods_id).returning(Goods.stock)
        stock = updated[0]["stock"]
        await audit.log(principal.user_id, "goods.restock", "goods", goods_id, row["community"],
                        before={"name": row["name"], "stock": stock - quantity}, after={"added": quantity, "stock": stock})
    return stock


async def set_goods_active(principal: Principal, goods_id: int, active: bool) -> None:
    row = await _goods(principal, goods_id)
    async with atomic():
        await Goods.update({Goods.active: active}).where(Goods.id == goods_id)
        await audit.log(principal.user_id, "goods.activate" if active else "goods.withdraw", "goods", goods_id,
                        row["community"], before={"name": row["name"], "active": row["active"]}, after={"active": active})


# --- redemption windows ---------------------------------------------------------------------------------

async def windows_of(community_id: int) -> list[dict]:
    return await RedemptionWindow.select().where(RedemptionWindow.community == community_id).order_by(
        RedemptionWindow.starts_on).order_by(RedemptionWindow.id)


def as_windows(rows: list[dict]) -> list[Window]:
    return [Window(r["starts_on"], r["ends_on"]) for r in rows]


async def shop_open(community_id: int, day: date) -> bool:
    return rules.window_open(as_windows(await windows_of(community_id)), day)


async def add_window(principal: Principal, community_id: int, starts_on: date | None, ends_on: date | None,
                     note: str) -> int:
    await _community(principal, "shop.windows", community_id)
    note = rules.check_window(starts_on, ends_on, note)
    async with atomic():
        window_id = (await RedemptionWindow.insert(RedemptionWindow(
            community=community_id, starts_on=starts_on, ends_on=ends_on, note=note, created_by=principal.user_id)))[0]["id"]
        await audit.log(principal.user_id, "window.add", "redemption_window", window_id, community_id,
                        after={"starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat(), "note": note})
    return window_id


async def remove_window(principal: Principal, window_id: int) -> int:
    """Returns the window's community."""
    row = await RedemptionWindow.select(RedemptionWindow.all_columns(), RedemptionWindow.community.path.as_alias("path")).where(
        RedemptionWindow.id == window_id).first()
    if row is None:
        raise NotFound("window_not_found")
    require_scope(principal, "shop.windows", row["path"])
    async with atomic():
        await RedemptionWindow.delete().where(RedemptionWindow.id == window_id)
        await audit.log(principal.user_id, "window.remove", "redemption_window", window_id, row["community"],
                        before={"starts_on": row["starts_on"].isoformat(), "ends_on": row["ends_on"].isoformat(),
                                "note": row["note"]})
    return row["community"]


# --- merchant offers ------------------------------------------------------------------------------------

async def offers_of(merchant_id: int) -> list[dict]:
    return await Offer.select().where(Offer.merchant == merchant_id).order_by(Offer.active, ascending=False).order_by(
        Offer.id, ascending=False)


async def add_offer(principal: Principal, merchant_id: int, title: str, gives: str, points: int | None,
                    per_person_limit: int | None, total_limit: int | None, valid_from: date | None,
                    valid_to: date | None) -> int:
    found = await merchant(principal, merchant_id)
    title, gives = rules.check_offer(title, gives, points, per_person_limit, total_limit, valid_from, valid_to)
    async with atomic():
        offer_id = (await Offer.insert(Offer(
            merchant=merchant_id, community=found["community"], title=title, gives=gives, points=points,
            per_person_limit=per_person_limit, total_limit=total_limit, valid_from=valid_from, valid_to=valid_to,
            created_by=principal.user_id)))[0]["id"]
        await audit.log(principal.user_id, "offer.add", "offer", offer_id, found["community"], after={
            "merchant": found["name"], "title": title, "gives": gives, "points": points,
            "per_person_limit": per_person_limit, "total_limit": total_limit,
            "valid_from": valid_from.isoformat(), "valid_to": valid_to.isoformat()})
    return offer_id


async def set_offer_active(principal: Principal, offer_id: int, active: bool) -> dict:
    """Withdraw an offer (or put it back); returns the offer's merchant."""
    row = await Offer.select(Offer.id, Offer.merchant, Offer.title, Offer.active).where(Offer.id == offer_id).first()
    if row is None:
        raise NotFound("offer_not_found")
    found = await merchant(principal, row["merchant"])
    async with atomic():
        await Offer.update({Offer.active: active}).where(Offer.id == offer_id)
        await audit.log(principal.user_id, "offer.activate" if active else "offer.withdraw", "offer", offer_id,
                        found["community"], before={"title": row["title"], "active": row["active"]}, after={"active": active})
    return found


def offer_valid(offer: dict, day: date) -> bool:
    return rules.offer_problem(offer["active"], offer["valid_from"], offer["valid_to"], day) is None


# --- the merchant statement -----------------------------------------------------------------------------

@dataclass(frozen=True)
class StatementLine:
    transaction_id: int
    occurred_at: datetime
    day: date  # local
    kind: str  # redemption | reversal (an undo or a staff correction)
    holder: str  # masked name
    what: str  # the offer's title (the transaction's memo)
    points: int  # received (negative for a reversal)


async def statement(merchant_id: int) -> list[StatementLine]:
    """Everything the merchant's account received, newest first: each redemption and each reversal of one."""
    rows = await Posting.select(
        Posting.amount, Posting.txn.id.as_alias("tid"), Posting.txn.kind.as_alias("kind"),
        Posting.txn.memo.as_alias("memo"), Posting.txn.occurred_at.as_alias("occurred_at"),
    ).where(Posting.account == merchant_id).order_by(Posting.txn.occurred_at, ascending=False).order_by(
        Posting.id, ascending=False)
    ids = [r["tid"] for r in rows]
    holders: dict[int, str] = {}
    for chunk in (ids[i:i + _CHUNK] for i in range(0, len(ids), _CHUNK)):
        for r in await Posting.select(Posting.txn, Posting.account.holder.name.as_alias("person"),
                                      Posting.account.name.as_alias("account")).where(
                Posting.txn.is_in(chunk) & (Posting.account != merchant_id)):
            holders.setdefault(r["txn"], mask_name(r["person"] or r["account"]))
    return [StatementLine(r["tid"], r["occurred_at"], local_date(r["occurred_at"]), r["kind"], holders.get(r["tid"], ""),
                          r["memo"], r["amount"]) for r in rows]


def month_totals(lines: list[StatementLine]) -> list[rules.MonthTotal]:
    return rules.month_totals((line.day, line.kind, line.points) for line in lines)


def in_month(lines: list[StatementLine], month: str) -> list[StatementLine]:
    return [line for line in lines if rules.month_of(line.day) == month]


# --- what a resident can redeem, and where ---------------------------------------------------------------

@dataclass(frozen=True)
class ShopView:
    community_id: int
    community_name: str
    shop_name: str | None  # the points-shop account's name, None when the community has none
    goods: list[dict]
    open_today: bool
    windows: list[Window]  # every window of the community; empty means the shop is open every day
    current: Window | None
    upcoming: Window | None
    offers: list[dict]  # valid today, each with its merchant's name and how often this person used it


async def catalogue(person_id: int, today: date) -> list[ShopView]:
    """For each community the person holds an account in: its shop's goods and whether the shop is open
    today, and the alliance merchants' offers valid today."""
    communities = await Account.select(Account.community, Account.community.name.as_alias("name")).where(
        (Account.holder == person_id) & (Account.active == True)).order_by(Account.community)  # noqa: E712
    used: dict[int, int] = {}
    for r in await OfferRedemption.select(OfferRedemption.offer).where(
            (OfferRedemption.person == person_id) & (OfferRedemption.undone == False)):  # noqa: E712
        used[r["offer"]] = used.get(r["offer"], 0) + 1
    views: list[ShopView] = []
    for community_id, name in dict((c["community"], c["name"]) for c in communities).items():
        shop = await Account.select(Account.name).where((Account.kind == "shop") & (Account.community == community_id)).first()
        windows = as_windows(await windows_of(community_id))
        offers = await Offer.select(Offer.all_columns(), Offer.merchant.name.as_alias("merchant_name")).where(
            (Offer.community == community_id) & (Offer.active == True) & (Offer.valid_from <= today)  # noqa: E712
            & (Offer.valid_to >= today) & (Offer.merchant.active == True)).order_by(Offer.merchant).order_by(Offer.points)  # noqa: E712
        for o in offers:
            o["used"] = used.get(o["id"], 0)
        views.append(ShopView(
            community_id, name, shop["name"] if shop else None, await goods_of(community_id, active_only=True),
            rules.window_open(windows, today), windows, rules.current_window(windows, today),
            rules.next_window(windows, today), offers))
    return views


# --- a merchant's tills ---------------------------------------------------------------------------------

async def tills_of(merchant_ids: list[int]) -> list[dict]:
    """The stations whose redeemed points go to these merchants, with their devices."""
    if not merchant_ids:
        return []
    rows = await Station.select(Station.id, Station.name, Station.active, Station.receiving_account,
                                Station.receiving_account.name.as_alias("merchant_name")).where(
        Station.receiving_account.is_in(merchant_ids)).order_by(Station.id)
    for r in rows:
        r["devices"] = await Device.select(Device.name, Device.paired_at, Device.revoked_at).where(
            Device.station == r["id"]).order_by(Device.id)
    return rows


# --- what a station offers (the station config) ------------------------------------------------------------

async def station_goods(community_id: int) -> list[dict]:
    return [{"id": g["id"], "name": g["name"], "points": g["points"], "stock": g["stock"]}
            for g in await goods_of(community_id, active_only=True)]


async def station_offers(merchant_id: int | None, today: date) -> list[dict]:
    if merchant_id is None:
        return []
    rows = await Offer.select().where(
        (Offer.merchant == merchant_id) & (Offer.active == True) & (Offer.valid_from <= today)  # noqa: E712
        & (Offer.valid_to >= today)).order_by(Offer.points).order_by(Offer.id)
    return [{"id": o["id"], "title": o["title"], "gives": o["gives"], "points": o["points"],
             "per_person_limit": o["per_person_limit"],
             "remaining": None if o["total_limit"] is None else max(0, o["total_limit"] - o["redeemed_count"])}
            for o in rows]

