"""A station from start to scan: staff set it up and pair a device by its QR code; the device scans a real printed
card through Chromium's fake camera (a video of the card's QR), a keyboard-wedge scanner, a typed number, a scripted
NFC reader and a photo; undo; a card reported lost is refused; a shop till asks the PIN on its keypad; the scan
screen is an installable app."""
from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect
from pyzbar.pyzbar import decode

from e2e.conftest import CHROMIUM_ARGS, LINLI, ROOT, assert_accessible, sign_in
from e2e.db import query

FIXTURES = Path(__file__).parent / "fixtures"
log = logging.getLogger(__name__)

# a catalogue item to award in the first community; the demo may not have a catalogue in the database yet
ENSURE_ITEM = """
import asyncio, json
from datetime import date
from backend import db
from backend.catalog import service as catalog
from backend.catalog.tables import Item
from backend.community.tables import Node

async def main():
    await db.prepare()
    try:
        community = (await Node.select(Node.id).where(Node.kind == "community").order_by(Node.id).first())["id"]
        ids = [r["id"] for r in await Item.select(Item.id).where(Item.category.community == community).order_by(Item.id)]
        items = await catalog.items_in_force(ids, date.today())
        if not items:
            category = await catalog.add_category(community, "文明实践")
            items = [await catalog.item_on(await catalog.add_item(category, "楼道清理", 10, date(2026, 1, 1)), date.today())]
        print(json.dumps({"community": community, "label": items[0].label, "points": items[0].points}))
    finally:
        await db.close()

asyncio.run(main())
"""


# a points-shop till that asks for the PIN on every redemption, paired directly; and a PIN on one card
SHOP_TILL = """
import asyncio, json, sys
from datetime import datetime, timezone
from backend import db
from backend.accounts.tables import Account
from backend.people import service as people
from backend.people.tables import User
from backend.redemption import service as redemption
from backend.servicecards import service as cards
from backend.stations import service as stations

async def main(community, number, pin):
    await db.prepare()
    try:
        now = datetime.now(timezone.utc)
        admin = await people.principal((await User.select(User.id).where(User.username == "admin").first())["id"])
        shop = (await Account.select(Account.id).where((Account.kind == "shop") & (Account.community == community)).first())["id"]
        goods = await redemption.add_goods(admin, community, "洗衣液", 5, 10)
        station = await stations.create_station(admin, community, "积分超市收银台", "shop", ["redeem_shop"],
                                                receiving_account_id=shop, pin_threshold=0)
        credential = await stations.pair(await stations.new_pairing_code(admin, station, "超市收银台", now), now)
        await cards.reset_pin(admin, (await cards.card_by_number(number)).pk, pin, pin, now)
        print(json.dumps({"credential": credential, "goods": goods, "shop": shop}))
    finally:
        await db.close()

asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
"""


def _python(server, code: str, *args: str) -> str:
    return subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", code, *args], env=server.env, cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def world(server):
    """The item to award and three residents' working cards (number, URL, masked name, account, person)."""
    item = json.loads(_python(server, ENSURE_ITEM))
    listed = server.linli("cards", "list", "--node", str(item["community"]), "--state", "active").stdout.splitlines()
    residents = []
    for line in listed:
        number, _state, masked, account = line.split("\t")
        # residents with some points, so the shop test can spend a few
        person = query(server, "SELECT holder FROM points_account WHERE id = ? AND kind = 'person' AND balance >= 20", int(account))
        if person:
            url = server.linli("cards", "show", number).stdout.strip()
            residents.append({"number": number, "url": url, "masked": masked, "account": int(account), "person": person[0][0]})
        if len(residents) == 3:
            break
    return {"item": item, "cards": residents}


