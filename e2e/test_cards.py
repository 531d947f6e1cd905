"""Service cards in the browser: staff issue, print and replace a card, and the old code is refused at its URL;
the resident's phone shows a code that rotates and falls back to the printed code offline; NFC writing with and
without Web NFC; identifying a card from a photo."""
import io
import re
from datetime import datetime, timezone

import segno
from PIL import Image
from playwright.sync_api import expect
from pyzbar.pyzbar import decode

from e2e.conftest import assert_accessible, sign_in
from e2e.db import query


def person_of(server, username: str) -> tuple[int, str]:
    return query(server, "SELECT p.id, p.name FROM app_user u JOIN person p ON p.id = u.person WHERE u.username = ?",
                 username)[0]


def card_url(server, number: str) -> str:
    shown = server.linli("cards", "show", number, "--format", "url")
    return shown.stdout.strip()


def test_staff_issue_print_and_replace_a_card_and_the_old_code_is_refused(page, server, tmp_path):
    person_id, name = person_of(server, "resident2")
    # set-up: resident2 handed their demo card back, so the account has no working card
    query(server, "UPDATE service_card SET state = 'revoked', revoke_reason = 'staff', revoked_at = ? "
                  "WHERE account IN (SELECT id FROM points_account WHERE holder = ?)",
          datetime.now(timezone.utc).isoformat(), person_id)

    sign_in(page, server, "admin")
    page.goto(f"{server.url}/staff/people/{person_id}")
    cards = page.locator("#person-cards")
    issue = cards.get_by_role("button", name=f"给{name}发卡")
    expect(issue).to_be_visible()
    assert_accessible(page)

    issue.click()
    expect(page.locator("#flash")).to_contain_text("已发卡")
    number = re.search(r"卡号 (\d{4} \d{4} \d{2})", page.locator("#flash").inner_text()).group(1)
    row = cards.get_by_test_id(f"card-{number.replace(' ', '')}")
    expect(row).to_contain_text("有效")

    with page.expect_download() as download:
        row.get_by_role("link", name="打印（PDF）").click()
    pdf = (tmp_path / "card.pdf")
    download.value.save_as(pdf)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", data)) == 1

    old_url = card_url(server, number)
    assert old_url.startswith(server.url + "/c/")

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="挂失补卡").click()
    expect(page.locator("#flash")).to_contain_text(f"卡 {number} 已挂失作废")
    expect(row).to_contain_text("已作废")
    new_number = re.search(r"补发新卡 (\d{4} \d{4} \d{2})", page.locator("#flash").inner_text()).group(1)
    expect(cards.get_by_test_id(f"card-{new_number.replace(' ', '')}")).to_contain_text("有效")
    assert_accessible(page)

    page.goto(old_url)
    expect(page.get_by_role("heading", name="这张卡已作废")).to_be_visible()
    expect(page.get_by_test_id("card-reason")).to_have_text("这张卡已挂失或已换卡，不能再使用。")
    assert_accessible(page)

    page.goto(card_url(server, new_number))
    expect(page.get_by_test_id("card-landing")).to_contain_text("东园社区的便民服务卡")
    expect(page.get_by_test_id("card-landing")).not_to_contain_text(name)
    assert_accessible(page)

    audit = [a for (a,) in query(server, "SELECT action FROM audit_entry ORDER BY id")]
    assert audit[-2:] == ["card.issue", "card.lost"]


def phone_svg(page) -> str:
    return page.get_by_test_id("phone-code").locator("svg").inner_html()


def test_the_phone_code_rotates_and_falls_back_to_the_printed_code_offline(page, server, browser):
    sign_in(page, server, "resident1")
    page.get_by_role("link", name="我的卡：出示卡码").click()
    expect(page.get_by_role("heading", name="我的卡")).to_be_visible()
    expect(page.get_by_test_id("phone-code").locator("svg")).to_be_visible()
    assert_accessible(page)

    # refresh every 2 s instead of 30 (documented for tests and demos)
    page.goto(server.url + "/me/card?refresh=2")
    first = phone_svg(page)
    page.wait_for_function("(first) => document.querySelector('[data-testid=phone-code] svg').innerHTML !== first",
                           arg=first, timeout=10_000)
    assert phone_svg(page) != first

    # the code on screen is a live phone code: a stranger's camera opens the card page, which accepts it
    shot = page.get_by_test_id("phone-code").locator("svg").screenshot()
    url = decode(Image.open(io.BytesIO(shot)).convert("L"))[0].data.decode()
    stranger = browser.new_page(locale="zh-CN")
    stranger.goto(url)
    expect(stranger.get_by_test_id("card-landing")).to_contain_text("手机上的动态码")
    stranger.close()

    page.context.set_offline(True)
    expect(page.get_by_text("当前离线：显示的是您实体卡上的卡码")).to_be_visible(timeout=10_000)
    expect(page.get_by_test_id("static-code").locator("svg")).to_be_visible()
    expect(page.get_by_test_id("phone-code")).to_be_hidden()
    expect(page.locator("#flash .flash-error")).to_have_count(0)  # offline is expected here, not an error
    printed = page.get_by_test_id("static-code").locator("svg").screenshot()
    assert "/c/" in decode(Image.open(io.BytesIO(printed)).convert("L"))[0].data.decode()
    assert_accessible(page)

    page.context.set_offline(False)
    expect(page.get_by_test_id("phone-code")).to_be_visible(timeout=15_000)
    expect(page.get_by_test_id("static-code")).to_be_hidden()


