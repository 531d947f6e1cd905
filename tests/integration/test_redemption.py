"""Redeeming by scan on a real database: shop goods and merchant offers, concurrent tills, the PIN, windows,
limits, undo and replay; and the staff side (goods, windows, offers, statement, a clerk pairing their till)."""
import asyncio
from datetime import date, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from backend.accounts.tables import Account
from backend.audit.tables import AuditEntry
from backend.errors import InvalidInput, NotFound, PermissionDenied
from backend.ledger import service as ledger
from backend.ledger.tables import LedgerTransaction
from backend.people import service as people
from backend.redemption import service
from backend.redemption.tables import Goods, Offer, OfferRedemption
from backend.scans import service as scans
from backend.scans.service import ScanRequest
from backend.scans.tables import Scan
from backend.servicecards import service as cards
from backend.stations import service as stations
from tests import factories as f

pytestmark = pytest.mark.db

TODAY = date(2026, 11, 1)  # f.NOW is 2026-11-01 17:00 in Beijing
PIN = "258036"


async def _account(kind: str, name: str, community: int) -> int:
    return (await Account.insert(Account(kind=kind, name=name, community=community)))[0]["id"]


@pytest.fixture
async def world(clean_db):
    t = await f.tree()
    issuer = await f.issuer(t["c1"])
    person, account = await f.person_account("王小明", t["unit"], t["c1"], colour="red")
    shop_account = await _account("shop", "东园社区积分超市", t["c1"])
    barber = await _account("merchant", "老王理发店", t["c1"])
    grocer = await _account("merchant", "惠民超市", t["c1"])
    admin = await f.admin_principal(t["c1"])
    await f.award(issuer, account, 100, t["c1"])
    soap = await service.add_goods(admin, t["c1"], "洗衣液", 10, 50)
    shop = await stations.create_station(admin, t["c1"], "东园积分超市", "shop", ["redeem_shop"],
                                         receiving_account_id=shop_account, pin_threshold=None)
    till = await stations.create_station(admin, t["c1"], "老王理发店收银台", "merchant", ["redeem_offer"],
                                         receiving_account_id=barber, pin_threshold=None)
    haircut = await service.add_offer(admin, barber, "理发一次", "男士或女士理发一次", 30, None, None,
                                      TODAY - timedelta(days=30), TODAY + timedelta(days=30))
    devices = [(await f.paired_device(admin, shop))[0] for _ in range(2)]
    till_device = (await f.paired_device(admin, till))[0]
    card, url = await f.card_for(admin, account)
    return {"t": t, "admin": admin, "person": person, "account": account, "shop_account": shop_account,
            "barber": barber, "grocer": grocer, "soap": soap, "shop": shop, "till": till, "haircut": haircut,
            "devices": devices, "till_device": till_device, "card": card, "url": url, "issuer": issuer}


def redeem_goods(world, goods=None, quantity=1, **extra) -> ScanRequest:
    return ScanRequest(scan_id=extra.pop("scan_id", uuid4()), mode="redeem_shop", card=extra.pop("card", world["url"]),
                       scanned_at=extra.pop("scanned_at", f.NOW), details={"goods_id": goods or world["soap"], "quantity": quantity},
                       **extra)


def redeem_offer(world, offer=None, **extra) -> ScanRequest:
    return ScanRequest(scan_id=extra.pop("scan_id", uuid4()), mode="redeem_offer", card=extra.pop("card", world["url"]),
                       scanned_at=extra.pop("scanned_at", f.NOW), details={"offer_id": offer or world["haircut"]}, **extra)


async def stock(goods_id: int) -> int:
    return (await Goods.select(Goods.stock).where(Goods.id == goods_id).first())["stock"]


# --- shop goods -----------------------------------------------------------------------------------------

async def test_shop_redemption_moves_points_to_the_shop_and_takes_stock(world):
    answer = await scans.scan(world["devices"][0], redeem_goods(world, quantity=2), f.NOW)
    assert (answer["accepted"], answer["points"], answer["balance"]) == (True, -20, 80)
    assert answer["summary"] == {"goods": "洗衣液", "quantity": 2}
    assert await stock(world["soap"]) == 48
    assert await f.balance(world["shop_account"]) == 20
    txn = await LedgerTransaction.select().where(LedgerTransaction.source_type == "scan").first()
    assert (txn["kind"], txn["source_label"], txn["memo"]) == ("redemption", "东园积分超市 · 洗衣液 ×2", "洗衣液 ×2")
    assert await ledger.verify() == []


