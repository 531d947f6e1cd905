"""The scan service on a real database: replay-safe, every scan stored, each refusal with its reason."""
import asyncio
from datetime import date, timedelta
from uuid import uuid4

import pytest

from backend.catalog import service as catalog
from backend.ledger import service as ledger
from backend.ledger.tables import LedgerTransaction
from backend.scans import service as scans
from backend.scans.service import ScanRequest
from backend.scans.tables import Scan
from backend.servicecards import service as cards
from backend.stations import service as stations
from tests import factories as f

pytestmark = pytest.mark.db


@pytest.fixture
async def desk(clean_db):
    t = await f.tree()
    await f.issuer(t["c1"])
    person, account = await f.person_account("王小明", t["unit"], t["c1"], colour="red")
    admin = await f.admin_principal(t["c1"])
    category = await catalog.add_category(t["c1"], "文明实践")
    sweep = await catalog.add_item(category, "楼道清理", 10, date(2026, 1, 1))
    members_only = await catalog.add_item(category, "党员先锋岗", 20, date(2026, 1, 1), colours=["red"])
    elsewhere = await catalog.add_item(category, "别处的项目", 5, date(2026, 1, 1))
    station = await stations.create_station(admin, t["c1"], "东园党群服务中心", "centre", ["award", "checkin"],
                                            award_items=[sweep, members_only])
    device, credential = await f.paired_device(admin, station)
    card, url = await f.card_for(admin, account)
    return {"t": t, "admin": admin, "account": account, "device": device, "credential": credential, "card": card,
            "url": url, "sweep": sweep, "members_only": members_only, "elsewhere": elsewhere, "station": station}


def award(desk, item=None, card=None, **extra) -> ScanRequest:
    return ScanRequest(scan_id=extra.pop("scan_id", uuid4()), mode=extra.pop("mode", "award"), card=card or desk["url"],
                       scanned_at=extra.pop("scanned_at", f.NOW), details={"item_id": item or desk["sweep"]}, **extra)


async def test_award_scan_moves_points_and_says_why(desk):
    answer = await scans.scan(desk["device"], award(desk), f.NOW)
    assert answer["accepted"] and answer["points"] == 10 and answer["balance"] == 10
    assert answer["holder"] == "王*明" and answer["card_number"] == desk["card"].number
    txn = await LedgerTransaction.select().where(LedgerTransaction.source_type == "scan").first()
    assert txn["source_label"].startswith("文明实践 · 楼道清理（10分）") and txn["source_ref"] == answer["scan_id"]
    assert await ledger.verify() == []


async def test_a_replayed_scan_gets_the_first_answer_and_counts_once(desk):
    request = award(desk)
    first = await scans.scan(desk["device"], request, f.NOW)
    again = await scans.scan(desk["device"], request, f.NOW + timedelta(minutes=5))
    assert again == first | {"duplicate": True}
    assert await LedgerTransaction.count() == 1 and await Scan.count() == 1


async def test_concurrent_replays_of_one_scan_write_once(desk):
    request = award(desk)
    answers = await asyncio.gather(*(scans.scan(desk["device"], request, f.NOW) for _ in range(8)))
    assert all(a["accepted"] for a in answers) and sum(not a["duplicate"] for a in answers) == 1
    assert await LedgerTransaction.count() == 1 and await f.balance(desk["account"]) == 10


@pytest.mark.parametrize(("change", "reason"), [
    ({"item": "elsewhere"}, "item_not_allowed"),
    ({"mode": "redeem_shop"}, "mode_not_allowed"),
    ({"mode": "dance"}, "unknown_mode"),
    ({"card": "0000000001"}, "malformed"),  # check digit wrong
    ({"card": "0000000000"}, "unknown_card"),  # a valid number no card has
    ({"card": "not a card at all"}, "malformed"),
])
async def test_refusals_are_stored_with_their_reason(desk, change, reason):
    item = desk[change["item"]] if "item" in change else None
    request = award(desk, item=item, card=change.get("card"), **({"mode": change["mode"]} if "mode" in change else {}))
    answer = await scans.scan(desk["device"], request, f.NOW)
    assert (answer["accepted"], answer["reason"]) == (False, reason)
    stored = await Scan.select().where(Scan.scan_id == request.scan_id).first()
    assert stored["reason"] == reason and not stored["accepted"]
    assert await LedgerTransaction.count() == 0
    # and the refusal is replay-safe too
    assert (await scans.scan(desk["device"], request, f.NOW))["duplicate"]


async def test_a_revoked_card_is_refused_and_its_replacement_works(desk):
    replacement = await cards.report_lost(desk["admin"], desk["card"].pk, f.NOW)
    answer = await scans.scan(desk["device"], award(desk), f.NOW)
    assert (answer["accepted"], answer["reason"]) == (False, "revoked")
    answer = await scans.scan(desk["device"], award(desk, card=await cards.card_url(replacement)), f.NOW)
    assert answer["accepted"] and answer["balance"] == 10


async def test_typed_card_number_works_like_the_qr(desk):
    number = desk["card"].number
    answer = await scans.scan(desk["device"], award(desk, card=f"{number[:4]} {number[4:8]} {number[8:]}"), f.NOW)
    assert answer["accepted"]


async def test_colour_restricted_item(desk, clean_db):
    answer = await scans.scan(desk["device"], award(desk, item=desk["members_only"]), f.NOW)
    assert answer["accepted"] and answer["points"] == 20


async def test_award_uses_the_value_in_force_on_the_day_of_the_scan(desk):
    await catalog.revise(desk["sweep"], 15, date(2026, 11, 15), "11月起调整")
    before = await scans.scan(desk["device"], award(desk, scanned_at=f.NOW), f.NOW)
    after = await scans.scan(desk["device"], award(desk, scanned_at=f.NOW + timedelta(days=20)), f.NOW + timedelta(days=20))
    assert (before["points"], after["points"]) == (10, 15)


async def test_an_offline_scan_with_an_implausible_time_is_flagged(desk):
    request = award(desk, scanned_at=f.NOW - timedelta(days=30), offline=True)
    await scans.scan(desk["device"], request, f.NOW)
    assert (await Scan.select(Scan.flagged).where(Scan.scan_id == request.scan_id).first())["flagged"]


async def test_revoked_device_is_refused(desk):
    from backend.errors import PermissionDenied

    await stations.revoke_device(desk["admin"], desk["device"].device_id, f.NOW)
    with pytest.raises(PermissionDenied, match="device_revoked"):
        await stations.device_from_credential(desk["credential"], f.NOW)
    with pytest.raises(PermissionDenied, match="device_unknown"):
        await stations.device_from_credential(desk["credential"] + "x", f.NOW)


async def test_a_pairing_code_pairs_once(desk):
    from backend.errors import PermissionDenied

    code = await stations.new_pairing_code(desk["admin"], desk["station"], "收银台", f.NOW)
    results = await asyncio.gather(*(stations.pair(code, f.NOW) for _ in range(4)), return_exceptions=True)
    assert sum(isinstance(r, str) for r in results) == 1
    assert all(isinstance(r, PermissionDenied) for r in results if not isinstance(r, str))
    with pytest.raises(PermissionDenied, match="pairing_expired"):
        await stations.pair(await stations.new_pairing_code(desk["admin"], desk["station"], "x", f.NOW), f.NOW + timedelta(hours=1))
