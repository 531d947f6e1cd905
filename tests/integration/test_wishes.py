"""Micro-wishes on a real database: the whole loop posts the helper's points once (even when the confirmation is
repeated, or sent twice at once), at the value in force on the completion day, within the catalogue's caps; who may
do what; the boards and the overdue list."""
import asyncio
from datetime import date, timedelta

import pytest

from backend.audit.tables import AuditEntry
from backend.catalog import service as catalog
from backend.catalog.rules import Caps
from backend.catalog.tables import ItemAward
from backend.errors import Conflict, InvalidInput, PermissionDenied
from backend.ledger import service as ledger
from backend.ledger.tables import LedgerTransaction
from backend.people import service as people
from backend.wishes import service
from backend.wishes.service import AS_STAFF
from backend.wishes.tables import Wish, WishStep
from tests import factories as f

pytestmark = pytest.mark.db

NOW = f.NOW  # Sunday 2026-11-01 17:00 in Shanghai
MONDAY = NOW + timedelta(days=1)


async def user(username: str, name: str, person: int | None, role: str | None = None, node: int | None = None):
    return await people.principal(await people.create_user(username, "password-123", name, person_id=person, role=role,
                                                           node_id=node))


@pytest.fixture
async def world(clean_db):
    t = await f.tree()
    issuer = await f.issuer(t["c1"])
    await f.issuer(t["c2"])
    grandma, _ = await f.person_account("张奶奶", t["unit"], t["c1"])
    helper_person, helper_account = await f.person_account("李志愿", t["unit"], t["c1"], colour="red")
    other_person, other_account = await f.person_account("赵热心", t["unit"], t["c1"])
    far_person, _ = await f.person_account("钱远", t["c2"], t["c2"])
    category = await catalog.add_category(t["c1"], "邻里互助")
    wish_item = await catalog.add_item(category, "认领完成居民微心愿", 10, date(2026, 7, 1))
    await catalog.revise(wish_item, 15, date(2026, 11, 2), "11月2日起上调")
    visit_item = await catalog.add_item(category, "看望空巢老人", 10, date(2026, 7, 1), caps=Caps(per_month=1))
    for kind in ("repair", "errand", "other"):
        await service.set_kind_item(t["c1"], kind, wish_item)
    await service.set_kind_item(t["c1"], "visit", visit_item)
    return {
        "t": t, "issuer": issuer, "grandma": grandma, "helper_person": helper_person, "helper_account": helper_account,
        "other_person": other_person, "other_account": other_account, "far_person": far_person,
        "resident": await user("grandma", "张奶奶", grandma), "helper": await user("helper", "李志愿", helper_person),
        "other": await user("other", "赵热心", other_person), "far": await user("far", "钱远", far_person),
        "staff": await user("staff", "社区干部", None, "community_admin", t["c1"]),
        "operator": await user("operator", "站点值守", None, "station_operator", t["c1"]),
        "far_staff": await user("farstaff", "西园干部", None, "community_admin", t["c2"]),
    }


async def posted(w, kind="repair", key="k1", at=NOW) -> int:
    return await service.post(w["resident"], kind=kind, description="厨房水龙头漏水，请帮忙看看", submission_key=key, now=at)


async def done(w, wish_id: int, at=NOW) -> None:
    """Dispatched to the helper, who completes it an hour later."""
    await service.dispatch(w["staff"], wish_id, at, person_id=w["helper_person"])
    await service.act(w["helper"], wish_id, "complete", at + timedelta(hours=1))


async def wish_txns() -> list[dict]:
    return await LedgerTransaction.select().where(LedgerTransaction.source_type == "wish")


