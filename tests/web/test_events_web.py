"""Event screens through the test client: staff create events and read the roster in their own communities,
residents sign up in theirs, and stations check volunteers in and out over the scan API."""
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from backend.audit.tables import AuditEntry
from backend.events import service as events
from backend.events.tables import Event, Signup
from backend.people import service as people
from backend.stations import service as stations
from tests import factories as f
from tests.web.conftest import PASSWORD, csrf_of, sign_in

pytestmark = pytest.mark.db


def soon(hours: float) -> datetime:
    return (datetime.now(timezone.utc) + timedelta(hours=hours)).replace(microsecond=0)


@pytest.fixture
async def event(people_world):
    admin = await people.principal(people_world["users"]["community_admin"])
    return await events.create_event(admin, people_world["tree"]["c1"], "清洁家园", "东园小区广场", soon(24), soon(27),
                                     capacity=10, points_per_hour=4)


async def token(client, path: str) -> str:
    return csrf_of((await client.get(path)).text)


async def test_staff_create_an_event_from_the_form(client, people_world):
    await sign_in(client, "station_operator")
    page = await client.get("/staff/events")
    assert page.status_code == 200 and "发布新活动" in page.text
    form = {"_csrf_token": csrf_of(page.text), "community": str(people_world["tree"]["c1"]), "title": "敬老院探访",
            "place": "东园敬老院", "starts_at": "2030-05-01T09:00", "ends_at": "2030-05-01T11:30", "capacity": "",
            "award": "hours", "points_per_hour": "5"}
    r = await client.post("/staff/events", data=form, follow_redirects=False)
    assert r.status_code == 303
    created = await Event.select().first()
    # the form's local time is Shanghai time
    assert created["starts_at"] == datetime(2030, 5, 1, 1, 0, tzinfo=timezone.utc) and created["capacity"] is None
    assert (await AuditEntry.select(AuditEntry.action).first())["action"] == "event.create"
    page = await client.get(r.headers["location"])
    assert "活动已发布" in page.text and "敬老院探访" in page.text and "每服务 1 小时 5 分" in page.text
    assert 'hx-trigger="load delay:10s"' in page.text


async def test_a_wrong_form_comes_back_with_the_reason_and_the_values(client, people_world):
    await sign_in(client, "community_admin")
    form = {"_csrf_token": await token(client, "/staff/events"), "community": str(people_world["tree"]["c1"]),
            "title": "读书会", "place": "图书室", "starts_at": "2030-05-01T09:00", "ends_at": "2030-05-01T08:00",
            "award": "hours", "points_per_hour": "2"}
    r = await client.post("/staff/events", data=form)
    assert r.status_code == 400 and "结束时间必须晚于开始时间" in r.text and 'value="读书会"' in r.text
    assert 'id="ends_at" name="ends_at" type="datetime-local" required value="2030-05-01T08:00" aria-invalid="true"' in r.text
    r = await client.post("/staff/events", data=form | {"ends_at": "not a time"})
    assert r.status_code == 400 and "请填写日期和时间" in r.text
    assert await Event.count() == 0


async def test_staff_see_only_their_communities_events(client, people_world, event):
    await people.create_user("west_admin", PASSWORD, "西园管理员", role="community_admin", node_id=people_world["tree"]["c2"])
    await sign_in(client, "west_admin")
    assert "清洁家园" not in (await client.get("/staff/events")).text
    assert (await client.get(f"/staff/events/{event}")).status_code == 403
    assert (await client.get(f"/staff/events/{event}/roster")).status_code == 403
    await client.get("/logout")
    await sign_in(client, "district_admin")
    assert "清洁家园" in (await client.get("/staff/events")).text


