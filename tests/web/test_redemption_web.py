"""Redemption screens through the test client: the shop (goods, restock, windows), offers and the merchant
scope, the statement and its CSV and .xlsx, a clerk pairing their till, the resident's catalogue, and redeeming through
the scan API."""
import html
import io
import re
from datetime import date, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from openpyxl import load_workbook

from backend.accounts.tables import Account
from backend.audit.tables import AuditEntry
from backend.people import service as people
from backend.redemption import service
from backend.redemption.tables import Goods, Offer, RedemptionWindow
from backend.stations import service as stations
from tests import factories as f
from tests.web.conftest import PASSWORD, csrf_of, sign_in

pytestmark = pytest.mark.db

HTMX = {"HX-Request": "true"}


@pytest.fixture
async def shop_world(people_world):
    t = people_world["tree"]
    admin = await f.admin_principal(t["c1"])
    shop_account = (await Account.insert(Account(kind="shop", name="东园社区积分超市", community=t["c1"])))[0]["id"]
    barber = (await Account.insert(Account(kind="merchant", name="老王理发店", community=t["c1"])))[0]["id"]
    grocer = (await Account.insert(Account(kind="merchant", name="惠民超市", community=t["c1"])))[0]["id"]
    await people.create_user("barber", PASSWORD, "理发店店员", role="merchant_clerk", node_id=t["c1"],
                             merchant_account_id=barber)
    today = date.today()
    soap = await service.add_goods(admin, t["c1"], "洗衣液", 10, 5)
    haircut = await service.add_offer(admin, barber, "理发一次", "理发一次", 10, 2, None, today - timedelta(days=1),
                                      today + timedelta(days=30))
    grocer_offer = await service.add_offer(admin, grocer, "抵扣 10 元", "结账抵扣 10 元", 20, None, None,
                                           today - timedelta(days=1), today + timedelta(days=30))
    return people_world | {"admin": admin, "shop_account": shop_account, "barber": barber, "grocer": grocer,
                           "soap": soap, "haircut": haircut, "grocer_offer": grocer_offer}


async def form_post(client, page_url: str, url: str, data: dict, headers: dict | None = None):
    page = await client.get(page_url)
    return await client.post(url, data={"_csrf_token": csrf_of(page.text)} | data, headers=headers or {})


async def stock(goods_id: int) -> int:
    return (await Goods.select(Goods.stock).where(Goods.id == goods_id).first())["stock"]


# --- the points shop --------------------------------------------------------------------------------------

async def test_admin_adds_goods_restocks_and_it_is_audited(client, shop_world):
    await sign_in(client, "community_admin")
    page = await client.get("/staff/shop")
    assert page.status_code == 200 and "洗衣液" in page.text and "添加商品" in page.text
    r = await form_post(client, "/staff/shop", "/staff/shop/goods",
                        {"community": shop_world["tree"]["c1"], "name": "大米 5kg", "points": "80", "stock": "20"}, HTMX)
    assert r.status_code == 200 and "已将“大米 5kg”加入积分超市" in r.text and 'id="shop-admin"' in r.text
    assert "<html" not in r.text  # the fragment, with the flash out of band
    r = await form_post(client, "/staff/shop", f"/staff/shop/goods/{shop_world['soap']}/restock", {"quantity": "7"})
    assert r.status_code == 200 and "现有库存 12" in r.text and "<html" in r.text
    assert await stock(shop_world["soap"]) == 12
    assert await AuditEntry.count().where(AuditEntry.action == "goods.restock") == 1


@pytest.mark.parametrize(("fields", "message"), [
    ({"name": "", "points": "5", "stock": "1"}, "请输入名称"),
    ({"name": "毛巾", "points": "0", "stock": "1"}, "所需积分须为 1 到"),
    ({"name": "毛巾", "points": "5", "stock": "-1"}, "库存须为 0 到"),
    ({"name": "毛巾", "points": "abc", "stock": "1"}, "请求无效"),
])
async def test_bad_goods_say_why_and_keep_what_was_typed(client, shop_world, fields, message):
    await sign_in(client, "community_admin")
    r = await form_post(client, "/staff/shop", "/staff/shop/goods", {"community": shop_world["tree"]["c1"]} | fields)
    assert r.status_code == 400 and message in r.text
    assert f'value="{fields["name"]}"' in r.text
    assert await Goods.count() == 1


