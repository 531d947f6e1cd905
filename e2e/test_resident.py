"""A resident signs in, sees each account's balance and a history where every line says why."""
import re

from playwright.sync_api import expect

from e2e.conftest import assert_accessible, sign_in
from e2e.db import balances_of


def test_resident_sees_balances_and_history(page, server):
    sign_in(page, server, "resident1")
    expect(page.get_by_role("heading", name="我的积分")).to_be_visible()
    for account_id, balance in balances_of(server, "resident1").items():
        expect(page.get_by_test_id(f"balance-{account_id}")).to_have_text(str(balance))
    rows = page.locator("#history tbody tr")
    expect(rows.first).to_be_visible()
    # every line says what, why and who
    first = rows.first.locator("td")
    expect(first.nth(2)).not_to_be_empty()
    expect(first.nth(3)).not_to_have_text("")
    assert_accessible(page)


def test_history_pages_and_switches_language(page, server):
    sign_in(page, server, "resident1")
    older = page.get_by_role("link", name="较早")
    if older.count():
        first_line = page.locator("#history tbody tr").first.inner_text()
        older.click()
        expect(page.get_by_text(re.compile(r"第 2 页"))).to_be_visible()
        assert page.locator("#history tbody tr").first.inner_text() != first_line
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="My points")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("button", name="中文").click()
    expect(page.get_by_role("heading", name="我的积分")).to_be_visible()


def test_wrong_password_is_explained(page, server):
    sign_in(page, server, "resident1", "not-the-password")
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误。")
    assert_accessible(page)


def test_signed_out_visitor_is_sent_to_sign_in_and_back(page, server):
    page.goto(server.url + "/me")
    expect(page).to_have_url(re.compile(r"/login\?next=/me"))
    page.get_by_label("用户名").fill("resident2")
    page.get_by_label("密码").fill("linli-demo-2026")
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/me$"))
    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def test_my_card_opens_offline_with_the_printed_code(page, server):
    sign_in(page, server, "resident1")
    page.goto(server.url + "/me/card")
    page.evaluate("navigator.serviceWorker.ready")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.reload()  # now fetched through the service worker, which keeps a copy
    expect(page.get_by_test_id("card-number").first).to_be_visible()
    page.context.set_offline(True)
    try:
        page.reload()
        expect(page.get_by_text("当前离线：显示的是您实体卡上的卡码").first).to_be_visible()
        expect(page.get_by_test_id("static-code").first).to_be_visible()
    finally:
        page.context.set_offline(False)
    # signing out forgets the cached card page
    page.get_by_role("button", name="退出").click()
    assert page.evaluate("caches.has('linli-pages')") is False
