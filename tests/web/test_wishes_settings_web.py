"""The micro-wish settings page over HTTP: each of its forms (points per kind, teams and members, the work
calendar) works without JavaScript, a refusal says why and keeps what was typed, and residents cannot reach it."""
from datetime import date, datetime, timedelta, timezone

import pytest

from backend.catalog import service as catalog
from backend.clock import local_date
from backend.wishes import service
from backend.wishes.tables import WishKindItem, WishTeam, WishTeamMember, WorkCalendarDay
from tests import factories as f
from tests.web.conftest import csrf_of, sign_in

pytestmark = pytest.mark.db
SETTINGS = "/staff/wishes/settings"


@pytest.fixture
async def settings_world(people_world):
    w = people_world
    t = w["tree"]
    w["helper"], _ = await f.person_account("李志愿", t["unit"], t["c1"], colour="red")
    category = await catalog.add_category(t["c1"], "邻里互助")
    w["small"] = await catalog.add_item(category, "认领完成居民微心愿", 10, date(2026, 7, 1))
    w["big"] = await catalog.add_item(category, "重大维修帮扶", 30, date(2026, 7, 1))
    far = await catalog.add_category(t["c2"], "西园")
    w["far_item"] = await catalog.add_item(far, "西园项目", 50, date(2026, 7, 1))
    await service.set_kind_item(t["c1"], "repair", w["small"])
    return w


async def _post(client, url: str, data: dict, page: str = SETTINGS, **kw):
    token = csrf_of((await client.get(page)).text)
    return await client.post(url, data={**data, "_csrf_token": token}, follow_redirects=False, **kw)


async def _mapping(community: int) -> dict:
    return {r["kind"]: r["item"] for r in await WishKindItem.select().where(WishKindItem.community == community)}


async def test_the_dispatch_board_links_the_settings_and_the_page_shows_three_sections(client, settings_world):
    await sign_in(client, "station_operator")
    assert f'href="{SETTINGS}"' in (await client.get("/staff/wishes")).text
    page = await client.get(SETTINGS)
    assert page.status_code == 200
    for section in ('id="kinds"', 'id="teams"', 'id="calendar"', "重大维修帮扶 · 30 分"):
        assert section in page.text, section


async def test_points_per_kind_form(client, settings_world):
    w, c1 = settings_world, settings_world["tree"]["c1"]
    await sign_in(client, "community_admin")
    r = await _post(client, f"{SETTINGS}/kinds", {"community": str(c1), "kind_repair": str(w["big"]), "kind_visit": str(w["small"]),
                                                 "kind_errand": "", "kind_companionship": "", "kind_other": ""})
    assert r.status_code == 303 and r.headers["location"].startswith(f"{SETTINGS}?community={c1}&done=kinds")
    assert await _mapping(c1) == {"repair": w["big"], "visit": w["small"]}
    assert "已保存" in (await client.get(r.headers["location"])).text
    # another community's item: refused with a translated message, the choices come back, nothing saved
    r = await _post(client, f"{SETTINGS}/kinds", {"community": str(c1), "kind_repair": "", "kind_visit": str(w["far_item"])})
    assert r.status_code in (400, 422)
    assert "未知的积分项目" in r.text and 'id="kind_visit" name="kind_visit" aria-invalid="true"' in r.text
    assert f'<option value="{w["far_item"]}" selected>' in r.text and f'<option value="{w["big"]}" selected>' not in r.text
    assert await _mapping(c1) == {"repair": w["big"], "visit": w["small"]}