async def test_twenty_concurrent_redemptions_from_two_devices_never_overdraw(world):
    """Balance 100, twenty redemptions of 10 points at once from two tills: exactly ten go through."""
    requests = [(world["devices"][i % 2], redeem_goods(world)) for i in range(20)]
    answers = await asyncio.gather(*(scans.scan(device, request, f.NOW) for device, request in requests))
    assert sum(a["accepted"] for a in answers) == 10
    assert {a["reason"] for a in answers if not a["accepted"]} == {"insufficient_balance"}
    assert await f.balance(world["account"]) == 0
    assert await stock(world["soap"]) == 40  # the refused ones put nothing back because they took nothing
    assert await Scan.count() == 20
    assert await ledger.verify() == []


async def test_stock_never_goes_below_zero(world):
    """Stock 5, twelve redemptions at once (enough points for all): exactly five go through."""
    await f.award(world["issuer"], world["account"], 500, world["t"]["c1"])
    scarce = await service.add_goods(world["admin"], world["t"]["c1"], "大米 5kg", 10, 5)
    answers = await asyncio.gather(*(scans.scan(world["devices"][i % 2], redeem_goods(world, scarce), f.NOW)
                                     for i in range(12)))
    assert sum(a["accepted"] for a in answers) == 5
    assert {(a["reason"], a["params"]["stock"]) for a in answers if not a["accepted"]} == {("out_of_stock", 0)}
    assert await stock(scarce) == 0
    assert await f.balance(world["account"]) == 600 - 50


async def test_a_quantity_larger_than_the_stock_is_refused_whole(world):
    scarce = await service.add_goods(world["admin"], world["t"]["c1"], "毛巾", 5, 3)
    answer = await scans.scan(world["devices"][0], redeem_goods(world, scarce, quantity=4), f.NOW)
    assert (answer["accepted"], answer["reason"], answer["params"]) == (False, "out_of_stock", {"stock": 3})
    assert await stock(scarce) == 3 and await f.balance(world["account"]) == 100


@pytest.mark.parametrize(("details", "reason"), [
    ({"quantity": 0}, "bad_quantity"),
    ({"quantity": 100}, "bad_quantity"),
    ({"quantity": "2"}, "bad_quantity"),
    ({"goods_id": 999_999}, "goods_not_allowed"),
    ({"goods_id": "x"}, "goods_not_allowed"),
])
async def test_bad_goods_choices_are_refused(world, details, reason):
    request = redeem_goods(world)
    request = ScanRequest(request.scan_id, request.mode, request.card, request.scanned_at, request.details | details)
    answer = await scans.scan(world["devices"][0], request, f.NOW)
    assert (answer["accepted"], answer["reason"]) == (False, reason)


async def test_goods_of_another_community_or_withdrawn_are_refused(world):
    admin2 = await f.admin_principal(world["t"]["c2"])
    elsewhere = await service.add_goods(admin2, world["t"]["c2"], "食用油", 10, 9)
    answer = await scans.scan(world["devices"][0], redeem_goods(world, elsewhere), f.NOW)
    assert answer["reason"] == "goods_not_allowed"
    await service.set_goods_active(world["admin"], world["soap"], False)
    answer = await scans.scan(world["devices"][0], redeem_goods(world), f.NOW)
    assert answer["reason"] == "goods_not_allowed"


async def test_a_station_without_a_receiving_account_refuses(world):
    bare = await stations.create_station(world["admin"], world["t"]["c1"], "活动桌", "shop", ["redeem_shop"],
                                         pin_threshold=None)
    device, _ = await f.paired_device(world["admin"], bare)
    answer = await scans.scan(device, redeem_goods(world), f.NOW)
    assert (answer["accepted"], answer["reason"]) == (False, "no_receiving_account")


async def test_undo_puts_the_goods_back_and_returns_the_points(world):
    request = redeem_goods(world, quantity=3)
    await scans.scan(world["devices"][0], request, f.NOW)
    assert (await stock(world["soap"]), await f.balance(world["account"])) == (47, 70)
    undone = await scans.undo(world["devices"][0], request.scan_id, f.NOW + timedelta(seconds=30))
    assert undone["undone"]
    assert (await stock(world["soap"]), await f.balance(world["account"])) == (50, 100)
    assert await ledger.verify() == []


