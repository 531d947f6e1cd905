"""In-service members' monthly check-in on a real database (both engines): the report_in scan (points within the
item's caps, one a month, refusals stored, undo), check-ins claimed from the phone (points through the weekly
review), the monthly list and the yearly report; claims a building lead filed, confirmed or disputed at a
station's card scan; catalogue caps on event check-outs."""
from datetime import date, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest

from backend.accounts.service import issuer_of
from backend.catalog import service as catalog
from backend.catalog.rules import Caps
from backend.catalog.tables import ItemAward
from backend.claims import service as claims
from backend.claims.tables import Claim
from backend.errors import Conflict, InvalidInput, PermissionDenied
from backend.events import service as events
from backend.events.tables import Attendance
from backend.inservice import service
from backend.inservice.tables import CheckIn
from backend.ledger import service as ledger
from backend.ledger.tables import LedgerTransaction
from backend.people import service as people
from backend.people.tables import Person, RoleGrant, User
from backend.scans import service as scans
from backend.scans.service import ScanRequest
from backend.scans.tables import Scan
from backend.stations import service as stations
from tests import factories as f

pytestmark = pytest.mark.db

IN_WEEK = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)  # Thursday 26 November, 10:00 in Shanghai
EARLY = datetime(2026, 11, 10, 2, 0, tzinfo=timezone.utc)  # mid-month
TODAY = date(2026, 11, 26)


async def user(username: str, display_name: str, person: int | None = None, role: str | None = None, node: int | None = None):
    user_id = (await User.insert(User(username=username, password_hash="-", display_name=display_name, person=person)))[0]["id"]
    if role:
        await RoleGrant.insert(RoleGrant(user=user_id, role=role, node=node))
    return await people.principal(user_id)


@pytest.fixture
async def world(clean_db):
    t = await f.tree()
    await f.issuer(t["c1"])
    await f.issuer(t["c2"])
    admin = await f.admin_principal(t["c1"])
    person, red = await f.person_account("王小明", t["unit"], t["c1"], colour="red")
    await Person.update({Person.is_party_member: True}).where(Person.id == person)
    blue_person, blue = await f.person_account("李四", t["unit"], t["c1"])
    category = await catalog.add_category(t["c1"], "党员先锋")
    home = await catalog.add_item(category, "在职党员回家报到", 10, date(2026, 7, 1), colours=["red"], caps=Caps(per_month=1))
    project = await service.add_project(admin, t["c1"], "楼道文明劝导", "每月一次")
    other_project = await service.add_project(await f.admin_principal(t["c2"]), t["c2"], "别处的项目")
    member = await service.register(admin, person, "区财政局", "机关第二支部", date(2026, 3, 1), TODAY)
    await service.save_setting(admin, t["c1"], 7, False, home)
    station = await stations.create_station(admin, t["c1"], "东园党群服务中心", "centre", ["report_in"])
    device, credential = await f.paired_device(admin, station)
    _, url = await f.card_for(admin, red)
    _, blue_url = await f.card_for(admin, blue)
    resident = await user("wang", "王小明", person)
    return {"t": t, "admin": admin, "person": person, "red": red, "blue_person": blue_person, "blue": blue, "home": home,
            "project": project, "other_project": other_project, "member": member, "station": station, "device": device,
            "credential": credential, "url": url, "blue_url": blue_url, "resident": resident}


def report_in(world, at: datetime = IN_WEEK, card: str | None = None, project: int | None = None, **extra) -> ScanRequest:
    return ScanRequest(scan_id=extra.pop("scan_id", uuid4()), mode="report_in", card=card or world["url"], scanned_at=at,
                       details={"project_id": project or world["project"]}, **extra)


async def run(world, request: ScanRequest) -> dict:
    return await scans.scan(world["device"], request, request.scanned_at)


async def test_a_member_checks_in_at_a_station_once_a_month_and_earns_the_item(world):
    answer = await run(world, report_in(world))
    assert answer["accepted"] and answer["points"] == 10 and answer["balance"] == 10
    assert answer["summary"] == {"project": "楼道文明劝导", "month": "2026-11", "notes": []}
    row = await CheckIn.select().first()
    assert (row["month"], row["via"], row["day"], row["in_window"], row["points"], row["project"]) == (
        "2026-11", "station", TODAY, True, 10, world["project"])
    txn = await LedgerTransaction.select().where(LedgerTransaction.id == row["txn"]).first()
    assert txn["kind"] == "award" and txn["source_type"] == "scan" and "在职党员回家报到" in txn["source_label"]
    assert await ItemAward.count() == 1
    again = await run(world, report_in(world, at=IN_WEEK + timedelta(days=1)))
    assert (again["accepted"], again["reason"], again["params"]) == (False, "already_reported", {"month": "2026-11"})
    assert await CheckIn.count() == 1 and await f.balance(world["red"]) == 10
    assert await Scan.count() == 2  # the refusal is stored too
    assert await ledger.verify() == []


