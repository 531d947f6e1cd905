"""In-service check-in screens through the test client: staff register a member and a project and set the rules,
a station scan moves the member from "not yet" to "checked in", the yearly report prints and exports as .xlsx with
the same rows as the screen, a member checks in from the phone; and a station asks a resident to confirm the claim
a building lead filed for them (device endpoints)."""
import json
import re
from datetime import date, datetime, timezone
from io import BytesIO
from uuid import uuid4

import pytest
from openpyxl import load_workbook

from backend.catalog import service as catalog
from backend.catalog.rules import Caps
from backend.claims import service as claims
from backend.claims.tables import Claim
from backend.clock import local_date
from backend.inservice.tables import CheckIn, Member, Project, Setting
from backend.people import service as people
from backend.people.tables import Person
from backend.stations import service as stations
from tests import factories as f
from tests.web.conftest import PASSWORD, csrf_of, sign_in

pytestmark = pytest.mark.db


def today() -> date:
    return local_date(datetime.now(timezone.utc))


@pytest.fixture
async def desk(people_world):
    t = people_world["tree"]
    await Person.update({Person.is_party_member: True}).where(Person.id == people_world["person"])
    admin = await people.principal(people_world["users"]["community_admin"])
    home = await catalog.add_item(await catalog.add_category(t["c1"], "党员先锋"), "在职党员回家报到", 10, date(2026, 1, 1),
                                  colours=["red"], caps=Caps(per_month=1))
    station = await stations.create_station(admin, t["c1"], "东园党群服务中心", "centre", ["report_in"])
    _, credential = await f.paired_device(admin, station)
    _, url = await f.card_for(admin, people_world["account"])
    return people_world | {"admin": admin, "home": home, "station": station, "url": url,
                           "headers": {"Authorization": f"Device {credential}"}}


async def post_form(client, page_url: str, action: str, data: dict):
    page = await client.get(page_url)
    assert page.status_code == 200, page.text
    return await client.post(action, data={"_csrf_token": csrf_of(page.text)} | data, follow_redirects=False)


def rows_of(html: str) -> list[list[str]]:
    """The report table's cells as text."""
    table = html.split('data-testid="report-months"')[1].split("</table>")[0]
    rows = re.findall(r'<tr data-testid="report-month">(.*?)</tr>', table, re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)] for r in rows]


@pytest.mark.parametrize(("role", "path", "status"), [
    ("community_admin", "/staff/inservice", 200), ("community_admin", "/staff/inservice/members", 200),
    ("station_operator", "/staff/inservice", 200), ("reviewer", "/staff/inservice", 403),
    ("resident", "/staff/inservice", 403), ("resident", "/inservice", 200), ("community_admin", "/inservice", 403),
])
async def test_who_reaches_which_screen(client, desk, role, path, status):
    await sign_in(client, role)
    assert (await client.get(path)).status_code == status


