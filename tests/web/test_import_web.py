"""The import screens through the test client: upload -> preview -> commit -> progress -> people."""
import asyncio
import codecs
import re
import threading

import pytest
from litestar.testing import AsyncTestClient

from backend.app import create_app
from backend.imports import service
from backend.imports import web as imports_web
from backend.people.tables import Person
from tests.web.conftest import csrf_of, sign_in

pytestmark = pytest.mark.db

HEADER = "姓名,手机,网格,楼栋,单元,党员,楼栋长,期初积分"
CLEAN = ["张红,13800000001,第一网格,1号楼,1单元,是,否,20", "刘绿,,第一网格,1号楼,1单元,否,是,0"]


@pytest.fixture
async def client(clean_db, monkeypatch):
    """The app with the import routes, whether or not backend/web/routes.py lists them yet."""
    from backend.web import routes

    wired = routes.route_handlers

    def handlers():
        found = wired()
        return found if imports_web.upload in found else [*found, *imports_web.ROUTES]

    monkeypatch.setattr(routes, "route_handlers", handlers)
    async with AsyncTestClient(app=create_app()) as c:
        yield c


def sheet(lines) -> bytes:
    return ("\r\n".join([HEADER, *lines]) + "\r\n").encode("utf-8-sig")


async def upload(client, community: int, content: bytes, filename: str = "名单.csv"):
    page = await client.get("/staff/imports")
    return await client.post("/staff/imports", data={"community": str(community), "_csrf_token": csrf_of(page.text)},
                             files={"file": (filename, content, "application/octet-stream")}, follow_redirects=False)


async def batch_id_of(response) -> int:
    assert response.status_code == 303, response.text
    return int(re.fullmatch(r"/staff/imports/(\d+)", response.headers["location"]).group(1))


def htmx(page_html: str) -> dict:
    return {"HX-Request": "true", "x-csrftoken": csrf_of(page_html)}


async def poll_until_done(client, batch_id: int) -> str:
    for _ in range(200):
        r = await client.get(f"/staff/imports/{batch_id}/progress", headers={"HX-Request": "true"})
        assert r.status_code == 200
        if 'data-testid="import-done"' in r.text or "导入失败" in r.text:
            return r.text
        assert 'hx-trigger="load delay:500ms"' in r.text  # still committing: the widget polls itself
        await asyncio.sleep(0.05)
    raise AssertionError("the import did not finish")


async def test_upload_preview_commit_progress_people(client, people_world):
    await sign_in(client, "community_admin")
    c1 = people_world["tree"]["c1"]
    index = await client.get("/staff/imports")
    assert index.status_code == 200 and "东园社区" in index.text and "西园社区" not in index.text
    assert 'enctype="multipart/form-data"' in index.text

    batch_id = await batch_id_of(await upload(client, c1, sheet(CLEAN)))
    page = await client.get(f"/staff/imports/{batch_id}")
    assert page.status_code == 200 and "导入预览：名单.csv" in page.text
    assert 'data-testid="row-count">2<' in page.text and 'data-testid="error-count">0<' in page.text
    assert "张红" in page.text and "导入 2 人" in page.text and f'action="/staff/imports/{batch_id}/commit"' in page.text

    started = await client.post(f"/staff/imports/{batch_id}/commit", headers=htmx(page.text))
    assert started.status_code == 200 and 'id="import-status"' in started.text
    done = await poll_until_done(client, batch_id)
    assert "已导入 2 人。" in done and 'href="/staff/people"' in done
    assert 'hx-get' not in done  # finished: the widget stops polling

    assert {p["name"] for p in await Person.select(Person.name)} >= {"张红", "刘绿"}
    people = await client.get("/staff/people?q=张红")
    assert people.status_code == 200 and "张红" in people.text
    listing = await client.get("/staff/imports")
    assert "名单.csv" in listing.text and "已导入" in listing.text
    again = await client.post(f"/staff/imports/{batch_id}/commit", headers=htmx(page.text))
    assert again.status_code == 422 and "该导入已提交或已失败。" in again.text