async def test_posted_dispatched_completed_rated_posts_points_once(world):
    w = world
    wish_id = await posted(w)
    assert await posted(w) == wish_id  # the same form twice
    await service.act(w["staff"], wish_id, "acknowledge", NOW + timedelta(minutes=5), acting_as=AS_STAFF)
    await service.dispatch(w["staff"], wish_id, NOW + timedelta(minutes=10), person_id=w["helper_person"], note="明早上门")
    await service.act(w["helper"], wish_id, "start", NOW + timedelta(minutes=30))
    await service.act(w["helper"], wish_id, "complete", NOW + timedelta(hours=2))
    result = await service.confirm(w["resident"], wish_id, 5, "修好了，谢谢小李", MONDAY + timedelta(days=1))
    # completed on Sunday the 1st: the value in force that day (10), not the 15 from the 2nd
    assert result.points == 10 and result.withheld is None
    assert await f.balance(w["helper_account"]) == 10
    again = await service.confirm(w["resident"], wish_id, 1, "再点一次", MONDAY + timedelta(days=2))
    assert again.already and again.points == 10
    txns = await wish_txns()
    assert len(txns) == 1 and txns[0]["idempotency_key"] == f"wish:{wish_id}" and txns[0]["occurred_at"] == NOW + timedelta(hours=2)
    assert "认领完成居民微心愿" in txns[0]["source_label"]
    row = await Wish.select().where(Wish.id == wish_id).first()
    assert (row["state"], row["rating"], row["comment"], row["txn"]) == ("confirmed", 5, "修好了，谢谢小李", txns[0]["id"])
    steps = await WishStep.select(WishStep.action).where(WishStep.wish == wish_id).order_by(WishStep.id)
    assert [s["action"] for s in steps] == ["post", "acknowledge", "dispatch", "start", "complete", "confirm"]
    actions = {a["action"] for a in await AuditEntry.select(AuditEntry.action).where(AuditEntry.target_type == "wish")}
    assert actions == {"wish.post", "wish.acknowledge", "wish.dispatch", "wish.start", "wish.complete", "wish.confirm"}
    assert await ItemAward.count().where(ItemAward.source_type == "wish") == 1
    assert await ledger.verify() == []


async def test_two_confirmations_at_once_post_once(world):
    w = world
    wish_id = await posted(w)
    await done(w, wish_id)
    results = await asyncio.gather(*(service.confirm(w["resident"], wish_id, 4, "", MONDAY) for _ in range(4)),
                                   return_exceptions=True)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(await wish_txns()) == 1 and await f.balance(w["helper_account"]) == 10


async def test_the_caps_hold_and_the_confirmation_still_stands(world):
    w = world
    first, second = await posted(w, "visit", "v1"), await posted(w, "visit", "v2")
    for wish_id in (first, second):
        await done(w, wish_id)
    assert (await service.confirm(w["resident"], first, 5, "", MONDAY)).points == 10
    refused = await service.confirm(w["resident"], second, 5, "", MONDAY)
    assert refused.points is None and refused.withheld == "monthly_cap_reached"
    assert (await Wish.select(Wish.state).where(Wish.id == second).first())["state"] == "confirmed"
    assert len(await wish_txns()) == 1 and await f.balance(w["helper_account"]) == 10
    view = await service.detail(w["resident"], second, MONDAY)
    assert [s["note"] for s in view.wish["steps"] if s["action"] == "no_points"] == ["monthly_cap_reached"]


async def test_a_kind_without_an_item_earns_nothing(world):
    w = world
    wish_id = await posted(w, "companionship")
    await done(w, wish_id)
    result = await service.confirm(w["resident"], wish_id, 3, "", MONDAY)
    assert result.points is None and result.withheld == "no_item_for_kind" and await wish_txns() == []