async def test_a_replayed_redemption_is_written_once(world):
    request = redeem_goods(world, quantity=2)
    answers = await asyncio.gather(*(scans.scan(world["devices"][0], request, f.NOW) for _ in range(6)))
    assert all(a["accepted"] for a in answers) and sum(not a["duplicate"] for a in answers) == 1
    again = await scans.scan(world["devices"][1], request, f.NOW + timedelta(minutes=3))
    assert again["duplicate"] and again["balance"] == 80
    assert (await stock(world["soap"]), await f.balance(world["account"])) == (48, 80)
    assert await LedgerTransaction.count().where(LedgerTransaction.kind == "redemption") == 1


# --- redemption windows ---------------------------------------------------------------------------------

async def test_outside_every_window_the_shop_refuses(world):
    c1 = world["t"]["c1"]
    await service.add_window(world["admin"], c1, date(2026, 10, 1), date(2026, 10, 14), "四季度兑换")
    answer = await scans.scan(world["devices"][0], redeem_goods(world), f.NOW)
    assert (answer["accepted"], answer["reason"], answer["params"]) == (
        False, "outside_window", {"opens": "2026-10-01", "closes": "2026-10-14"})
    assert await stock(world["soap"]) == 50 and await f.balance(world["account"]) == 100


async def test_the_window_is_judged_on_the_local_day_of_the_scan(world):
    """A window ending on 1 November still covers a scan at 23:30 Beijing time (15:30 UTC), not one at 00:30 on
    2 November (16:30 UTC on 1 November); and an offline scan is judged when it was made, not when it arrives."""
    await service.add_window(world["admin"], world["t"]["c1"], date(2026, 10, 20), date(2026, 11, 1), "")
    late = datetime(2026, 11, 1, 15, 30, tzinfo=timezone.utc)
    after = datetime(2026, 11, 1, 16, 30, tzinfo=timezone.utc)
    assert (await scans.scan(world["devices"][0], redeem_goods(world, scanned_at=late), after))["accepted"]
    answer = await scans.scan(world["devices"][0], redeem_goods(world, scanned_at=after), after)
    assert answer["reason"] == "outside_window"
    offline = redeem_goods(world, scanned_at=late, offline=True)
    assert (await scans.scan(world["devices"][0], offline, after + timedelta(days=1)))["accepted"]


async def test_merchant_offers_are_not_bound_to_windows(world):
    await service.add_window(world["admin"], world["t"]["c1"], date(2026, 10, 1), date(2026, 10, 14), "")
    assert (await scans.scan(world["till_device"], redeem_offer(world), f.NOW))["accepted"]


# --- the PIN ----------------------------------------------------------------------------------------------

@pytest.fixture
async def pin_shop(world):
    """A shop station that asks the PIN from 20 points, and the holder's PIN set."""
    user = await people.create_user("wangxm", "resident-password", "王小明", person_id=world["person"])
    await cards.set_pin(await people.principal(user), world["card"].pk, PIN, PIN, None, f.NOW)
    station = await stations.create_station(world["admin"], world["t"]["c1"], "积分超市二号台", "shop", ["redeem_shop"],
                                            receiving_account_id=world["shop_account"], pin_threshold=20)
    return (await f.paired_device(world["admin"], station))[0]


async def test_below_the_threshold_no_pin_is_asked(world, pin_shop):
    assert (await scans.scan(pin_shop, redeem_goods(world, quantity=1), f.NOW))["accepted"]


async def test_above_the_threshold_the_pin_is_required_and_checked(world, pin_shop):
    answer = await scans.scan(pin_shop, redeem_goods(world, quantity=2), f.NOW)
    assert (answer["reason"], answer["params"]) == ("pin_required", {"points": 20})
    answer = await scans.scan(pin_shop, redeem_goods(world, quantity=2, pin="111222"), f.NOW)
    assert (answer["reason"], answer["params"]) == ("wrong_pin", {"remaining": 4})
    answer = await scans.scan(pin_shop, redeem_goods(world, quantity=2, pin=PIN), f.NOW)
    assert answer["accepted"] and answer["balance"] == 80


