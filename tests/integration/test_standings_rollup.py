"""The monthly standings rollup (standings/rollup.py) on a real database: whatever path writes the ledger (the ledger
service, a reversal, the scan hot path's raw SQL, several scans sharing one commit), the rollup equals the sums
computed from the postings, is never ahead of a rolled-back write, and follows a change of the local time zone."""
import asyncio
from datetime import date, datetime, timezone
from uuid import uuid4

import pytest

from backend import db
from backend.accounts.tables import Account
from backend.catalog import service as catalog
from backend.clock import zone
from backend.ledger import service as ledger
from backend.ledger.rules import PostingDraft, TransactionDraft
from backend.scans import service as scans
from backend.scans.service import ScanRequest
from backend.settings import get_settings
from backend.standings import rollup, service
from backend.standings.rules import Period
from backend.standings.tables import PendingPosting, PeriodPoints
from backend.stations import service as stations
from tests import factories as f

pytestmark = pytest.mark.db

UTC = timezone.utc
ZONE = get_settings().timezone


async def _award(community_id: int, issuer: int, account: int, points: int, at: datetime, kind: str = "award") -> int:
    recorded = await ledger.record(TransactionDraft(
        kind=kind, memo="测试", idempotency_key=str(uuid4()), community_id=community_id, occurred_at=at,
        postings=(PostingDraft(issuer, -points), PostingDraft(account, points)), overdraft_ok=True))
    return recorded.transaction_id


async def _rows() -> dict[tuple[int, str], int]:
    """(account, month) -> earned; the quarter's and year's rows are checked against the ledger by differences()."""
    await rollup.catch_up()
    return {(r["account"], r["period"]): r["points"] for r in await PeriodPoints.select() if r["points"] and len(r["period"]) == 7 and "Q" not in r["period"]}


@pytest.fixture
async def place(clean_db):
    t = await f.tree()
    issuer = await f.issuer(t["c1"])
    _, wang = await f.person_account("王小明", t["unit"], t["c1"], colour="red")
    _, li = await f.person_account("李大红", t["unit"], t["c1"], colour="blue")
    org = (await Account.insert(Account(kind="organisation", name="鸠兹口腔", community=t["c1"])))[0]["id"]
    merchant = (await Account.insert(Account(kind="merchant", name="惠民超市", community=t["c1"])))[0]["id"]
    return {"t": t, "c1": t["c1"], "issuer": issuer, "wang": wang, "li": li, "org": org, "merchant": merchant}


async def test_ledger_writes_keep_the_rollup_equal_to_the_postings(place):
    c1, issuer, wang, li, org = place["c1"], place["issuer"], place["wang"], place["li"], place["org"]
    # the last minute of October and the first of November, Beijing time
    await _award(c1, issuer, wang, 7, datetime(2026, 10, 31, 15, 59, tzinfo=UTC))
    await _award(c1, issuer, wang, 9, datetime(2026, 10, 31, 16, 0, tzinfo=UTC))
    late = await _award(c1, issuer, li, 20, datetime(2026, 10, 3, 2, tzinfo=UTC), kind="hours")
    await _award(c1, issuer, org, 30, datetime(2026, 11, 3, 2, tzinfo=UTC))
    # not earning: a redemption at a merchant and a deduction
    await ledger.record(TransactionDraft(kind="redemption", memo="兑换", idempotency_key=str(uuid4()), community_id=c1,
                                         occurred_at=datetime(2026, 11, 4, 2, tzinfo=UTC),
                                         postings=(PostingDraft(wang, -5), PostingDraft(place["merchant"], 5))))
    await ledger.record(TransactionDraft(kind="deduction", memo="扣分", idempotency_key=str(uuid4()), community_id=c1,
                                         occurred_at=datetime(2026, 11, 4, 2, tzinfo=UTC),
                                         postings=(PostingDraft(wang, -2), PostingDraft(issuer, 2))))
    # an October award reversed in November counts against November, when the reversal happened
    await ledger.reverse(late, memo="录错了", actor_id=None, idempotency_key=str(uuid4()),
                         now=datetime(2026, 11, 10, 2, tzinfo=UTC))

    assert await _rows() == {(wang, "2026-10"): 7, (wang, "2026-11"): 9, (li, "2026-10"): 20, (li, "2026-11"): -20,
                             (org, "2026-11"): 30, (place["merchant"], "2026-11"): 5}
    # no rows for the issuer, for 王小明's spending or the deduction; the merchant's row counts one redemption
    assert [(r["points"], r["entries"]) for r in await PeriodPoints.select().where(  # (caught up by _rows above)
        (PeriodPoints.account == place["merchant"]) & (PeriodPoints.period == "2026-Q4"))] == [(5, 1)]
    assert await rollup.differences(ZONE) == []
    quarter = [(r.account_id, r.earned) for r in await service.leaderboard(service.Scope(c1), Period("quarter", 2026, 4))]
    assert quarter == [(wang, 16)]  # 李大红's award and its reversal cancel out; an organisation is on its own board


async def test_a_rolled_back_write_leaves_no_trace_in_the_rollup(place):
    with pytest.raises(RuntimeError):
        async with db.atomic():
            await _award(place["c1"], place["issuer"], place["wang"], 10, datetime(2026, 11, 3, 2, tzinfo=UTC))
            raise RuntimeError("the power went mid-write")
    assert await _rows() == {}
    assert await rollup.differences(ZONE) == []