async def test_team_forms(client, settings_world):
    w, c1 = settings_world, settings_world["tree"]["c1"]
    await sign_in(client, "community_admin")
    r = await _post(client, f"{SETTINGS}/teams", {"community": str(c1), "team_name": "  "})
    assert r.status_code in (400, 422) and "请输入名称" in r.text
    r = await _post(client, f"{SETTINGS}/teams", {"community": str(c1), "team_name": "红色楼管家"})
    assert r.status_code == 303
    team = (await WishTeam.select(WishTeam.id).first())["id"]
    r = await _post(client, f"{SETTINGS}/teams/{team}/rename", {"community": str(c1), "team": str(team), "team_name": "x" * 65})
    assert r.status_code in (400, 422) and "x" * 65 in r.text  # what was typed stays
    r = await _post(client, f"{SETTINGS}/teams/{team}/rename", {"community": str(c1), "team": str(team), "team_name": "楼管家服务队"})
    assert r.status_code == 303 and (await WishTeam.select(WishTeam.name).first())["name"] == "楼管家服务队"
    # the member search: a fragment for HTMX, and the whole page without JavaScript
    found = await client.get(f"{SETTINGS}/teams/{team}/people?q=志愿")
    assert f'value="{w["helper"]}"' in found.text and "<html" not in found.text
    page = await client.get(f"{SETTINGS}?community={c1}&team={team}&q=志愿")
    assert f'value="{w["helper"]}"' in page.text
    r = await _post(client, f"{SETTINGS}/teams/{team}/members", {"community": str(c1), "team": str(team), "person": str(w["other_person"])})
    assert r.status_code in (400, 422) and "此人不住在该服务队所在的社区" in r.text
    r = await _post(client, f"{SETTINGS}/teams/{team}/members", {"community": str(c1), "team": str(team), "person": str(w["helper"])})
    assert r.status_code == 303
    assert [m["person"] for m in await WishTeamMember.select(WishTeamMember.person)] == [w["helper"]]
    assert "李志愿" in (await client.get(f"{SETTINGS}?community={c1}")).text
    r = await _post(client, f"{SETTINGS}/teams/{team}/active", {"community": str(c1), "active": "0"})
    assert r.status_code == 303 and "done=team_off" in r.headers["location"]
    assert (await WishTeam.select(WishTeam.active).first())["active"] is False
    r = await _post(client, f"{SETTINGS}/teams/{team}/members/remove", {"community": str(c1), "person": str(w["helper"])})
    assert r.status_code == 303 and await WishTeamMember.count() == 0


async def test_calendar_form(client, settings_world):
    c1 = settings_world["tree"]["c1"]
    await sign_in(client, "community_admin")
    # one calendar for every community: a community's staff see it but the district keeps it
    page = await client.get(f"{SETTINGS}?community={c1}")
    assert "只有街道管理员可以修改日历" in page.text and f"{SETTINGS}/calendar" not in page.text
    r = await _post(client, f"{SETTINGS}/calendar", {"community": str(c1), "day": "2099-01-05", "day_kind": "holiday"})
    assert r.status_code == 403 and await WorkCalendarDay.count() == 0
    await sign_in(client, "district_admin")
    today = local_date(datetime.now(timezone.utc))
    monday = today + timedelta(days=7 - today.weekday())
    saturday = monday + timedelta(days=5)
    r = await _post(client, f"{SETTINGS}/calendar", {"community": str(c1), "day": monday.isoformat(), "day_kind": "holiday",
                                                    "note": "测试假日"})
    assert r.status_code == 303
    r = await _post(client, f"{SETTINGS}/calendar", {"community": str(c1), "day": saturday.isoformat(), "day_kind": "workday"})
    assert r.status_code == 303
    page = await client.get(f"{SETTINGS}?community={c1}")
    assert monday.isoformat() in page.text and "测试假日" in page.text and saturday.isoformat() in page.text
    # refused, each with its reason, the typed note kept
    for day, kind, reason in ((today - timedelta(days=1), "holiday", "已经过去"), (monday, "workday", "周六或周日"),
                              (None, "holiday", "请输入日期")):
        r = await _post(client, f"{SETTINGS}/calendar", {"community": str(c1), "day": day.isoformat() if day else "",
                                                        "day_kind": kind, "note": "留着我"})
        assert r.status_code in (400, 422) and reason in r.text and 'value="留着我"' in r.text, reason
    r = await _post(client, f"{SETTINGS}/calendar/remove", {"community": str(c1), "day": monday.isoformat()})
    assert r.status_code == 303
    assert [d["day"] for d in await WorkCalendarDay.select(WorkCalendarDay.day)] == [saturday]


async def test_residents_and_other_communities_cannot_change_settings(client, settings_world):
    w, c2 = settings_world, settings_world["tree"]["c2"]
    await sign_in(client, "resident")
    assert (await client.get(SETTINGS)).status_code == 403
    token = csrf_of((await client.get("/wishes")).text)
    r = await client.post(f"{SETTINGS}/calendar", data={"day": "2099-01-01", "day_kind": "holiday", "_csrf_token": token},
                          follow_redirects=False)
    assert r.status_code == 403 and await WorkCalendarDay.count() == 0
    await sign_in(client, "community_admin")  # of the first community only
    r = await _post(client, f"{SETTINGS}/kinds", {"community": str(c2), "kind_repair": str(w["far_item"])})
    assert r.status_code == 403 and await _mapping(c2) == {}
