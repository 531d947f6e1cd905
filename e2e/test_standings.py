"""Standings in the browser: staff open the public screen's secret address; the screen (no sign-in) shows this
month's top 10 with shortened names, and after new points and a published monthly notice it shows them too; a
resident sees their own rank; axe finds nothing on the staff board, the resident board and the public screen."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from e2e.conftest import assert_accessible, sign_in
from e2e.db import query


def _screen_url(page, server) -> str:
    page.goto(server.url + "/staff/standings/settings")
    assert_accessible(page)
    page.once("dialog", lambda dialog: dialog.accept())  # a second address asks first: the old one stops working
    page.get_by_role("button", name="生成新的大屏地址").click()
    expect(page.get_by_role("status")).to_contain_text("公开大屏已换新地址")
    return page.get_by_test_id("screen-url").inner_text().strip()


def test_public_screen_shows_the_board_and_follows_new_points_and_the_notice(page, browser, server):
    sign_in(page, server, "admin")
    page.goto(server.url + "/staff/standings")
    expect(page.get_by_test_id("board")).to_be_visible()
    assert_accessible(page)
    url = _screen_url(page, server)

    tv = browser.new_context(locale="zh-CN").new_page()  # the TV: nobody signed in
    tv.goto(url)
    month = tv.get_by_test_id("screen-month")
    expect(month).to_contain_text("本月积分前十名")
    assert month.locator("tbody tr").count() > 0
    assert_accessible(tv)
    # the demo's published notice (the month before last, backend/notices/demo.py)
    (demo_month,), = query(server, "SELECT month FROM notice WHERE state = 'published'")
    expect(tv.get_by_test_id("screen-notice")).to_contain_text(f"月度公示 · {demo_month}")
    assert tv.locator('#screen-boards[hx-trigger="every 60s"]').count() == 1

    # staff award resident1 far more than anyone this month: after the next refresh they lead the board
    person, name = query(server, "SELECT p.id, p.name FROM person p JOIN app_user u ON u.person = p.id WHERE u.username = 'resident1'")[0]
    masked = name[0] + "*" * (len(name) - 2) + name[-1] if len(name) > 2 else name[0] + "*"
    page.goto(f"{server.url}/staff/people/{person}")
    page.get_by_label("积分", exact=True).fill("900")
    page.get_by_label(re.compile("事由")).fill("社区重阳节活动总协调")
    page.get_by_role("button", name="记账").click()
    expect(page.get_by_role("status")).to_be_visible()
    # the screen's own poll: ask htmx for it now instead of waiting a minute
    tv.evaluate("htmx.ajax('GET', document.querySelector('#screen-boards').getAttribute('hx-get'), "
                "{target: '#screen-boards', swap: 'outerHTML'})")
    expect(tv.get_by_test_id("screen-month").locator("tbody tr").first).to_contain_text(masked)
    expect(tv.get_by_test_id("screen-month").locator("tbody tr").first).to_contain_text("9")
    assert name not in tv.content() or len(name) < 2

    # publish last month's notice: the screen's notice board shows it after a reload
    page.goto(server.url + "/staff/notices")
    page.get_by_role("button", name="结算该月").click()
    page.get_by_label("异议期（天）").fill("7")
    page.get_by_role("button", name="发布公示").click()
    expect(page.get_by_role("status")).to_contain_text("公示已发布")
    tv.reload()
    expect(tv.get_by_test_id("screen-notice")).not_to_contain_text(demo_month)
    expect(tv.get_by_test_id("screen-notice")).to_contain_text("月度公示 · ")
    assert tv.get_by_test_id("screen-notice").locator("tbody tr").count() > 0
    assert_accessible(tv)

    # a new address closes the old one
    _screen_url(page, server)
    response = tv.goto(url)
    assert response.status == 404


def test_resident_sees_their_rank(page, server):
    sign_in(page, server, "resident1")
    page.get_by_role("link", name="积分排行").click()
    expect(page.get_by_test_id("my-rank")).to_contain_text(re.compile(r"第 \d+ 名|还没有获得积分"))
    expect(page.get_by_test_id("board")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("时间段").select_option("year")
    page.get_by_role("button", name="查看").click()
    expect(page.get_by_test_id("my-rank")).to_contain_text("第")
    expect(page.locator('tr[aria-current="true"]')).to_have_count(1)
