"""The offline conflict policy on a real database (backend/scans/offline.py): scans replayed by stations that were
offline, judged at their time, flagged where the server and the station disagree; staff resolving them."""
from datetime import timedelta
from uuid import uuid4

import pytest

from backend.accounts.tables import Account
from backend.audit.tables import AuditEntry
from backend.errors import Conflict, InvalidInput, PermissionDenied
from backend.events import service as events
from backend.events.tables import Attendance
from backend.ledger import service as ledger
from backend.ledger.tables import LedgerTransaction
from backend.redemption import service as redemption
from backend.redemption.tables import Goods
from backend.scans import flagged
from backend.scans import service as scans
from backend.scans.service import ScanRequest
from backend.scans.tables import Scan, ScanResolution
from backend.servicecards import service as cards
from backend.stations import service as stations
from tests import factories as f

pytestmark = pytest.mark.db

LATER = f.NOW + timedelta(hours=2)  # when the stations come back online and replay


@pytest.fixture
async def world(clean_db):
    t = await f.tree()
    issuer = await f.issuer(t["c1"])
    person, account = await f.person_account("王小明", t["unit"], t["c1"], colour="red")
    shop_account = (await Account.insert(Account(kind="shop", name="东园社区积分超市", community=t["c1"])))[0]["id"]
    admin = await f.admin_principal(t["c1"])
    await f.award(issuer, account, 100, t["c1"])
    soap = await redemption.add_goods(admin, t["c1"], "洗衣液", 10, 50)
    east = await stations.create_station(admin, t["c1"], "东园积分超市", "shop", ["redeem_shop"],
                                         receiving_account_id=shop_account, pin_threshold=None, offline_limit=80)
    west = await stations.create_station(admin, t["c1"], "东园流动兑换点", "shop", ["redeem_shop"],
                                         receiving_account_id=shop_account, pin_threshold=None, offline_limit=80)
    centre = await stations.create_station(admin, t["c1"], "东园党群服务中心", "centre", ["checkin"])
    card, url = await f.card_for(admin, account)
    return {"t": t, "admin": admin, "account": account, "shop_account": shop_account, "soap": soap, "card": card,
            "url": url, "east": [(await f.paired_device(admin, east))[0] for _ in range(2)],
            "west": (await f.paired_device(admin, west))[0], "centre": (await f.paired_device(admin, centre))[0]}


def offline_redeem(world, quantity: int, at=f.NOW, accepted: bool | None = True, reason: str = "ok", **extra) -> ScanRequest:
    verdict = None if accepted is None else {"accepted": accepted, "reason": reason}
    return ScanRequest(scan_id=extra.pop("scan_id", uuid4()), mode="redeem_shop", card=extra.pop("card", world["url"]),
                       scanned_at=at, details={"goods_id": world["soap"], "quantity": quantity}, offline=True,
                       device_verdict=verdict, **extra)


async def stored(request: ScanRequest) -> dict:
    return await Scan.select().where(Scan.scan_id == request.scan_id).output(load_json=True).first()


async def stock(goods_id: int) -> int:
    return (await Goods.select(Goods.stock).where(Goods.id == goods_id).first())["stock"]


# --- spending beyond the balance -------------------------------------------------------------------------

async def test_two_offline_stations_spend_beyond_the_balance_within_their_limits(world):
    east_request = offline_redeem(world, 7)
    east = await scans.scan(world["east"][0], east_request, LATER)  # 70 of 100: covered
    west_request = offline_redeem(world, 7, at=f.NOW + timedelta(minutes=5))
    west = await scans.scan(world["west"], west_request, LATER)  # 70 more: 30 left, within west's 80
    assert (east["accepted"], east["balance"]) == (True, 30)
    assert (west["accepted"], west["reason"], west["balance"]) == (True, "ok", -40)
    assert await f.balance(world["account"]) == -40 and await f.balance(world["shop_account"]) == 140
    assert (await stored(east_request))["flags"] == []
    row = await stored(west_request)
    assert row["flagged"] and row["flags"] == ["overdraft"] and row["offline"]
    assert await ledger.verify() == []
    # beyond west's limit that day (70 + 20 > 80): refused, and flagged because the station had said yes
    beyond = offline_redeem(world, 2, at=f.NOW + timedelta(minutes=10))
    answer = await scans.scan(world["west"], beyond, LATER)
    assert (answer["accepted"], answer["reason"]) == (False, "offline_limit_exceeded")
    assert (await stored(beyond))["flags"] == ["overruled"]
    assert await f.balance(world["account"]) == -40 and await LedgerTransaction.count() == 3


