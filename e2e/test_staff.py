"""Community staff: the tree, people search, a person's ledger, award/deduction with a reason, reversal, audit log."""
import re

from playwright.sync_api import expect

from e2e.conftest import assert_accessible, sign_in
from e2e.db import query


def test_tree_leads_to_the_people_of_a_grid(page, server):
    sign_in(page, server, "admin")
    expect(page.get_by_role("heading", name="社区架构")).to_be_visible()
    assert_accessible(page)
    grid = page.locator(".tree a", has_text="网格").first
    grid_name = grid.inner_text()
    grid.click()
    expect(page.get_by_role("heading", name="人员与账户")).to_be_visible()
    expect(page.get_by_label("位置")).to_have_value(re.compile(r"\d+"))
    count = int(re.search(r"找到 (\d+) 人", page.locator("#results").inner_text()).group(1))
    assert count > 0, grid_name
    assert_accessible(page)


def test_search_as_you_type_and_by_colour(page, server):
    sign_in(page, server, "admin")
    page.goto(server.url + "/staff/people")
    name = page.locator("#results tbody tr td a").first.inner_text()
    page.get_by_label("姓名或手机号").fill(name)
    expect(page.locator("#results tbody tr td a").first).to_have_text(name)
    page.get_by_label("姓名或手机号").fill("")
    page.get_by_label("账户颜色").select_option("green")
    expect(page.locator("#results .badge-red, #results .badge-green").first).to_be_visible()
    expect(page.locator("#results tbody tr").filter(has_not=page.locator(".badge-green"))).to_have_count(0)


def test_award_deduct_reverse_and_audit(page, server):
    sign_in(page, server, "admin")
    page.goto(server.url + "/staff/people")
    page.locator("#results tbody tr td a").first.click()
    balance = page.locator(".balance.selected .balance-amount")
    start = int(balance.inner_text())

    page.get_by_label("积分", exact=True).fill("20")
    page.get_by_label("事由（必填，居民可见）").fill("协助组织垃圾分类宣传")
    page.get_by_role("button", name="记账").click()
    expect(page.locator("#flash")).to_contain_text("已奖励 20 分")
    expect(balance).to_have_text(str(start + 20))
    expect(page.locator("#history tbody tr").first).to_contain_text("协助组织垃圾分类宣传")
    assert_accessible(page)

    # a deduction larger than the balance is refused, and says why
    page.get_by_label("扣减").check()
    page.get_by_label("积分", exact=True).fill(str(start + 21))
    page.get_by_label("事由（必填，居民可见）").fill("测试扣减")
    page.get_by_role("button", name="记账").click()
    expect(page.locator("#flash")).to_contain_text(f"积分不足：余额 {start + 20} 分")
    expect(balance).to_have_text(str(start + 20))

    # reverse the award
    page.once("dialog", lambda dialog: dialog.accept())
    first = page.locator("#history tbody tr").first
    first.get_by_placeholder("冲正原因").fill("录入错误")
    first.get_by_role("button", name="冲正").click()
    expect(page.locator("#flash")).to_contain_text("该交易已冲正")
    expect(balance).to_have_text(str(start))
    expect(page.locator("#history tbody tr").nth(1)).to_contain_text("已冲正")

    page.get_by_role("link", name="操作日志").click()
    expect(page.locator("tbody tr").first).to_contain_text("ledger.reversal")
    expect(page.locator("tbody tr").nth(1)).to_contain_text("协助组织垃圾分类宣传")
    assert_accessible(page)
    assert query(server, "SELECT COUNT(*) FROM ledger_transaction WHERE memo = '测试扣减'") == [(0,)]
