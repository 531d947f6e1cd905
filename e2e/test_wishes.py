"""Micro-wishes (居民点单、小区派单、党员接单): a resident posts a wish, staff dispatch it to a party-member volunteer
from the dispatch board (where the demo's overdue wish is marked), the volunteer marks it done, the resident confirms
and rates it, and the volunteer sees the points in their history."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from e2e.conftest import assert_accessible, sign_in
from e2e.db import balances_of, query

WHAT = "卫生间的灯不亮了，想请人帮忙换个灯泡"


def sign_out(page) -> None:
    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def test_wish_posted_dispatched_completed_rated_and_points_in_history(page, server):
    volunteer = query(server, "SELECT display_name FROM app_user WHERE username = 'resident1'")[0][0]
    before = sum(balances_of(server, "resident1").values())

    # the resident posts a wish
    sign_in(page, server, "resident2")
    page.get_by_role("link", name="我的心愿", exact=True).click()
    page.get_by_role("link", name="发布心愿", exact=True).click()
    assert_accessible(page)
    page.get_by_role("radio", name=re.compile("^维修")).check()
    page.get_by_label("需要什么帮助").fill(WHAT)
    page.get_by_role("button", name="发布心愿", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("心愿已发布")
    card = page.get_by_test_id("wish").filter(has_text=WHAT)
    expect(card).to_contain_text("等待志愿者")
    assert_accessible(page)
    wish_id = query(server, "SELECT id FROM wish WHERE description = ?", WHAT)[0][0]
    sign_out(page)

    # staff see it on the dispatch board, next to the demo's overdue wish, and dispatch it to a party member
    sign_in(page, server, "admin")
    page.get_by_role("link", name="派单台", exact=True).click()
    overdue_row = page.get_by_test_id("wish-row").filter(has_text="楼道声控灯坏了")
    expect(overdue_row.get_by_test_id("overdue")).to_contain_text("超时：响应 · 回复 · 协调")
    assert_accessible(page)
    page.get_by_test_id("wish-row").filter(has_text=WHAT).get_by_role("link", name=re.compile("打开")).click()
    expect(page.get_by_test_id("clock-respond")).to_contain_text("计时中")
    page.get_by_label("按姓名查找志愿者").fill(volunteer)
    page.get_by_role("button", name="查询").click()
    page.get_by_role("radio", name=re.compile(volunteer)).first.check()
    page.get_by_label("给志愿者的留言（可不填）").fill("今天下午上门")
    page.get_by_role("button", name="派单", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("已派单")
    expect(page.get_by_test_id("clock-coordinate")).to_contain_text("按时")
    expect(page.get_by_test_id("timeline")).to_contain_text("今天下午上门")
    assert_accessible(page)
    page.goto(server.url + "/staff/wishes/overdue")
    expect(page.get_by_test_id("wish-table")).to_contain_text("楼道声控灯坏了")
    expect(page.get_by_test_id("wish-table")).not_to_contain_text(WHAT)
    assert_accessible(page)
    sign_out(page)

    # the volunteer finds it among their tasks and marks it done
    sign_in(page, server, "resident1")
    page.get_by_role("link", name="心愿墙", exact=True).click()
    task = page.get_by_test_id("board-wish").filter(has_text=WHAT)
    expect(task).to_contain_text("已派给志愿者")
    assert_accessible(page)
    task.get_by_role("button", name="标记为已办好").click()
    expect(page.get_by_role("status")).to_contain_text("已标记为办好")
    sign_out(page)

    # the resident confirms and rates it
    sign_in(page, server, "resident2")
    page.goto(server.url + "/wishes")
    page.get_by_test_id("wish").filter(has_text=WHAT).get_by_role("link", name="确认并评价").click()
    assert_accessible(page)
    page.get_by_role("radio", name=re.compile("^★★★★ 4")).check()
    page.get_by_label("说几句（可不填）").fill("很快就修好了，谢谢！")
    page.get_by_role("button", name="确认：已办好").click()
    expect(page.get_by_role("status")).to_contain_text("感谢你的确认和评价")
    expect(page.get_by_test_id("wish-state")).to_contain_text("已确认")
    expect(page.locator("#main")).to_contain_text(f"{volunteer} 获得 10 积分")
    assert_accessible(page)
    sign_out(page)

    # one ledger line, and the volunteer sees it in their history
    assert query(server, "SELECT COUNT(*) FROM ledger_transaction WHERE idempotency_key = ?", f"wish:{wish_id}")[0][0] == 1
    assert sum(balances_of(server, "resident1").values()) == before + 10
    sign_in(page, server, "resident1")
    expect(page.locator("#main")).to_contain_text(f"微心愿：{WHAT}")


def test_staff_map_a_kind_to_another_item_on_the_settings_page(page, server):
    sign_in(page, server, "admin")
    page.get_by_role("link", name="派单台", exact=True).click()
    page.get_by_role("link", name="设置：积分、服务队、工作日历").click()
    expect(page.get_by_role("heading", name="微心愿设置", level=1)).to_be_visible()
    expect(page.locator("#teams")).to_contain_text("红色楼管家服务队")
    assert_accessible(page)
    errand_item = query(server, "SELECT id FROM catalog_item WHERE name = '为独居老人代购代办'")[0][0]
    choice = page.get_by_label("陪伴", exact=True)
    expect(choice.locator(f'option[value="{errand_item}"]')).to_contain_text("为独居老人代购代办 · 5 分")
    choice.select_option(value=str(errand_item))
    page.get_by_role("button", name="保存积分设置").click()
    expect(page.locator("#kinds").get_by_role("status")).to_contain_text("已保存各类心愿的积分")
    item = query(server, "SELECT i.name FROM wish_kind_item k JOIN catalog_item i ON i.id = k.item "
                         "WHERE k.kind = 'companionship'")
    assert [r[0] for r in item] == ["为独居老人代购代办"]
    assert_accessible(page)