async def test_windows_open_and_close_the_shop(client, shop_world):
    await sign_in(client, "community_admin")
    today = date.today()
    r = await form_post(client, "/staff/shop", "/staff/shop/windows", {
        "community": shop_world["tree"]["c1"], "starts_on": (today + timedelta(days=3)).isoformat(),
        "ends_on": (today + timedelta(days=16)).isoformat(), "note": "四季度兑换"})
    assert r.status_code == 200 and "已添加兑换期" in r.text and "积分超市不办理兑换" in r.text
    r = await form_post(client, "/staff/shop", "/staff/shop/windows", {
        "community": shop_world["tree"]["c1"], "starts_on": today.isoformat(), "ends_on": (today - timedelta(days=1)).isoformat()})
    assert r.status_code == 400 and "结束日期不能早于开始日期" in r.text
    window = (await RedemptionWindow.select().first())["id"]
    r = await form_post(client, "/staff/shop", f"/staff/shop/windows/{window}/delete", {})
    assert r.status_code == 200 and "已删除兑换期" in r.text and await RedemptionWindow.count() == 0


async def test_a_station_operator_restocks_but_does_not_set_windows(client, shop_world):
    await sign_in(client, "station_operator")
    page = await client.get("/staff/shop")
    assert page.status_code == 200 and "补货" in page.text and "添加兑换期" not in page.text
    r = await form_post(client, "/staff/shop", "/staff/shop/windows", {
        "community": shop_world["tree"]["c1"], "starts_on": "2026-12-01", "ends_on": "2026-12-14"})
    assert r.status_code == 403


async def test_staff_of_another_community_cannot_touch_the_shop(client, shop_world):
    await people.create_user("west_admin", PASSWORD, "西园管理员", role="community_admin", node_id=shop_world["tree"]["c2"])
    await sign_in(client, "west_admin")
    assert (await client.get(f"/staff/shop?community={shop_world['tree']['c1']}")).status_code == 403
    r = await form_post(client, "/staff/shop", f"/staff/shop/goods/{shop_world['soap']}/restock", {"quantity": "7"})
    assert r.status_code == 403 and await stock(shop_world["soap"]) == 5


# --- offers and the merchant scope ----------------------------------------------------------------------------

async def test_a_clerk_publishes_and_withdraws_their_own_offers(client, shop_world):
    await sign_in(client, "barber")
    page = await client.get("/staff/offers")
    assert page.status_code == 200 and "老王理发店的优惠" in page.text and "惠民超市" not in page.text
    today = date.today().isoformat()
    r = await form_post(client, "/staff/offers", "/staff/offers", {
        "merchant": shop_world["barber"], "title": "儿童理发", "gives": "十二岁以下理发一次", "points": "15",
        "per_person_limit": "1", "valid_from": today, "valid_to": today}, HTMX)
    assert r.status_code == 200 and "已发布优惠“儿童理发”" in r.text
    offer = await Offer.select().where(Offer.title == "儿童理发").first()
    assert (offer["per_person_limit"], offer["total_limit"], offer["merchant"]) == (1, None, shop_world["barber"])
    r = await form_post(client, "/staff/offers", f"/staff/offers/{offer['id']}/active", {"active": "false"})
    assert r.status_code == 200 and "优惠已下架" in r.text


async def test_a_clerk_cannot_touch_another_merchants_offers(client, shop_world):
    await sign_in(client, "barber")
    today = date.today().isoformat()
    r = await form_post(client, "/staff/offers", "/staff/offers", {
        "merchant": shop_world["grocer"], "title": "冒充", "gives": "x", "points": "5", "valid_from": today, "valid_to": today})
    assert r.status_code == 403
    r = await form_post(client, "/staff/offers", f"/staff/offers/{shop_world['grocer_offer']}/active", {"active": "false"})
    assert r.status_code == 403
    assert (await Offer.select(Offer.active).where(Offer.id == shop_world["grocer_offer"]).first())["active"]
    assert (await client.get(f"/staff/offers?merchant={shop_world['grocer']}")).status_code == 403
    assert (await client.get(f"/merchant/statement?merchant={shop_world['grocer']}")).status_code == 403
    assert await Offer.count().where(Offer.title == "冒充") == 0


async def test_an_admin_manages_every_merchant_of_the_community(client, shop_world):
    await sign_in(client, "community_admin")
    page = await client.get(f"/staff/offers?merchant={shop_world['grocer']}")
    assert page.status_code == 200 and "抵扣 10 元" in page.text and "老王理发店" in page.text


async def test_bad_offers_say_why(client, shop_world):
    await sign_in(client, "barber")
    r = await form_post(client, "/staff/offers", "/staff/offers", {
        "merchant": shop_world["barber"], "title": "理发", "gives": "理发", "points": "10", "valid_from": "2026-12-01",
        "valid_to": "2026-11-01"})
    assert r.status_code == 400 and "结束日期不能早于开始日期" in r.text and 'value="理发"' in r.text


# --- redeeming through the scan API, then the statement --------------------------------------------------------

async def _device(shop_world, kind: str, mode: str, receiving: int, threshold: int | None = None):
    station = await stations.create_station(shop_world["admin"], shop_world["tree"]["c1"], "收银台", kind, [mode],
                                            receiving_account_id=receiving, pin_threshold=threshold)
    _, credential = await f.paired_device(shop_world["admin"], station)
    return {"Authorization": f"Device {credential}"}


