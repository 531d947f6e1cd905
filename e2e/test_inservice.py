"""In-service members' home check-in and claims confirmed at a station, in Chromium against the demo: resident1 (a
registered in-service member of 东园) checks in at a station with a keyboard-wedge scanner and staff see them move
from "not yet" to "checked in"; a building lead files a claim for resident2, whose card is then scanned at the
station, and resident2 confirms it on the station's screen."""
from __future__ import annotations

import json
import re
import subprocess

import pytest
from playwright.sync_api import expect

from e2e.conftest import ROOT, assert_accessible, sign_in
from e2e.db import query

# a station of 东园 doing only home check-ins, paired directly; the card URLs of resident1 and resident2; and a
# sign-in for a building lead of resident2's building (the demo has leads, but none signs in)
SETUP = """
import asyncio, json
from datetime import datetime, timezone
from backend import db
from backend.accounts.tables import Account
from backend.claims import rules as claim_rules
from backend.community.tables import Node
from backend.people import service as people
from backend.people.tables import Person, User
from backend.servicecards import service as cards
from backend.stations import service as stations

async def card_url(username):
    person = (await User.select(User.person).where(User.username == username).first())["person"]
    views = await cards.active_cards_of_person(person)
    view = next((v for v in views if v.colour == "red"), views[0])  # a party member's red card
    return person, await cards.card_url(view)

async def main():
    await db.prepare()
    try:
        now = datetime.now(timezone.utc)
        admin = await people.principal((await User.select(User.id).where(User.username == "admin").first())["id"])
        community = (await Node.select(Node.id).where((Node.kind == "community") & (Node.name == "东园社区")).first())["id"]
        station = await stations.create_station(admin, community, "东园党群服务中心报到台", "centre", ["report_in"])
        credential = await stations.pair(await stations.new_pairing_code(admin, station, "报到平板", now), now)
        member, member_url = await card_url("resident1")
        resident, resident_url = await card_url("resident2")
        home = (await Person.select(Person.home.path.as_alias("path")).where(Person.id == resident).first())["path"]
        building = claim_rules.building_path(home)
        leads = await Person.select(Person.id, Person.name).where(Person.home.path.like(building + "%") & (Person.is_building_lead == True) & (Person.id != resident))
        lead = None
        for candidate in leads:
            if await Account.exists().where((Account.holder == candidate["id"]) & (Account.colour == "green")):
                lead = candidate
                break
        if lead is None:
            lead = (await Person.select(Person.id, Person.name).where(Person.home.path.like(building + "%") & (Person.id != resident)).first())
            await Person.update({Person.is_building_lead: True}).where(Person.id == lead["id"])
            await Account.insert(Account(kind="person", colour="green", holder=lead["id"], name=lead["name"], community=community))
        await people.create_user("lead-e2e", "linli-demo-2026", lead["name"], person_id=lead["id"])
        print(json.dumps({"credential": credential, "community": community, "member": member, "member_url": member_url,
                          "resident": resident, "resident_url": resident_url, "lead": lead["name"]}))
    finally:
        await db.close()

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def desk(server):
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", SETUP], env=server.env, cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _station(context, server, desk):
    context.add_cookies([{"name": "linli_device", "value": desk["credential"], "url": server.url}])
    page = context.new_page()
    page.goto(server.url + "/station")
    # the new mode shows up with its label, and its choice is the community's projects
    expect(page.get_by_label("回家报到", exact=True)).to_be_checked()
    expect(page.get_by_label("领办项目")).to_be_visible()
    return page


def _member_row(page, server, desk):
    name = query(server, "SELECT name FROM person WHERE id = ?", desk["member"])[0][0]
    return page.get_by_test_id("member-row").filter(has_text=name)


def test_a_member_checks_in_at_the_station_and_staff_see_it(browser, server, desk):
    staff = browser.new_context(locale="zh-CN")
    office = staff.new_page()
    sign_in(office, server, "admin")
    office.goto(server.url + "/staff/inservice")
    row = _member_row(office, server, desk)
    expect(row).to_have_attribute("data-state", "not_yet")
    expect(row).to_contain_text("尚未报到")
    not_yet = int(office.get_by_test_id("count-not-yet").inner_text())
    assert_accessible(office)

    device = browser.new_context(locale="zh-CN")
    page = _station(device, server, desk)
    page.get_by_label("领办项目").select_option(label="独居老人结对探访")
    page.get_by_label("扫码枪或卡号").focus()
    page.keyboard.type(desk["member_url"], delay=0)  # a USB scanner types the card's code and Enter
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("result-ok")).to_be_visible()
    expect(page.get_by_test_id("result-ok")).to_contain_text("本月报到成功")
    expect(page.get_by_test_id("result-ok")).to_contain_text("独居老人结对探访")
    assert_accessible(page)
    assert query(server, "SELECT via, points FROM inservice_checkin WHERE person = ? ORDER BY id DESC LIMIT 1",
                 desk["member"]) == [("station", 10)]

    office.reload()
    row = _member_row(office, server, desk)
    expect(row).to_have_attribute("data-state", "checked_in")
    expect(row).to_contain_text("独居老人结对探访")
    expect(office.get_by_test_id("count-not-yet")).to_have_text(str(not_yet - 1))
    # a second scan this month is refused in red, with the reason
    page.get_by_role("button", name="下一张卡").click()
    page.get_by_label("扫码枪或卡号").fill(desk["member_url"])
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("result-reason")).to_contain_text("已报到")
    device.close()
    staff.close()


def test_a_resident_confirms_a_leads_claim_at_the_station(browser, server, desk):
    lead = browser.new_context(locale="zh-CN")
    phone = lead.new_page()
    sign_in(phone, server, "lead-e2e")
    phone.goto(server.url + "/claims/new")
    phone.get_by_label("谁做的").select_option(str(desk["resident"]))
    item = query(server, "SELECT i.id FROM catalog_item i JOIN catalog_category c ON c.id = i.category "
                         "WHERE i.name = '看望空巢老人' AND c.community = ?", desk["community"])[0][0]
    phone.get_by_label("您做了什么？").select_option(str(item))
    phone.get_by_label("具体情况").fill("陪楼下独居的王奶奶去社区医院拿药，又帮她把药分好装进药盒")
    phone.get_by_role("button", name="提交申报").click()
    expect(phone).to_have_url(re.compile(r"/claims\?done=filed_for"))
    claim = query(server, "SELECT id, confirmed_at FROM claim WHERE person = ? AND needs_confirmation = 1 ORDER BY id DESC",
                  desk["resident"])[0]
    assert claim[1] is None
    lead.close()

    device = browser.new_context(locale="zh-CN")
    page = _station(device, server, desk)
    page.get_by_label("扫码枪或卡号").focus()
    page.keyboard.type(desk["resident_url"], delay=0)
    page.keyboard.press("Enter")
    # resident2 is no in-service member: refused, and then asked about the lead's claim
    expect(page.get_by_test_id("result-fail")).to_be_visible()
    panel = page.get_by_test_id("station-claims")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("代您申报了")
    expect(panel).to_contain_text("看望空巢老人")
    assert_accessible(page)
    panel.get_by_test_id("station-claim").filter(has_text="看望空巢老人").get_by_role("button", name="属实").click()
    expect(panel).to_contain_text("谢谢，申报已交考评小组审核。")
    confirmed = query(server, "SELECT confirmed_at, state FROM claim WHERE id = ?", claim[0])[0]
    assert confirmed[0] is not None and confirmed[1] == "pending"
    device.close()