@pytest.fixture(scope="module")
def paired(browser, server, world):
    """Staff (the `station` operator) create an award station and show a pairing code; a second browser context,
    the device, opens the code's address and pairs. Returns the device's cookies."""
    staff = browser.new_context(locale="zh-CN")
    page = staff.new_page()
    sign_in(page, server, "station")
    page.get_by_role("link", name="服务站").click()
    expect(page.get_by_role("heading", name="服务站")).to_be_visible()
    page.get_by_role("link", name="新建服务站").click()
    page.get_by_label("服务站名称").fill("东园党群服务中心前台")
    page.get_by_label("党群服务中心", exact=True).check()
    page.get_by_label("按积分项目奖励").check()
    page.get_by_label(world["item"]["label"]).check()
    page.get_by_role("button", name="创建服务站").click()
    expect(page.get_by_role("heading", name="东园党群服务中心前台")).to_be_visible()
    page.get_by_label("新设备的名称").fill("前台平板")
    page.get_by_role("button", name="生成绑定二维码").click()
    expect(page.get_by_test_id("pairing-qr").locator("svg")).to_be_visible()
    pairing_url = page.get_by_test_id("pairing-url").inner_text()
    station_url = page.url

    device = browser.new_context(locale="zh-CN")
    tablet = device.new_page()
    tablet.goto(pairing_url)
    expect(tablet.get_by_text("将本设备以“前台平板”的名称绑定到服务站“东园党群服务中心前台”？")).to_be_visible()
    tablet.get_by_role("button", name="绑定本设备").click()
    expect(tablet).to_have_url(re.compile(r"/station$"))
    cookies = device.cookies()
    device.close()
    staff.close()
    return {"cookies": [c for c in cookies if c["name"] == "linli_device"], "pairing_url": pairing_url,
            "station_url": station_url}


def _device_page(context, server, paired):
    context.add_cookies(paired["cookies"])
    page = context.new_page()
    page.goto(server.url + "/")  # the installed app's start URL leads a paired device to its scan screen
    expect(page).to_have_url(re.compile(r"/station$"))
    expect(page.get_by_label("奖励", exact=True)).to_be_checked()
    return page


# measures in the page, from the Enter key to the result on screen, for the figures in the log
STOPWATCH = """() => {
  let start = 0;
  document.addEventListener("keydown", (e) => { if (e.key === "Enter") start = performance.now(); }, {capture: true, once: true});
  new MutationObserver((_m, observer) => {
    if (document.querySelector("[data-testid=result-ok]")) { window.stopwatch = performance.now() - start; observer.disconnect(); }
  }).observe(document.getElementById("result"), {childList: true, subtree: true});
}"""


def _scans_of(server, account: int) -> list[tuple]:
    return query(server, "SELECT scan_id, accepted, reason FROM scan WHERE account = ? ORDER BY id", account)


def _card_video(server, number: str) -> Path:
    """A few seconds of video of the card's QR code, as printed by `linli cards show --format png` (about 20 MB:
    the caller removes it)."""
    FIXTURES.mkdir(exist_ok=True)
    png, video = FIXTURES / f"card-{number}.png", FIXTURES / f"card-{number}.y4m"
    png.write_bytes(subprocess.run([LINLI, "cards", "show", number, "--format", "png"], env=server.env, check=True,
                                   capture_output=True).stdout)
    try:
        subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-loop", "1", "-i", str(png), "-vf",
                        "scale=400:400,pad=640:480:(ow-iw)/2:(oh-ih)/2:white,format=yuv420p", "-t", "3", "-r", "15",
                        str(video)], check=True)
    finally:
        png.unlink()
    return video


def test_the_camera_scans_a_printed_card_and_undo_gives_the_points_back(playwright, server, world, paired):
    card, item = world["cards"][0], world["item"]
    before = query(server, "SELECT balance FROM points_account WHERE id = ?", card["account"])[0][0]
    video = _card_video(server, card["number"])
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS + [
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}"])
    try:
        context = browser.new_context(locale="zh-CN")
        started = time.perf_counter()
        page = _device_page(context, server, paired)
        result = page.get_by_test_id("result-ok")
        expect(result).to_be_visible(timeout=15000)
        log.warning("camera: %.0f ms from opening the app to the green result", (time.perf_counter() - started) * 1000)
        expect(result.get_by_test_id("result-holder")).to_have_text(card["masked"])
        expect(result.get_by_test_id("result-points")).to_have_text(f"+{item['points']}")
        expect(result).to_contain_text(f"余额：{before + item['points']} 分")

        # the card stays in front of the camera: still one scan, one ledger transaction
        page.wait_for_timeout(3500)
        scans = _scans_of(server, card["account"])
        assert [(accepted, reason) for _id, accepted, reason in scans] == [(1, "ok")]
        scan_id = scans[0][0]
        assert query(server, "SELECT COUNT(*) FROM ledger_transaction WHERE idempotency_key = ?", f"scan:{scan_id}") == [(1,)]

        result.get_by_role("button", name="撤销").click()
        expect(page.get_by_test_id("result-undone")).to_contain_text("已撤销")
        assert query(server, "SELECT balance FROM points_account WHERE id = ?", card["account"]) == [(before,)]
        assert query(server, "SELECT COUNT(*) FROM ledger_transaction WHERE idempotency_key = ?", f"undo:{scan_id}") == [(1,)]
        assert_accessible(page)
    finally:
        browser.close()
        video.unlink()