def scan(card: str, mode: str, **details) -> dict:
    return {"scan_id": str(uuid4()), "scanned_at": datetime.now(timezone.utc).isoformat(), "mode": mode, "card": card,
            "details": details}


async def test_redeem_shop_goods_through_the_api_and_undo(client, shop_world):
    headers = await _device(shop_world, "shop", "redeem_shop", shop_world["shop_account"])
    _, url = await f.card_for(shop_world["admin"], shop_world["account"])
    body = scan(url, "redeem_shop", goods_id=shop_world["soap"], quantity=2)
    r = await client.post("/api/v1/scans", json=body, headers=headers)
    assert r.status_code == 200, r.text
    assert (r.json()["points"], r.json()["balance"], r.json()["summary"]) == (-20, 10, {"goods": "洗衣液", "quantity": 2})
    r = await client.post("/api/v1/scans", json=scan(url, "redeem_shop", goods_id=shop_world["soap"], quantity=4),
                          headers=headers)
    assert r.status_code == 422 and r.json()["reason"] == "out_of_stock" and "只剩 3 件" in r.json()["message"]
    assert (await client.post(f"/api/v1/scans/{body['scan_id']}/undo", headers=headers)).status_code == 200
    assert await stock(shop_world["soap"]) == 5 and await f.balance(shop_world["account"]) == 30
    config = (await client.get("/api/v1/station", headers=headers)).json()
    assert config["goods"] == [{"id": shop_world["soap"], "name": "洗衣液", "points": 10, "stock": 5}]


async def test_outside_a_window_the_api_refuses_in_words(client, shop_world):
    await service.add_window(shop_world["admin"], shop_world["tree"]["c1"], date(2026, 10, 1), date(2026, 10, 14), "")
    headers = await _device(shop_world, "shop", "redeem_shop", shop_world["shop_account"])
    _, url = await f.card_for(shop_world["admin"], shop_world["account"])
    r = await client.post("/api/v1/scans", json=scan(url, "redeem_shop", goods_id=shop_world["soap"]), headers=headers)
    assert r.status_code == 422 and r.json()["reason"] == "outside_window"
    assert "2026-10-01" in r.json()["message"] and "%(" not in r.json()["message"]


async def test_the_statement_shows_a_redemption_masked_with_totals_and_csv(client, shop_world):
    headers = await _device(shop_world, "merchant", "redeem_offer", shop_world["barber"])
    _, url = await f.card_for(shop_world["admin"], shop_world["account"])
    r = await client.post("/api/v1/scans", json=scan(url, "redeem_offer", offer_id=shop_world["haircut"]), headers=headers)
    assert r.status_code == 200 and r.json()["summary"] == {"offer": "理发一次", "gives": "理发一次"}
    await sign_in(client, "barber")
    page = await client.get("/merchant/statement")
    assert page.status_code == 200 and "王*明" in page.text and "王小明" not in page.text
    assert "理发一次" in page.text and "兑换 1 笔，共 10 分" in page.text
    csv = await client.get("/merchant/statement.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    lines = csv.text.lstrip("\ufeff").splitlines()
    assert lines[0] == "时间,持卡人,兑换内容,类型,积分" and lines[1].endswith(",王*明,理发一次,兑换,10")
    assert "王*明" not in (await client.get("/merchant/statement?month=2020-01")).text
    for path in ("/merchant/statement", "/merchant/statement.csv", "/merchant/statement.xlsx"):
        wrong = await client.get(f"{path}?month=2026-13")
        assert wrong.status_code == 400 and "请选择月份" in wrong.text, path


def _screen_rows(page: str) -> list[list[str]]:
    """The cells of each body row of the page's tables, as text."""
    rows = []
    for body in re.findall(r"<tbody>(.*?)</tbody>", page, re.S):
        for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S):
            rows.append([html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                         for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr, re.S)])
    return rows


