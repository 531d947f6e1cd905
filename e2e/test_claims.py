"""Earning points by claim: a resident claims a deed from the phone with a photo, the reviewer approves it in the
weekly queue, and the points show in the resident's history with the item and the approver; staff publish a
catalogue revision and two deeds on either side of its date are worth different points."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from playwright.sync_api import expect

from e2e.conftest import assert_accessible, sign_in
from e2e.db import query


@pytest.fixture(scope="module", autouse=True)
def upload_dir(tmp_path_factory):
    """Evidence photos of this module's server go to a folder of their own (read when the server starts)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LINLI_UPLOAD_DIR", str(tmp_path_factory.mktemp("uploads")))
        yield


def today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def sign_out(page) -> None:
    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def photo(tmp_path) -> str:
    path = tmp_path / "deed.jpg"
    Image.new("RGB", (1200, 900), (180, 40, 40)).save(path, "JPEG")
    return str(path)


def file_claim(page, server, item: str, deed: date, description: str, photo_path: str | None = None) -> None:
    page.goto(server.url + "/claims/new")
    value = page.locator("#item option", has_text=item).get_attribute("value")
    page.get_by_label("您做了什么？").select_option(value)
    page.get_by_label("时间").fill(deed.isoformat())
    page.get_by_label("具体情况").fill(description)
    page.get_by_label("证明人（选填）").fill("邻居刘阿姨")
    if photo_path:
        page.get_by_label("照片").set_input_files(photo_path)
    page.get_by_role("button", name="提交申报").click()
    expect(page.get_by_role("status")).to_contain_text("申报已提交")


def approve(page, server, claim_ids: list[int]) -> None:
    page.goto(server.url + "/review")
    for claim_id in claim_ids:
        page.get_by_label(f"选择申报 {claim_id}").check()
    page.get_by_role("button", name="通过所选申报", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"已处理 {len(claim_ids)} 条申报")


def claims_of(server, username: str) -> list[tuple]:
    return query(server, "SELECT c.id, c.state, c.points, c.account, c.deed_date FROM claim c JOIN app_user u ON u.person = c.person "
                         "WHERE u.username = ? ORDER BY c.id", username)


def test_a_claim_with_a_photo_is_approved_in_the_weekly_review_and_shows_in_history(page, server, tmp_path):
    sign_in(page, server, "resident1")
    page.get_by_role("link", name="积分项目", exact=True).click()
    expect(page.get_by_role("heading", name="本月调整", exact=True)).to_be_visible()
    assert_accessible(page)
    page.goto(server.url + "/claims/new")
    assert_accessible(page)
    file_claim(page, server, "参加主题读书分享会", today(), "在社区书屋参加《乡土中国》读书分享会并发言", photo(tmp_path))
    card = page.get_by_test_id("claim").first
    expect(card).to_contain_text("参加主题读书分享会")
    expect(card).to_contain_text("待审核")
    # the photo is served to its owner, re-encoded and resized (1200 px wide stays, it fits 1600)
    image = page.locator("#main img").first
    image.evaluate("img => img.complete || new Promise(done => img.addEventListener('load', done, {once: true}))")
    assert image.evaluate("img => img.naturalWidth") == 1200
    assert_accessible(page)
    (claim_id, state, _, account, _), = claims_of(server, "resident1")
    assert state == "pending"
    sign_out(page)

    sign_in(page, server, "reviewer")
    page.get_by_role("link", name="每周审核").click()
    row = page.locator(f"#claim-{claim_id}")
    expect(row).to_contain_text("参加主题读书分享会")
    expect(row).to_contain_text("5 分")
    assert_accessible(page)
    approve(page, server, [claim_id])
    expect(page.locator(f"#claim-{claim_id}")).to_have_count(0)
    sign_out(page)

    sign_in(page, server, "resident1")
    page.goto(f"{server.url}/me?account={account}")
    line = page.locator("#history tbody tr").first
    expect(line).to_contain_text("理论宣讲 · 参加主题读书分享会（5分）")
    expect(line).to_contain_text("考评小组审核员")
    expect(line).to_contain_text("+5")
    page.goto(server.url + "/claims")
    expect(page.get_by_test_id("claim").first).to_contain_text("已通过")


def test_a_revision_between_two_deeds_gives_them_different_values(page, server):
    item = "参与普法反诈宣传"
    sign_in(page, server, "admin")
    page.get_by_role("link", name="积分项目及分值", exact=True).click()
    assert_accessible(page)
    page.locator("#effective_from").fill(today().isoformat())
    page.get_by_label("给居民的说明").fill("本月调整1项：普法反诈宣传分值上调")
    page.get_by_role("spinbutton", name=item).fill("12")
    page.get_by_role("button", name="发布调整", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("分值调整已发布")
    published = page.get_by_test_id("revision-set").first
    expect(published).to_contain_text("本月调整1项：普法反诈宣传分值上调")
    expect(published).to_contain_text(f"{item}: 10 → 12 分")
    page.get_by_role("link", name=item).click()
    expect(page.get_by_test_id("item-history")).to_contain_text("本月调整1项")
    assert_accessible(page)
    sign_out(page)

    sign_in(page, server, "resident1")
    page.goto(server.url + "/catalog")
    expect(page.get_by_test_id("changes-this-month")).to_contain_text(f"理论宣讲 · {item} 10 → 12 分")
    before, on = today() - timedelta(days=1), today()
    file_claim(page, server, item, before, "在小区门口发放防诈骗宣传单")
    file_claim(page, server, item, on, "入户讲解防范电信诈骗")
    new = [c for c in claims_of(server, "resident1") if c[1] == "pending"]
    assert [c[4] for c in new] == [before.isoformat(), on.isoformat()]
    sign_out(page)

    sign_in(page, server, "reviewer")
    approve(page, server, [c[0] for c in new])
    sign_out(page)

    points = {c[0]: c[2] for c in claims_of(server, "resident1")}
    assert [points[c[0]] for c in new] == [10, 12]
    sign_in(page, server, "resident1")
    page.goto(server.url + "/claims")
    expect(page.locator(f"#claim-{new[0][0]}")).to_contain_text("10 分")
    expect(page.locator(f"#claim-{new[1][0]}")).to_contain_text("12 分")
