"""Micro-wishes through HTTP: post, dispatch, complete, confirm and rate; errors keep what was typed; the dispatch
board's HTMX table, the volunteer search fragment and the overdue list."""
from datetime import date, datetime, timedelta, timezone

import pytest

from backend.catalog import service as catalog
from backend.people import service as people
from backend.wishes import service
from backend.wishes.tables import Wish, WishStep
from tests import factories as f
from tests.web.conftest import PASSWORD, csrf_of, sign_in

pytestmark = pytest.mark.db


@pytest.fixture
async def wish_world(people_world):
    w = people_world
    t = w["tree"]
    helper, helper_account = await f.person_account("李志愿", t["unit"], t["c1"], colour="red")
    w["helper"], w["helper_account"] = helper, helper_account
    await people.create_user("helper", PASSWORD, "李志愿", person_id=helper)
    category = await catalog.add_category(t["c1"], "邻里互助")
    item = await catalog.add_item(category, "认领完成居民微心愿", 10, date(2026, 7, 1))
    await service.set_kind_item(t["c1"], "repair", item)
    return w


async def _token(client, url: str) -> str:
    return csrf_of((await client.get(url)).text)


async def test_the_whole_loop_over_http(client, wish_world):
    w = wish_world
    await sign_in(client, "resident")
    token = await _token(client, "/wishes/new")
    r = await client.post("/wishes", data={"kind": "repair", "description": "厨房水龙头漏水", "submission_key": "web1",
                                           "_csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/wishes?done=posted"
    wish_id = (await Wish.select(Wish.id).first())["id"]
    page = await client.get("/wishes")
    assert "厨房水龙头漏水" in page.text and "等待志愿者" in page.text

    await sign_in(client, "community_admin")
    board = await client.get("/staff/wishes")
    assert board.status_code == 200 and f'href="/staff/wishes/{wish_id}"' in board.text
    found = await client.get(f"/staff/wishes/{wish_id}/helpers?q=志愿")
    assert f'value="p:{w["helper"]}"' in found.text and "<html" not in found.text
    token = await _token(client, f"/staff/wishes/{wish_id}?q=志愿")
    r = await client.post(f"/staff/wishes/{wish_id}/dispatch", data={"helper": f"p:{w['helper']}", "note": "明早上门",
                                                                      "_csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303

    await sign_in(client, "helper")
    tasks = await client.get("/wishes/board")
    assert "厨房水龙头漏水" in tasks.text and f'action="/wishes/{wish_id}/complete"' in tasks.text
    r = await client.post(f"/wishes/{wish_id}/complete", data={"_csrf_token": csrf_of(tasks.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/wishes/board?done=complete")

    await sign_in(client, "resident")
    page = await client.get(f"/wishes/{wish_id}")
    assert 'data-testid="confirm-form"' in page.text
    r = await client.post(f"/wishes/{wish_id}/confirm", data={"rating": "5", "comment": "谢谢", "_csrf_token": csrf_of(page.text)},
                          follow_redirects=False)
    assert r.status_code == 303
    assert await f.balance(w["helper_account"]) == 10
    again = await client.post(f"/wishes/{wish_id}/confirm", data={"rating": "5", "_csrf_token": csrf_of(page.text)},
                              follow_redirects=False)
    assert again.status_code == 303 and await f.balance(w["helper_account"]) == 10
    page = await client.get(f"/wishes/{wish_id}")
    assert "已确认" in page.text and "李志愿 获得 10 积分" in page.text
    assert [s["action"] for s in await WishStep.select(WishStep.action).order_by(WishStep.id)] == [
        "post", "dispatch", "complete", "confirm"]


async def test_a_bad_post_keeps_what_was_typed(client, wish_world):
    await sign_in(client, "resident")
    token = await _token(client, "/wishes/new")
    r = await client.post("/wishes", data={"description": "请帮我取药", "submission_key": "web2", "_csrf_token": token})
    assert r.status_code == 400 and "请选择需要哪种帮助" in r.text and "请帮我取药" in r.text
    assert await Wish.count() == 0


async def test_others_cannot_act_on_a_wish(client, wish_world):
    w = wish_world
    admin = await people.principal((await people.create_user("poster", PASSWORD, "站点", role="community_admin",
                                                             node_id=w["tree"]["c1"])))
    wish_id = await service.post(admin, kind="visit", description="陪老人聊天", submission_key="s", now=datetime.now(timezone.utc),
                                 for_person=w["person"])
    await sign_in(client, "helper")
    page = await client.get("/wishes/board")
    assert "陪老人聊天" in page.text
    r = await client.post(f"/wishes/{wish_id}/confirm", data={"rating": "5", "_csrf_token": csrf_of(page.text)})
    assert r.status_code == 403
    r = await client.post(f"/wishes/{wish_id}/complete", data={"_csrf_token": csrf_of(page.text)})
    assert r.status_code == 403
    r = await client.post(f"/wishes/{wish_id}/take", data={"_csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    r = await client.post(f"/wishes/{wish_id}/take", data={"_csrf_token": csrf_of(page.text)})
    assert r.status_code == 422 and "有人已经改动了这个心愿" in r.text


async def test_dispatch_board_htmx_table_and_overdue_list(client, wish_world):
    w = wish_world
    resident = await people.principal((await people.create_user("r2", PASSWORD, "王", person_id=w["person"])))
    old = await service.post(resident, kind="repair", description="门锁坏了", submission_key="a",
                             now=datetime.now(timezone.utc) - timedelta(hours=5))
    await service.post(resident, kind="errand", description="代买药品", submission_key="b", now=datetime.now(timezone.utc))
    await sign_in(client, "station_operator")
    table = await client.get("/staff/wishes?kind=errand", headers={"HX-Request": "true", "HX-Target": "wish-table"})
    assert table.status_code == 200 and "<html" not in table.text and "代买药品" in table.text and "门锁坏了" not in table.text
    overdue = await client.get("/staff/wishes/overdue")
    assert "门锁坏了" in overdue.text and "代买药品" not in overdue.text
    assert 'data-testid="overdue"' in overdue.text and "超时：" in overdue.text
    page = await client.get(f"/staff/wishes/{old}")
    assert 'data-testid="clock-respond"' in page.text and "已超时" in page.text
    await sign_in(client, "reviewer")
    assert (await client.get("/staff/wishes")).status_code == 403


async def test_staff_post_for_a_resident(client, wish_world):
    w = wish_world
    await sign_in(client, "community_admin")
    page = await client.get("/staff/wishes/new?q=王小明")
    assert f'value="{w["person"]}"' in page.text
    r = await client.post("/staff/wishes", data={"for_person": str(w["person"]), "kind": "visit", "description": "想找人聊聊天",
                                                 "submission_key": "st1", "q": "王小明", "_csrf_token": csrf_of(page.text)},
                          follow_redirects=False)
    assert r.status_code == 303
    row = await Wish.select(Wish.for_person, Wish.posted_by).first()
    assert row["for_person"] == w["person"]
    page = await client.get(r.headers["location"])
    assert "已为居民发布心愿" in page.text
