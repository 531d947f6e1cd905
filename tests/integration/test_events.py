"""Events on a real database: check-in and check-out scans, hours turned into points, capacity, the automatic
check-out, sign-ups and the roster."""
import asyncio
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from backend.accounts import service as accounts
from backend.catalog import service as catalog
from backend.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from backend.events import service as events
from backend.events.tables import Attendance
from backend.ledger import service as ledger
from backend.ledger.tables import LedgerTransaction
from backend.people import service as people
from backend.scans import service as scans
from backend.scans.service import ScanRequest
from backend.scans.tables import Scan
from backend.stations import service as stations
from tests import factories as f

pytestmark = pytest.mark.db

START = f.NOW
END = START + timedelta(hours=3)


@pytest.fixture
async def world(clean_db):
    t = await f.tree()
    await f.issuer(t["c1"])
    await f.issuer(t["c2"])
    person, account = await f.person_account("王小明", t["unit"], t["c1"], colour="red")
    other_person, other_account = await f.person_account("李红", t["unit"], t["c1"])
    admin = await f.admin_principal(t["c1"])
    station = await stations.create_station(admin, t["c1"], "东园党群服务中心", "centre", ["checkin"])
    device, _ = await f.paired_device(admin, station)
    _, url = await f.card_for(admin, account)
    _, other_url = await f.card_for(admin, other_account)
    event = await events.create_event(admin, t["c1"], "清洁家园", "东园小区广场", START, END, capacity=None, points_per_hour=4)
    return {"t": t, "admin": admin, "person": person, "account": account, "other_person": other_person,
            "other_account": other_account, "station": station, "device": device, "url": url, "other_url": other_url,
            "event": event}


def scan(world, mode: str, minutes: int, url: str | None = None, event: int | None = None, **extra) -> ScanRequest:
    return ScanRequest(scan_id=extra.pop("scan_id", uuid4()), mode=mode, card=url or world["url"],
                       scanned_at=START + timedelta(minutes=minutes),
                       details={"event_id": event if event is not None else world["event"]}, **extra)


async def run(world, request: ScanRequest) -> dict:
    # an online scan: the server receives it when it was made
    return await scans.scan(world["device"], request, request.scanned_at)


async def test_check_in_then_out_writes_the_hours_points_and_says_why(world):
    came = await run(world, scan(world, "checkin", -10))
    assert came["accepted"] and came["points"] == 0 and came["summary"] == {"event": "清洁家园"}
    assert await LedgerTransaction.count() == 0
    left = await run(world, scan(world, "checkout", 160))
    # 2 h 40 min served, credited as 2.5 hours at 4 points an hour
    assert left["accepted"] and left["points"] == 10 and left["balance"] == 10
    assert left["summary"] == {"event": "清洁家园", "hours": 2.5}
    lines, _ = await accounts.history(world["account"])
    assert len(lines) == 1 and lines[0].kind == "hours" and lines[0].amount == 10
    assert lines[0].memo == "志愿时长转化积分：2.5小时 × 4分/小时"
    assert lines[0].source_label == "志愿服务 · 清洁家园（2.5小时）" and lines[0].source_type == "scan"
    stay = await Attendance.select().first()
    assert (stay["minutes"], stay["points"], stay["txn"], stay["auto_checked_out"]) == (160, 10, lines[0].transaction_id, False)
    assert await ledger.verify() == []


async def test_check_in_outside_the_window_is_refused_and_stored(world):
    for minutes in (-31, 180):
        request = scan(world, "checkin", minutes)
        answer = await run(world, request)
        assert (answer["accepted"], answer["reason"]) == (False, "outside_event_hours")
        assert (await Scan.select(Scan.reason).where(Scan.scan_id == request.scan_id).first())["reason"] == "outside_event_hours"
    assert await Attendance.count() == 0


async def test_an_offline_check_in_is_judged_when_it_was_made(world):
    # scanned inside the window, sent an hour after the event ended
    request = scan(world, "checkin", 10, offline=True)
    answer = await scans.scan(world["device"], request, END + timedelta(hours=1))
    assert answer["accepted"]


async def test_double_check_in_is_refused(world):
    assert (await run(world, scan(world, "checkin", 0)))["accepted"]
    again = await run(world, scan(world, "checkin", 5))
    assert (again["accepted"], again["reason"]) == (False, "already_checked_in")
    assert await Attendance.count() == 1


async def test_check_out_without_check_in_and_twice(world):
    answer = await run(world, scan(world, "checkout", 60))
    assert answer["reason"] == "not_checked_in"
    await run(world, scan(world, "checkin", 0))
    await run(world, scan(world, "checkout", 60))
    answer = await run(world, scan(world, "checkout", 70))
    assert answer["reason"] == "already_checked_out"
    assert await f.balance(world["account"]) == 4