async def test_taken_from_the_board_by_a_volunteer(world):
    w = world
    wish_id = await posted(w, "errand")
    board = await service.board(w["helper"], NOW)
    assert [x["id"] for x in board.open] == [wish_id]
    assert (await service.board(w["resident"], NOW)).open == []  # not one's own wish
    assert (await service.board(w["far"], NOW)).open == []  # another community's
    await service.act(w["helper"], wish_id, "take", NOW + timedelta(minutes=3))
    with pytest.raises(Conflict):  # someone was quicker
        await service.act(w["other"], wish_id, "take", NOW + timedelta(minutes=4))
    with pytest.raises(PermissionDenied):  # not their task
        await service.act(w["other"], wish_id, "complete", NOW + timedelta(minutes=5))
    board = await service.board(w["helper"], NOW + timedelta(minutes=5))
    assert board.open == [] and [x["id"] for x in board.tasks] == [wish_id]
    view = await service.detail(w["resident"], wish_id, NOW + timedelta(minutes=5))
    assert {c.name: c.status for c in view.wish["clocks"]} == {
        "respond": "met", "reply": "met", "coordinate": "met", "solve": "running"}
    with pytest.raises(PermissionDenied):  # a volunteer sees only what waits on the board
        await service.detail(w["other"], wish_id, NOW)


async def test_who_may_do_what(world):
    w = world
    wish_id = await posted(w)
    with pytest.raises(PermissionDenied):
        await service.act(w["resident"], wish_id, "take", NOW)
    with pytest.raises(PermissionDenied):
        await service.dispatch(w["helper"], wish_id, NOW, person_id=w["helper_person"])
    with pytest.raises(PermissionDenied):  # staff of another community
        await service.dispatch(w["far_staff"], wish_id, NOW, person_id=w["helper_person"])
    with pytest.raises(InvalidInput):  # a helper from elsewhere
        await service.dispatch(w["staff"], wish_id, NOW, person_id=w["far_person"])
    with pytest.raises(InvalidInput):
        await service.dispatch(w["staff"], wish_id, NOW)
    await done(w, wish_id)
    with pytest.raises(PermissionDenied):  # the helper does not confirm their own work
        await service.confirm(w["helper"], wish_id, 5, "", MONDAY)
    with pytest.raises(PermissionDenied):
        await service.confirm(w["far_staff"], wish_id, 5, "", MONDAY, acting_as=AS_STAFF)
    with pytest.raises(InvalidInput):
        await service.confirm(w["resident"], wish_id, 9, "", MONDAY)
    assert await wish_txns() == []


async def test_staff_post_and_confirm_for_a_resident_without_a_phone(world):
    w = world
    wish_id = await service.post(w["operator"], kind="visit", description="张奶奶想找人陪着聊聊天", submission_key="s1",
                                 now=NOW, for_person=w["grandma"])
    with pytest.raises(PermissionDenied):
        await service.post(w["far_staff"], kind="visit", description="x", submission_key="s2", now=NOW, for_person=w["grandma"])
    assert [x["id"] for x in await service.my_wishes(w["resident"], NOW)] == [wish_id]
    team = await service.add_team(w["t"]["c1"], "红色楼管家服务队", [w["other_person"]])
    await service.dispatch(w["operator"], wish_id, NOW, team_id=team)
    assert [x["id"] for x in (await service.board(w["other"], NOW)).tasks] == [wish_id]
    await service.act(w["other"], wish_id, "complete", NOW + timedelta(hours=1))
    result = await service.confirm(w["operator"], wish_id, 4, "电话回访，满意", MONDAY, acting_as=AS_STAFF)
    assert result.points == 10 and await f.balance(w["other_account"]) == 10  # the team member who did it


async def test_reopen_and_cancel(world):
    w = world
    wish_id = await posted(w)
    await done(w, wish_id)
    with pytest.raises(InvalidInput):  # say what is still wrong
        await service.act(w["resident"], wish_id, "reopen", MONDAY)
    assert await service.act(w["resident"], wish_id, "reopen", MONDAY, note="还在漏") == "reopened"
    await service.act(w["helper"], wish_id, "complete", MONDAY + timedelta(hours=1))
    other = await posted(w, key="k2")
    assert await service.act(w["resident"], other, "cancel", NOW) == "cancelled"
    with pytest.raises(Conflict):
        await service.dispatch(w["staff"], other, NOW, person_id=w["helper_person"])


