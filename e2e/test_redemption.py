"""Redemption in Chromium: an admin stocks the points shop and sets a window, the merchant clerk publishes an
offer, a till redeems it through the real scan API, and the merchant's statement shows it (masked name, points,
CSV, .xlsx). The demo's windows make the shop open today in 东园 and closed in 西园 (backend/redemption/demo.py)."""
import json
import subprocess
import sys
from datetime import datetime, timezone
from uuid import uuid4

from openpyxl import load_workbook
from playwright.sync_api import expect

from e2e.conftest import ROOT, assert_accessible, sign_in
from e2e.db import query

OFFER = "周末洗剪吹"

# The till screen is another part's; here the services set up and pair tills against the server's database, as
# staff would, and hand back what a paired till holds: its credential, and the cards to scan.
TILLS = """
import asyncio, json
from datetime import datetime, timezone
from backend import db
from backend.accounts.tables import Account
from backend.people import service as people
from backend.people.tables import Person, User
from backend.redemption.tables import Offer
from backend.servicecards import service as cards
from backend.stations import service as stations

async def user(name):
    return await people.principal((await User.select(User.id).where(User.username == name).first())["id"])

async def account(kind, name):
    return await Account.select().where((Account.kind == kind) & (Account.name == name)).first()

async def main():
    await db.prepare()
    now = datetime.now(timezone.utc)
    admin, district = await user("admin"), await user("district")
    barber, east_shop, west_shop = await account("merchant", "老王理发店"), await account("shop", "东园社区积分超市"), \\
        await account("shop", "西园社区积分超市")

    async def till(principal, community, name, kind, mode, receiving):
        station = await stations.create_station(principal, community, name, kind, [mode], receiving_account_id=receiving,
                                                pin_threshold=100)
        return await stations.pair(await stations.new_pairing_code(principal, station, name + "设备", now), now)

    resident = (await User.select(User.person).where(User.username == "resident1").first())["person"]
    card = (await cards.active_cards_of_person(resident))[0]
    west_person = (await Person.select(Person.id).where(Person.community == west_shop["community"]).first())["id"]
    west_card = (await cards.active_cards_of_person(west_person))[0]
    print(json.dumps({
        "barber": await till(admin, barber["community"], "老王理发店收银台", "merchant", "redeem_offer", barber["id"]),
        "east": await till(admin, east_shop["community"], "东园积分超市", "shop", "redeem_shop", east_shop["id"]),
        "west": await till(district, west_shop["community"], "西园积分超市", "shop", "redeem_shop", west_shop["id"]),
        "card": await cards.card_url(card), "masked": card.masked_name, "west_card": await cards.card_url(west_card),
        "offer": (await Offer.select(Offer.id).where(Offer.title == "%s").first())["id"],
    }))

asyncio.run(main())
""" % OFFER


