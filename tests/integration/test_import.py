"""Importing residents against a real database; runs on SQLite and, with LINLI_TEST_DATABASE_URL, on PostgreSQL."""
import asyncio

import pytest

from backend.accounts.tables import Account
from backend.audit.tables import AuditEntry
from backend.errors import Conflict, NotFound, PermissionDenied
from backend.imports import service
from backend.imports.tables import ImportBatch
from backend.ledger import service as ledger
from backend.ledger.tables import LedgerTransaction, Posting
from backend.people import service as people
from backend.people.tables import Person
from tests import factories as f

pytestmark = pytest.mark.db

HEADER = "姓名,手机,网格,楼栋,单元,党员,楼栋长,期初积分"
CLEAN = [
    "王红,13800000001,第一网格,1号楼,1单元,是,否,20",  # red, 20 points
    "李绿,13800000002,第一网格,1号楼,1单元,否,是,5",  # green, 5 points
    "赵双,13800000003,第一网格,1号楼,1单元,是,是,7",  # red + green, 7 points on red
    "钱蓝,,第一网格,1号楼,,否,否,",  # blue, no points, lives in the building
]


def sheet(lines) -> bytes:
    return ("\r\n".join([HEADER, *lines]) + "\r\n").encode("utf-8-sig")


def many(n: int) -> bytes:
    return sheet(f"居民{i},1{3 + i % 7}{i:09d},第一网格,1号楼,1单元,{'是' if i % 3 == 0 else '否'},{'是' if i % 5 == 0 else '否'},{i % 4 * 5}"
                 for i in range(n))


@pytest.fixture
async def world(clean_db):
    t = await f.tree()
    issuer = await f.issuer(t["c1"])
    await f.issuer(t["c2"])
    admin = await people.create_user("admin1", "correct-horse-42", "一社管理员", role="community_admin", node_id=t["c1"])
    other = await people.create_user("admin2", "correct-horse-42", "二社管理员", role="community_admin", node_id=t["c2"])
    return {"tree": t, "issuer": issuer, "admin": await people.principal(admin), "other": await people.principal(other)}


async def counts() -> tuple[int, int, int, int]:
    return (await Person.count(), await Account.count().where(Account.kind == "person"),
            await LedgerTransaction.count(), await Posting.count())


async def batch_row(batch_id: int) -> dict:
    return await ImportBatch.select(ImportBatch.state, ImportBatch.failure, ImportBatch.created_count).where(ImportBatch.id == batch_id).first()


async def test_preview_with_errors_is_stored_and_commits_nothing(world):
    lines = [*CLEAN, "孙错,12345,第一网格,1号楼,9单元,也许,否,-3"]
    batch_id = await service.preview(world["admin"], world["tree"]["c1"], "名单.csv", sheet(lines))
    view = await service.view(world["admin"], batch_id)
    assert view.meta["row_count"] == 5 and view.meta["error_count"] == 1 and view.status.state == "previewed"
    assert {(e["row"], e["code"]) for e in view.errors} == {(6, "bad_phone"), (6, "unknown_place"), (6, "bad_flag"), (6, "bad_points")}
    assert view.good_rows == 4 and view.points == 32 and view.people_with_points == 3
    with pytest.raises(Conflict, match="import_has_errors"):
        await service.commit(world["admin"], batch_id, f.NOW)
    assert await counts() == (0, 0, 0, 0)
    assert (await batch_row(batch_id))["state"] == "previewed"


