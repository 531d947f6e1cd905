"""Events in Chromium: staff create one, a resident signs up, and a station's check-in and check-out (sent to the
real scan API with a paired device's credential) show up on the self-updating roster and in the volunteer's history."""
import json
import subprocess
import sys
from datetime import datetime, timezone
from uuid import uuid4

from playwright.sync_api import expect

from e2e.conftest import ROOT, assert_accessible, sign_in
from e2e.db import query

# Pairing a device is a staff screen another part builds; here the services pair one against the server's
# database, as staff would, and hand back what a paired tablet holds: its credential, and a card to scan.
PAIR = """
import asyncio, json
from datetime import datetime, timezone
from backend import db
from backend.events.tables import Event
from backend.people import service as people
from backend.people.tables import User
from backend.servicecards import service as cards
from backend.stations import service as stations

async def main():
    await db.prepare()
    now = datetime.now(timezone.utc)
    admin = await people.principal((await User.select(User.id).where(User.username == "admin").first())["id"])
    event = await Event.select().where(Event.title == "垃圾分类督导").first()
    station = await stations.create_station(admin, event["community"], "活动签到台", "event", ["checkin"])
    credential = await stations.pair(await stations.new_pairing_code(admin, station, "签到平板", now), now)
    person = (await User.select(User.person).where(User.username == "resident1").first())["person"]
    card = (await cards.active_cards_of_person(person))[0]
    print(json.dumps({"credential": credential, "card": await cards.card_url(card), "event": event["id"],
                      "starts_at": event["starts_at"].isoformat()}))

asyncio.run(main())
"""


def pair_station(server) -> dict:
    env = {**server.env, "PICCOLO_CONF": "backend.piccolo_conf"}
    done = subprocess.run([sys.executable, "-c", PAIR], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def resident_name(server, username: str) -> str:
    return query(server, "SELECT p.name FROM person p JOIN app_user u ON u.person = p.id WHERE u.username = ?", username)[0][0]


def test_staff_create_an_event(page, server):
    sign_in(page, server, "admin")
    page.get_by_role("link", name="活动", exact=True).click()
    expect(page.get_by_role("heading", name="活动与志愿服务")).to_be_visible()
    expect(page.locator("table").first).to_contain_text("垃圾分类督导")
    assert_accessible(page)
    page.get_by_label("活动名称").fill("文明交通劝导")
    page.get_by_label("地点", exact=True).fill("东园路口")
    page.get_by_label("名额").fill("6")
    page.get_by_label("开始时间").fill("2030-03-05T08:00")
    page.get_by_label("结束时间").fill("2030-03-05T10:30")
    page.get_by_label("每小时积分").fill("4")
    page.get_by_role("button", name="发布活动").click()
    expect(page.locator("#flash")).to_contain_text("活动已发布")
    expect(page.get_by_role("heading", name="文明交通劝导")).to_be_visible()
    expect(page.locator("table").first).to_contain_text("2030-03-05 08:00–10:30")
    expect(page.locator("table").first).to_contain_text("每服务 1 小时 4 分")
    assert_accessible(page)
    assert query(server, "SELECT capacity, points_per_hour FROM event WHERE title = '文明交通劝导'") == [(6, 4)]


def test_resident_signs_up_and_staff_see_it(page, server, browser):
    sign_in(page, server, "resident1")
    page.get_by_role("link", name="志愿服务").click()
    card = page.locator("article", has_text="敬老院探访")
    expect(card).to_contain_text("已报名 2 人，共 8 个名额")
    card.get_by_role("button", name="我要报名").click()
    expect(page.locator("#flash")).to_contain_text("报名成功")
    expect(card).to_contain_text("已报名 3 人，共 8 个名额")
    expect(card.get_by_role("button", name="取消报名")).to_be_visible()
    assert_accessible(page)

    staff = browser.new_page(locale="zh-CN")
    sign_in(staff, server, "station")
    staff.goto(server.url + "/staff/events")
    staff.get_by_role("link", name="敬老院探访").click()
    expect(staff.get_by_test_id("signed-up")).to_contain_text(resident_name(server, "resident1"))
    staff.close()


def test_check_in_and_out_at_a_station_fill_the_roster_and_the_history(page, server, browser):
    station = pair_station(server)
    name = resident_name(server, "resident1")
    sign_in(page, server, "station")
    page.goto(f"{server.url}/staff/events/{station['event']}")
    expect(page.get_by_test_id("signed-up")).to_contain_text(name)
    expect(page.get_by_test_id("present-count")).to_have_text("0")
    assert_accessible(page)

    device = {"Authorization": f"Device {station['credential']}"}

    def scan(mode: str, scanned_at: str, offline: bool = False):
        body = {"scan_id": str(uuid4()), "scanned_at": scanned_at, "mode": mode, "card": station["card"],
                "details": {"event_id": station["event"]}, "offline": offline}
        return page.request.post(server.url + "/api/v1/scans", data=body, headers=device)

    # the check-in was made offline when the event started and is sent only now
    came = scan("checkin", station["starts_at"], offline=True)
    assert came.status == 200 and came.json()["message"] == "签到成功。", came.text()
    # the roster refreshes itself: no reload
    expect(page.get_by_test_id("present")).to_contain_text(name, timeout=15_000)
    expect(page.get_by_test_id("present-count")).to_have_text("1")

    again = scan("checkin", datetime.now(timezone.utc).isoformat())
    assert again.status == 422 and again.json()["reason"] == "already_checked_in"

    left = scan("checkout", datetime.now(timezone.utc).isoformat())
    assert left.status == 200, left.text()
    hours, points = left.json()["summary"]["hours"], left.json()["points"]
    assert hours >= 1 and points == int(hours * 2) * 4 // 2
    done = page.get_by_test_id("done")
    expect(done).to_contain_text(name, timeout=15_000)
    expect(done.locator("tr", has_text=name)).to_contain_text(f"{hours:g}")
    assert_accessible(page)

    resident = browser.new_page(locale="zh-CN")
    sign_in(resident, server, "resident1")
    label = f"志愿服务 · 垃圾分类督导（{hours:g}小时）"
    expect(resident.locator("#history")).to_contain_text(label)
    expect(resident.locator("#history tbody tr", has_text=label)).to_contain_text(f"+{points}")
    resident.goto(server.url + "/events")
    expect(resident.get_by_test_id("my-events")).to_contain_text("垃圾分类督导")
    assert_accessible(resident)
    resident.close()