async def test_dispatch_board_filters_and_overdue_list(world):
    w = world
    old = await posted(w, "repair", "a", NOW - timedelta(hours=5))
    fresh = await posted(w, "errand", "b", NOW - timedelta(minutes=5))
    await service.act(w["staff"], fresh, "reply", NOW - timedelta(minutes=1), note="马上安排", acting_as=AS_STAFF)
    board = await service.dispatch_board(w["staff"], NOW)
    assert [x["id"] for x in board.wishes] == [old, fresh] and [g["id"] for g in board.grids] == [w["t"]["grid"]]
    assert [x["id"] for x in (await service.dispatch_board(w["staff"], NOW, kind="errand")).wishes] == [fresh]
    assert [x["id"] for x in (await service.dispatch_board(w["staff"], NOW, grid_id=w["t"]["grid"])).wishes] == [old, fresh]
    assert (await service.dispatch_board(w["far_staff"], NOW)).wishes == []
    overdue = await service.dispatch_board(w["staff"], NOW, overdue_only=True)
    assert [(x["id"], x["overdue"]) for x in overdue.wishes] == [(old, ["respond", "reply", "coordinate"])]
    # half an hour later the fresh one has missed its 4-hour... no: only its respond/reply were met; coordinate runs
    later = await service.dispatch_board(w["staff"], NOW + timedelta(hours=4), overdue_only=True)
    assert [(x["id"], x["overdue"]) for x in later.wishes] == [(old, ["respond", "reply", "coordinate"]), (fresh, ["coordinate"])]
    people, teams = await service.helpers(w["staff"], old, "志愿")
    assert [p["id"] for p in people] == [w["helper_person"]] and teams == []
    with pytest.raises(PermissionDenied):
        await service.helpers(w["far_staff"], old, "")


async def test_a_wish_sent_to_someone_else_is_no_longer_the_first_helpers(world):
    w = world
    wish_id = await posted(w)
    await service.act(w["helper"], wish_id, "take", NOW + timedelta(minutes=2))
    await service.dispatch(w["staff"], wish_id, NOW + timedelta(hours=1), person_id=w["other_person"], note="小李没空")
    with pytest.raises(PermissionDenied):
        await service.act(w["helper"], wish_id, "complete", NOW + timedelta(hours=2))
    await service.act(w["other"], wish_id, "complete", NOW + timedelta(hours=2))
    assert (await service.confirm(w["resident"], wish_id, 5, "", MONDAY)).points == 10
    assert await f.balance(w["other_account"]) == 10 and await f.balance(w["helper_account"]) == 0


async def test_the_settings_change_which_item_a_confirmation_posts(world):
    """Staff remap a kind on the settings page: the next confirmation posts the new item's points; "no points"
    posts none; another community's item, or an item without a value in force, is refused and changes nothing."""
    w, c1 = world, world["t"]["c1"]
    today = MONDAY.date()
    category = await catalog.add_category(c1, "邻里守望")
    big = await catalog.add_item(category, "重大维修帮扶", 30, date(2026, 7, 1))
    later = await catalog.add_item(category, "明年的项目", 5, date(2027, 1, 1))
    far_category = await catalog.add_category(w["t"]["c2"], "西园")
    far_item = await catalog.add_item(far_category, "西园项目", 50, date(2026, 7, 1))
    await service.set_kind_items(w["staff"], c1, {"repair": big, "errand": None}, today)
    assert (await service.kind_mapping(c1)).get("errand") is None
    audited = await AuditEntry.select(AuditEntry.target_id, AuditEntry.after).where(
        (AuditEntry.action == "wish.kind_item") & (AuditEntry.actor == w["staff"].user_id)).output(load_json=True)
    assert sorted((a["target_id"], a["after"]["item"]) for a in audited) == [("errand", None), ("repair", big)]
    for refused in (far_item, later, 999999):
        with pytest.raises(InvalidInput):
            await service.set_kind_items(w["staff"], c1, {"visit": None, "repair": refused}, today)
    assert (await service.kind_mapping(c1))["repair"] == big and "visit" in await service.kind_mapping(c1)  # all or nothing
    with pytest.raises(PermissionDenied):
        await service.set_kind_item(c1, "repair", big, w["far_staff"], today)

    repair, errand = await posted(w, "repair", "r1"), await posted(w, "errand", "e1")
    for wish_id in (repair, errand):
        await done(w, wish_id)
    assert (await service.confirm(w["resident"], repair, 5, "", MONDAY)).points == 30
    assert (await service.confirm(w["resident"], errand, 5, "", MONDAY)).withheld == "no_item_for_kind"
    assert await f.balance(w["helper_account"]) == 30
    assert [t["source_label"] for t in await wish_txns()] and "重大维修帮扶" in (await wish_txns())[0]["source_label"]