async def test_two_tills_of_one_station_share_its_offline_limit(world):
    first = await scans.scan(world["east"][0], offline_redeem(world, 7), LATER)
    second = await scans.scan(world["east"][1], offline_redeem(world, 7, at=f.NOW + timedelta(minutes=1)), LATER)
    assert first["accepted"] and (second["accepted"], second["reason"]) == (False, "offline_limit_exceeded")
    assert await f.balance(world["account"]) == 30


async def test_without_a_device_verdict_an_offline_scan_is_judged_strictly(world):
    await scans.scan(world["east"][0], offline_redeem(world, 7), LATER)
    answer = await scans.scan(world["west"], offline_redeem(world, 7, accepted=None), LATER)
    assert (answer["accepted"], answer["reason"]) == (False, "insufficient_balance")
    assert await f.balance(world["account"]) == 30


async def test_goods_handed_out_beyond_the_stock_count(world):
    await Goods.update({Goods.stock: 1}).where(Goods.id == world["soap"])
    request = offline_redeem(world, 3)
    answer = await scans.scan(world["east"][0], request, LATER)
    assert answer["accepted"] and await stock(world["soap"]) == 0
    assert (await stored(request))["flags"] == ["stock_short"]
    online = await scans.scan(world["east"][0], ScanRequest(uuid4(), "redeem_shop", world["url"], LATER,
                                                            {"goods_id": world["soap"], "quantity": 1}), LATER)
    assert (online["accepted"], online["reason"]) == (False, "out_of_stock")


async def test_an_offer_given_offline_past_its_limit_is_accepted_and_flagged(world):
    barber = (await Account.insert(Account(kind="merchant", name="老王理发店", community=world["t"]["c1"])))[0]["id"]
    till = await stations.create_station(world["admin"], world["t"]["c1"], "老王理发店收银台", "merchant", ["redeem_offer"],
                                         receiving_account_id=barber, pin_threshold=None, offline_limit=50)
    device = (await f.paired_device(world["admin"], till))[0]
    day = f.NOW.date()
    haircut = await redemption.add_offer(world["admin"], barber, "理发一次", "理发一次", 30, 1, 1,
                                         day - timedelta(days=1), day + timedelta(days=1))

    def cut(**extra) -> ScanRequest:
        return ScanRequest(uuid4(), "redeem_offer", world["url"], f.NOW, {"offer_id": haircut}, **extra)

    assert (await scans.scan(device, cut(), f.NOW))["accepted"]
    online = await scans.scan(device, cut(), f.NOW)
    assert (online["accepted"], online["reason"]) == (False, "offer_limit_reached")
    request = cut(offline=True, device_verdict={"accepted": True, "reason": "ok"})
    assert (await scans.scan(device, request, LATER))["accepted"]
    assert (await stored(request))["flags"] == ["offer_limit"] and await f.balance(world["account"]) == 40


# --- what the device refused, revoked cards, events, time ---------------------------------------------------

async def test_a_scan_refused_on_the_device_is_stored_and_never_applied(world):
    request = offline_redeem(world, 3, accepted=False, reason="insufficient_balance")
    answer = await scans.scan(world["east"][0], request, LATER)
    assert (answer["accepted"], answer["reason"], answer["params"]) == (False, "insufficient_balance", {"on_device": True})
    assert answer["card_number"] == world["card"].number  # who it was is still recorded
    row = await stored(request)
    assert not row["accepted"] and not row["flagged"] and row["account"] == world["account"]
    assert await f.balance(world["account"]) == 100 and await stock(world["soap"]) == 50
    assert await LedgerTransaction.count() == 1  # the opening award only
    # a garbled device reason is stored as a generic one
    odd = await scans.scan(world["east"][0], offline_redeem(world, 1, accepted=False, reason="Nope!"), LATER)
    assert odd["reason"] == "refused_on_device"


