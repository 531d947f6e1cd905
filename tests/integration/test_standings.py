"""Standings on a real database (SQLite and PostgreSQL): the boards' numbers equal sums computed here from the
postings the test wrote; reversals, redemptions and deductions are handled as the rules say."""
import random
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from backend.accounts.tables import Account
from backend.audit.tables import AuditEntry
from backend.community import service as community
from backend.errors import Conflict, NotFound, PermissionDenied
from backend.ledger import service as ledger
from backend.ledger.rules import PostingDraft, TransactionDraft
from backend.people import service as people
from backend.standings import rules, service
from backend.standings.rules import Period
from backend.standings.tables import AwardCandidate, GridSelection
from tests import factories as f

pytestmark = pytest.mark.db

UTC = timezone.utc
OCT = Period("month", 2026, 10)
NOV = Period("month", 2026, 11)


async def _txn(kind: str, debit: int, credit: int, points: int, community_id: int, at: datetime, label: str | None = None) -> int:
    recorded = await ledger.record(TransactionDraft(
        kind=kind, memo="测试", idempotency_key=str(uuid4()), community_id=community_id, occurred_at=at,
        postings=(PostingDraft(debit, -points), PostingDraft(credit, points)), source_label=label, overdraft_ok=True))
    return recorded.transaction_id


@pytest.fixture
async def world(clean_db):
    """Two grids with residents, an organisation, a merchant; random awards over October and November."""
    t = await f.tree()
    grid2 = await community.add_node("grid", "第二网格", t["compound"])
    b2 = await community.add_node("building", "2号楼", grid2)
    unit2 = await community.add_node("unit", "1单元", b2)
    c1 = t["c1"]
    issuer = await f.issuer(c1)
    merchant = (await Account.insert(Account(kind="merchant", name="惠民超市", community=c1)))[0]["id"]
    org = (await Account.insert(Account(kind="organisation", name="鸠兹口腔", community=c1)))[0]["id"]
    people_ = {}
    for i, (name, unit, colour) in enumerate([("王小明", t["unit"], "red"), ("李四", t["unit"], "blue"),
                                              ("欧阳建国", unit2, "red"), ("赵六", unit2, "green"), ("钱七", t["unit"], "blue")]):
        people_[name] = await f.person_account(name, unit, c1, colour)
    other_issuer = await f.issuer(t["c2"])
    _, outsider = await f.person_account("外人", t["c2"], t["c2"])
    rng = random.Random(7)
    lines = []  # (account, kind, points, at) as the test wrote them
    accounts = [a for _, a in people_.values()] + [org]
    for n in range(60):
        account = rng.choice(accounts)
        points = rng.choice((5, 10, 20))
        # between 1 October 00:00 and 30 November 24:00 in Beijing, plus a few at the edges
        at = datetime(2026, 9, 30, 16, tzinfo=UTC) + timedelta(minutes=rng.randrange(61 * 24 * 60))
        kind = "hours" if n % 7 == 0 else "award"
        lines.append((account, kind, points, at, await _txn(kind, issuer, account, points, c1, at, "志愿服务 · 测试（5分）")))
    # the edges: 23:59 on 31 October and 00:00 on 1 November, Beijing time
    wang = people_["王小明"][1]
    lines.append((wang, "award", 7, datetime(2026, 10, 31, 15, 59, tzinfo=UTC), await _txn("award", issuer, wang, 7, c1, datetime(2026, 10, 31, 15, 59, tzinfo=UTC))))
    lines.append((wang, "award", 9, datetime(2026, 10, 31, 16, 0, tzinfo=UTC), await _txn("award", issuer, wang, 9, c1, datetime(2026, 10, 31, 16, 0, tzinfo=UTC))))
    # not earning: a redemption, a deduction, another community's award
    await _txn("redemption", wang, merchant, 15, c1, datetime(2026, 11, 5, 2, tzinfo=UTC))
    await _txn("deduction", wang, issuer, 5, c1, datetime(2026, 11, 6, 2, tzinfo=UTC))
    await _txn("award", other_issuer, outsider, 500, t["c2"], datetime(2026, 11, 6, 2, tzinfo=UTC))
    # a reversal in November of an October award: counts against November (when it happened), like the ledger
    reversed_line = next(line for line in lines if line[3].month == 10 and line[3].day < 30)
    reversal = await ledger.reverse(reversed_line[4], memo="录错了", actor_id=None, idempotency_key=str(uuid4()),
                                    now=datetime(2026, 11, 10, 2, tzinfo=UTC))
    return {"t": t, "c1": c1, "grid2": grid2, "issuer": issuer, "merchant": merchant, "org": org, "people": people_,
            "lines": lines, "reversed": reversed_line, "reversal": reversal.transaction_id, "outsider": outsider}


def _expected(world, period: Period, accounts=None) -> dict[int, int]:
    start, end = period.bounds(__import__("backend.clock", fromlist=["zone"]).zone())
    sums: dict[int, int] = {}
    for account, _kind, points, at, _ in world["lines"]:
        if start <= at < end and (accounts is None or account in accounts):
            sums[account] = sums.get(account, 0) + points
    rev_at = datetime(2026, 11, 10, 2, tzinfo=UTC)
    account = world["reversed"][0]
    if start <= rev_at < end and (accounts is None or account in accounts):
        sums[account] = sums.get(account, 0) - world["reversed"][2]
    return {a: v for a, v in sums.items() if v}