def test_keyboard_wedge_and_typed_card_number(page, server, world, paired):
    card = world["cards"][1]
    before = len(_scans_of(server, card["account"]))
    page = _device_page(page.context, server, paired)
    field = page.get_by_label("扫码枪或卡号")
    expect(field).to_be_focused()
    # a USB scanner types the code from the card and Enter, like a very fast keyboard
    page.keyboard.type(card["url"], delay=0)
    page.evaluate(STOPWATCH)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("result-ok")).to_be_visible()
    log.warning("keyboard wedge: %.0f ms in the page from Enter to the green result (the POST itself: %.0f ms)",
                page.evaluate("window.stopwatch"), page.evaluate(
                    "performance.getEntriesByType('resource').filter(e => e.name.endsWith('/api/v1/scans')).pop().duration"))
    expect(page.get_by_test_id("result-holder")).to_have_text(card["masked"])
    # the field has the focus again for the next card; a person types the number with spaces
    expect(field).to_be_focused()
    n = card["number"]
    field.fill(f"{n[:4]} {n[4:8]} {n[8:]}")
    page.get_by_role("button", name="确定", exact=True).click()
    expect(page.get_by_test_id("result-ok")).to_be_visible()
    assert [r[1] for r in _scans_of(server, card["account"])[before:]] == [1, 1]
    assert_accessible(page)


def test_the_till_scanner_reads_a_residents_phone_code(browser, page, server, world, paired):
    """A resident shows the rotating code on their phone; the till's scanner reads it off the screen (here: the
    screenshot decoded by pyzbar) and types it with Enter. The points land on the resident's account."""
    account, = query(server, "SELECT a.id FROM points_account a JOIN app_user u ON u.person = a.holder"
                             " WHERE u.username = 'resident1' AND a.kind = 'person'")[0]
    before = query(server, "SELECT balance FROM points_account WHERE id = ?", account)[0][0]
    phone = browser.new_page(locale="zh-CN")
    sign_in(phone, server, "resident1")
    phone.goto(server.url + "/me/card")
    shot = phone.get_by_test_id("phone-code").locator("svg").screenshot()
    code = decode(Image.open(io.BytesIO(shot)).convert("L"))[0].data.decode()
    phone.close()

    page = _device_page(page.context, server, paired)
    page.get_by_label("扫码枪或卡号").press_sequentially(code)
    page.keyboard.press("Enter")
    result = page.get_by_test_id("result-ok")
    expect(result).to_be_visible()
    expect(result.get_by_test_id("result-points")).to_have_text(f"+{world['item']['points']}")
    expect(result).to_contain_text(f"余额：{before + world['item']['points']} 分")
    assert [r[1:] for r in _scans_of(server, account)][-1:] == [(1, "ok")]

    # whatever else the scanner reads (a shop's barcode, say) is refused in plain words
    page.get_by_label("扫码枪或卡号").press_sequentially("6901234567892")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("result-fail").get_by_test_id("result-reason")).to_have_text("这不是有效的卡码或卡号。")
    assert_accessible(page)


def test_a_card_reported_lost_is_refused_in_red(page, server, world, paired):
    card = world["cards"][2]
    sign_in(page, server, "admin")
    page.goto(f"{server.url}/staff/people/{card['person']}/cards")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id(f"card-{card['number']}").get_by_role("button", name="挂失补卡").click()
    expect(page.get_by_test_id(f"card-{card['number']}")).to_contain_text("已挂失")

    device = page.context.browser.new_context(locale="zh-CN")
    try:
        tablet = _device_page(device, server, paired)
        tablet.get_by_label("扫码枪或卡号").fill(card["url"])
        tablet.keyboard.press("Enter")
        refused = tablet.get_by_test_id("result-fail")
        expect(refused).to_be_visible()
        expect(refused.get_by_test_id("result-reason")).to_have_text("这张卡已挂失或已换卡，不能再使用。")
        # a revoked card names no account on its scan record, which is stored all the same
        assert query(server, "SELECT accepted, reason FROM scan ORDER BY id DESC LIMIT 1") == [(0, "revoked")]
        assert_accessible(tablet)
    finally:
        device.close()


# A stand-in for Web NFC (headless Chromium has none): reading a tag gives one URL record, as a written card tag does.
NFC_STAND_IN = """
window.NDEFReader = class extends EventTarget {
  async scan() {
    setTimeout(() => {
      const event = new Event("reading");
      event.message = {records: [{recordType: "url", data: new DataView(new TextEncoder().encode(%s).buffer)}]};
      this.dispatchEvent(event);
    }, 50);
  }
};
"""