async def test_teams_and_calendar_settings_are_checked_and_audited(world):
    w, c1 = world, world["t"]["c1"]
    today = MONDAY.date()
    team = await service.add_team(c1, " 楼管家 ", [], w["staff"])
    await service.rename_team(w["staff"], team, "红色楼管家")
    await service.add_team_member(w["staff"], team, w["helper_person"])
    await service.add_team_member(w["staff"], team, w["helper_person"])  # a double tap adds nobody twice
    with pytest.raises(InvalidInput):
        await service.add_team_member(w["staff"], team, w["far_person"])  # lives in another community
    with pytest.raises(InvalidInput):
        await service.rename_team(w["staff"], team, "   ")
    with pytest.raises(PermissionDenied):
        await service.rename_team(w["far_staff"], team, "西园队")
    [found] = await service.teams(w["staff"], c1)
    assert found["name"] == "红色楼管家" and [m["id"] for m in found["members"]] == [w["helper_person"]]
    assert [p["id"] for p in await service.team_candidates(w["staff"], team, "热心")] == [w["other_person"]]
    await service.set_team_active(w["staff"], team, False)
    wish_id = await posted(w)
    with pytest.raises(InvalidInput):  # a stopped team is not sent wishes
        await service.dispatch(w["staff"], wish_id, NOW, team_id=team)
    await service.remove_team_member(w["staff"], team, w["helper_person"])
    assert (await service.teams(w["staff"], c1))[0]["members"] == []

    saturday = date(2026, 11, 7)
    await service.set_calendar_day(saturday, True, "调休", w["operator"], today)
    await service.set_calendar_day(date(2026, 11, 3), False, "测试假日", w["operator"], today)
    for day, working in ((date(2026, 11, 1), False), (date(2026, 11, 4), True)):  # past; make-up day on a weekday
        with pytest.raises(InvalidInput):
            await service.set_calendar_day(day, working, "", w["operator"], today)
    with pytest.raises(PermissionDenied):
        await service.set_calendar_day(saturday, False, "", w["helper"], today)
    assert [(d["day"], d["working"]) for d in await service.calendar_days(today)] == [
        (date(2026, 11, 3), False), (saturday, True)]
    assert date(2026, 11, 3) in (await service.calendar()).holidays
    await service.remove_calendar_day(w["operator"], date(2026, 11, 3), today)
    assert [d["day"] for d in await service.calendar_days(today)] == [saturday]
    actions = [a["action"] for a in await AuditEntry.select(AuditEntry.action).where(AuditEntry.action.like("wish.%")).order_by(
        AuditEntry.id) if a["action"] not in ("wish.post", "wish.kind_item")]
    assert actions == ["wish.team_add", "wish.team_rename", "wish.team_member_add", "wish.team_active",
                       "wish.team_member_remove", "wish.calendar_day", "wish.calendar_day", "wish.calendar_day_remove"]