async def test_capacity_counts_people_checked_in(world):
    full = await events.create_event(world["admin"], world["t"]["c1"], "敬老院探访", "敬老院", START, END, capacity=1,
                                     points_per_hour=2)
    assert (await run(world, scan(world, "checkin", 0, event=full)))["accepted"]
    refused = await run(world, scan(world, "checkin", 1, url=world["other_url"], event=full))
    assert (refused["accepted"], refused["reason"]) == (False, "event_full")
    # the one who came may leave and come back: no new place needed
    await run(world, scan(world, "checkout", 30, event=full))
    assert (await run(world, scan(world, "checkin", 45, event=full)))["accepted"]


async def test_concurrent_check_ins_never_overfill(world):
    full = await events.create_event(world["admin"], world["t"]["c1"], "敬老院探访", "敬老院", START, END, capacity=1,
                                     points_per_hour=2)
    answers = await asyncio.gather(*(run(world, scan(world, "checkin", 0, url=u, event=full))
                                     for u in (world["url"], world["other_url"])))
    assert sorted(a["reason"] for a in answers) == ["event_full", "ok"]
    assert await Attendance.count().where(Attendance.event == full) == 1


async def test_auto_check_out_at_the_end_credits_up_to_the_end(world):
    await run(world, scan(world, "checkin", 60))
    assert await events.close_event(world["event"], END - timedelta(minutes=1)) == 0  # not over yet
    roster = await events.roster(world["admin"], world["event"], END + timedelta(minutes=5))
    assert roster.over and roster.present == [] and len(roster.done) == 1
    stay = roster.done[0]
    assert stay["auto_checked_out"] and stay["checked_out_at"] == END and stay["hours"] == "2" and stay["points"] == 8
    lines, _ = await accounts.history(world["account"])
    assert lines[0].source_label == "志愿服务 · 清洁家园（2小时，自动签退）" and lines[0].source_type == "event"
    # running it again, or from the command line's close_ended, changes nothing
    assert await events.close_event(world["event"], END + timedelta(hours=1)) == 0
    assert await events.close_ended(END + timedelta(hours=1)) == (0, 0)
    assert await f.balance(world["account"]) == 8


async def test_close_ended_closes_every_event_that_is_over(world):
    await run(world, scan(world, "checkin", 0))
    await run(world, scan(world, "checkin", 0, url=world["other_url"]))
    assert await events.close_ended(END) == (1, 2)
    assert await Attendance.count().where(Attendance.checked_out_at.is_null()) == 0


async def test_a_replayed_check_out_writes_once(world):
    await run(world, scan(world, "checkin", 0))
    request = scan(world, "checkout", 120)
    first = await run(world, request)
    again = await scans.scan(world["device"], request, request.scanned_at + timedelta(minutes=3))
    assert again == first | {"duplicate": True}
    replays = await asyncio.gather(*(run(world, request) for _ in range(4)))
    assert all(r["duplicate"] for r in replays)
    assert await LedgerTransaction.count() == 1 and await f.balance(world["account"]) == 8


async def test_an_event_of_another_community_is_refused(world):
    admin2 = await f.admin_principal(world["t"]["c2"])
    elsewhere = await events.create_event(admin2, world["t"]["c2"], "西园义诊", "西园广场", START, END, points_per_hour=2)
    answer = await run(world, scan(world, "checkin", 0, event=elsewhere))
    assert (answer["accepted"], answer["reason"]) == (False, "event_elsewhere")
    assert (await run(world, scan(world, "checkin", 0, event=999_999)))["reason"] == "event_not_found"


async def test_a_catalogue_item_event_awards_the_value_of_the_event_day(world):
    category = await catalog.add_category(world["t"]["c1"], "志愿服务")
    item = await catalog.add_item(category, "大型活动保障志愿服务", 20, date(2026, 1, 1))
    # revised after the event's day: the event still earns the old value
    await catalog.revise(item, 30, START.date() + timedelta(days=1), "上调")
    guard = await events.create_event(world["admin"], world["t"]["c1"], "马拉松保障", "滨河路", START, END, item_id=item)
    await run(world, scan(world, "checkin", 0, event=guard))
    left = await run(world, scan(world, "checkout", 40, event=guard))
    assert left["points"] == 20 and left["summary"]["hours"] == 0.5
    txn = await LedgerTransaction.select().first()
    assert txn["kind"] == "award" and txn["memo"] == "志愿服务 · 大型活动保障志愿服务（20分）"


async def test_undo_a_check_out_reopens_the_stay_and_undo_a_check_in_forgets_it(world):
    await run(world, scan(world, "checkin", 0))
    left = scan(world, "checkout", 60)
    await run(world, left)
    await scans.undo(world["device"], left.scan_id, left.scanned_at + timedelta(minutes=1))
    assert await f.balance(world["account"]) == 0
    stay = await Attendance.select().first()
    assert stay["checked_out_at"] is None and stay["points"] == 0 and stay["txn"] is None
    # the stay is open again: the right check-out follows
    assert (await run(world, scan(world, "checkout", 120)))["points"] == 8

    came = scan(world, "checkin", 90, url=world["other_url"])
    await run(world, came)
    await scans.undo(world["device"], came.scan_id, came.scanned_at + timedelta(seconds=30))
    assert await Attendance.count().where(Attendance.account == world["other_account"]) == 0