async def test_a_card_revoked_after_the_scan_is_fine_before_it_is_flagged(world):
    revoked_at = f.NOW + timedelta(minutes=30)
    await cards.report_lost(world["admin"], world["card"].pk, revoked_at)
    before = offline_redeem(world, 1, at=f.NOW)
    after = offline_redeem(world, 1, at=revoked_at + timedelta(minutes=10))
    strict = offline_redeem(world, 1, at=revoked_at + timedelta(minutes=20), accepted=None)
    assert (await scans.scan(world["east"][0], before, LATER))["accepted"]
    assert (await stored(before))["flags"] == []
    assert (await scans.scan(world["east"][0], after, LATER))["accepted"]
    assert (await stored(after))["flags"] == ["revoked_card"]
    answer = await scans.scan(world["east"][0], strict, LATER)
    assert (answer["accepted"], answer["reason"]) == (False, "revoked")
    # online, a revoked card is refused as ever
    online = await scans.scan(world["east"][0], ScanRequest(uuid4(), "redeem_shop", world["url"], LATER,
                                                            {"goods_id": world["soap"], "quantity": 1}), LATER)
    assert online["reason"] == "revoked"
    assert await f.balance(world["account"]) == 80


async def test_a_check_in_after_the_event_ended_is_refused(world):
    start, end = f.NOW, f.NOW + timedelta(hours=3)
    event = await events.create_event(world["admin"], world["t"]["c1"], "清洁家园", "东园小区广场", start, end,
                                      capacity=None, points_per_hour=4)

    def stay(mode: str, at, accepted=True) -> ScanRequest:
        return ScanRequest(uuid4(), mode, world["url"], at, {"event_id": event}, offline=True,
                           device_verdict={"accepted": accepted, "reason": "ok"})

    late = stay("checkin", end + timedelta(minutes=10))
    answer = await scans.scan(world["centre"], late, end + timedelta(hours=1))
    assert (answer["accepted"], answer["reason"]) == (False, "event_ended")
    assert (await stored(late))["flags"] == ["overruled"] and await Attendance.count() == 0
    # in and out offline: the hours run between the two scans' own times, not their arrival
    assert (await scans.scan(world["centre"], stay("checkin", start), end + timedelta(hours=1)))["accepted"]
    out = await scans.scan(world["centre"], stay("checkout", start + timedelta(hours=2, minutes=10)), end + timedelta(hours=1))
    assert (out["accepted"], out["points"], out["summary"]["hours"]) == (True, 8, 2.0)


async def test_implausible_times_and_clock_skew(world):
    future = offline_redeem(world, 1, at=LATER + timedelta(days=2))
    assert (await scans.scan(world["east"][0], future, LATER))["accepted"]
    assert (await stored(future))["flags"] == ["implausible_time"]
    txn = await LedgerTransaction.select().where(LedgerTransaction.source_ref == str(future.scan_id)).first()
    assert txn["occurred_at"] == LATER  # judged at its arrival, the only time we are sure of
    skewed = offline_redeem(world, 1, at=f.NOW + timedelta(hours=1), clock_offset_ms=3_600_000)  # an hour fast
    assert (await scans.scan(world["east"][0], skewed, LATER))["accepted"]
    row = await stored(skewed)
    assert row["flags"] == ["clock_skew"] and row["scanned_at"] == f.NOW + timedelta(hours=1)  # as the device said
    txn = await LedgerTransaction.select().where(LedgerTransaction.source_ref == str(skewed.scan_id)).first()
    assert txn["occurred_at"] == f.NOW  # judged in server time