async def test_month_board_equals_the_sums_of_the_postings(world):
    for period in (OCT, NOV, Period("quarter", 2026, 4), Period("year", 2026, 1)):
        people = {a for _, a in world["people"].values()}
        expected = _expected(world, period, people)
        board = await service.earned_by_account(service.Scope(world["c1"]), period, limit=None)
        assert dict(board) == expected, period
        assert [e for _, e in board] == sorted(expected.values(), reverse=True)
        assert world["outsider"] not in dict(board)


async def test_reversal_counts_in_its_own_month_and_redemption_and_deduction_do_not_count(world):
    wang = world["people"]["王小明"][1]
    nov = dict(await service.earned_by_account(service.Scope(world["c1"]), NOV, limit=None))
    assert nov.get(wang, 0) == _expected(world, NOV).get(wang, 0)  # the 15-point redemption and 5-point deduction left out
    acc = world["reversed"][0]
    kind = "organisation" if acc == world["org"] else "person"
    quarter = dict(await service.earned_by_account(service.Scope(world["c1"], kind=kind), Period("quarter", 2026, 4), limit=None))
    written = sum(p for a, _, p, _, _ in world["lines"] if a == acc)
    assert quarter.get(acc, 0) == written - world["reversed"][2]


async def test_the_edge_of_the_month_is_beijing_midnight(world):
    wang = world["people"]["王小明"][1]
    only_edge = {a: v for a, v in _expected(world, OCT).items()}
    assert dict(await service.earned_by_account(service.Scope(world["c1"]), OCT, limit=None))[wang] == only_edge[wang]


async def test_filters_grid_building_colour_and_organisations(world):
    grid2_people = {world["people"]["欧阳建国"][1], world["people"]["赵六"][1]}
    node = await community.node_by_path((await _path(world["grid2"])))
    board = await service.earned_by_account(service.Scope(world["c1"], node_path=node["path"]), NOV, limit=None)
    assert dict(board) == _expected(world, NOV, grid2_people)
    red = {world["people"]["王小明"][1], world["people"]["欧阳建国"][1]}
    assert dict(await service.earned_by_account(service.Scope(world["c1"], colour="red"), NOV, limit=None)) == _expected(world, NOV, red)
    orgs = await service.leaderboard(service.Scope(world["c1"], kind="organisation"), NOV)
    assert [(r.account_id, r.earned) for r in orgs] == list(_expected(world, NOV, {world["org"]}).items())
    assert all(r.name == "鸠兹口腔" for r in orgs)  # organisations are not masked


async def _path(node_id: int) -> str:
    from backend.community.tables import Node

    return (await Node.select(Node.path).where(Node.id == node_id).first())["path"]


async def test_leaderboard_masks_and_ranks_and_my_rank_agrees(world):
    board = await service.leaderboard(service.Scope(world["c1"]), NOV, limit=3)
    expected = sorted(_expected(world, NOV, {a for _, a in world["people"].values()}).items(), key=lambda kv: (-kv[1], kv[0]))
    assert [(r.account_id, r.earned) for r in board] == expected[:3]
    assert all("*" in r.name for r in board)
    for account, earned in expected:
        mine = await service.my_rank(service.Scope(world["c1"]), NOV, account)
        assert mine.earned == earned
        assert mine.rank == 1 + sum(1 for _, e in expected if e > earned)
        assert mine.of == len(expected)
    page2 = await service.leaderboard(service.Scope(world["c1"]), NOV, limit=2, offset=2)
    assert [r.rank for r in page2] == [1 + sum(1 for _, e in expected if e > r.earned) for r in page2]


async def test_grid_scores_per_resident_and_household(world):
    scores = {g.grid_id: g for g in await service.grid_scores(world["c1"], NOV)}
    grid1, grid2 = world["t"]["grid"], world["grid2"]
    nov = _expected(world, NOV)
    p = world["people"]
    assert scores[grid1].residents == 3 and scores[grid1].households == 1
    assert scores[grid1].earned == sum(nov.get(p[n][1], 0) for n in ("王小明", "李四", "钱七"))
    assert scores[grid2].earned == sum(nov.get(p[n][1], 0) for n in ("欧阳建国", "赵六"))
    assert scores[grid2].per_resident == scores[grid2].earned / 2