def set_up_tills(server) -> dict:
    env = {**server.env, "PICCOLO_CONF": "backend.piccolo_conf"}
    done = subprocess.run([sys.executable, "-c", TILLS], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_admin_adds_goods_restocks_and_sets_a_window(page, server):
    sign_in(page, server, "admin")
    page.get_by_role("link", name="积分超市").click()
    expect(page.get_by_role("heading", name="东园社区积分超市商品")).to_be_visible()
    expect(page.get_by_test_id("shop-open")).to_contain_text("积分超市办理兑换")
    assert_accessible(page)

    page.get_by_label("商品名称").fill("电蚊香")
    page.get_by_label("单价（积分）").fill("25")
    page.get_by_label("库存").fill("8")
    page.get_by_role("button", name="加入积分超市").click()
    expect(page.locator("#flash")).to_contain_text("已将“电蚊香”加入积分超市")
    row = page.locator("tbody tr", has_text="电蚊香")
    expect(row).to_contain_text("25")

    row.get_by_label("“电蚊香”到货数量").fill("4")
    row.get_by_role("button", name="补货 电蚊香").click()
    expect(page.locator("#flash")).to_contain_text("现有库存 12")
    goods_id = query(server, "SELECT id FROM shop_goods WHERE name = '电蚊香'")[0][0]
    expect(page.get_by_test_id(f"stock-{goods_id}")).to_have_text("12")

    page.get_by_label("开始日期").fill("2027-04-01")
    page.get_by_label("结束日期").fill("2027-04-14")
    page.get_by_label("备注（可不填）").fill("二季度兑换")
    page.get_by_role("button", name="添加兑换期").click()
    expect(page.locator("#flash")).to_contain_text("已添加兑换期")
    expect(page.locator("tbody tr", has_text="二季度兑换")).to_contain_text("2027-04-14")
    assert_accessible(page)
    assert query(server, "SELECT action FROM audit_entry ORDER BY id DESC LIMIT 3") == [
        ("window.add",), ("goods.restock",), ("goods.add",)]


def test_the_clerk_publishes_an_offer_and_sees_it_redeemed_on_the_statement(page, server):
    sign_in(page, server, "merchant")
    page.get_by_role("link", name="商户优惠").click()
    expect(page.get_by_role("heading", name="老王理发店的优惠")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("优惠名称").fill(OFFER)
    page.get_by_label("积分", exact=True).fill("25")
    page.get_by_label("持卡人可得").fill("周六周日洗剪吹一次")
    page.get_by_label("开始日期").fill("2026-01-01")
    page.get_by_label("结束日期（含当天）").fill("2030-12-31")
    page.get_by_label("每人限兑次数（可不填）").fill("1")
    page.get_by_role("button", name="发布", exact=True).click()
    expect(page.locator("#flash")).to_contain_text(f"已发布优惠“{OFFER}”")
    expect(page.locator("tbody tr", has_text=OFFER)).to_contain_text("每人限 1 次")
    assert_accessible(page)

    tills = set_up_tills(server)
    balance_before = query(server, "SELECT balance FROM points_account WHERE name = '老王理发店'")[0][0]

    def scan(till: str, card: str, mode: str, **details):
        body = {"scan_id": str(uuid4()), "scanned_at": datetime.now(timezone.utc).isoformat(), "mode": mode,
                "card": card, "details": details}
        return page.request.post(server.url + "/api/v1/scans", data=body, headers={"Authorization": f"Device {tills[till]}"})

    done = scan("barber", tills["card"], "redeem_offer", offer_id=tills["offer"])
    assert done.status == 200 and done.json()["points"] == -25, done.text()
    assert done.json()["summary"] == {"offer": OFFER, "gives": "周六周日洗剪吹一次"}
    again = scan("barber", tills["card"], "redeem_offer", offer_id=tills["offer"])
    assert again.status == 422 and again.json()["reason"] == "person_limit_reached"
    assert query(server, "SELECT balance FROM points_account WHERE name = '老王理发店'")[0][0] == balance_before + 25

    page.get_by_role("link", name="商户对账单").click()
    row = page.locator("tbody tr", has_text=OFFER)
    expect(row).to_contain_text(tills["masked"])
    expect(row).to_contain_text("+25")
    expect(page.get_by_test_id("month-total")).to_contain_text("分")
    assert_accessible(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="下载本月明细（CSV）").click()
    csv = open(download.value.path(), encoding="utf-8-sig").read()
    assert f",{tills['masked']},{OFFER},兑换,25" in csv
    with page.expect_download() as download:
        page.get_by_role("link", name="下载本月明细（Excel）").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    with open(download.value.path(), "rb") as fh:  # the download has no .xlsx suffix, which openpyxl insists on
        sheet = load_workbook(fh).worksheets[0]
    cells = [[c.strftime("%Y-%m-%d %H:%M") if isinstance(c, datetime) else c for c in r]
             for r in sheet.iter_rows(min_row=3, values_only=True)]
    shown = page.locator("section[aria-labelledby=month-title] tbody tr")
    assert len(cells) == shown.count() and cells
    for i, (when, holder, what, kind, points) in enumerate(cells):
        assert [t.strip() for t in shown.nth(i).locator("td").all_inner_texts()] == [
            when, holder, "已撤销： " + what if kind == "冲正" else what, ("+" if points > 0 else "−") + str(abs(points))]
    assert [tills["masked"], OFFER, "兑换", 25] in [list(r[1:]) for r in cells]

    # the shop windows of the demo: 东园 redeems today, 西园 does not
    east = scan("east", tills["card"], "redeem_shop", goods_id=query(
        server, "SELECT g.id FROM shop_goods g JOIN community_node c ON c.id = g.community "
                "WHERE g.name = '垃圾袋' AND c.name = '东园社区'")[0][0], quantity=2)
    assert east.status == 200 and east.json()["summary"] == {"goods": "垃圾袋", "quantity": 2}, east.text()
    west = scan("west", tills["west_card"], "redeem_shop", goods_id=query(
        server, "SELECT g.id FROM shop_goods g JOIN community_node c ON c.id = g.community "
                "WHERE g.name = '垃圾袋' AND c.name = '西园社区'")[0][0])
    assert west.status == 422 and west.json()["reason"] == "outside_window", west.text()


def test_the_resident_sees_what_to_redeem_where(page, server):
    sign_in(page, server, "resident1")
    page.get_by_role("link", name="积分兑换").click()
    expect(page.get_by_role("heading", name="东园社区积分超市")).to_be_visible()
    expect(page.get_by_test_id("window-state")).to_contain_text("今天可以兑换")
    expect(page.locator("tbody tr", has_text="理发服务").first).to_contain_text("老王理发店")
    assert_accessible(page)
