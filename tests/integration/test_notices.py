"""The monthly public notice on a real database: closing freezes lines that match the ledger, objections are
corrected through the ledger (never by editing the line), the fingerprint chain holds, and a ledger row changed
after closing breaks it."""
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from backend.errors import Conflict, InvalidInput, PermissionDenied
from backend.ledger import service as ledger
from backend.ledger.rules import PostingDraft, TransactionDraft
from backend.ledger.tables import LedgerTransaction
from backend.notices import rules, service
from backend.notices.tables import Notice, NoticeLine, Objection
from backend.people import service as people
from tests import factories as f

pytestmark = pytest.mark.db

UTC = timezone.utc
OCT = datetime(2026, 10, 10, 2, 0, tzinfo=UTC)
SEP = datetime(2026, 9, 15, 2, 0, tzinfo=UTC)
NOV = datetime(2026, 11, 5, 2, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


async def post(kind: str, frm: int, to: int, points: int, community: int, at: datetime) -> int:
    return (await ledger.record(TransactionDraft(
        kind=kind, memo="测试", idempotency_key=str(uuid4()), community_id=community, occurred_at=at,
        postings=(PostingDraft(frm, -points), PostingDraft(to, points))))).transaction_id


async def resident_principal(person_id: int, name: str):
    user = await people.create_user(f"r{person_id}-{uuid4().hex[:6]}", "resident-password-1", name, person_id=person_id)
    return await people.principal(user)


@pytest.fixture
async def world(clean_db):
    t = await f.tree()
    issuer = await f.issuer(t["c1"])
    await f.issuer(t["c2"])
    shop = (await f.Account.insert(f.Account(kind="shop", name="积分超市", community=t["c1"])))[0]["id"]
    zhang_p, zhang = await f.person_account("张小明", t["unit"], t["c1"], "red")
    li_p, li = await f.person_account("李四", t["unit"], t["c1"])
    wang_p, wang = await f.person_account("王", t["unit"], t["c1"])
    other_p, other = await f.person_account("赵六", t["c2"], t["c2"])
    await post("award", issuer, zhang, 20, t["c1"], SEP)  # before the month: to date only
    await post("hours", issuer, zhang, 30, t["c1"], OCT)
    await post("award", issuer, li, 10, t["c1"], OCT)
    await post("redemption", zhang, shop, 15, t["c1"], OCT)  # spending does not lower earnings
    wrong = await post("award", issuer, li, 5, t["c1"], OCT)
    await ledger.reverse(wrong, memo="录错", actor_id=None, idempotency_key=str(uuid4()), now=OCT + timedelta(hours=1))
    await post("award", issuer, wang, 3, t["c1"], OCT)
    await post("deduction", wang, issuer, 1, t["c1"], OCT + timedelta(hours=2))
    await post("award", issuer, li, 7, t["c1"], NOV)  # next month: not in October's notice
    admin = await f.admin_principal(t["c1"])
    return {**t, "issuer": issuer, "zhang": zhang, "li": li, "wang": wang, "other": other, "admin": admin,
            "zhang_p": zhang_p, "li_p": li_p, "other_p": other_p}


async def lines_of(notice_id: int) -> dict[int, dict]:
    return {r["account"]: r for r in await NoticeLine.select().where(NoticeLine.notice == notice_id)}


async def test_closing_freezes_what_each_account_earned(world):
    notice_id = await service.close_month(world["admin"], world["c1"], "2026-10", NOW)
    lines = await lines_of(notice_id)
    assert set(lines) == {world["zhang"], world["li"], world["wang"]}  # issuer, shop, other community: no line
    z, li, w = lines[world["zhang"]], lines[world["li"]], lines[world["wang"]]
    assert (z["earned"], z["to_date"], z["rank"], z["name"], z["colour"]) == (30, 50, 1, "张*明", "red")
    assert (li["earned"], li["to_date"], li["rank"], li["name"]) == (10, 10, 2, "李*")
    # a deduction is not an earning (as on the leaderboards); the reversed award counts neither
    assert (w["earned"], w["to_date"], w["rank"], w["name"]) == (3, 3, 3, "王")
    notice = await Notice.select().where(Notice.id == notice_id).first()
    assert notice["state"] == "draft" and len(notice["fingerprint"]) == 64 and notice["previous_fingerprint"] == ""
    # the first notice covers October's transactions; September's count to date only
    assert notice["txn_count"] == 7
    assert await service.verify_chain() == []


async def test_closing_twice_an_open_month_or_an_earlier_month_is_refused(world):
    with pytest.raises(Conflict) as exc:
        await service.close_month(world["admin"], world["c1"], "2026-11", NOW)
    assert exc.value.code == "month_still_open"
    await service.close_month(world["admin"], world["c1"], "2026-10", NOW)
    with pytest.raises(Conflict) as exc:
        await service.close_month(world["admin"], world["c1"], "2026-10", NOW)
    assert exc.value.code == "month_already_closed"
    with pytest.raises(Conflict) as exc:
        await service.close_month(world["admin"], world["c1"], "2026-09", NOW)
    assert exc.value.code == "month_before_last_notice"
    with pytest.raises(InvalidInput):
        await service.close_month(world["admin"], world["c1"], "2026-13", NOW)
    assert await Notice.count() == 1


async def test_staff_of_another_community_may_not_close(world):
    outsider = await f.admin_principal(world["c2"])
    with pytest.raises(PermissionDenied):
        await service.close_month(outsider, world["c1"], "2026-10", NOW)


async def test_objection_is_corrected_through_the_ledger_and_shows_next_month(world):
    notice_id = await service.close_month(world["admin"], world["c1"], "2026-10", NOW)
    li_line = (await lines_of(notice_id))[world["li"]]
    zhang = await resident_principal(world["zhang_p"], "张小明")
    with pytest.raises(Conflict):  # not published yet
        await service.raise_objection(zhang, li_line["id"], "他十月还扫了楼道", NOW)
    await service.publish(world["admin"], notice_id, NOW, days=7)
    # a neighbour may object to someone else's line (public supervision); a resident of elsewhere may not
    objection = await service.raise_objection(zhang, li_line["id"], "他十月还扫了楼道", NOW)
    with pytest.raises(Conflict):
        await service.raise_objection(zhang, li_line["id"], "again", NOW)
    stranger = await resident_principal(world["other_p"], "赵六")
    with pytest.raises(PermissionDenied):
        await service.raise_objection(stranger, li_line["id"], "不认识", NOW)
    with pytest.raises(Conflict) as exc:
        await service.finalise(world["admin"], notice_id, NOW + timedelta(days=8))
    assert exc.value.code == "objections_open"

    txn_id = await service.resolve(world["admin"], objection, "upheld", "核实属实，补记5分", 5, NOW + timedelta(days=1))
    assert txn_id is not None
    txn = await LedgerTransaction.select().where(LedgerTransaction.id == txn_id).first()
    assert txn["kind"] == "award" and txn["source_type"] == "notice"
    assert (await f.balance(world["li"])) == 10 + 7 + 5
    assert (await lines_of(notice_id))[world["li"]]["earned"] == 10  # the frozen line is never edited
    stored = await Objection.select().where(Objection.id == objection).first()
    assert stored["state"] == "upheld" and stored["correction_txn"] == txn_id and stored["correction_points"] == 5
    with pytest.raises(Conflict):
        await service.resolve(world["admin"], objection, "rejected", "no", None, NOW)

    with pytest.raises(Conflict) as exc:
        await service.finalise(world["admin"], notice_id, NOW + timedelta(days=1))
    assert exc.value.code == "objection_period_running"
    await service.finalise(world["admin"], notice_id, NOW + timedelta(days=8))
    assert (await Notice.select(Notice.state).where(Notice.id == notice_id).first())["state"] == "final"

    # the correction (recorded on 21 November) lands in November's notice, chained to October's
    december = datetime(2026, 12, 2, tzinfo=UTC)
    nov_id = await service.close_month(world["admin"], world["c1"], "2026-11", december)
    nov = await lines_of(nov_id)
    assert nov[world["li"]]["earned"] == 7 + 5 and nov[world["li"]]["to_date"] == 10 + 7 + 5
    october = await Notice.select().where(Notice.id == notice_id).first()
    november = await Notice.select().where(Notice.id == nov_id).first()
    assert november["previous"] == notice_id and november["previous_fingerprint"] == october["fingerprint"]
    assert await service.verify_chain() == []


async def test_a_rejected_objection_moves_no_points(world):
    notice_id = await service.close_month(world["admin"], world["c1"], "2026-10", NOW)
    await service.publish(world["admin"], notice_id, NOW)
    line = (await lines_of(notice_id))[world["zhang"]]
    zhang = await resident_principal(world["zhang_p"], "张小明")
    objection = await service.raise_objection(zhang, line["id"], "少算了", NOW)
    with pytest.raises(InvalidInput):
        await service.resolve(world["admin"], objection, "rejected", "核实无误", 5, NOW)
    before = await LedgerTransaction.count()
    assert await service.resolve(world["admin"], objection, "rejected", "核实无误", None, NOW) is None
    assert await LedgerTransaction.count() == before
    with pytest.raises(Conflict):  # the window has closed
        await service.raise_objection(zhang, line["id"], "再议", NOW + timedelta(days=7))


async def test_a_late_transaction_goes_to_the_next_notice_and_keeps_the_chain(world):
    october = await service.close_month(world["admin"], world["c1"], "2026-10", NOW)
    # an offline scan of 10 October synced after closing
    await post("award", world["issuer"], world["wang"], 4, world["c1"], OCT)
    assert await service.verify_chain() == []
    assert (await lines_of(october))[world["wang"]]["earned"] == 3
    november = await service.close_month(world["admin"], world["c1"], "2026-11", datetime(2026, 12, 2, tzinfo=UTC))
    assert (await lines_of(november))[world["wang"]]["earned"] == 4
    assert (await lines_of(november))[world["wang"]]["to_date"] == 3 + 4
    assert await service.verify_chain() == []


@pytest.mark.parametrize("tamper", ["amount", "occurred_at", "delete_and_add"])
async def test_a_ledger_row_changed_after_closing_breaks_the_chain(world, tamper):
    october = await service.close_month(world["admin"], world["c1"], "2026-10", NOW)
    await service.close_month(world["admin"], world["c1"], "2026-11", datetime(2026, 12, 2, tzinfo=UTC))
    assert await service.verify_chain() == []
    txn = await LedgerTransaction.select(LedgerTransaction.id).where(LedgerTransaction.kind == "hours").first()
    if tamper == "amount":
        await LedgerTransaction.raw("UPDATE ledger_posting SET amount = amount * 2 WHERE txn = {}", txn["id"])
    elif tamper == "occurred_at":
        await LedgerTransaction.raw("UPDATE ledger_transaction SET occurred_at = {} WHERE id = {}",
                                    OCT + timedelta(days=1), txn["id"])
    else:  # move the points to another account
        await LedgerTransaction.raw("UPDATE ledger_posting SET account = {} WHERE txn = {} AND amount > 0",
                                    world["li"], txn["id"])
    problems = await service.verify_chain()
    assert [p.what for p in problems][:1] == ["fingerprint_mismatch"]
    assert problems[0].notice_id == october and problems[0].month == "2026-10"


async def test_published_board_shows_the_latest_public_notice(world):
    assert await service.published_board(world["c1"]) is None
    notice_id = await service.close_month(world["admin"], world["c1"], "2026-10", NOW)
    assert await service.published_board(world["c1"]) is None  # a draft is not public
    await service.publish(world["admin"], notice_id, NOW)
    board = await service.published_board(world["c1"], limit=2)
    notice = await Notice.select().where(Notice.id == notice_id).first()
    assert board == {"month": "2026-10", "state": "published", "fingerprint": notice["fingerprint"], "rows": [
        {"name": "张*明", "colour": "red", "earned": 30, "to_date": 50, "rank": 1},
        {"name": "李*", "colour": "blue", "earned": 10, "to_date": 10, "rank": 2}]}
    assert await service.published_board(world["c2"]) is None


async def test_masking_in_sql_matches_mask_name(world):
    from backend.people.rules import mask_name

    names = ["欧阳小明", "A", "Li Lei", "张三丰", "  空格  "]
    ids = [(await f.person_account(n, world["unit"], world["c1"]))[1] for n in names]
    notice_id = await service.close_month(world["admin"], world["c1"], "2026-10", NOW)
    lines = await lines_of(notice_id)
    assert [lines[i]["name"] for i in ids] == [mask_name(n) for n in names]



async def test_lines_match_the_ledger_month_after_month(world):
    """Earned and to-date of three chained notices, recomputed in Python from the ledger rows."""
    import random

    from backend.clock import local_date
    from backend.ledger.tables import Posting

    rng = random.Random(7)
    accounts = [world["zhang"], world["li"], world["wang"]]
    for month_start in (datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC), OCT, NOV):
        for _ in range(12):
            at = month_start + timedelta(days=rng.randrange(1, 25), hours=rng.randrange(24))
            await post(rng.choice(["award", "hours", "award"]), world["issuer"], rng.choice(accounts), rng.randrange(1, 30),
                       world["c1"], at)
    ids = [await service.close_month(world["admin"], world["c1"], m, datetime(2026, 12, 2, tzinfo=UTC))
           for m in ("2026-08", "2026-09", "2026-10", "2026-11")]
    txns = {t["id"]: t for t in await LedgerTransaction.select()}
    earning = set(rules.EARNING_KINDS)
    for notice_id, month in zip(ids, ("2026-08", "2026-09", "2026-10", "2026-11")):
        earned: dict[int, int] = {}
        to_date: dict[int, int] = {}
        for p in await Posting.select():
            t = txns[p["txn"]]
            original = txns.get(t["reverses"]) if t["reverses"] else None
            if not (t["kind"] in earning or (original and original["kind"] in earning)):
                continue
            day = rules.month_of(local_date(t["occurred_at"]))
            if day <= month:
                to_date[p["account"]] = to_date.get(p["account"], 0) + p["amount"]
            if day == month:
                earned[p["account"]] = earned.get(p["account"], 0) + p["amount"]
        lines = await lines_of(notice_id)
        assert {a: (lines[a]["earned"], lines[a]["to_date"]) for a in accounts} == \
               {a: (earned.get(a, 0), to_date.get(a, 0)) for a in accounts}, month
    assert await service.verify_chain() == []


