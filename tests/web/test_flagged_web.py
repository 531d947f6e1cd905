"""Flagged scans over HTTP: stations replay offline scans through the batch API, staff see the flagged ones in a
list and resolve them; who may."""
import re
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from backend.accounts.tables import Account
from backend.ledger.tables import LedgerTransaction
from backend.people import service as people
from backend.redemption import service as redemption
from backend.scans.tables import Scan, ScanResolution
from backend.stations import service as stations
from tests import factories as f
from tests.web.conftest import PASSWORD, csrf_of, sign_in

pytestmark = pytest.mark.db


@pytest.fixture
async def shops(client, people_world):
    """The resident (30 points) and two offline shop stations of their community, each with a paired till."""
    c1 = people_world["tree"]["c1"]
    admin = await f.admin_principal(c1)
    shop_account = (await Account.insert(Account(kind="shop", name="东园社区积分超市", community=c1)))[0]["id"]
    soap = await redemption.add_goods(admin, c1, "洗衣液", 10, 50)
    headers = []
    for name in ("东园积分超市", "东园流动兑换点"):
        station = await stations.create_station(admin, c1, name, "shop", ["redeem_shop"], receiving_account_id=shop_account,
                                                pin_threshold=None, offline_limit=50)
        headers.append({"Authorization": f"Device {(await f.paired_device(admin, station))[1]}"})
    _, url = await f.card_for(admin, people_world["account"])
    return people_world | {"headers": headers, "soap": soap, "url": url}


def offline_scan(shops, quantity: int, minute: int) -> dict:
    # made an hour ago (the server judges with its real clock), `minute` minutes apart
    at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1) + timedelta(minutes=minute)
    return {"scan_id": str(uuid4()), "scanned_at": at.isoformat(), "mode": "redeem_shop",
            "card": shops["url"], "details": {"goods_id": shops["soap"], "quantity": quantity}, "offline": True,
            "device_verdict": {"accepted": True, "reason": "ok"}, "clock_offset_ms": 1200}


async def replay(client, shops) -> list[dict]:
    """The first station spends 20 of the 30 points offline, the second 30 more, then 30 beyond its limit."""
    east = [offline_scan(shops, 2, 0)]
    west = [offline_scan(shops, 3, 5), offline_scan(shops, 3, 6)]
    answers = []
    for headers, batch in ((shops["headers"][0], east), (shops["headers"][1], west)):
        r = await client.post("/api/v1/scans/batch", json={"scans": batch}, headers=headers)
        assert r.status_code == 200, r.text
        answers += r.json()
    return answers


async def page(client, url: str = "/staff/flagged-scans") -> str:
    r = await client.get(url)
    assert r.status_code == 200, r.text
    return r.text


async def test_replayed_batches_are_judged_and_replays_change_nothing(client, shops):
    answers = await replay(client, shops)
    assert [(a["accepted"], a["reason"], a["status"], a["offline"]) for a in answers] == [
        (True, "ok", 200, True), (True, "ok", 200, True), (False, "offline_limit_exceeded", 422, True)]
    assert answers[1]["balance"] == -20
    again = await client.post("/api/v1/scans/batch", json={"scans": [offline_scan(shops, 2, 0) | {
        "scan_id": answers[0]["scan_id"]}]}, headers=shops["headers"][0])
    assert again.json()[0]["duplicate"] and again.json()[0]["balance"] == 10
    assert await LedgerTransaction.count().where(LedgerTransaction.source_type == "scan") == 2
    assert await f.balance(shops["account"]) == -20


async def test_staff_see_flagged_scans_with_what_is_owed(client, shops):
    await replay(client, shops)
    assert (await sign_in(client, "community_admin")).status_code == 200
    html = await page(client)
    assert html.count('data-testid="flagged-scan"') == 2  # the overdraft and the refused one the station had accepted
    assert "王*明" in html and "王小明" not in html
    assert re.search(r'data-testid="owes">20<', html)
    assert 'href="/staff/flagged-scans"' in html  # the menu link
    count = await client.get("/staff/flagged-scans/count")
    assert count.status_code == 200 and "2" in count.text
    assert (await page(client, "/staff/flagged-scans?flag=overdraft")).count('data-testid="flagged-scan"') == 1
    assert (await page(client, "/staff/flagged-scans?status=resolved")).count('data-testid="flagged-scan"') == 0
    station = (await Scan.select(Scan.station).where(Scan.flagged == True).first())["station"]  # noqa: E712
    assert (await page(client, f"/staff/flagged-scans?station={station}")).count('data-testid="flagged-scan"') == 2
    # nonsense filters fall back to the defaults rather than failing
    assert (await page(client, "/staff/flagged-scans?status=zzz&station=x&flag=zzz")).count('data-testid="flagged-scan"') == 2


async def test_resolving_needs_a_note_then_reverses(client, shops):
    await replay(client, shops)
    await sign_in(client, "station_operator")
    token = csrf_of(await page(client))
    overdraft = next(r["id"] for r in await Scan.select(Scan.id, Scan.flags).output(load_json=True)
                     if r["flags"] == ["overdraft"])
    r = await client.post(f"/staff/flagged-scans/{overdraft}/resolve", data={"_csrf_token": token, "action": "reverse", "note": " "})
    assert r.status_code == 400 and 'class="flash flash-error"' in r.text and await ScanResolution.count() == 0
    r = await client.post(f"/staff/flagged-scans/{overdraft}/resolve",
                          data={"_csrf_token": token, "action": "reverse", "note": "两台设备重复兑换，已退回"})
    assert r.status_code == 200 and 'class="flash flash-success"' in r.text
    assert await f.balance(shops["account"]) == 10
    assert r.text.count('data-testid="flagged-scan"') == 1  # the open list: the other one is left
    resolved = await page(client, "/staff/flagged-scans?status=resolved")
    assert 'data-testid="resolution"' in resolved and "两台设备重复兑换，已退回" in resolved
    r = await client.post(f"/staff/flagged-scans/{overdraft}/resolve",
                          data={"_csrf_token": token, "action": "accept", "note": "again"})
    assert r.status_code == 422 and 'class="flash flash-error"' in r.text and await ScanResolution.count() == 1


async def test_only_staff_of_the_place_may_look(client, shops):
    await replay(client, shops)
    flagged_id = (await Scan.select(Scan.id).where(Scan.flagged == True).first())["id"]  # noqa: E712
    await sign_in(client, "resident")
    assert (await client.get("/staff/flagged-scans")).status_code == 403
    assert 'href="/staff/flagged-scans"' not in await page(client, "/me")
    token = csrf_of(await page(client, "/me"))
    r = await client.post(f"/staff/flagged-scans/{flagged_id}/resolve", data={"_csrf_token": token, "action": "accept", "note": "x"})
    assert r.status_code == 403 and await ScanResolution.count() == 0
    # staff of another community: an empty list, and no resolving what is not theirs
    await people.create_user("c2admin", PASSWORD, "西园管理员", role="community_admin", node_id=shops["tree"]["c2"])
    assert (await sign_in(client, "c2admin")).status_code == 200
    html = await page(client)
    assert 'data-testid="no-flagged"' in html
    r = await client.post(f"/staff/flagged-scans/{flagged_id}/resolve",
                          data={"_csrf_token": csrf_of(html), "action": "accept", "note": "x"})
    assert r.status_code == 403 and await ScanResolution.count() == 0
