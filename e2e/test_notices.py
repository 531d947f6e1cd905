"""The monthly public notice in the browser: staff close last month and publish it, a resident objects to a line,
staff uphold the objection with a ledger correction and, once the objection period is over, make the notice final.
The downloaded .xlsx opens in openpyxl and matches the screen; a ledger row changed afterwards makes
`linli ledger verify` fail."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from openpyxl import load_workbook
from playwright.sync_api import expect

from e2e.conftest import assert_accessible, sign_in
from e2e.db import query


def sign_out(page) -> None:
    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def screen_rows(page) -> list[list[str]]:
    rows = page.locator('[data-testid="notice-line"]')
    return [[cell.strip() for cell in rows.nth(i).locator("td").all_inner_texts()[:6]] for i in range(rows.count())]


def test_close_object_resolve_finalise_export_and_tamper(page, server, tmp_path):
    sign_in(page, server, "admin")
    page.goto(server.url + "/staff/notices")
    assert_accessible(page)
    expect(page.get_by_label("月份")).to_have_value("2026-10")
    page.get_by_role("button", name="结算该月").click()
    expect(page.get_by_role("status")).to_contain_text("该月已结算")
    notice_id = int(re.search(r"/staff/notices/(\d+)", page.url).group(1))
    expect(page.get_by_test_id("notice-state")).to_contain_text("已结算，尚未公示")
    fingerprint = page.get_by_test_id("fingerprint").get_attribute("data-value")
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint)
    assert_accessible(page)
    # closing the same month again is refused with a reason
    page.goto(server.url + "/staff/notices")
    page.get_by_label("月份").fill("2026-10")
    page.get_by_role("button", name="结算该月").click()
    expect(page.get_by_role("alert")).to_contain_text("已经结算过了")

    page.goto(f"{server.url}/staff/notices/{notice_id}")
    page.get_by_label("异议期（天）").fill("7")
    page.get_by_role("button", name="发布公示").click()
    expect(page.get_by_role("status")).to_contain_text("公示已发布")
    sign_out(page)

    # a resident reads the notice, finds their own line highlighted, and objects to the top line
    sign_in(page, server, "resident1")
    page.get_by_role("link", name="月度公示").click()
    expect(page.get_by_test_id("my-line")).to_be_visible()
    expect(page.locator('tr[aria-current="true"]')).to_have_count(1)
    assert_accessible(page)
    top = page.get_by_test_id("notice-line").first
    top_name = top.locator("td").nth(1).inner_text().strip()
    top.get_by_text("提出异议").click()
    top.get_by_label("这条记录哪里有误？").fill("十月的值班记录少记了一次")
    top.get_by_role("button", name="提交异议").click()
    expect(page.get_by_role("status")).to_contain_text("您的异议已提交")
    expect(page.get_by_test_id("objection-state")).to_have_text("等待工作人员处理")
    sign_out(page)

    # staff uphold it with a 5-point award: a new ledger transaction, the frozen line unchanged
    sign_in(page, server, "admin")
    page.goto(f"{server.url}/staff/notices/{notice_id}")
    objection = page.get_by_test_id("objection")
    expect(objection).to_contain_text("十月的值班记录少记了一次")
    assert_accessible(page)
    objection.get_by_label("答复居民").fill("核实属实，补记5分")
    objection.get_by_label("漏记时补记积分（可选）").fill("5")
    objection.get_by_role("button", name="采纳", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("异议已处理")
    (txn, points), = query(server, "SELECT correction_txn, correction_points FROM notice_objection")
    assert points == 5 and query(server, "SELECT kind, source_type FROM ledger_transaction WHERE id = ?", txn) == [("award", "notice")]
    expect(page.get_by_text(f"账本交易 {txn}")).to_be_visible()

    # the objection period is still running; a week later the notice can be made final
    page.get_by_role("button", name="公示定稿").click()
    expect(page.get_by_role("alert")).to_contain_text("居民仍可提出异议")
    week_ago = str(datetime.now(timezone.utc) - timedelta(minutes=1))
    query(server, "UPDATE notice SET objection_ends_at = ? WHERE id = ?", week_ago, notice_id)
    page.goto(f"{server.url}/staff/notices/{notice_id}")
    page.get_by_role("button", name="公示定稿").click()
    expect(page.get_by_role("status")).to_contain_text("公示已定稿")
    expect(page.get_by_test_id("notice-state")).to_contain_text("已定稿")

    # the export opens in a spreadsheet library and says what the screen says
    shown = screen_rows(page)
    assert shown and shown[0][1] == top_name
    with page.expect_download() as download:
        page.get_by_test_id("export-xlsx").click()
    path = tmp_path / "notice.xlsx"
    download.value.save_as(path)
    values = [["" if v is None else str(v) for v in row] for row in load_workbook(path).active.iter_rows(values_only=True)]
    assert values[2][:2] == ["指纹", fingerprint]
    header = values.index(["名次", "姓名", "账户", "网格与楼栋", "本月获得", "累计获得"])
    assert values[header + 1:header + 1 + len(shown)] == shown

    # someone rewrites a closed month in the database: the chain no longer matches
    assert server.linli("ledger", "verify").returncode == 0
    (posting,), = query(server, "SELECT p.id FROM ledger_posting p JOIN ledger_transaction t ON t.id = p.txn "
                                "WHERE t.community = (SELECT community FROM notice WHERE id = ?) AND t.occurred_at >= '2026-10-10' "
                                "AND t.occurred_at < '2026-10-20' AND p.amount > 0 LIMIT 1", notice_id)
    query(server, "UPDATE ledger_posting SET amount = amount + 100 WHERE id = ?", posting)
    verify = server.linli("ledger", "verify", check=False)
    assert verify.returncode == 1
    assert f"fingerprint_mismatch: monthly notice {notice_id}" in verify.stdout