async def test_staff_register_a_member_and_the_station_scan_moves_them_to_checked_in(client, desk):
    await sign_in(client, "community_admin")
    r = await post_form(client, "/staff/inservice/members", "/staff/inservice/members",
                        {"community": str(desk["tree"]["c1"]), "person": str(desk["person"]), "employer": "区财政局",
                         "branch": "机关第二支部", "since": "2026-01-01"})
    assert r.status_code == 303, r.text
    r = await post_form(client, "/staff/inservice/members", "/staff/inservice/projects",
                        {"community": str(desk["tree"]["c1"]), "name": "楼道文明劝导", "description": ""})
    assert r.status_code == 303
    r = await post_form(client, "/staff/inservice", "/staff/inservice/settings",
                        {"community": str(desk["tree"]["c1"]), "window_days": "7", "award_item": str(desk["home"])})
    assert r.status_code == 303
    assert (await Setting.select().first())["award_item"] == desk["home"]
    page = await client.get("/staff/inservice")
    assert 'data-state="not_yet"' in page.text and 'data-testid="count-not-yet">1<' in page.text
    assert "区财政局" in page.text and "尚未报到" in page.text

    config = (await client.get("/api/v1/station", headers=desk["headers"])).json()
    project = config["report_projects"][0]
    assert project["name"] == "楼道文明劝导"
    scan = {"scan_id": str(uuid4()), "scanned_at": datetime.now(timezone.utc).isoformat(), "mode": "report_in",
            "card": desk["url"], "details": {"project_id": project["id"]}}
    answer = await client.post("/api/v1/scans", json=scan, headers=desk["headers"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["points"] == 10 and answer.json()["message"].startswith("本月报到成功：10 分。")
    again = await client.post("/api/v1/scans", json=scan | {"scan_id": str(uuid4())}, headers=desk["headers"])
    assert again.status_code == 422 and again.json()["reason"] == "already_reported" and "已报到" in again.json()["message"]

    page = await client.get("/staff/inservice")
    assert 'data-state="checked_in"' in page.text and 'data-testid="count-checked-in">1<' in page.text
    assert 'data-testid="count-not-yet">0<' in page.text and "楼道文明劝导" in page.text


async def test_settings_errors_keep_the_page_and_say_why(client, desk):
    await sign_in(client, "community_admin")
    r = await post_form(client, "/staff/inservice", "/staff/inservice/settings",
                        {"community": str(desk["tree"]["c1"]), "window_days": "40", "award_item": ""})
    assert r.status_code == 400 and "1 到 28" in r.text and 'aria-invalid="true"' in r.text
    assert await Setting.count() == 0


async def test_the_yearly_report_prints_and_exports_the_same_rows(client, desk):
    member = (await Member.insert(Member(person=desk["person"], community=desk["tree"]["c1"], employer="区财政局",
                                         branch="机关第二支部", since=date(2026, 1, 1))))[0]["id"]
    project = (await Project.insert(Project(community=desk["tree"]["c1"], name="楼道文明劝导")))[0]["id"]
    await CheckIn.insert(CheckIn(member=member, person=desk["person"], community=desk["tree"]["c1"], month="2026-03",
                                 member_month=f"{member}:2026-03", via="station", day=date(2026, 3, 28),
                                 checked_in_at=datetime(2026, 3, 28, 2, tzinfo=timezone.utc), project=project, points=10))
    await CheckIn.insert(CheckIn(member=member, person=desk["person"], community=desk["tree"]["c1"], month="2026-05",
                                 member_month=f"{member}:2026-05", via="claim", day=date(2026, 5, 3), in_window=False,
                                 checked_in_at=datetime(2026, 5, 3, 2, tzinfo=timezone.utc), project_text="帮老人买菜"))
    await sign_in(client, "community_admin")
    page = await client.get(f"/staff/inservice/members/{member}/report?year=2026")
    assert page.status_code == 200 and "王小明" in page.text and "区财政局" in page.text
    screen = rows_of(page.text)
    assert len(screen) == 12 and screen[2][:4] == ["2026-03", "2026-03-28", "到站刷卡", "楼道文明劝导"]
    assert 'data-testid="report-points">30<' in page.text  # people_world's 30 points this year, from the ledger

    export = await client.get(f"/staff/inservice/members/{member}/report.xlsx?year=2026")
    assert export.status_code == 200 and export.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(BytesIO(export.content)).active
    values = [[("" if v is None else str(v)) for v in row] for row in sheet.iter_rows(values_only=True)]
    header = values.index(["月份", "报到日期", "方式", "领办项目", "在报到周", "补报", "积分"])
    assert values[header + 1: header + 13] == screen
    assert ["姓名", "王小明", "", "", "", "", ""] in values and any(r[:2] == ["全年获得积分", "30"] for r in values)
    # another community's admin gets neither
    other = await people.create_user("west", PASSWORD, "西园管理员", role="community_admin", node_id=desk["tree"]["c2"])
    assert other
    await client.post("/logout", data={"_csrf_token": csrf_of((await client.get("/staff/inservice")).text)})
    await sign_in(client, "west")
    assert (await client.get(f"/staff/inservice/members/{member}/report.xlsx?year=2026")).status_code == 403


async def test_a_member_checks_in_from_the_phone(client, desk):
    admin = desk["admin"]
    from backend.inservice import service

    await service.register(admin, desk["person"], "区财政局", "", date(2026, 1, 1), today())
    project = await service.add_project(admin, desk["tree"]["c1"], "楼道文明劝导")
    await service.save_setting(admin, desk["tree"]["c1"], 7, False, desk["home"])
    await sign_in(client, "resident")
    page = await client.get("/inservice")
    assert "本月报到" in page.text and "楼道文明劝导" in page.text
    key = page.text.split('name="submission_key" value="')[1].split('"')[0]
    r = await post_form(client, "/inservice", "/inservice/check-in",
                        {"day": today().isoformat(), "project": "", "project_text": "", "submission_key": key})
    assert r.status_code == 400 and "请选择" in r.text  # a project is needed
    r = await post_form(client, "/inservice", "/inservice/check-in",
                        {"day": today().isoformat(), "project": str(project), "project_text": "", "submission_key": key})
    assert r.status_code == 303
    page = await client.get("/inservice?done=checked_in")
    assert 'data-testid="reported"' in page.text and "等待审核" in page.text
    assert (await Claim.select(Claim.state).first())["state"] == "pending"


async def test_the_station_asks_the_resident_to_confirm_a_leads_claim(client, desk):
    t = desk["tree"]
    lead_person, _ = await f.person_account("赵楼长", t["unit"], t["c1"], colour="green")
    await Person.update({Person.is_building_lead: True}).where(Person.id == lead_person)
    lead = await people.principal(await people.create_user("lead", PASSWORD, "赵楼长", person_id=lead_person))
    sweep = await catalog.add_item(await catalog.add_category(t["c1"], "环境整治"), "楼道清理", 5, date(2026, 1, 1))
    now = datetime.now(timezone.utc)
    first = await claims.submit(lead, item_id=sweep, deed_date=today(), description="清理楼道", witnesses="", photo=None,
                                submission_key="a", now=now, for_person=desk["person"])
    second = await claims.submit(lead, item_id=sweep, deed_date=today(), description="搬走旧家具", witnesses="", photo=None,
                                 submission_key="b", now=now, for_person=desk["person"])
    card = desk["url"]
    r = await client.get("/api/v1/claims/awaiting", params={"card": card}, headers=desk["headers"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert [c["id"] for c in body["claims"]] == [first, second]
    assert body["claims"][0]["question"].startswith("楼栋长 赵*长 代您申报了") and body["words"]["deny"] == "不是我的"
    assert "王小明" not in r.text  # masked only
    # without a device: refused
    assert (await client.get("/api/v1/claims/awaiting", params={"card": card})).status_code == 403
    ok = await client.post(f"/api/v1/claims/{first}/confirm", json={"card": card}, headers=desk["headers"])
    assert ok.status_code == 200 and ok.json()["state"] == "pending"
    no = await client.post(f"/api/v1/claims/{second}/deny", json={"card": card}, headers=desk["headers"])
    assert no.status_code == 200 and no.json()["state"] == "disputed"
    again = await client.post(f"/api/v1/claims/{second}/confirm", json={"card": card}, headers=desk["headers"])
    assert again.status_code == 422 and again.json()["reason"] == "nothing_to_confirm"
    bad = await client.post(f"/api/v1/claims/{first}/confirm", json={"card": "0000000000"}, headers=desk["headers"])
    assert bad.status_code == 422 and bad.json()["reason"] == "unknown_card"
    assert (await client.get("/api/v1/claims/awaiting", params={"card": card}, headers=desk["headers"])).json()["claims"] == []
    # the reviewer sees the dispute on the weekly review
    await sign_in(client, "reviewer")
    review = await client.get("/review")
    assert 'data-testid="disputed-claim"' in review.text and "搬走旧家具" in review.text and "赵楼长" in review.text


async def test_the_scan_screen_offers_home_check_in(client, desk):
    client.cookies.set("linli_device", desk["headers"]["Authorization"].split(" ", 1)[1])
    page = await client.get("/station")
    assert page.status_code == 200 and "station-claims.js" in page.text
    strings = json.loads(page.text.split('id="station-strings">')[1].split("</script>")[0])
    assert strings["modes"]["report_in"] == "回家报到" and strings["choose"]["report_in"] == "领办项目"