def test_resident_sets_a_pin(page, server):
    sign_in(page, server, "resident1")
    page.goto(server.url + "/me/card")
    page.get_by_label("新密码（6 位数字）").fill("123456")
    page.get_by_label("再次输入新密码").fill("123456")
    page.get_by_role("button", name="保存密码").click()
    expect(page.get_by_role("alert")).to_contain_text("太容易被猜到")
    page.get_by_label("新密码（6 位数字）").fill("480627")
    page.get_by_label("再次输入新密码").fill("480627")
    page.get_by_role("button", name="保存密码").click()
    expect(page.get_by_role("status").filter(has_text="密码已保存")).to_be_visible()
    expect(page.get_by_label("当前密码")).to_be_visible()
    assert_accessible(page)


def _first_card_of(server, username: str) -> tuple[int, str]:
    return query(server, "SELECT c.id, c.serial FROM service_card c JOIN points_account a ON a.id = c.account "
                         "JOIN app_user u ON u.person = a.holder WHERE u.username = ? AND c.state = 'active'",
                 username)[0]


def test_nfc_page_writes_with_web_nfc_and_says_where_it_cannot(page, server):
    card_pk, _ = _first_card_of(server, "resident1")
    sign_in(page, server, "station")
    page.goto(f"{server.url}/staff/cards/{card_pk}/nfc")
    # headless Chromium has no Web NFC: the page says so and offers nothing that cannot work
    expect(page.locator("#nfc-status")).to_contain_text("这个浏览器不能写入 NFC 标签")
    expect(page.get_by_role("button", name="写入 NFC 标签")).to_be_disabled()
    expect(page.get_by_test_id("nfc-size")).to_contain_text("NTAG213（144 字节）放得下")
    assert_accessible(page)

    # a scripted stand-in for Android Chrome's NDEFReader records what would be written
    page.add_init_script("""
        window.NDEFReader = class { async write(message) { window.__written = message; } };
    """)
    page.reload()
    page.get_by_role("button", name="写入 NFC 标签").click()
    expect(page.locator("#nfc-status")).to_contain_text("写入完成")
    written = page.evaluate("window.__written")
    url = page.locator("#nfc-writer").get_attribute("data-url")
    assert written == {"records": [{"recordType": "url", "data": url}]} and "/c/" in url


def test_photo_of_a_card_says_whose_it_is(page, server, tmp_path):
    card_pk, serial = _first_card_of(server, "resident1")
    number = next(line.split("\t")[0] for line in server.linli("cards", "list").stdout.splitlines()
                  if line.startswith(f"{serial:09d}"))
    url = server.linli("cards", "show", number, "--format", "url").stdout.strip()
    # a picture of the card's code, as a phone would take it (tilted a little)
    segno.make_qr(url, error="m").save(str(tmp_path / "code.png"), scale=8, border=4)
    Image.open(tmp_path / "code.png").convert("RGB").rotate(12, expand=True, fillcolor="white").save(tmp_path / "card.png")
    sign_in(page, server, "station")
    page.goto(server.url + "/staff/cards/photo")
    page.get_by_label("卡片照片").set_input_files(str(tmp_path / "card.png"))
    page.get_by_role("button", name="识别卡片").click()
    result = page.get_by_test_id("photo-result")
    expect(result).to_contain_text("有效卡")
    expect(result).to_contain_text(f"{number[:4]} {number[4:8]} {number[8:]}")
    assert_accessible(page)


def test_card_desk_shows_a_place_and_its_print_sheet(page, server, tmp_path):
    sign_in(page, server, "station")
    page.goto(server.url + "/staff/cards")
    place = page.get_by_label("位置")
    grid = place.locator("option", has_text="网格").first.get_attribute("value")
    place.select_option(grid)
    page.get_by_role("button", name="查看卡片").click()
    expect(page.get_by_test_id("desk-active")).not_to_have_text("0")
    assert_accessible(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="打印整页（PDF，A4）").click()
    download.value.save_as(tmp_path / "sheet.pdf")
    assert (tmp_path / "sheet.pdf").read_bytes().startswith(b"%PDF")