async def test_the_statement_xlsx_has_the_screens_rows_and_totals(client, shop_world):
    headers = await _device(shop_world, "merchant", "redeem_offer", shop_world["barber"])
    _, url = await f.card_for(shop_world["admin"], shop_world["account"])
    kept = scan(url, "redeem_offer", offer_id=shop_world["haircut"])
    undone = scan(url, "redeem_offer", offer_id=shop_world["haircut"])
    for body in (kept, undone):
        assert (await client.post("/api/v1/scans", json=body, headers=headers)).status_code == 200
    assert (await client.post(f"/api/v1/scans/{undone['scan_id']}/undo", headers=headers)).status_code == 200
    await sign_in(client, "barber")
    page = await client.get("/merchant/statement")
    month = re.search(r"/merchant/statement\.xlsx\?merchant=(\d+)&amp;month=(\d{4}-\d{2})", page.text)
    assert month and int(month[1]) == shop_world["barber"]
    assert "下载本月明细（Excel）" in page.text and "兑换 1 笔，共 10 分" in page.text
    r = await client.get(html.unescape(month[0]))
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert f'filename="statement-{shop_world["barber"]}-{month[2]}.xlsx"' in r.headers["content-disposition"]
    book = load_workbook(io.BytesIO(r.content))
    lines, totals = book.worksheets
    rows = list(lines.iter_rows(values_only=True))
    assert rows[0][0] == f"商户对账单 {month[2]}：老王理发店"
    assert rows[1] == ("时间", "持卡人", "兑换内容", "类型", "积分")
    screen = _screen_rows(page.text)
    assert len(rows[2:]) == 3 == len(screen) - 1  # two redemptions and the undo; then the one month's total
    for (when, holder, what, kind, points), shown in zip(rows[2:], screen):
        assert isinstance(when, datetime) and isinstance(points, int)
        assert lines.cell(row=3, column=1).is_date
        assert [when.strftime("%Y-%m-%d %H:%M"), holder] == shown[:2]
        assert shown[2] == ("已撤销： " + what if kind == "冲正" else what) and what in ("理发一次", "撤销扫码")
        assert shown[3] == ("+" if points > 0 else "−") + str(abs(points))
    assert sorted(r[3] for r in rows[2:]) == ["兑换", "兑换", "冲正"] and sum(r[4] for r in rows[2:]) == 10
    assert list(totals.iter_rows(values_only=True)) == [("月份", "兑换笔数", "积分"), (month[2], 1, 10)]
    assert [month[2], "1", "10"] == screen[-1]
    # the CSV has the same rows
    csv_rows = (await client.get(f"/merchant/statement.csv?month={month[2]}")).text.lstrip("\ufeff").splitlines()
    assert csv_rows[1:] == [",".join([w.strftime("%Y-%m-%d %H:%M"), h, x, k, str(p)]) for w, h, x, k, p in rows[2:]]
    # another month: the headers, nothing else
    empty = load_workbook(io.BytesIO((await client.get("/merchant/statement.xlsx?month=2020-01")).content))
    assert list(empty.worksheets[0].iter_rows(values_only=True))[2:] == []


async def test_the_statement_xlsx_is_only_for_the_merchants_own_clerk(client, shop_world):
    await people.create_user("grocer_clerk", PASSWORD, "超市店员", role="merchant_clerk",
                             node_id=shop_world["tree"]["c1"], merchant_account_id=shop_world["grocer"])
    await sign_in(client, "grocer_clerk")
    assert (await client.get("/merchant/statement.xlsx")).status_code == 200  # their own
    r = await client.get(f"/merchant/statement.xlsx?merchant={shop_world['barber']}")
    assert r.status_code == 403 and "spreadsheetml" not in r.headers.get("content-type", "")
    assert (await client.get(f"/merchant/statement.csv?merchant={shop_world['barber']}")).status_code == 403
    await sign_in(client, "resident")
    assert (await client.get(f"/merchant/statement.xlsx?merchant={shop_world['barber']}")).status_code == 403


async def test_a_clerk_pairs_their_own_till(client, shop_world):
    station = await stations.create_station(shop_world["admin"], shop_world["tree"]["c1"], "老王理发店收银台", "merchant",
                                            ["redeem_offer"], receiving_account_id=shop_world["barber"])
    other = await stations.create_station(shop_world["admin"], shop_world["tree"]["c1"], "惠民超市收银台", "merchant",
                                          ["redeem_offer"], receiving_account_id=shop_world["grocer"])
    await sign_in(client, "barber")
    page = await client.get("/merchant/tills")
    assert page.status_code == 200 and "老王理发店收银台" in page.text and "惠民超市收银台" not in page.text
    r = await form_post(client, "/merchant/tills", f"/merchant/tills/{station}/pairing", {"device_name": "收银手机"})
    assert r.status_code == 200 and "/pair/" in r.text
    r = await form_post(client, "/merchant/tills", f"/merchant/tills/{other}/pairing", {"device_name": "x"})
    assert r.status_code == 403
    r = await form_post(client, "/merchant/tills", f"/merchant/tills/{station}/pairing", {"device_name": " "})
    assert r.status_code == 400 and "请输入名称" in r.text


# --- the resident's catalogue ---------------------------------------------------------------------------

async def test_the_resident_sees_what_to_redeem_where(client, shop_world):
    await sign_in(client, "resident")
    page = await client.get("/shop")
    assert page.status_code == 200
    assert "东园社区积分超市" in page.text and "洗衣液" in page.text and "每天都可以兑换" in page.text
    assert "老王理发店" in page.text and "理发一次" in page.text and "已用 0 次，共 2 次" in page.text
