"""Community staff bring residents in from a sheet: upload, see row errors, fix, commit, find the new people."""
import re

from playwright.sync_api import expect

from e2e.conftest import assert_accessible, sign_in
from e2e.db import query


def a_place(server) -> str:
    """小区,网格,楼栋 of a real building in 东园社区 (grid and building names repeat across compounds)."""
    row = query(server, """
        SELECT p.name, g.name, b.name FROM community_node b JOIN community_node g ON b.parent = g.id
        JOIN community_node p ON g.parent = p.id JOIN community_node c ON b.path LIKE c.path || '%'
        WHERE b.kind = 'building' AND c.name = '东园社区' LIMIT 1""")[0]
    return ",".join(row)


def test_import_with_an_error_then_fixed(page, server, tmp_path):
    place = a_place(server)
    bad = tmp_path / "居民名单.csv"
    bad.write_text(f"姓名,手机,小区,网格,楼栋,党员,期初积分\n欧阳春花,13900001111,{place},是,30\n"
                   f"钱多多,12345,{place},否,\n", encoding="utf-8-sig")
    sign_in(page, server, "admin")
    page.get_by_role("link", name="导入").click()
    expect(page.get_by_role("heading", name="导入居民")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("文件").set_input_files(bad)
    page.get_by_role("button", name="上传并检查").click()
    # row 3 has a bad phone number: it is named, nothing can be committed
    errors = page.locator("table", has=page.get_by_text("问题"))
    expect(errors).to_contain_text("3")
    expect(page.get_by_role("button", name=re.compile("导入 \\d+ 人"))).to_have_count(0)
    assert_accessible(page)

    good = tmp_path / "居民名单-改.csv"
    good.write_text(f"姓名,手机,小区,网格,楼栋,党员,期初积分\n欧阳春花,13900001111,{place},是,30\n"
                    f"钱多多,13900002222,{place},否,\n", encoding="utf-8-sig")
    page.get_by_role("link", name="返回导入列表").click()
    page.get_by_label("文件").set_input_files(good)
    page.get_by_role("button", name="上传并检查").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="导入 2 人").click()
    expect(page.get_by_text("已导入 2 人。")).to_be_visible(timeout=15_000)
    page.get_by_role("link", name="查看居民").click()
    page.get_by_label("姓名或手机号").fill("欧阳春花")
    row = page.locator("#results tbody tr", has_text="欧阳春花")
    expect(row).to_contain_text("红色账户（党员）")
    expect(row).to_contain_text("30")
    assert query(server, "SELECT COUNT(*) FROM person WHERE name IN ('欧阳春花', '钱多多')") == [(2,)]