async def test_without_javascript_the_commit_redirects_and_the_page_shows_progress_with_a_reload_link(client, people_world, monkeypatch):
    await sign_in(client, "community_admin")
    batch_id = await batch_id_of(await upload(client, people_world["tree"]["c1"], sheet(CLEAN)))
    page = await client.get(f"/staff/imports/{batch_id}")
    gate = threading.Event()  # the app runs on the test client's own event loop thread: a thread-safe gate
    real_write = service._write

    async def held(*args, **kwargs):
        while not gate.is_set():
            await asyncio.sleep(0.01)
        return await real_write(*args, **kwargs)

    monkeypatch.setattr(service, "_write", held)
    r = await client.post(f"/staff/imports/{batch_id}/commit", data={"_csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/staff/imports/{batch_id}"
    during = await client.get(f"/staff/imports/{batch_id}")
    assert "正在导入" in during.text and "<progress" in during.text and "已写入 0 / 2 行。" in during.text
    assert f'<a href="/staff/imports/{batch_id}">刷新本页</a>' in during.text
    assert f'hx-get="/staff/imports/{batch_id}/progress"' in during.text
    gate.set()
    await poll_until_done(client, batch_id)
    after = await client.get(f"/staff/imports/{batch_id}")
    assert "已导入 2 人。" in after.text and "<progress" not in after.text


async def test_rows_with_errors_are_listed_in_chinese_and_cannot_be_committed(client, people_world):
    await sign_in(client, "community_admin")
    lines = [*CLEAN, "王错,12345,第一网格,1号楼,9单元,也许,否,-1", "张红,13800000001,第一网格,1号楼,1单元,是,否,20"]
    batch_id = await batch_id_of(await upload(client, people_world["tree"]["c1"], sheet(lines)))
    page = await client.get(f"/staff/imports/{batch_id}")
    assert 'data-testid="error-count">2<' in page.text
    for text in ("“12345”不是 11 位手机号", "本社区没有“第一网格 / 1号楼 / 9单元”", "“也许”不是“是/否”",
                 "期初积分必须是 0 到 1000000 之间的整数", "同一个人已在第 2 行出现", "请先改正有错误的行，再重新上传。"):
        assert text in page.text, text
    assert "/commit" not in page.text
    r = await client.post(f"/staff/imports/{batch_id}/commit", headers=htmx(page.text))
    assert r.status_code == 422
    assert await Person.count() == 2  # only people_world's


async def test_reviewer_without_the_import_capability_is_refused(client, people_world):
    await sign_in(client, "reviewer")
    assert (await client.get("/staff/imports")).status_code == 403
    assert (await client.get("/staff/imports/template.csv")).status_code == 403
    page = await client.get("/staff/people")
    r = await client.post("/staff/imports", data={"community": str(people_world["tree"]["c1"]), "_csrf_token": csrf_of(page.text)},
                          files={"file": ("a.csv", sheet(CLEAN), "text/csv")})
    assert r.status_code == 403


async def test_admin_of_one_community_cannot_see_or_commit_another_communitys_batch(client, people_world):
    await sign_in(client, "district_admin")
    c2 = people_world["tree"]["c2"]
    batch_id = await batch_id_of(await upload(client, c2, sheet(["陈某,,第一网格,1号楼,,否,否,"])))
    await client.post("/logout", data={"_csrf_token": csrf_of((await client.get("/staff/imports")).text)})

    await sign_in(client, "community_admin")
    page = await client.get("/staff/imports")
    assert "陈某" not in page.text and f"/staff/imports/{batch_id}" not in page.text
    for path in (f"/staff/imports/{batch_id}", f"/staff/imports/{batch_id}/progress"):
        r = await client.get(path)
        assert r.status_code == 403 and "这属于您不负责管理的其他社区。" in r.text
    r = await client.post(f"/staff/imports/{batch_id}/commit", headers=htmx(page.text))
    assert r.status_code == 403
    r = await upload(client, c2, sheet(CLEAN))  # choosing the other community in a crafted form
    assert r.status_code == 403
    assert await Person.count() == 2


@pytest.mark.parametrize("content,filename,message", [
    (b"\x00\x01\x02 not a sheet \xff\xfe", "名单.xlsx", "无法读取该文件"),
    (b"PK\x03\x04 a broken workbook", "名单.xlsx", "无法读取该文件"),
    ("姓名,手机\r\n张三,13800138000\r\n".encode(), "名单.csv", "表格缺少这些列：网格/grid、楼栋/building。"),
    ("姓名,网格,楼栋\r\n".encode(), "名单.csv", "表格中没有数据行"),
    (b"", "empty.csv", "请选择文件。"),
])
async def test_a_malformed_file_shows_a_translated_error(client, people_world, content, filename, message):
    await sign_in(client, "community_admin")
    r = await upload(client, people_world["tree"]["c1"], content, filename)
    assert r.status_code == 400 and 'class="flash flash-error"' in r.text
    assert message in r.text, r.text[r.text.find("flash-error"):][:300]
    assert "导入居民" in r.text  # the upload page again, ready for another try


async def test_a_too_large_file_is_refused_with_its_limit(client, people_world):
    await sign_in(client, "community_admin")
    r = await upload(client, people_world["tree"]["c1"], b"x" * (10 * 1024 * 1024 + 1))
    assert r.status_code == 400 and "文件太大（最多 10 MB）。" in r.text


async def test_english_interface(client, people_world):
    client.cookies.set("lang", "en")
    await sign_in(client, "community_admin")
    r = await upload(client, people_world["tree"]["c1"], b"\x00garbage", "x.xlsx")
    assert "The file could not be read." in r.text


async def test_sample_template_is_utf8_with_bom_at_a_real_place(client, people_world):
    await sign_in(client, "community_admin")
    r = await client.get("/staff/imports/template.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith(codecs.BOM_UTF8)
    lines = r.content.decode("utf-8-sig").splitlines()
    assert lines[0] == HEADER and len(lines) == 3 and ",第一网格,1号楼,1单元," in lines[1]
    # the sample itself imports without errors
    batch_id = await batch_id_of(await upload(client, people_world["tree"]["c1"], r.content, "template.csv"))
    assert 'data-testid="error-count">0<' in (await client.get(f"/staff/imports/{batch_id}")).text