async def test_clean_batch_creates_people_accounts_and_opening_balances(world):
    batch_id = await service.preview(world["admin"], world["tree"]["c1"], "名单.csv", sheet(CLEAN))
    result = await service.commit(world["admin"], batch_id, f.NOW)
    assert (result.people, result.accounts, result.openings, result.points) == (4, 5, 3, 32)
    assert await counts() == (4, 5, 3, 6)
    t = world["tree"]
    persons = {p["name"]: p for p in await Person.select()}
    assert persons["王红"]["home"] == t["unit"] and persons["钱蓝"]["home"] == t["building"] and persons["钱蓝"]["phone"] is None
    assert persons["赵双"]["is_party_member"] and persons["赵双"]["is_building_lead"]
    assert all(p["community"] == t["c1"] for p in persons.values())
    accounts = {(a["name"], a["colour"]): a for a in await Account.select().where(Account.kind == "person")}
    assert {k: a["balance"] for k, a in accounts.items()} == {
        ("王红", "red"): 20, ("李绿", "green"): 5, ("赵双", "red"): 7, ("赵双", "green"): 0, ("钱蓝", "blue"): 0}
    assert await f.balance(world["issuer"]) == -32
    txns = await LedgerTransaction.select().order_by(LedgerTransaction.id)
    assert {t_["kind"] for t_ in txns} == {"opening"} and {t_["source_type"] for t_ in txns} == {"import"}
    assert [t_["idempotency_key"] for t_ in txns] == [f"import-{batch_id}-row-{n}" for n in (2, 3, 4)]
    assert txns[0]["memo"].startswith("导入期初积分") and txns[0]["actor"] == world["admin"].user_id
    assert await ledger.verify() == []
    assert await batch_row(batch_id) == {"state": "committed", "failure": None, "created_count": 4}
    entry = await AuditEntry.select().where(AuditEntry.action == "people.import").output(load_json=True).first()
    assert entry["target_id"] == str(batch_id) and entry["before"] is None
    assert entry["after"]["people"] == 4 and entry["after"]["opening_points"] == 32


async def test_committing_twice_does_not_duplicate(world):
    batch_id = await service.preview(world["admin"], world["tree"]["c1"], "名单.csv", sheet(CLEAN))
    await service.commit(world["admin"], batch_id, f.NOW)
    with pytest.raises(Conflict, match="import_not_pending"):
        await service.commit(world["admin"], batch_id, f.NOW)
    assert await counts() == (4, 5, 3, 6)


async def test_concurrent_commits_of_one_batch_write_once(world):
    batch_id = await service.preview(world["admin"], world["tree"]["c1"], "名单.csv", sheet(CLEAN))
    results = await asyncio.gather(*(service.commit(world["admin"], batch_id, f.NOW) for _ in range(3)), return_exceptions=True)
    assert sum(1 for r in results if isinstance(r, service.Committed)) == 1
    assert all(getattr(r, "code", None) == "import_not_pending" for r in results if not isinstance(r, service.Committed))
    assert await counts() == (4, 5, 3, 6) and await ledger.verify() == []


