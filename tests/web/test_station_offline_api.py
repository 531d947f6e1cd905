"""GET /api/v1/station/offline: what a paired device caches to judge scans while the network is down."""
import json
import re
from datetime import date, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from backend.accounts.tables import Account
from backend.catalog import service as catalog
from backend.events import service as events
from backend.events.tables import Attendance, Signup
from backend.servicecards import service as cards
from backend.stations import service as stations
from tests import factories as f

pytestmark = pytest.mark.db


@pytest.fixture
async def world(client):
    t = await f.tree()
    issuer = await f.issuer(t["c1"])
    admin = await f.admin_principal(t["c1"])
    seen_person, seen = await f.person_account("王小明", t["unit"], t["c1"], colour="red")
    signed_person, signed = await f.person_account("李四", t["unit"], t["c1"])
    in_person, inside = await f.person_account("张三", t["unit"], t["c1"], colour="green")
    _, stranger = await f.person_account("赵六", t["unit"], t["c1"])
    _, lost = await f.person_account("钱七", t["unit"], t["c1"])
    await f.award(issuer, seen, 40, t["c1"])
    item = await catalog.add_item(await catalog.add_category(t["c1"], "文明实践"), "楼道清理", 10, date(2026, 1, 1))
    shop = (await Account.insert(Account(kind="shop", name="东园积分超市", community=t["c1"])))[0]["id"]
    station = await stations.create_station(admin, t["c1"], "东园党群服务中心", "centre", ["award", "checkin", "redeem_shop"],
                                            award_items=[item], receiving_account_id=shop, offline_limit=25)
    _, credential = await f.paired_device(admin, station)
    now = datetime.now(timezone.utc)
    event = await events.create_event(admin, t["c1"], "清扫楼道", "1号楼", now - timedelta(hours=1), now + timedelta(hours=2),
                                      points_per_hour=10)
    await Signup.insert(Signup(event=event, person=signed_person))
    await Attendance.insert(Attendance(event=event, account=inside, person=in_person, checked_in_at=now - timedelta(minutes=30)))
    views = {name: (await f.card_for(admin, account)) for name, account in
             (("seen", seen), ("signed", signed), ("inside", inside), ("stranger", stranger), ("lost", lost))}
    await cards.report_lost(admin, views["lost"][0].pk, now)
    headers = {"Authorization": f"Device {credential}"}
    # the seen card was scanned here once: the station remembers it
    r = await client.post("/api/v1/scans", headers=headers, json={
        "scan_id": str(uuid4()), "scanned_at": now.isoformat(), "mode": "award", "card": views["seen"][1],
        "details": {"item_id": item}})
    assert r.status_code == 200, r.text
    return {"headers": headers, "views": views, "event": event, "item": item, "seen": seen, "admin": admin,
            "community": t["c1"]}


async def test_offline_data_has_what_the_device_judges_with(client, world):
    r = await client.get("/api/v1/station/offline", headers=world["headers"])
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    data = r.json()
    assert abs(datetime.fromisoformat(data["server_time"]) - datetime.now(timezone.utc)) < timedelta(minutes=1)
    assert data["offline_limit"] == 25 and data["station"]["modes"] == ["checkin", "award", "redeem_shop"]
    assert [(i["id"], i["points"]) for i in data["config"]["award_items"]] == [(world["item"], 10)]
    assert [e["id"] for e in data["config"]["events"]] == [world["event"]]
    assert "goods" in data["config"]
    # the keys that verify card codes, and the revoked card's id
    assert data["keys"] and all(len(k["public_key"]) == 43 for k in data["keys"])
    views = world["views"]
    assert views["lost"][0].card_id_hex in data["revoked"]
    # the roster by card id
    roster = data["rosters"][str(world["event"])]
    assert roster == {"signed_up": [views["signed"][0].card_id_hex], "checked_in": [views["inside"][0].card_id_hex],
                      "checked_out": []}
    # cards the station knows: seen here (with its balance after the award) and those on the roster; no stranger
    known = data["cards"]
    assert set(known) == {views[n][0].card_id_hex for n in ("seen", "signed", "inside")}
    seen = known[views["seen"][0].card_id_hex]
    assert seen["balance"] == 50 and seen["number"] == views["seen"][0].number and seen["colour"] == "red"
    assert seen["holder"] != "王小明" and seen["balance_at"] == data["server_time"]
    assert "person" not in seen


async def test_only_a_paired_device_gets_it(client, world):
    r = await client.get("/api/v1/station/offline")
    assert r.status_code == 403 and r.json()["reason"] == "device_unknown"


async def test_the_queue_modules_are_served_and_nothing_else(client):
    r = await client.get("/sw-src/queue-store.mjs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert "export class QueueStore" in r.text
    for bad in ("/sw-src/..%2Fsw.js", "/sw-src/missing.mjs", "/sw-src/README.md"):
        assert (await client.get(bad)).status_code == 404, bad


async def test_scan_screen_and_queue_page_carry_the_offline_words(client, world):
    page = await client.get("/station", headers=world["headers"])
    assert page.status_code == 200 and 'data-testid="pending-count"' in page.text
    strings = json.loads(re.search(r'id="station-strings">(.*?)</script>', page.text, re.S).group(1))
    assert strings["offline_saved"] == "已离线保存，联网后自动上传"
    assert strings["reasons"]["offline_unknown_card"].startswith("没有网络时无法核验这张卡")
    assert strings["reasons"]["revoked"] == "这张卡已挂失或已换卡，不能再使用。"
    queue = await client.get("/station/queue", headers=world["headers"])
    assert queue.status_code == 200 and "离线保存的扫码" in queue.text
    listed = json.loads(re.search(r'id="queue-strings">(.*?)</script>', queue.text, re.S).group(1))
    assert listed["states"] == {"pending": "等待发送", "sending": "发送中", "done": "已发送", "refused": "服务器已拒绝"}
    assert (await client.get("/station/queue")).status_code in (302, 303, 403)


async def test_offline_spending_today_counts_towards_the_offline_limit(client, world):
    from backend.redemption import service as redemption

    goods = await redemption.add_goods(world["admin"], world["community"], "洗衣液", 5, 10)
    now = datetime.now(timezone.utc)
    r = await client.post("/api/v1/scans/batch", headers=world["headers"], json={"scans": [{
        "scan_id": str(uuid4()), "scanned_at": now.isoformat(), "mode": "redeem_shop", "card": world["views"]["seen"][1],
        "details": {"goods_id": goods, "quantity": 2}, "offline": True,
        "device_verdict": {"accepted": True, "reason": "ok"}, "clock_offset_ms": 0}]})
    assert r.status_code == 200 and r.json()[0]["accepted"], r.text
    data = (await client.get("/api/v1/station/offline", headers=world["headers"])).json()
    seen = data["cards"][world["views"]["seen"][0].card_id_hex]
    assert (seen["balance"], seen["offline_spent_today"]) == (40, 10)
    assert data["cards"][world["views"]["inside"][0].card_id_hex]["offline_spent_today"] == 0