async def test_scans_on_the_hot_path_and_in_one_shared_commit_reach_the_rollup(place):
    admin = await f.admin_principal(place["c1"])
    urls = []
    for account in (place["wang"], place["li"]):
        _, url = await f.card_for(admin, account)
        urls.append(url)
    sweep = await catalog.add_item(await catalog.add_category(place["c1"], "文明实践"), "楼道清理", 10, date(2026, 1, 1))
    station = await stations.create_station(admin, place["c1"], "东园党群服务中心", "centre", ["award"], award_items=[sweep])
    device, _ = await f.paired_device(admin, station)

    def award(url: str) -> ScanRequest:
        return ScanRequest(scan_id=uuid4(), mode="award", card=url, scanned_at=f.NOW, details={"item_id": sweep})

    answers = await asyncio.gather(*(scans.scan(device, award(urls[n % 2]), f.NOW) for n in range(12)))
    assert all(a["accepted"] for a in answers)
    month = Period("month", f.NOW.year, f.NOW.month)
    assert await _rows() == {(place["wang"], month.key): 60, (place["li"], month.key): 60}
    assert await rollup.differences(ZONE) == []


async def test_a_new_time_zone_rebuilds_the_months(place):
    # 23:30 on 31 October in Beijing is already 1 November in Tokyo
    await _award(place["c1"], place["issuer"], place["wang"], 5, datetime(2026, 10, 31, 15, 30, tzinfo=UTC))
    assert await rollup.ensure(ZONE) is False  # already built for the configured zone: nothing to do
    try:
        assert await rollup.ensure("Asia/Tokyo") is True
        assert await _rows() == {(place["wang"], "2026-11"): 5}
        await _award(place["c1"], place["issuer"], place["wang"], 1, datetime(2026, 10, 31, 15, 10, tzinfo=UTC))
        assert await _rows() == {(place["wang"], "2026-11"): 6}  # the trigger follows the zone too
        assert await rollup.differences("Asia/Tokyo") == []
    finally:
        assert await rollup.ensure(ZONE) is True
    assert await _rows() == {(place["wang"], "2026-10"): 6}
    assert str(zone()) == ZONE


async def test_a_zone_with_summer_time_is_refused_on_sqlite_and_used_on_postgresql(place):
    if db.is_postgres():
        await _award(place["c1"], place["issuer"], place["wang"], 5, datetime(2026, 6, 30, 22, 30, tzinfo=UTC))
        try:
            await rollup.ensure("Europe/Berlin")  # 00:30 on 1 July in Berlin's summer time (UTC+2)
            assert await _rows() == {(place["wang"], "2026-07"): 5}
        finally:
            await rollup.ensure(ZONE)
    else:
        with pytest.raises(rollup.ZoneNotSupported):
            await rollup.ensure("Europe/Berlin")
        assert await rollup.installed_zone() == ZONE


async def test_rebuild_command_repairs_a_rollup_after_ledger_rows_were_edited_in_place(place):
    from tests.integration.test_cli import linli

    txn = await _award(place["c1"], place["issuer"], place["wang"], 10, datetime(2026, 11, 3, 2, tzinfo=UTC))
    assert await rollup.catch_up() >= 1
    # what no Linli code does: an edit in place that the trigger (inserts only) does not see
    await db.engine().run_ddl(f"UPDATE ledger_posting SET amount = amount * 3 WHERE txn = {txn}")
    assert len(await rollup.differences(ZONE)) == 3  # the month's, quarter's and year's rows
    rebuilt = linli("standings", "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.strip() == f"standings rebuilt from the ledger ({ZONE}); 3 row(s) had differed"
    assert await _rows() == {(place["wang"], "2026-11"): 30}
    assert await rollup.differences(ZONE) == []


async def test_readers_folding_at_the_same_time_add_each_posting_once(place):
    for n in range(40):
        await _award(place["c1"], place["issuer"], place["wang" if n % 2 else "li"], 5, datetime(2026, 11, 3, 2, tzinfo=UTC))
    pending = await PendingPosting.count()
    assert pending >= 40  # (PostgreSQL notes the issuer's side too; the fold skips it)
    folded = await asyncio.gather(*(rollup.catch_up() for _ in range(4)))
    assert sum(folded) == pending
    assert await rollup.catch_up() == 0
    assert await _rows() == {(place["wang"], "2026-11"): 100, (place["li"], "2026-11"): 100}
    assert await rollup.differences(ZONE) == []


async def test_the_background_fold_takes_new_postings_without_a_reader(place):
    folding = asyncio.create_task(rollup.keep_folding(0.05))
    try:
        await _award(place["c1"], place["issuer"], place["wang"], 10, datetime(2026, 11, 3, 2, tzinfo=UTC))
        for _ in range(100):
            if await PendingPosting.count() == 0:
                break
            await asyncio.sleep(0.05)
        assert await PendingPosting.count() == 0
    finally:
        folding.cancel()
    assert {(r["account"], r["period"]): r["points"] for r in await PeriodPoints.select()} == {
        (place["wang"], "2026-11"): 10, (place["wang"], "2026-Q4"): 10, (place["wang"], "2026"): 10}