async def test_residents_sign_up_and_withdraw(client, people_world, event):
    await sign_in(client, "resident")
    page = await client.get("/events")
    assert page.status_code == 200 and "清洁家园" in page.text and "已报名 0 人，共 10 个名额" in page.text
    csrf = csrf_of(page.text)
    r = await client.post(f"/events/{event}/signup", data={"_csrf_token": csrf}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and r.text.lstrip().startswith(f'<article id="event-{event}"')
    assert "报名成功" in r.text and "取消报名" in r.text
    assert await Signup.count() == 1
    r = await client.post(f"/events/{event}/withdraw", data={"_csrf_token": csrf})
    assert r.status_code == 200 and "已取消报名" in r.text and "<html" in r.text
    assert await Signup.count() == 0


async def test_a_full_event_refuses_a_sign_up_with_the_reason(client, people_world):
    admin = await people.principal(people_world["users"]["community_admin"])
    small = await events.create_event(admin, people_world["tree"]["c1"], "手工课", "活动室", soon(24), soon(26),
                                      capacity=1, points_per_hour=1)
    neighbour, _ = await f.person_account("赵六", people_world["tree"]["unit"], people_world["tree"]["c1"])
    await events.sign_up(await people.principal(await people.create_user("zhao", PASSWORD, "赵六", person_id=neighbour)),
                         small, datetime.now(timezone.utc))
    await sign_in(client, "resident")
    assert "该活动名额已满" in (await client.get("/events")).text
    r = await client.post(f"/events/{small}/signup", data={"_csrf_token": await token(client, "/events")},
                          headers={"HX-Request": "true"})
    assert r.status_code == 422 and "该活动名额已满" in r.text


async def test_residents_of_another_community_do_not_see_the_event(client, people_world, event):
    await people.create_user("west", PASSWORD, "李四", person_id=people_world["other_person"])
    await sign_in(client, "west")
    assert "清洁家园" not in (await client.get("/events")).text
    r = await client.post(f"/events/{event}/signup", data={"_csrf_token": await token(client, "/events")})
    assert r.status_code == 404 and await Signup.count() == 0


async def test_the_roster_widget_shows_sign_ups_and_stops_refreshing_when_over(client, people_world, event):
    resident = await people.principal(people_world["users"]["resident"])
    await events.sign_up(resident, event, datetime.now(timezone.utc))
    await sign_in(client, "station_operator")
    widget = await client.get(f"/staff/events/{event}/roster", headers={"HX-Request": "true"})
    assert widget.text.lstrip().startswith('<section id="roster"') and "王小明" in widget.text
    assert 'hx-trigger="load delay:10s"' in widget.text
    await Event.update({Event.starts_at: soon(-3), Event.ends_at: soon(-1)}).where(Event.id == event)
    widget = await client.get(f"/staff/events/{event}/roster", headers={"HX-Request": "true"})
    assert "hx-trigger" not in widget.text and "报名未到" in widget.text


async def test_cancel_an_event(client, people_world, event):
    await sign_in(client, "community_admin")
    page = await client.get(f"/staff/events/{event}")
    r = await client.post(f"/staff/events/{event}/cancel", data={"_csrf_token": csrf_of(page.text)})
    assert r.status_code == 200 and "活动已取消" in r.text
    assert (await Event.select(Event.cancelled).first())["cancelled"]


async def test_a_station_checks_a_volunteer_in_and_out_over_the_api(client, people_world):
    admin = await people.principal(people_world["users"]["community_admin"])
    now = datetime.now(timezone.utc)
    ongoing = await events.create_event(admin, people_world["tree"]["c1"], "垃圾分类督导", "东园小区", now - timedelta(hours=2),
                                        now + timedelta(hours=1), points_per_hour=6)
    station = await stations.create_station(admin, people_world["tree"]["c1"], "活动签到台", "event", ["checkin"])
    _, credential = await f.paired_device(admin, station)
    _, url = await f.card_for(admin, people_world["account"])
    headers = {"Authorization": f"Device {credential}"}
    config = (await client.get("/api/v1/station", headers=headers)).json()
    assert [e["title"] for e in config["events"]] == ["垃圾分类督导"]

    def scan(mode: str, at: datetime) -> dict:
        return {"scan_id": str(uuid4()), "scanned_at": at.isoformat(), "mode": mode, "card": url,
                "details": {"event_id": ongoing}}

    r = await client.post("/api/v1/scans", json=scan("checkin", now - timedelta(minutes=90)), headers=headers)
    assert r.status_code == 200 and r.json()["message"] == "签到成功。" and r.json()["summary"] == {"event": "垃圾分类督导"}
    r = await client.post("/api/v1/scans", json=scan("checkout", now), headers=headers)
    assert r.json()["points"] == 9 and r.json()["summary"]["hours"] == 1.5
    assert r.json()["message"] == "签退成功：服务时长折合 9 分。"
    r = await client.post("/api/v1/scans", json=scan("checkin", now - timedelta(hours=3)), headers=headers)
    assert r.status_code == 422 and r.json()["reason"] == "outside_event_hours"
    opens = (now - timedelta(hours=2, minutes=30)).astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
    assert r.json()["message"].startswith(f"当前不在办理时间内，办理时间为 {opens} 至 ")