async def test_five_wrong_pins_lock_even_the_right_one(world, pin_shop):
    reasons = [(await scans.scan(pin_shop, redeem_goods(world, quantity=3, pin="111222"), f.NOW))["reason"]
               for _ in range(5)]
    assert reasons == ["wrong_pin"] * 4 + ["pin_locked"]
    answer = await scans.scan(pin_shop, redeem_goods(world, quantity=3, pin=PIN), f.NOW)
    assert (answer["accepted"], answer["reason"]) == (False, "pin_locked")
    assert await f.balance(world["account"]) == 100 and await stock(world["soap"]) == 50


async def test_a_phone_code_skips_the_pin(world, pin_shop):
    code = await cards.phone_code(world["person"], world["card"].pk, f.NOW)
    answer = await scans.scan(pin_shop, redeem_goods(world, quantity=3, card=code.url), f.NOW)
    assert answer["accepted"] and answer["balance"] == 70


# --- merchant offers ------------------------------------------------------------------------------------

async def test_offer_redemption_pays_the_merchant(world):
    answer = await scans.scan(world["till_device"], redeem_offer(world), f.NOW)
    assert (answer["accepted"], answer["points"], answer["balance"]) == (True, -30, 70)
    assert answer["summary"] == {"offer": "理发一次", "gives": "男士或女士理发一次"}
    assert await f.balance(world["barber"]) == 30
    assert (await Offer.select(Offer.redeemed_count).where(Offer.id == world["haircut"]).first())["redeemed_count"] == 1


async def test_only_the_tills_own_merchants_offers(world):
    other = await service.add_offer(world["admin"], world["grocer"], "购物抵扣 10 元", "结账时抵扣 10 元", 20, None, None,
                                    TODAY, TODAY)
    answer = await scans.scan(world["till_device"], redeem_offer(world, other), f.NOW)
    assert answer["reason"] == "offer_not_allowed"


@pytest.mark.parametrize(("valid_from", "valid_to", "active"), [
    (TODAY + timedelta(days=1), TODAY + timedelta(days=9), True),
    (TODAY - timedelta(days=9), TODAY - timedelta(days=1), True),
    (TODAY, TODAY, False),
])
async def test_an_offer_outside_its_dates_or_withdrawn_is_refused(world, valid_from, valid_to, active):
    offer = await service.add_offer(world["admin"], world["barber"], "老人理发", "六十岁以上理发", 20, None, None,
                                    valid_from, valid_to)
    if not active:
        await service.set_offer_active(world["admin"], offer, False)
    answer = await scans.scan(world["till_device"], redeem_offer(world, offer), f.NOW)
    assert (answer["accepted"], answer["reason"]) == (False, "offer_expired")


async def test_the_per_person_limit_counts_every_account_of_the_person(world):
    limited = await service.add_offer(world["admin"], world["barber"], "洗剪吹", "洗剪吹一次", 10, 1, None, TODAY, TODAY)
    green = (await Account.insert(Account(kind="person", colour="green", holder=world["person"], name="王小明",
                                          community=world["t"]["c1"])))[0]["id"]
    await f.award(world["issuer"], green, 50, world["t"]["c1"])
    _, green_url = await f.card_for(world["admin"], green)
    assert (await scans.scan(world["till_device"], redeem_offer(world, limited), f.NOW))["accepted"]
    answer = await scans.scan(world["till_device"], redeem_offer(world, limited, card=green_url), f.NOW)
    assert (answer["reason"], answer["params"]) == ("person_limit_reached", {"limit": 1})


async def test_limits_hold_under_concurrency(world):
    """Total limit 3 and two per person: eight holders' scans at once from two tills leave exactly three."""
    await f.award(world["issuer"], world["account"], 500, world["t"]["c1"])
    offer = await service.add_offer(world["admin"], world["barber"], "剪发", "剪发一次", 5, 2, 3, TODAY, TODAY)
    second_till = (await f.paired_device(world["admin"], world["till"]))[0]
    holders = [world["url"]]
    for i in range(3):
        _, account = await f.person_account(f"居民{i}号", world["t"]["unit"], world["t"]["c1"])
        await f.award(world["issuer"], account, 50, world["t"]["c1"])
        holders.append((await f.card_for(world["admin"], account))[1])
    requests = [redeem_offer(world, offer, card=holders[i % 4]) for i in range(8)]
    answers = await asyncio.gather(*(scans.scan((world["till_device"], second_till)[i % 2], r, f.NOW)
                                     for i, r in enumerate(requests)))
    assert sum(a["accepted"] for a in answers) == 3
    assert {a["reason"] for a in answers if not a["accepted"]} <= {"offer_limit_reached", "person_limit_reached"}
    assert (await Offer.select(Offer.redeemed_count).where(Offer.id == offer).first())["redeemed_count"] == 3
    assert await OfferRedemption.count().where(OfferRedemption.offer == offer) == 3
    # one holder, scanned at once on both tills: the per-person limit of two holds
    solo = await service.add_offer(world["admin"], world["barber"], "修面", "修面一次", 5, 2, None, TODAY, TODAY)
    answers = await asyncio.gather(*(scans.scan((world["till_device"], second_till)[i % 2], redeem_offer(world, solo), f.NOW)
                                     for i in range(6)))
    assert sum(a["accepted"] for a in answers) == 2
    assert {a["reason"] for a in answers if not a["accepted"]} == {"person_limit_reached"}