@pytest.mark.parametrize(("change", "reason"), [
    ("blue_card", "not_in_service_member"),
    ("other_project", "project_not_available"),
    ("no_project", "project_required"),
])
async def test_station_refusals_are_stored_with_their_reason(world, change, reason):
    request = {"blue_card": report_in(world, card=world["blue_url"]),
               "other_project": report_in(world, project=world["other_project"]),
               "no_project": ScanRequest(uuid4(), "report_in", world["url"], IN_WEEK, {})}[change]
    answer = await run(world, request)
    assert (answer["accepted"], answer["reason"]) == (False, reason)
    assert await CheckIn.count() == 0 and await LedgerTransaction.count() == 0


async def test_a_member_of_another_community_is_sent_home(world):
    person, account = await f.person_account("赵西", world["t"]["c2"], world["t"]["c2"], colour="red")
    await Person.update({Person.is_party_member: True}).where(Person.id == person)
    west_admin = await f.admin_principal(world["t"]["c2"])
    await service.register(west_admin, person, "市医院", "", date(2026, 1, 1), TODAY)
    _, url = await f.card_for(west_admin, account)
    answer = await run(world, report_in(world, card=url))
    assert (answer["accepted"], answer["reason"]) == (False, "member_of_other_community")


async def test_outside_the_week_a_lenient_community_marks_and_a_strict_one_refuses(world):
    early = await run(world, report_in(world, at=EARLY))
    assert early["accepted"] and early["summary"]["notes"] == [{"reason": "report_outside_week"}]
    assert not (await CheckIn.select(CheckIn.in_window).first())["in_window"]
    await service.save_setting(world["admin"], world["t"]["c1"], 7, True, world["home"])
    refused = await run(world, report_in(world, at=EARLY - timedelta(days=31)))  # October, strict now
    assert (refused["accepted"], refused["reason"]) == (False, "outside_report_week")
    assert refused["params"] == {"opens": "2026-10-25", "closes": "2026-10-31"}


async def test_a_cap_or_colour_leaves_out_the_points_but_not_the_check_in(world):
    # the item's monthly cap is already used this month by an award scan elsewhere: no points, the check-in counts
    await catalog.record_award(world["home"], world["red"], world["person"], TODAY,
                               (await f.award(await issuer_of(world["t"]["c1"]), world["red"], 1, world["t"]["c1"])).transaction_id,
                               "scan")
    answer = await run(world, report_in(world))
    assert answer["accepted"] and answer["points"] == 0
    assert answer["summary"]["notes"] == [{"reason": "monthly_cap_reached", "limit": 1}]
    assert (await CheckIn.select(CheckIn.note).first())["note"] == "monthly_cap_reached"


async def test_undo_takes_the_check_in_back_so_the_member_can_check_in_again(world):
    first = await run(world, report_in(world))
    await scans.undo(world["device"], UUID(first["scan_id"]), IN_WEEK + timedelta(minutes=1))
    assert await CheckIn.count() == 0 and await f.balance(world["red"]) == 0
    again = await run(world, report_in(world, at=IN_WEEK + timedelta(minutes=2)))
    assert again["accepted"] and again["points"] == 10  # the reversed award freed the month's cap
    assert await ledger.verify() == []


async def test_a_check_in_from_the_phone_files_a_claim_for_the_weekly_review(world):
    check_in = await service.claim_check_in(world["resident"], TODAY, None, "帮独居老人买菜", "k1", IN_WEEK)
    row = await CheckIn.select().where(CheckIn.id == check_in).first()
    assert (row["via"], row["project_text"], row["points"], row["late"]) == ("claim", "帮独居老人买菜", 0, False)
    claim = await Claim.select().where(Claim.id == row["claim"]).first()
    assert claim["state"] == "pending" and claim["item"] == world["home"] and not claim["needs_confirmation"]
    assert "帮独居老人买菜" in claim["description"]
    assert await LedgerTransaction.count() == 0  # points wait for the review
    with pytest.raises(Conflict, match="already_reported"):
        await service.claim_check_in(world["resident"], TODAY, world["project"], "", "k2", IN_WEEK)
    # and a station scan the same month is refused too
    assert (await run(world, report_in(world)))["reason"] == "already_reported"