def test_nfc_reads_the_card_tag(page, server, world, paired):
    card = world["cards"][1]
    before = len(_scans_of(server, card["account"]))
    page.context.add_init_script(NFC_STAND_IN % json.dumps(card["url"]))
    page = _device_page(page.context, server, paired)
    page.get_by_role("button", name="读取 NFC 卡").click()
    expect(page.get_by_test_id("result-ok")).to_be_visible()
    expect(page.get_by_test_id("result-holder")).to_have_text(card["masked"])
    assert [r[1] for r in _scans_of(server, card["account"])[before:]] == [1]


def test_a_photo_of_the_card_is_read_on_the_server(page, server, world, paired, tmp_path):
    card = world["cards"][0]
    photo = tmp_path / "card.png"
    photo.write_bytes(subprocess.run([LINLI, "cards", "show", card["number"], "--format", "png"], env=server.env,
                                     check=True, capture_output=True).stdout)
    page = _device_page(page.context, server, paired)
    page.get_by_label("给卡拍照").set_input_files(photo)
    expect(page.get_by_test_id("result-holder")).to_have_text(card["masked"])


def test_without_nfc_the_button_is_replaced_by_a_note(page, server, paired):
    page = _device_page(page.context, server, paired)
    expect(page.get_by_role("button", name="读取 NFC 卡")).to_be_hidden()
    expect(page.get_by_text("此浏览器不能读取 NFC 卡")).to_be_visible()


def test_shop_redemption_asks_the_pin_on_a_big_keypad(page, server, world):
    card = world["cards"][1]
    till = json.loads(_python(server, SHOP_TILL, str(world["item"]["community"]), card["number"], "246810"))
    page.context.add_cookies([{"name": "linli_device", "value": till["credential"], "url": server.url}])
    page.goto(server.url + "/station")
    expect(page.get_by_label("超市商品")).to_be_checked()
    page.get_by_label("商品", exact=True).select_option(str(till["goods"]))
    page.get_by_label("数量").fill("2")
    before = query(server, "SELECT balance FROM points_account WHERE id = ?", card["account"])[0][0]
    page.get_by_label("扫码枪或卡号").fill(card["number"])
    page.keyboard.press("Enter")
    pad = page.get_by_test_id("pin-pad")
    expect(pad).to_contain_text("使用 10 积分需要持卡人输入密码。")
    expect(pad.get_by_label("密码（6 位数字）")).to_be_focused()
    for key in "135790":  # a wrong PIN: asked again, and told how many tries are left
        pad.get_by_role("button", name=key, exact=True).click()
    pad.get_by_role("button", name="确认").click()
    expect(pad).to_contain_text("密码错误。再错")
    pad.get_by_label("密码（6 位数字）").fill("246810")
    pad.get_by_role("button", name="确认").click()
    result = page.get_by_test_id("result-ok")
    expect(result.get_by_test_id("result-points")).to_have_text("−10")
    expect(result).to_contain_text(f"余额：{before - 10} 分")
    # the refused tries are on record as scans of their own; the points moved once, to the shop
    assert [(r[1], r[2]) for r in _scans_of(server, card["account"])[-3:]] == [(0, "pin_required"), (0, "wrong_pin"), (1, "ok")]
    assert query(server, "SELECT balance FROM points_account WHERE id = ?", card["account"]) == [(before - 10,)]
    assert_accessible(page)


def test_staff_pages_are_accessible_and_list_the_device(page, server, paired):
    sign_in(page, server, "station")
    page.goto(server.url + "/staff/stations")
    assert_accessible(page)
    page.goto(server.url + "/staff/stations/new")
    assert_accessible(page)
    page.goto(paired["station_url"])
    expect(page.locator("#devices")).to_contain_text("前台平板")
    assert_accessible(page)
    # the pairing code worked once
    page.goto(paired["pairing_url"])
    expect(page.get_by_role("alert")).to_have_text("绑定码已使用过，请向工作人员索取新的绑定码。")


def test_the_scan_screen_is_an_installable_app(playwright, server, paired, tmp_path):
    context = playwright.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path="/usr/bin/chromium",
                                                            args=CHROMIUM_ARGS, locale="zh-CN")
    try:
        page = _device_page(context, server, paired)
        # installable needs a service worker that controls the page
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.wait_for_function("!!navigator.serviceWorker.controller")
        cdp = context.new_cdp_session(page)
        assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    finally:
        context.close()