async def test_red_flag_selection_is_recorded_with_grid_workers_and_audited(world):
    admin = await f.admin_principal(world["c1"])
    worker = await people.create_user("gridworker", "worker-password-1", "网格员小王", role="station_operator",
                                      node_id=world["grid2"])
    quarter = Period("quarter", 2026, 4)
    selection = await service.quarter_selection(world["c1"], quarter)
    assert len(selection.proposed) == 2
    assert await service.confirm_selection(admin, world["c1"], quarter, datetime(2026, 12, 1, tzinfo=UTC)) == 2
    rows = await GridSelection.select().where(GridSelection.quarter == "2026-Q4")
    assert {r["grid"] for r in rows if r["kind"] == "red_flag"} == {g.grid_id for g in selection.proposed}
    assert [r["worker"] for r in rows if r["kind"] == "grid_worker"] == [worker]
    assert await AuditEntry.count().where(AuditEntry.action == "standings.red_flag") == 1
    outsider = await f.admin_principal(world["t"]["c2"])
    with pytest.raises(PermissionDenied):
        await service.confirm_selection(outsider, world["c1"], quarter, datetime(2026, 12, 1, tzinfo=UTC))


async def test_stars_from_monthly_scores_by_the_communitys_rule(world):
    admin = await f.admin_principal(world["c1"])
    quarter = Period("quarter", 2026, 4)
    lines = {line.account_id: line for line in await service.star_ratings(world["c1"], quarter)}
    red = [world["people"]["王小明"][1], world["people"]["欧阳建国"][1]]
    assert set(lines) == set(red)  # party members (red accounts) only, even with no points
    for account in red:
        monthly = [_expected(world, m).get(account, 0) for m in quarter.months()]
        assert lines[account].monthly == monthly
    await service.save_settings(admin, world["c1"], star_thresholds="1,2,3,4", red_flag_count=1, shortlist_size=3,
                                now=datetime(2026, 12, 1, tzinfo=UTC))
    lines = await service.star_ratings(world["c1"], quarter)
    assert [line.stars for line in lines] == [rules.stars(line.monthly, (1, 2, 3, 4)) for line in lines]
    assert any(line.stars == 5 for line in lines)
    assert len((await service.quarter_selection(world["c1"], quarter)).proposed) == 1


async def test_awards_shortlist_nominate_decide_and_audit(world):
    admin = await f.admin_principal(world["c1"])
    now = datetime(2026, 12, 20, tzinfo=UTC)
    assert await service.draw_shortlist(admin, world["c1"], 2026, "points_star", now) == 5  # five people earned
    rows = await service.candidates(world["c1"], 2026)
    year = _expected(world, Period("year", 2026, 1), {a for _, a in world["people"].values()})
    assert [(r["account"], r["points"]) for r in rows] == sorted(year.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    first = rows[0]["id"]
    with pytest.raises(Conflict):
        await service.move_award(admin, first, "award", "", now)
    await service.move_award(admin, first, "nominate", "社区推荐", now)
    await service.move_award(admin, first, "award", "委员会通过", now)
    row = await service.candidate(first)
    assert row["state"] == "awarded" and row["decided_by"] == admin.user_id and row["nominated_by"] == admin.user_id
    # drawing again keeps the committee's work and replaces only the untouched shortlist
    await service.draw_shortlist(admin, world["c1"], 2026, "points_star", now)
    assert (await service.candidate(first))["state"] == "awarded"
    assert await AwardCandidate.count().where(AwardCandidate.category == "points_star") == 5
    actions = [r["action"] for r in await AuditEntry.select(AuditEntry.action).where(AuditEntry.action.like("standings.%"))]
    assert actions.count("standings.award.nominate") == 1 and actions.count("standings.award.award") == 1
    watch = await service.award_points(world["c1"], 2026, "watch_star", 10)
    assert watch and all(points > 0 for _, points in watch)


async def test_statement_and_merchants_and_series(world):
    wang = world["people"]["王小明"][1]
    statement = await service.statement(wang, 2026)
    assert statement.monthly[9].earned == _expected(world, OCT).get(wang, 0)
    assert statement.monthly[10].earned == _expected(world, NOV).get(wang, 0)
    assert sum(i["points"] for i in statement.items) == statement.total
    merchants = await service.merchant_ranking(world["c1"], NOV)
    assert merchants == [{"rank": 1, "account_id": world["merchant"], "name": "惠民超市", "points": 15, "redemptions": 1}]
    series = await service.monthly_series(world["c1"], [OCT, NOV])
    for point in series:
        expected = _expected(world, point.month)
        assert point.earned == sum(expected.values())
        assert point.earners == sum(1 for v in expected.values() if v > 0)
    with pytest.raises(NotFound):
        await service.statement(world["issuer"], 2026)


async def test_screen_token_opens_the_screen_and_a_new_one_closes_the_old(world):
    admin = await f.admin_principal(world["c1"])
    now = datetime(2026, 12, 1, tzinfo=UTC)
    token = await service.new_screen_token(admin, world["c1"], now)
    assert (await service.community_of_screen(token))["id"] == world["c1"]
    newer = await service.new_screen_token(admin, world["c1"], now)
    with pytest.raises(NotFound):
        await service.community_of_screen(token)
    assert (await service.community_of_screen(newer))["id"] == world["c1"]
    await service.new_screen_token(admin, world["c1"], now, switch_off=True)
    with pytest.raises(NotFound):
        await service.community_of_screen(newer)
    logged = await AuditEntry.select(AuditEntry.after).where(AuditEntry.action == "standings.screen_token")
    assert all(newer not in str(r["after"]) for r in logged)  # the token itself never lands in the log