async def test_the_total_limit_refuses_before_the_pin(world):
    offer = await service.add_offer(world["admin"], world["barber"], "限量理发", "限量理发", 10, None, 1, TODAY, TODAY)
    assert (await scans.scan(world["till_device"], redeem_offer(world, offer), f.NOW))["accepted"]
    answer = await scans.scan(world["till_device"], redeem_offer(world, offer), f.NOW)
    assert (answer["reason"], answer["params"]) == ("offer_limit_reached", {"limit": 1})


async def test_undo_gives_the_turn_back(world):
    offer = await service.add_offer(world["admin"], world["barber"], "一次性理发", "理发", 10, 1, 1, TODAY, TODAY)
    request = redeem_offer(world, offer)
    await scans.scan(world["till_device"], request, f.NOW)
    await scans.undo(world["till_device"], request.scan_id, f.NOW + timedelta(seconds=10))
    assert await f.balance(world["account"]) == 100 and await f.balance(world["barber"]) == 0
    assert (await Offer.select(Offer.redeemed_count).where(Offer.id == offer).first())["redeemed_count"] == 0
    assert (await scans.scan(world["till_device"], redeem_offer(world, offer), f.NOW))["accepted"]


async def test_insufficient_balance_for_an_offer(world):
    offer = await service.add_offer(world["admin"], world["barber"], "烫发", "烫发一次", 150, None, 5, TODAY, TODAY)
    answer = await scans.scan(world["till_device"], redeem_offer(world, offer), f.NOW)
    assert (answer["reason"], answer["params"]["balance"], answer["params"]["needed"]) == ("insufficient_balance", 100, 150)
    assert (await Offer.select(Offer.redeemed_count).where(Offer.id == offer).first())["redeemed_count"] == 0


# --- the station config ---------------------------------------------------------------------------------

async def test_station_config_lists_goods_and_valid_offers(world):
    await service.add_offer(world["admin"], world["barber"], "明年的理发", "理发", 10, None, None, date(2027, 1, 1),
                            date(2027, 2, 1))
    shop = await scans.station_config(world["shop"], f.NOW)
    assert shop["goods"] == [{"id": world["soap"], "name": "洗衣液", "points": 10, "stock": 50}]
    assert shop["shop_open"] is True and "offers" not in shop
    till = await scans.station_config(world["till"], f.NOW)
    assert [o["title"] for o in till["offers"]] == ["理发一次"] and "goods" not in till


# --- staff: goods, windows, offers ----------------------------------------------------------------------

async def test_restock_adds_and_is_audited(world):
    assert await service.restock(world["admin"], world["soap"], 12) == 62
    entry = await AuditEntry.select().where(AuditEntry.action == "goods.restock").output(load_json=True).first()
    assert entry["before"] == {"name": "洗衣液", "stock": 50} and entry["after"] == {"added": 12, "stock": 62}
    with pytest.raises(InvalidInput, match="bad_restock"):
        await service.restock(world["admin"], world["soap"], 0)


async def test_staff_act_only_in_their_community(world):
    other = await f.admin_principal(world["t"]["c2"])
    with pytest.raises(PermissionDenied):
        await service.restock(other, world["soap"], 5)
    with pytest.raises(PermissionDenied):
        await service.add_window(other, world["t"]["c1"], TODAY, TODAY, "")
    with pytest.raises(PermissionDenied):
        await service.add_offer(other, world["barber"], "x", "y", 5, None, None, TODAY, TODAY)