async def test_sign_up_withdraw_and_the_roster(world):
    resident = await people.principal(await people.create_user("xiaoming", "password-123", "王小明", person_id=world["person"]))
    other = await people.principal(await people.create_user("lihong", "password-123", "李红", person_id=world["other_person"]))
    before = START - timedelta(days=1)
    assert await events.sign_up(resident, world["event"], before)
    assert not await events.sign_up(resident, world["event"], before)  # once
    assert await events.sign_up(other, world["event"], before)
    await events.withdraw(other, world["event"], before)
    assert await events.sign_up(other, world["event"], before)
    with pytest.raises(Conflict, match="event_started"):
        await events.withdraw(other, world["event"], START)
    listed = await events.upcoming_for(resident, before)
    assert [(e["title"], e["signed_up"], e["signups"]) for e in listed] == [("清洁家园", True, 2)]

    await run(world, scan(world, "checkin", 0))
    during = await events.roster(world["admin"], world["event"], START + timedelta(minutes=5))
    assert [s["name"] for s in during.present] == ["王小明"] and during.no_shows == []
    assert [(s["name"], s["came"]) for s in during.signed_up] == [("王小明", True), ("李红", False)]
    after = await events.roster(world["admin"], world["event"], END)
    assert [s["name"] for s in after.no_shows] == ["李红"] and [s["points"] for s in after.done] == [12]
    mine = await events.my_events(resident)
    assert [(m["title"], m["hours"], m["points"]) for m in mine] == [("清洁家园", "3", 12)]
    late_person, _ = await f.person_account("张三", world["t"]["unit"], world["t"]["c1"])
    late = await people.principal(await people.create_user("zhangsan", "password-123", "张三", person_id=late_person))
    with pytest.raises(Conflict, match="event_over"):
        await events.sign_up(late, world["event"], END)


async def test_sign_up_is_limited_to_the_residents_community_and_the_capacity(world):
    small = await events.create_event(world["admin"], world["t"]["c1"], "手工课", "活动室", START, END, capacity=1,
                                      points_per_hour=2)
    resident = await people.principal(await people.create_user("xiaoming", "password-123", "王小明", person_id=world["person"]))
    other = await people.principal(await people.create_user("lihong", "password-123", "李红", person_id=world["other_person"]))
    await events.sign_up(resident, small, START - timedelta(hours=1))
    with pytest.raises(Conflict, match="event_full"):
        await events.sign_up(other, small, START - timedelta(hours=1))
    outsider_person, _ = await f.person_account("赵六", world["t"]["c2"], world["t"]["c2"])
    outsider = await people.principal(await people.create_user("zhao", "password-123", "赵六", person_id=outsider_person))
    with pytest.raises(NotFound, match="event_not_found"):
        await events.sign_up(outsider, small, START - timedelta(hours=1))


async def test_staff_act_only_in_their_community_and_forms_are_checked(world):
    admin2 = await f.admin_principal(world["t"]["c2"])
    with pytest.raises(PermissionDenied):
        await events.create_event(admin2, world["t"]["c1"], "越权", "某处", START, END, points_per_hour=1)
    with pytest.raises(PermissionDenied):
        await events.roster(admin2, world["event"], START)
    with pytest.raises(InvalidInput, match="award_rule_required"):
        await events.create_event(world["admin"], world["t"]["c1"], "无规则", "某处", START, END)
    other_category = await catalog.add_category(world["t"]["c2"], "别处")
    other_item = await catalog.add_item(other_category, "别处的项目", 5, date(2026, 1, 1))
    with pytest.raises(InvalidInput, match="unknown_item"):
        await events.create_event(world["admin"], world["t"]["c1"], "别处项目", "某处", START, END, item_id=other_item)


async def test_cancel_only_before_anyone_came(world):
    spare = await events.create_event(world["admin"], world["t"]["c1"], "读书会", "图书室", START, END, points_per_hour=1)
    await events.cancel_event(world["admin"], spare)
    answer = await run(world, scan(world, "checkin", 0, event=spare))
    assert answer["reason"] == "event_cancelled"
    await run(world, scan(world, "checkin", 0))
    with pytest.raises(Conflict, match="event_has_attendance"):
        await events.cancel_event(world["admin"], world["event"])


async def test_the_station_config_lists_todays_and_ongoing_events(world):
    await events.create_event(world["admin"], world["t"]["c1"], "下周活动", "活动室", START + timedelta(days=7),
                              END + timedelta(days=7), points_per_hour=1)
    await run(world, scan(world, "checkin", 0))
    config = await scans.station_config(world["station"], START + timedelta(minutes=10))
    assert [(e["title"], e["checked_in"], e["capacity"]) for e in config["events"]] == [("清洁家园", 1, None)]
    assert config["events"][0]["starts_at"] == START.isoformat()


async def test_the_command_line_closes_ended_events(world):
    await run(world, scan(world, "checkin", 0))  # the event ended on 1 November 2026, before any real "now" here
    done = await asyncio.to_thread(subprocess.run, [str(Path(sys.executable).parent / "linli"), "events", "close-ended"],
                                   env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "checked out 1 volunteer at 1 event that had ended"
    assert await f.balance(world["account"]) == 12