async def test_replaying_a_batch_twice_writes_each_once(world):
    # two tills of one station and another station: 4 × 20 + 30 points from 100
    batch = [(world["east"][i % 2], offline_redeem(world, 2, at=f.NOW + timedelta(minutes=i))) for i in range(4)]
    batch.append((world["west"], offline_redeem(world, 3, at=f.NOW + timedelta(minutes=9))))
    first = [await scans.scan(device, r, LATER) for device, r in batch]
    again = [await scans.scan(device, r, LATER + timedelta(minutes=5)) for device, r in batch]
    assert [a | {"duplicate": True} for a in first] == again
    assert all(a["accepted"] for a in first) and first[-1]["balance"] == -10
    for _, r in batch:
        assert await LedgerTransaction.count().where(LedgerTransaction.source_ref == str(r.scan_id)) == 1
    assert await Scan.count() == 5 and await f.balance(world["account"]) == -10
    assert await ledger.verify() == []


# --- staff resolve flagged scans ---------------------------------------------------------------------------

async def _overdraft(world) -> dict:
    await scans.scan(world["east"][0], offline_redeem(world, 7), LATER)
    request = offline_redeem(world, 7, at=f.NOW + timedelta(minutes=5))
    await scans.scan(world["west"], request, LATER)
    return await stored(request)


async def test_staff_see_and_reverse_an_overdraft(world):
    row = await _overdraft(world)
    listed = await flagged.flagged(world["admin"], flagged.Filters())
    assert [(r["id"], r["balance"], r["owes"], r["holder"]) for r in listed] == [(row["id"], -40, 40, "王*明")]
    assert await flagged.open_count(world["admin"]) == 1
    assert await flagged.flagged(world["admin"], flagged.Filters(flag="revoked_card")) == []
    done = await flagged.resolve(world["admin"], row["id"], "reverse", "核实：两台设备重复兑换", LATER)
    assert done["reversal"] is not None
    assert await f.balance(world["account"]) == 30 and await stock(world["soap"]) == 50 - 7
    assert await ledger.verify() == []
    reversal = await LedgerTransaction.select().where(LedgerTransaction.id == done["reversal"]).first()
    assert reversal["reverses"] == row["txn"] and reversal["kind"] == "reversal"
    assert await flagged.open_count(world["admin"]) == 0
    resolved = await flagged.flagged(world["admin"], flagged.Filters(status="resolved"))
    assert resolved[0]["resolution"]["action"] == "reverse" and resolved[0]["owes"] == 0
    assert await AuditEntry.count().where(AuditEntry.action == "scan.resolve_reverse") == 1
    with pytest.raises(Conflict, match="already_resolved"):
        await flagged.resolve(world["admin"], row["id"], "accept", "再看一次", LATER)


async def test_accepting_as_is_changes_no_points_and_needs_a_note(world):
    row = await _overdraft(world)
    with pytest.raises(InvalidInput, match="note_required"):
        await flagged.resolve(world["admin"], row["id"], "accept", "  ", LATER)
    await flagged.resolve(world["admin"], row["id"], "accept", "居民答应下次补上", LATER)
    assert await f.balance(world["account"]) == -40
    assert (await ScanResolution.select().first())["note"] == "居民答应下次补上"


async def test_a_refused_scan_can_only_be_accepted(world):
    await _overdraft(world)
    beyond = offline_redeem(world, 2, at=f.NOW + timedelta(minutes=10))
    await scans.scan(world["west"], beyond, LATER)
    row = await stored(beyond)
    with pytest.raises(Conflict, match="nothing_to_reverse"):
        await flagged.resolve(world["admin"], row["id"], "reverse", "x", LATER)
    assert await ScanResolution.count() == 0


async def test_staff_elsewhere_see_nothing_and_may_not_resolve(world):
    row = await _overdraft(world)
    other = await f.admin_principal(world["t"]["c2"])
    assert await flagged.flagged(other, flagged.Filters()) == [] and await flagged.open_count(other) == 0
    with pytest.raises(PermissionDenied):
        await flagged.resolve(other, row["id"], "accept", "x", LATER)