async def test_a_late_claim_for_last_month_is_marked(world):
    at = datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc)
    check_in = await service.claim_check_in(world["resident"], date(2026, 11, 29), world["project"], "", "k", at)
    row = await CheckIn.select().where(CheckIn.id == check_in).first()
    assert (row["month"], row["late"], row["in_window"]) == ("2026-11", True, True)
    with pytest.raises(Conflict, match="report_month_closed"):
        await service.claim_check_in(world["resident"], date(2026, 11, 29), world["project"], "", "k2",
                                     datetime(2026, 12, 5, 2, 0, tzinfo=timezone.utc))


async def test_only_registered_members_check_in_from_the_phone(world):
    other = await user("li", "李四", world["blue_person"])
    with pytest.raises(Conflict, match="not_in_service_member"):
        await service.claim_check_in(other, TODAY, world["project"], "", "k", IN_WEEK)
    with pytest.raises(InvalidInput, match="project_required"):
        await service.claim_check_in(world["resident"], TODAY, None, " ", "k", IN_WEEK)


async def test_only_party_members_are_registered_and_only_by_their_communitys_staff(world):
    with pytest.raises(Conflict, match="not_party_member"):
        await service.register(world["admin"], world["blue_person"], "区教育局", "", date(2026, 1, 1), TODAY)
    with pytest.raises(Conflict, match="already_registered_member"):
        await service.register(world["admin"], world["person"], "区教育局", "", date(2026, 1, 1), TODAY)
    west_admin = await f.admin_principal(world["t"]["c2"])
    with pytest.raises(PermissionDenied):
        await service.register(west_admin, world["person"], "区教育局", "", date(2026, 1, 1), TODAY)


async def test_the_months_list_moves_a_member_from_not_yet_to_checked_in(world):
    second, _ = await f.person_account("陈党员", world["t"]["unit"], world["t"]["c1"], colour="red")
    await Person.update({Person.is_party_member: True}).where(Person.id == second)
    await service.register(world["admin"], second, "区税务局", "", date(2026, 5, 1), TODAY)
    before = await service.month_list(world["admin"], world["t"]["c1"], "2026-11")
    assert before.counts == {"members": 2, "checked_in": 0, "in_window": 0, "not_yet": 2}
    await run(world, report_in(world))
    after = await service.month_list(world["admin"], world["t"]["c1"], "2026-11")
    assert after.counts == {"members": 2, "checked_in": 1, "in_window": 1, "not_yet": 1}
    assert [r["name"] for r in after.rows] == ["陈党员", "王小明"]  # "not yet" first
    assert after.window_dates == (date(2026, 11, 24), date(2026, 11, 30))
    # a member registered after the month is not due in it
    assert (await service.month_list(world["admin"], world["t"]["c1"], "2026-04")).counts["members"] == 1


async def test_the_yearly_report_has_twelve_months_projects_and_the_years_points(world):
    await run(world, report_in(world))
    await run(world, report_in(world, at=datetime(2026, 10, 28, 2, 0, tzinfo=timezone.utc)))
    await f.award(await issuer_of(world["t"]["c1"]), world["red"], 7, world["t"]["c1"])  # another award this year
    report = await service.yearly_report(world["admin"], world["member"], 2026, date(2026, 11, 30))
    assert len(report.summary.months) == 12 and report.summary.checked_in == 2 and report.summary.due == 9  # March–Nov
    assert report.projects == ["楼道文明劝导"] and report.check_in_points == 20 and report.points_earned == 27
    # the member may read their own; other communities' staff may not
    assert (await service.yearly_report(world["resident"], world["member"], 2026, TODAY)).points_earned == 27
    with pytest.raises(PermissionDenied):
        await service.yearly_report(await f.admin_principal(world["t"]["c2"]), world["member"], 2026, TODAY)


# --- a building lead's claim confirmed or disputed at a station ------------------------------------------------