async def test_an_upheld_objection_may_reverse_a_wrong_transaction(world):
    notice_id = await service.close_month(world["admin"], world["c1"], "2026-10", NOW)
    await service.publish(world["admin"], notice_id, NOW)
    line = (await lines_of(notice_id))[world["zhang"]]
    li = await resident_principal(world["li_p"], "李四")
    objection = await service.raise_objection(li, line["id"], "那次值班他没有来", NOW)
    choices = await service.correctable_transactions(notice_id, world["zhang"])
    hours = [t for t in choices if t["kind"] == "hours"]
    assert [t["amount"] for t in hours] == [30]
    with pytest.raises(InvalidInput) as exc:  # not a transaction of this line
        other = [t["id"] for t in await LedgerTransaction.select(LedgerTransaction.id).where(LedgerTransaction.kind == "award")]
        await service.resolve(world["admin"], objection, "upheld", "核实", None, NOW, reverses=max(other))
    assert exc.value.code == "not_correctable"
    with pytest.raises(InvalidInput):
        await service.resolve(world["admin"], objection, "upheld", "核实", 5, NOW, reverses=hours[0]["id"])
    txn_id = await service.resolve(world["admin"], objection, "upheld", "核实未到，冲正", None,
                                   NOW + timedelta(days=1), reverses=hours[0]["id"])
    reversal = await LedgerTransaction.select().where(LedgerTransaction.id == txn_id).first()
    assert reversal["kind"] == "reversal" and reversal["reverses"] == hours[0]["id"]
    stored = await Objection.select().where(Objection.id == objection).first()
    assert stored["correction_points"] == -30 and stored["correction_txn"] == txn_id
    assert await service.correctable_transactions(notice_id, world["zhang"]) == [t for t in choices if t["kind"] != "hours"]
    # November's notice shows it: -30 earned, to date 50 - 30
    nov = await service.close_month(world["admin"], world["c1"], "2026-11", datetime(2026, 12, 2, tzinfo=UTC))
    z = (await lines_of(nov))[world["zhang"]]
    assert (z["earned"], z["to_date"]) == (-30, 20)
    assert await service.verify_chain() == []


async def test_closing_the_same_month_at_once_twice_makes_one_notice(world):
    import asyncio

    results = await asyncio.gather(*(service.close_month(world["admin"], world["c1"], "2026-10", NOW) for _ in range(2)),
                                   return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "int"]
    assert await Notice.count() == 1 and await service.verify_chain() == []
