"""Flagged scans: two shop tills that were offline replay their scans through the real batch API (paired devices,
their own credentials); together they spent more than the card held, so one scan is flagged. Station staff open the
flagged list from the menu, reverse that scan with a note, and see the balance come back."""
from __future__ import annotations

import json
import subprocess
import urllib.request
from datetime import datetime, timedelta, timezone
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from e2e.conftest import ROOT, assert_accessible, sign_in
from e2e.db import query

# two shop stations in the `station` operator's community, each with a paired till and an offline limit; goods
# priced at a resident's whole balance, and a second, cheaper one
SHOPS = """
import asyncio, json
from datetime import datetime, timezone
from backend import db
from backend.accounts.tables import Account
from backend.people import service as people
from backend.people.tables import RoleGrant, User
from backend.redemption import service as redemption
from backend.servicecards import service as cards
from backend.servicecards.tables import Card
from backend.stations import service as stations

async def main():
    await db.prepare()
    try:
        now = datetime.now(timezone.utc)
        station_user = (await User.select(User.id).where(User.username == "station").first())["id"]
        community = (await RoleGrant.select(RoleGrant.node).where(RoleGrant.user == station_user).first())["node"]
        admin = await people.principal((await User.select(User.id).where(User.username == "admin").first())["id"])
        shop = (await Account.select(Account.id).where((Account.kind == "shop") & (Account.community == community)).first())["id"]
        holder = await Card.select(Card.id, Card.account, Card.account.balance.as_alias("balance")).where(
            (Card.state == "active") & (Card.account.kind == "person") & (Card.account.community == community)
            & (Card.account.balance >= 20) & (Card.account.balance <= 500)).order_by(Card.id).first()
        whole = await redemption.add_goods(admin, community, "离线测试礼包", holder["balance"], 10)
        towel = await redemption.add_goods(admin, community, "毛巾", 10, 10)
        credentials = []
        for name in ("东园积分超市（离线一）", "东园积分超市（离线二）"):
            station = await stations.create_station(admin, community, name, "shop", ["redeem_shop"],
                                                    receiving_account_id=shop, pin_threshold=None, offline_limit=50)
            credentials.append(await stations.pair(await stations.new_pairing_code(admin, station, "收银台", now), now))
        print(json.dumps({"credentials": credentials, "whole": whole, "towel": towel, "account": holder["account"],
                          "balance": holder["balance"], "url": await cards.card_url(await cards.card(holder["id"]))}))
    finally:
        await db.close()

asyncio.run(main())
"""


def _batch(server, credential: str, scans: list[dict]) -> list[dict]:
    request = urllib.request.Request(server.url + "/api/v1/scans/batch", data=json.dumps({"scans": scans}).encode(),
                                     headers={"Authorization": f"Device {credential}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())


def _offline_scan(setup: dict, goods: int, minutes_ago: int, zone: str) -> dict:
    """A scan made `minutes_ago`, but never before today's local midnight (and its clock offset): the demo's shop
    window opens today, so just after midnight a scan from half an hour ago is rightly refused as outside it."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    midnight = now.astimezone(ZoneInfo(zone)).replace(hour=0, minute=0, second=0)
    at = max(now - timedelta(minutes=minutes_ago), min(midnight + timedelta(seconds=62 - minutes_ago), now))  # in order
    return {"scan_id": str(uuid4()), "scanned_at": at.isoformat(), "mode": "redeem_shop", "card": setup["url"],
            "details": {"goods_id": goods, "quantity": 1}, "offline": True,
            "device_verdict": {"accepted": True, "reason": "ok"}, "clock_offset_ms": 800}


@pytest.fixture(scope="module")
def flagged(server):
    setup = json.loads(subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", SHOPS], env=server.env, cwd=ROOT,
                                      check=True, capture_output=True, text=True).stdout)
    # the first till sold the whole balance, the second (not knowing) a towel: 10 points owed, within its limit
    zone = server.env.get("LINLI_TIMEZONE", "Asia/Shanghai")
    east = _batch(server, setup["credentials"][0], [_offline_scan(setup, setup["whole"], 30, zone)])
    west_scans = [_offline_scan(setup, setup["towel"], 20, zone)]
    west = _batch(server, setup["credentials"][1], west_scans)
    assert east[0]["accepted"] and west[0]["accepted"] and west[0]["balance"] == -10
    # the till's queue sends again (its answer got lost): the same answer, nothing written twice
    assert _batch(server, setup["credentials"][1], west_scans)[0]["duplicate"]
    return setup


def test_staff_reverse_a_flagged_scan_and_the_balance_comes_back(page, server, flagged):
    page.on("dialog", lambda dialog: dialog.accept())  # "Reverse this scan?"
    sign_in(page, server, "station")
    link = page.get_by_role("navigation").get_by_role("link", name="待复核扫码")
    expect(link.get_by_test_id("flagged-count")).to_be_visible()
    link.click()
    expect(page.get_by_role("heading", name="待复核扫码", level=1)).to_be_visible()
    card = page.get_by_test_id("flagged-scan").filter(has_text="超出余额消费")
    expect(card).to_have_count(1)
    expect(card.get_by_test_id("balance-now")).to_have_text("-10")
    expect(card.get_by_test_id("owes")).to_have_text("10")
    assert_accessible(page)

    card.get_by_label("说明（必填）").fill("两台收银台离线时重复兑换，已与居民核实")
    card.get_by_role("button", name="冲正").click()
    expect(page.get_by_role("status")).to_contain_text("已冲正")
    assert query(server, "SELECT balance FROM points_account WHERE id = ?", flagged["account"])[0][0] == 0

    page.get_by_label("状态").select_option("resolved")
    page.locator("form[method=get] button").click()
    done = page.get_by_test_id("flagged-scan").filter(has_text="两台收银台离线时重复兑换")
    expect(done.get_by_test_id("resolution")).to_contain_text("冲正")
    expect(done.get_by_test_id("balance-now")).to_have_text("0")
    expect(done.get_by_test_id("owes")).to_have_text("0")
    assert_accessible(page)
    entries = query(server, "SELECT COUNT(*) FROM audit_entry WHERE action = 'scan.resolve_reverse'")
    assert entries[0][0] == 1