@pytest.fixture
async def lead_claim(world):
    lead_person, _ = await f.person_account("赵楼长", world["t"]["unit"], world["t"]["c1"], colour="green")
    await Person.update({Person.is_building_lead: True}).where(Person.id == lead_person)
    lead = await user("lead", "赵楼长", lead_person)
    sweep = await catalog.add_item(await catalog.add_category(world["t"]["c1"], "环境整治"), "楼道清理", 5, date(2026, 7, 1))
    claim_id = await claims.submit(lead, item_id=sweep, deed_date=date(2026, 11, 20), description="帮李四清理了楼道里堆放多年的旧家具和纸箱",
                                   witnesses="", photo=None, submission_key="lead-1", now=IN_WEEK, for_person=world["blue_person"])
    return world | {"claim": claim_id, "lead": lead}


async def test_the_station_shows_the_holder_only_masked_claims_awaiting_them(lead_claim):
    w = lead_claim
    found = await claims.awaiting_at_station(w["station"], w["blue_url"], IN_WEEK)
    assert found == [{"id": w["claim"], "item": "楼道清理", "category": "环境整治", "points": 5, "deed_date": "2026-11-20",
                      "description": "帮李四清理了楼道里堆放多年的旧家具和纸箱", "filed_by": "赵*长"}]
    # someone else's card sees nothing
    assert await claims.awaiting_at_station(w["station"], w["url"], IN_WEEK) == []


async def test_confirming_at_the_station_sends_the_claim_to_review(lead_claim):
    w = lead_claim
    assert await claims.answer_at_station(w["station"], w["device"].device_id, w["claim"], w["blue_url"], True, IN_WEEK) == "pending"
    row = await Claim.select().where(Claim.id == w["claim"]).first()
    assert row["confirmed_at"] is not None and row["state"] == "pending"
    assert await claims.awaiting_at_station(w["station"], w["blue_url"], IN_WEEK) == []
    with pytest.raises(Conflict, match="nothing_to_confirm"):  # answered once
        await claims.answer_at_station(w["station"], w["device"].device_id, w["claim"], w["blue_url"], False, IN_WEEK)


async def test_not_mine_disputes_the_claim_and_reviewers_see_it(lead_claim):
    w = lead_claim
    with pytest.raises(Conflict, match="nothing_to_confirm"):  # another card cannot answer for the resident
        await claims.answer_at_station(w["station"], w["device"].device_id, w["claim"], w["url"], False, IN_WEEK)
    assert await claims.answer_at_station(w["station"], w["device"].device_id, w["claim"], w["blue_url"], False, IN_WEEK) == "disputed"
    reviewer = await user("rev", "审核员", None, "reviewer", w["t"]["c1"])
    assert [c["id"] for c in await claims.disputed(reviewer)] == [w["claim"]]
    assert (await claims.queue(reviewer)).claims == []
    with pytest.raises(Conflict):  # not for approval
        await claims.approve(reviewer, w["claim"], IN_WEEK)


# --- caps on event check-outs ---------------------------------------------------------------------------------

async def test_event_checkouts_respect_the_items_caps_and_keep_the_hours(world):
    admin, c1 = world["admin"], world["t"]["c1"]
    guard = await catalog.add_item(await catalog.add_category(c1, "志愿服务"), "大型活动保障志愿服务", 20, date(2026, 7, 1),
                                   caps=Caps(per_day=1))
    start = IN_WEEK
    first = await events.create_event(admin, c1, "上午场", "广场", start, start + timedelta(hours=2), item_id=guard)
    second = await events.create_event(admin, c1, "下午场", "广场", start + timedelta(hours=3), start + timedelta(hours=5), item_id=guard)
    station = await stations.create_station(admin, c1, "活动签到台", "event", ["checkin"])
    device, _ = await f.paired_device(admin, station)

    async def stay(event: int, came: datetime, left: datetime) -> dict:
        for mode, at in (("checkin", came), ("checkout", left)):
            answer = await scans.scan(device, ScanRequest(uuid4(), mode, world["url"], at, {"event_id": event}), at)
            assert answer["accepted"], answer
        return answer

    morning = await stay(first, start, start + timedelta(hours=2))
    assert morning["points"] == 20 and "notes" not in morning["summary"]
    afternoon = await stay(second, start + timedelta(hours=3), start + timedelta(hours=5))
    assert afternoon["points"] == 0
    assert afternoon["summary"]["notes"] == [{"reason": "daily_cap_reached", "limit": 1}, {"reason": "hours_recorded_no_points"}]
    stays = await Attendance.select().where(Attendance.event == second)
    assert stays[0]["minutes"] == 120 and not stays[0]["points"]
    assert await ItemAward.count().where(ItemAward.item == guard) == 1
    # the cap counts award scans and claims too: the item is shared
    assert await f.balance(world["red"]) == 20
    assert await ledger.verify() == []