async def test_a_window_that_ends_before_it_starts_is_refused(world):
    with pytest.raises(InvalidInput, match="window_dates"):
        await service.add_window(world["admin"], world["t"]["c1"], TODAY, TODAY - timedelta(days=1), "")
    window = await service.add_window(world["admin"], world["t"]["c1"], TODAY, TODAY, "一天")
    assert await service.remove_window(world["admin"], window) == world["t"]["c1"]
    with pytest.raises(NotFound):
        await service.remove_window(world["admin"], window)


async def test_a_clerk_manages_only_their_own_merchants_offers(world):
    clerk = await people.principal(await people.create_user(
        "clerk", "clerk-password", "理发店店员", role="merchant_clerk", node_id=world["t"]["c1"],
        merchant_account_id=world["barber"]))
    assert [m["id"] for m in await service.merchants_managed(clerk)] == [world["barber"]]
    assert {m["id"] for m in await service.merchants_managed(world["admin"])} == {world["barber"], world["grocer"]}
    offer = await service.add_offer(clerk, world["barber"], "儿童理发", "十二岁以下理发", 15, 2, 50, TODAY, TODAY)
    await service.set_offer_active(clerk, offer, False)
    with pytest.raises(PermissionDenied, match="other_merchant"):
        await service.add_offer(clerk, world["grocer"], "抵扣", "抵扣 5 元", 10, None, None, TODAY, TODAY)
    grocer_offer = await service.add_offer(world["admin"], world["grocer"], "抵扣", "抵扣 5 元", 10, None, None, TODAY, TODAY)
    with pytest.raises(PermissionDenied, match="other_merchant"):
        await service.set_offer_active(clerk, grocer_offer, False)
    with pytest.raises(NotFound, match="not_a_merchant"):
        await service.merchant(clerk, world["shop_account"])


async def test_a_clerk_pairs_only_the_tills_that_pay_their_merchant(world):
    clerk = await people.principal(await people.create_user(
        "clerk", "clerk-password", "理发店店员", role="merchant_clerk", node_id=world["t"]["c1"],
        merchant_account_id=world["barber"]))
    code = await stations.new_pairing_code(clerk, world["till"], "收银台手机", f.NOW)
    assert await stations.pair(code, f.NOW)
    grocer_till = await stations.create_station(world["admin"], world["t"]["c1"], "惠民超市收银台", "merchant",
                                                ["redeem_offer"], receiving_account_id=world["grocer"])
    for station in (grocer_till, world["shop"]):
        with pytest.raises(PermissionDenied):
            await stations.new_pairing_code(clerk, station, "x", f.NOW)
    assert [t["id"] for t in await service.tills_of([world["barber"]])] == [world["till"]]


# --- the merchant statement and the resident's catalogue ------------------------------------------------

async def test_the_statement_shows_what_the_merchant_accepted_and_took_back(world):
    kept = redeem_offer(world)
    await scans.scan(world["till_device"], kept, f.NOW)
    undone = redeem_offer(world, scanned_at=f.NOW + timedelta(minutes=1))
    await scans.scan(world["till_device"], undone, f.NOW + timedelta(minutes=1))
    await scans.undo(world["till_device"], undone.scan_id, f.NOW + timedelta(minutes=2))
    lines = await service.statement(world["barber"])
    assert [(line.kind, line.holder, line.what, line.points) for line in lines] == [
        ("reversal", "王*明", "撤销扫码", -30), ("redemption", "王*明", "理发一次", 30), ("redemption", "王*明", "理发一次", 30)]
    assert [(t.month, t.count, t.points) for t in service.month_totals(lines)] == [("2026-11", 1, 30)]


async def test_the_catalogue_shows_goods_offers_and_the_window(world):
    await service.add_window(world["admin"], world["t"]["c1"], date(2026, 12, 1), date(2026, 12, 14), "")
    await service.add_offer(world["admin"], world["barber"], "老人理发", "理发", 20, 2, None, TODAY, TODAY)
    await scans.scan(world["till_device"], redeem_offer(world), f.NOW)
    (view,) = await service.catalogue(world["person"], TODAY)
    assert (view.community_name, view.shop_name, view.open_today) == ("东园社区", "东园社区积分超市", False)
    assert (view.upcoming.starts_on, view.current) == (date(2026, 12, 1), None)
    assert [g["name"] for g in view.goods] == ["洗衣液"]
    assert [(o["title"], o["merchant_name"], o["used"]) for o in view.offers] == [("老人理发", "老王理发店", 0),
                                                                                  ("理发一次", "老王理发店", 1)]