async def test_a_failure_after_half_the_rows_leaves_nothing_and_marks_the_batch_failed(world, monkeypatch):
    batch_id = await service.preview(world["admin"], world["tree"]["c1"], "名单.csv", many(40))
    monkeypatch.setattr(service, "CHUNK", 10)
    real_insert = service._insert_ids
    people_chunks = []

    async def failing(table, rows):
        if table is Person:
            people_chunks.append(len(rows))
            if len(people_chunks) == 3:  # chunks 1 and 2 written in full (people, accounts, openings), then a failure
                raise RuntimeError("disk full")
        return await real_insert(table, rows)

    monkeypatch.setattr(service, "_insert_ids", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        await service.commit(world["admin"], batch_id, f.NOW)
    assert people_chunks == [10, 10, 10]
    assert await counts() == (0, 0, 0, 0)
    assert await f.balance(world["issuer"]) == 0
    assert await batch_row(batch_id) == {"state": "failed", "failure": "import_failed", "created_count": 0}
    assert not await AuditEntry.exists().where(AuditEntry.action == "people.import")
    with pytest.raises(Conflict, match="import_not_pending"):
        await service.commit(world["admin"], batch_id, f.NOW)


async def test_a_database_constraint_violation_late_in_the_batch_rolls_everything_back(world, monkeypatch):
    batch_id = await service.preview(world["admin"], world["tree"]["c1"], "名单.csv", many(30))
    monkeypatch.setattr(service, "CHUNK", 10)
    rows = await service._rows(batch_id)
    rows[-1]["home"] = 999_999  # no such place: the foreign key refuses the last chunk's people
    await ImportBatch.update({ImportBatch.rows: rows}).where(ImportBatch.id == batch_id)
    with pytest.raises(Exception):
        await service.commit(world["admin"], batch_id, f.NOW)
    assert await counts() == (0, 0, 0, 0)
    assert (await batch_row(batch_id))["state"] == "failed"
    assert await ledger.verify() == []


async def test_staff_of_another_community_can_neither_import_nor_see_nor_commit(world):
    with pytest.raises(PermissionDenied, match="other_community"):
        await service.preview(world["other"], world["tree"]["c1"], "名单.csv", sheet(CLEAN))
    batch_id = await service.preview(world["admin"], world["tree"]["c1"], "名单.csv", sheet(CLEAN))
    for call in (service.view(world["other"], batch_id), service.commit(world["other"], batch_id, f.NOW),
                 service.start_commit(world["other"], batch_id, f.NOW)):
        with pytest.raises(PermissionDenied, match="other_community"):
            await call
    assert [b["id"] for b in await service.recent(world["other"])] == []
    assert [b["id"] for b in await service.recent(world["admin"])] == [batch_id]
    assert [c["id"] for c in await service.communities(world["admin"])] == [world["tree"]["c1"]]
    assert await counts() == (0, 0, 0, 0)


async def test_background_commit_reports_progress_and_finishes(world, monkeypatch):
    batch_id = await service.preview(world["admin"], world["tree"]["c1"], "名单.csv", many(50))
    monkeypatch.setattr(service, "CHUNK", 10)
    reported = []
    real = service._insert_ids

    async def watching(table, rows):
        reported.append(service._progress[batch_id].done)
        return await real(table, rows)

    monkeypatch.setattr(service, "_insert_ids", watching)
    started = await service.start_commit(world["admin"], batch_id, f.NOW)
    assert started.state == "committing" and started.total == 50
    again = await service.start_commit(world["admin"], batch_id, f.NOW)  # a double click joins the running commit
    assert again.state == "committing"
    polled = set()
    while batch_id in service._tasks:  # what a poll from outside the commit's transaction sees
        polled.add((await service.status(world["admin"], batch_id))[1].state)
        await asyncio.sleep(0.001)
    await service.wait(batch_id)
    assert "committing" in polled and polled <= {"committing", "committed"}  # never a stale "previewed"
    assert sorted(set(reported)) == [0, 10, 20, 30, 40]
    _, done = await service.status(world["admin"], batch_id)
    assert (done.state, done.created, done.done, done.total) == ("committed", 50, 50, 50)
    assert batch_id not in service._progress
    assert await Person.count() == 50 and await ledger.verify() == []


async def test_reads_are_answered_while_a_large_import_commits(world, monkeypatch):
    """On SQLite the commit's statements run on the event loop's thread; between chunks it gives the loop back, so
    a page's reads are answered during the import (here: seen part-way through), not only after it."""
    from backend.db import fetch

    batch_id = await service.preview(world["admin"], world["tree"]["c1"], "名单.csv", many(60))
    monkeypatch.setattr(service, "CHUNK", 10)
    await service.start_commit(world["admin"], batch_id, f.NOW)
    seen_part_way = []
    while batch_id in service._tasks:
        assert (await fetch("SELECT COUNT(*) AS n FROM import_batch"))[0]["n"] == 1  # a read, as a page makes
        progress = service._progress.get(batch_id)
        if progress is not None and 0 < progress.done < 60:
            seen_part_way.append(progress.done)
        await asyncio.sleep(0)
    await service.wait(batch_id)
    assert seen_part_way and (await service.status(world["admin"], batch_id))[1].state == "committed"
    assert await Person.count() == 60


async def test_simultaneous_clicks_start_one_commit(world, monkeypatch):
    batch_id = await service.preview(world["admin"], world["tree"]["c1"], "名单.csv", sheet(CLEAN))
    runs = []
    real_run = service._run

    def counting_run(*args):
        runs.append(args)
        return real_run(*args)

    monkeypatch.setattr(service, "_run", counting_run)
    started = await asyncio.gather(*(service.start_commit(world["admin"], batch_id, f.NOW) for _ in range(3)))
    # a click answered after the one run already finished sees its outcome; what matters is that it ran once
    assert started[0].state == "committing" and {s.state for s in started} <= {"committing", "committed"}
    assert len(runs) == 1
    await service.wait(batch_id)
    assert await counts() == (4, 5, 3, 6)
    assert (await batch_row(batch_id))["state"] == "committed"


async def test_a_click_whose_checks_outlast_the_whole_commit_starts_nothing(world, monkeypatch):
    # two clicks both read the batch as pending; the second then waits on its issuer check until the first
    # click's run has finished, committed and gone
    batch_id = await service.preview(world["admin"], world["tree"]["c1"], "名单.csv", sheet(CLEAN))
    both_checked, first_done = asyncio.Event(), asyncio.Event()
    row_reads, issuer_reads, runs = [], [], []
    real_rows, real_issuer_of, real_run = service._rows, service.issuer_of, service._run

    async def rows_once_both_clicks_read(batch):
        row_reads.append(batch)
        if len(row_reads) == 2:
            both_checked.set()
        elif len(row_reads) < 2:
            await both_checked.wait()
        return await real_rows(batch)

    async def slow_for_the_second_click(community):
        issuer_reads.append(community)
        if len(issuer_reads) == 2:
            await first_done.wait()
        return await real_issuer_of(community)

    def counting_run(*args):
        runs.append(args)
        return real_run(*args)

    monkeypatch.setattr(service, "_rows", rows_once_both_clicks_read)
    monkeypatch.setattr(service, "issuer_of", slow_for_the_second_click)
    monkeypatch.setattr(service, "_run", counting_run)
    clicks = [asyncio.create_task(service.start_commit(world["admin"], batch_id, f.NOW)) for _ in range(2)]
    async with asyncio.timeout(30):
        while not runs:
            await asyncio.sleep(0.01)
        await service.wait(batch_id)
        first_done.set()
        answers = await asyncio.gather(*clicks)
    assert sorted(a.state for a in answers) == ["committed", "committing"] and len(runs) == 1
    assert await counts() == (4, 5, 3, 6)


async def test_points_without_an_issuer_are_refused_before_anything_starts(world):
    await Account.delete().where(Account.id == world["issuer"])
    batch_id = await service.preview(world["admin"], world["tree"]["c1"], "名单.csv", sheet(CLEAN))
    with pytest.raises(NotFound, match="no_issuer"):
        await service.start_commit(world["admin"], batch_id, f.NOW)
    assert (await batch_row(batch_id))["state"] == "previewed"


async def test_importing_the_same_people_again_is_flagged(world):
    first = await service.preview(world["admin"], world["tree"]["c1"], "名单.csv", sheet(CLEAN))
    await service.commit(world["admin"], first, f.NOW)
    again = await service.preview(world["admin"], world["tree"]["c1"], "名单.csv", sheet(CLEAN))
    view = await service.view(world["admin"], again)
    assert view.meta["error_count"] == 4 and {e["code"] for e in view.errors} == {"already_registered"}


async def test_ten_thousand_rows_commit(world):
    batch_id = await service.preview(world["admin"], world["tree"]["c1"], "big.csv", many(10_000))
    view = await service.view(world["admin"], batch_id)
    assert view.meta["error_count"] == 0 and view.meta["row_count"] == 10_000
    result = await service.commit(world["admin"], batch_id, f.NOW)
    lead_and_member = sum(1 for i in range(10_000) if i % 3 == 0 and i % 5 == 0)
    assert result.people == 10_000 and result.accounts == 10_000 + lead_and_member
    assert result.openings == sum(1 for i in range(10_000) if i % 4) and result.points == sum(i % 4 * 5 for i in range(10_000))
    assert await Person.count() == 10_000 and await ledger.verify() == []
    assert await f.balance(world["issuer"]) == -result.points
