"""The scan hot path's caches and shared commits (backend.db): a revoked device or card is refused at once, a
catalogue revision is used by the next award, and scans sharing a commit stay exactly-once and all-or-nothing."""
import asyncio
import json
import time
from datetime import date
from uuid import uuid4

import pytest

from backend import db
from backend.accounts.tables import Account
from backend.community.tables import Node
from backend.catalog import scans as catalog_scans
from backend.catalog import service as catalog
from backend.catalog.tables import ItemAward
from backend.errors import PermissionDenied
from backend.ledger import service as ledger
from backend.ledger.tables import LedgerTransaction
from backend.scans import service as scans
from backend.scans.service import ScanRequest
from backend.scans.tables import Scan
from backend.servicecards import service as cards
from backend.stations import service as stations
from backend.stations.tables import Device
from tests import factories as f

pytestmark = pytest.mark.db


@pytest.fixture
async def desk(clean_db):
    t = await f.tree()
    issuer = await f.issuer(t["c1"])
    admin = await f.admin_principal(t["c1"])
    accounts, urls, card_pks = [], [], []
    for name in ("王小明", "李大红", "张三"):
        _, account = await f.person_account(name, t["unit"], t["c1"], colour="red")
        card, url = await f.card_for(admin, account)
        accounts.append(account), urls.append(url), card_pks.append(card.pk)
    sweep = await catalog.add_item(await catalog.add_category(t["c1"], "文明实践"), "楼道清理", 10, date(2026, 1, 1))
    station = await stations.create_station(admin, t["c1"], "东园党群服务中心", "centre", ["award"], award_items=[sweep])
    device, credential = await f.paired_device(admin, station)
    return {"admin": admin, "issuer": issuer, "accounts": accounts, "urls": urls, "card_pks": card_pks,
            "sweep": sweep, "device": device, "credential": credential}


def award(desk, url=None) -> ScanRequest:
    return ScanRequest(scan_id=uuid4(), mode="award", card=url or desk["urls"][0], scanned_at=f.NOW,
                       details={"item_id": desk["sweep"]})


async def test_a_device_revoked_here_is_refused_at_once(desk):
    await stations.device_from_credential(desk["credential"], f.NOW)  # now cached
    await stations.revoke_device(desk["admin"], desk["device"].device_id, f.NOW)
    with pytest.raises(PermissionDenied) as refused:
        await stations.device_from_credential(desk["credential"], f.NOW)
    assert refused.value.code == "device_revoked"


async def test_a_device_revoked_by_another_process_is_refused_within_the_cache_time(desk, monkeypatch):
    monkeypatch.setattr(stations._devices, "seconds", 0.2)
    stations.forget_devices()
    await stations.device_from_credential(desk["credential"], f.NOW)
    # another server process revokes it: this one's cache does not hear of it
    await Device.update({Device.revoked_at: f.NOW}).where(Device.id == desk["device"].device_id)
    await stations.device_from_credential(desk["credential"], f.NOW)  # still the cached device, for a moment
    time.sleep(0.25)
    with pytest.raises(PermissionDenied):
        await stations.device_from_credential(desk["credential"], f.NOW)


async def test_a_wrong_secret_is_never_served_from_the_cache(desk):
    await stations.device_from_credential(desk["credential"], f.NOW)
    device_id = desk["credential"].split(".")[0]
    with pytest.raises(PermissionDenied) as refused:
        await stations.device_from_credential(f"{device_id}.not-the-secret", f.NOW)
    assert refused.value.code == "device_unknown"


async def test_a_card_revoked_between_two_scans_is_refused_by_the_second(desk):
    assert (await scans.scan(desk["device"], award(desk), f.NOW))["accepted"]  # its token is now verified, cached
    await cards.revoke(desk["admin"], desk["card_pks"][0], f.NOW)
    answer = await scans.scan(desk["device"], award(desk), f.NOW)
    assert (answer["accepted"], answer["reason"]) == (False, "revoked")


async def test_a_catalogue_revision_is_used_by_the_next_award(desk):
    assert (await scans.scan(desk["device"], award(desk), f.NOW))["points"] == 10  # the value is now cached
    await catalog.revise(desk["sweep"], 15, date(2026, 10, 1), "涨分")
    assert (await scans.scan(desk["device"], award(desk), f.NOW))["points"] == 15
    await catalog.publish_revisions(desk["admin"], (await catalog.item_detail(desk["sweep"]))["community"],
                                    date(2026, 10, 15), "再调整", {desk["sweep"]: 12}, date(2026, 10, 1))
    assert (await scans.scan(desk["device"], award(desk), f.NOW))["points"] == 12
    assert await f.balance(desk["accounts"][0]) == 37


def count_passes(monkeypatch) -> list[bool]:
    """Which passes the groups ran (True: the first, rows deferred; False: the second, reading first)."""
    passes, real = [], db._run_group

    async def counting(database, jobs, first_pass):
        passes.append(first_pass)
        return await real(database, jobs, first_pass)

    monkeypatch.setattr(db, "_run_group", counting)
    return passes


async def test_concurrent_scans_sharing_a_commit_each_write_once(desk):
    requests = [award(desk, desk["urls"][i % 3]) for i in range(24)]
    answers = await asyncio.gather(*(scans.scan(desk["device"], r, f.NOW) for r in requests))
    assert all(a["accepted"] and not a["duplicate"] for a in answers)
    assert await LedgerTransaction.count() == 24 and await Scan.count().where(Scan.accepted == True) == 24  # noqa: E712
    assert [await f.balance(a) for a in desk["accounts"]] == [80, 80, 80]
    assert await f.balance(desk["issuer"]) == -240
    assert await ledger.verify() == []
    replayed = await asyncio.gather(*(scans.scan(desk["device"], r, f.NOW) for r in requests[:5]))
    assert all(a["duplicate"] for a in replayed) and await LedgerTransaction.count() == 24


async def test_a_scan_failing_in_a_shared_commit_takes_only_its_own_writes_back(desk, monkeypatch):
    real_award = catalog_scans.award
    doomed = award(desk, desk["urls"][1])

    async def award_then_fail(ctx):
        outcome = await real_award(ctx)  # the ledger is written …
        if ctx.request.scan_id == doomed.scan_id:
            raise RuntimeError("the disk is full")  # … and then something breaks
        return outcome

    monkeypatch.setattr(catalog_scans, "award", award_then_fail)
    others = [award(desk, desk["urls"][i % 3]) for i in range(6)]
    results = await asyncio.gather(*(scans.scan(desk["device"], r, f.NOW) for r in [*others[:3], doomed, *others[3:]]),
                                   return_exceptions=True)
    assert isinstance(results[3], RuntimeError)
    assert all(r["accepted"] for i, r in enumerate(results) if i != 3)
    assert not await Scan.exists().where(Scan.scan_id == doomed.scan_id)
    assert await LedgerTransaction.count() == 6 and await f.balance(desk["accounts"][1]) == 20
    assert await f.balance(desk["issuer"]) == -60 and await ledger.verify() == []


async def test_a_scan_refused_after_writing_in_a_shared_commit_is_stored_without_its_writes(desk, monkeypatch):
    """The mode's writes and the scan record share the group's savepoint for the scan (a round trip less): a
    refusal after the ledger was written takes the writes back and still stores the scan, refused."""
    from backend.scans.rules import Refused

    real_award = catalog_scans.award
    refused = award(desk, desk["urls"][1])

    async def award_then_refuse(ctx):
        outcome = await real_award(ctx)  # the ledger is written …
        if ctx.request.scan_id == refused.scan_id:
            raise Refused("item_not_allowed")  # … and then the mode refuses
        return outcome

    monkeypatch.setattr(catalog_scans, "award", award_then_refuse)
    passes = count_passes(monkeypatch)
    others = [award(desk, desk["urls"][i % 3]) for i in range(6)]
    results = await asyncio.gather(*(scans.scan(desk["device"], r, f.NOW) for r in [*others[:3], refused, *others[3:]]))
    assert (results[3]["accepted"], results[3]["reason"]) == (False, "item_not_allowed")
    assert all(r["accepted"] for i, r in enumerate(results) if i != 3)
    stored = await Scan.select(Scan.accepted, Scan.reason, Scan.txn).where(Scan.scan_id == refused.scan_id).first()
    assert stored == {"accepted": False, "reason": "item_not_allowed", "txn": None}
    assert await LedgerTransaction.count() == 6 and await f.balance(desk["accounts"][1]) == 20
    assert await f.balance(desk["issuer"]) == -60 and await ledger.verify() == []
    # the award had no savepoint in the group's first pass (Mode.marks_writes): refusing after its writes ran
    # the group again, with savepoints, and its award line went too
    assert await ItemAward.count() == 6 and passes.count(False) == 1
    again = await scans.scan(desk["device"], refused, f.NOW)
    assert again["duplicate"] and again["reason"] == "item_not_allowed"


async def test_a_group_of_new_scans_commits_in_its_first_pass(desk, monkeypatch):
    passes = count_passes(monkeypatch)
    answers = await asyncio.gather(*(scans.scan(desk["device"], award(desk, desk["urls"][i % 3]), f.NOW) for i in range(6)))
    assert all(a["accepted"] for a in answers) and passes and False not in passes
    stored = await Scan.select(Scan.scan_id, Scan.answer, Scan.txn).output(load_json=True)
    assert {str(r["scan_id"]): r["answer"] for r in stored} == {a["scan_id"]: a for a in answers}
    assert len({r["txn"] for r in stored}) == 6 and await LedgerTransaction.count() == 6


async def test_a_replay_in_a_group_of_new_scans_gets_its_first_answer_and_writes_nothing(desk, monkeypatch):
    """A replayed online scan is not read for first: its row meets the stored one at the group's commit, and the
    group runs again, each scan reading first. The replay must not count twice towards the item's caps."""

    replayed = award(desk, desk["urls"][0])
    first = await scans.scan(desk["device"], replayed, f.NOW)
    passes = count_passes(monkeypatch)
    fresh = [award(desk, desk["urls"][i % 3]) for i in range(5)]
    answers = await asyncio.gather(*(scans.scan(desk["device"], r, f.NOW) for r in [fresh[0], replayed, *fresh[1:]]))
    assert answers[1] == first | {"duplicate": True}
    assert all(a["accepted"] and not a["duplicate"] for i, a in enumerate(answers) if i != 1)
    assert False in passes  # the group with the replay ran a second time
    assert await Scan.count() == 6 and await LedgerTransaction.count() == 6 and await ItemAward.count() == 6
    assert [await f.balance(a) for a in desk["accounts"]] == [30, 20, 10]
    assert await f.balance(desk["issuer"]) == -60 and await ledger.verify() == []


async def test_one_scan_sent_twice_into_one_group_is_stored_once(desk):
    twice = award(desk, desk["urls"][2])
    answers = await asyncio.gather(*(scans.scan(desk["device"], r, f.NOW) for r in [award(desk), twice, twice]))
    assert answers[1]["accepted"] and answers[2] == answers[1] | {"duplicate": True}
    assert await Scan.count().where(Scan.scan_id == twice.scan_id) == 1
    assert await LedgerTransaction.count() == 2 and await f.balance(desk["accounts"][2]) == 10
    assert await ledger.verify() == []


async def test_a_capped_item_scanned_at_once_in_one_group_is_awarded_up_to_its_cap(desk, monkeypatch):
    """Award lines of an item with caps go in as they are written, so the next scan in the same group counts them.
    A cap refuses before the award writes anything, so the group's first pass stands."""
    from backend.catalog.rules import Caps

    category = (await catalog.item_detail(desk["sweep"]))["category"]
    once = await catalog.add_item(category, "敬老探访", 5, date(2026, 1, 1), caps=Caps(per_day=2))
    station = await stations.create_station(desk["admin"], (await catalog.item_detail(once))["community"],
                                            "敬老服务点", "centre", ["award"], award_items=[once])
    device, _ = await f.paired_device(desk["admin"], station)
    requests = [ScanRequest(scan_id=uuid4(), mode="award", card=desk["urls"][0], scanned_at=f.NOW,
                            details={"item_id": once}) for _ in range(4)]
    passes = count_passes(monkeypatch)
    answers = await asyncio.gather(*(scans.scan(device, r, f.NOW) for r in requests))
    assert sum(a["accepted"] for a in answers) == 2 and passes and False not in passes
    assert {a["reason"] for a in answers if not a["accepted"]} == {"daily_cap_reached"}
    assert await ItemAward.count().where(ItemAward.item == once) == 2 and await f.balance(desk["accounts"][0]) == 10


async def test_an_overdraft_is_still_refused_and_still_allowed_when_the_draft_says_so(desk):
    from backend.ledger.rules import PostingDraft, TransactionDraft

    shop = (await Account.insert(Account(kind="shop", name="积分超市", community=(await catalog.item_detail(desk["sweep"]))["community"])))[0]["id"]
    spend = dict(kind="redemption", memo="兑换", community_id=(await catalog.item_detail(desk["sweep"]))["community"],
                 occurred_at=f.NOW, postings=(PostingDraft(desk["accounts"][2], -5), PostingDraft(shop, 5)))
    with pytest.raises(ledger.InsufficientBalance):
        await ledger.record(TransactionDraft(idempotency_key="spend-1", **spend))
    recorded = await ledger.record(TransactionDraft(idempotency_key="spend-2", overdraft_ok=True, **spend))
    assert recorded.created and recorded.balances[desk["accounts"][2]] == -5
    again = await ledger.record(TransactionDraft(idempotency_key="spend-2", overdraft_ok=True, **spend))
    assert (again.transaction_id, again.created) == (recorded.transaction_id, False)
    assert await ledger.verify() == []


async def test_a_row_deferred_after_a_savepoint_goes_when_it_is_rolled_back_to(clean_db):
    async def work():
        transaction = db.engine().current_transaction.get()
        assert db.defer_insert(Node, dict(kind="street", name="留下", path="/kept/"))
        savepoint = await transaction.savepoint()
        assert db.defer_insert(Node, dict(kind="street", name="撤回", path="/gone/"))
        await savepoint.rollback_to()
        return "done"

    assert await db.grouped(work) == "done"
    assert await Node.select(Node.name).where(Node.path.is_in(["/kept/", "/gone/"])) == [{"name": "留下"}]


async def test_a_group_moving_two_issuers_moves_each_by_its_own_awards(clean_db, monkeypatch):
    # the deferred rows and the first issuer's move are one statement at the group's end, the second issuer's
    # move another: both must land, each with only its own awards
    passes = count_passes(monkeypatch)
    t = await f.tree()
    communities = [t["c1"], t["c2"]]
    issuers = [await f.issuer(c) for c in communities]
    people = [(await f.person_account(name, t["unit"], c))[1] for name, c in zip(("王小明", "李大红"), communities)]

    async def job(i: int):
        recorded = await f.award(issuers[i % 2], people[i % 2], 10 + i, communities[i % 2])
        row = dict(kind="street", name=f"街道{i}", path=f"/group/{i}/")
        if not db.defer_insert(Node, row):
            await db.insert_row(Node, row, returning=None)
        return recorded

    recorded = await asyncio.gather(*(db.grouped(lambda i=i: job(i)) for i in range(6)))
    assert all(r.created for r in recorded) and passes and False not in passes
    assert [await f.balance(a) for a in issuers] == [-(10 + 12 + 14), -(11 + 13 + 15)]
    assert [await f.balance(a) for a in people] == [36, 39]
    assert await Node.count().where(Node.path.like("/group/%")) == 6
    assert await ledger.verify() == []


async def test_raw_sql_reads_and_writes_through_the_current_transaction(clean_db):
    with pytest.raises(RuntimeError):
        async with db.atomic():
            await db.fetch("INSERT INTO community_node (kind, name, path) VALUES (?, ?, ?)", "street", "临时街道", "/x/")
            assert await db.fetchrow("SELECT name FROM community_node WHERE path = ?", "/x/") == {"name": "临时街道"}
            raise RuntimeError("roll back")
    assert await db.fetchrow("SELECT name FROM community_node WHERE path = ?", "/x/") is None


async def test_a_pooled_connection_comes_back_without_the_transaction_left_open_on_it(database):
    # the pool's release skips asyncpg's reset query (backend.db._reset_pooled) but still ends an open transaction
    if not db.is_postgres():
        pytest.skip("PostgreSQL's connection pool")
    engine = db.engine()
    await engine.start_connection_pool(min_size=1, max_size=1, reset=db._reset_pooled)
    try:
        async with engine.pool.acquire() as connection:
            await connection.execute("BEGIN")
            await connection.execute("CREATE TEMP TABLE left_open (x int)")
            assert connection.is_in_transaction()
        async with engine.pool.acquire() as again:
            assert again is not None and not again.is_in_transaction()
            assert await again.fetchval("SELECT to_regclass('pg_temp.left_open')") is None
    finally:
        await engine.close_connection_pool()


async def test_a_card_whose_account_was_closed_is_refused_and_nothing_is_written(desk):
    """The award's ledger write finds the account closed: the scan is refused and stored, with no transaction.
    (The ledger once took its own just-written row for a concurrent replay and answered "accepted", with the
    postings in and the balance unmoved.)"""
    await Account.update({Account.active: False}).where(Account.id == desk["accounts"][1])
    answers = await asyncio.gather(*(scans.scan(desk["device"], award(desk, desk["urls"][i % 2]), f.NOW) for i in range(4)))
    assert [(a["accepted"], a["reason"]) for a in answers] == [(True, "ok"), (False, "account_not_found")] * 2
    alone = await scans.scan(desk["device"], award(desk, desk["urls"][1]), f.NOW)
    assert (alone["accepted"], alone["reason"]) == (False, "account_not_found")
    assert await LedgerTransaction.count() == 2 and await ItemAward.count() == 2 and await Scan.count() == 5
    assert [await f.balance(a) for a in desk["accounts"]] == [20, 0, 0] and await ledger.verify() == []


def watch_group_ends(monkeypatch) -> list[dict]:
    """What each group's end found: whether its transaction had begun, and how many balance moves it deferred."""
    ends, real = [], db._finish_group

    async def watching(transaction):
        ends.append({"begun": getattr(transaction, "begun", True), "moves": len(transaction.deferred_moves or ())})
        return await real(transaction)

    monkeypatch.setattr(db, "_finish_group", watching)
    return ends


async def test_one_card_scanned_again_and_again_in_one_group_shows_each_scan_its_own_new_balance(desk, monkeypatch):
    """On PostgreSQL a group of awards is one statement, with no BEGIN or COMMIT: the new balances come back from
    it. Each scan must show (and store) the balance right after itself, not the group's last."""
    await scans.scan(desk["device"], award(desk, desk["urls"][2]), f.NOW)  # the issuer is now known as hot
    passes, ends = count_passes(monkeypatch), watch_group_ends(monkeypatch)
    requests = [award(desk, desk["urls"][0 if i % 3 else 1]) for i in range(7)]  # card 1 at 0, 3, 6; card 0 between
    answers = await asyncio.gather(*(scans.scan(desk["device"], r, f.NOW) for r in requests))
    assert [a["balance"] for a in answers] == [10, 10, 20, 20, 30, 40, 30]
    assert passes and False not in passes
    if db.is_postgres():  # the whole group in its end statement, which committed on its own
        assert ends and all(not e["begun"] and e["moves"] for e in ends)
    stored = await Scan.select(Scan.scan_id, Scan.answer).output(load_json=True)
    assert {str(r["scan_id"]): r["answer"] for r in stored if str(r["scan_id"]) in {a["scan_id"] for a in answers}} \
        == {a["scan_id"]: a for a in answers}
    assert [await f.balance(a) for a in desk["accounts"]] == [40, 30, 10]
    assert await f.balance(desk["issuer"]) == -80 and await ledger.verify() == []
    assert await ItemAward.count() == 8 and len({r["txn"] for r in await Scan.select(Scan.txn)}) == 8


async def test_an_account_closed_just_before_its_group_ends_refuses_only_its_scans(desk, monkeypatch):
    """PostgreSQL: the group's end statement checks that every account it moves is still open and fails as a
    whole if one is not (it commits on its own, so nothing may be found wrong after it); the group then runs
    again, each scan writing as it goes, and only the closed account's scans are refused."""
    import contextvars

    if not db.is_postgres():
        pytest.skip("on SQLite the group holds the only write lock: nothing can close an account meanwhile")
    await scans.scan(desk["device"], award(desk, desk["urls"][2]), f.NOW)  # the issuer is now known as hot
    passes, real = count_passes(monkeypatch), db._finish_group
    closing = desk["accounts"][1]

    async def close_first(transaction):
        async def close():  # another request, on its own connection and transaction
            await Account.update({Account.active: False}).where(Account.id == closing)
        if transaction.deferred_moves:
            await asyncio.create_task(close(), context=contextvars.Context())
        return await real(transaction)

    monkeypatch.setattr(db, "_finish_group", close_first)
    answers = await asyncio.gather(*(scans.scan(desk["device"], award(desk, desk["urls"][i % 2]), f.NOW) for i in range(4)))
    assert [(a["accepted"], a["reason"]) for a in answers] == [(True, "ok"), (False, "account_not_found")] * 2
    assert passes == [True, False]
    assert [a["balance"] for a in answers[::2]] == [10, 20]
    assert [await f.balance(a) for a in desk["accounts"]] == [20, 0, 10]
    assert await f.balance(desk["issuer"]) == -30 and await ledger.verify() == []
    assert await Scan.count() == 5 and await LedgerTransaction.count() == 3 and await ItemAward.count() == 3


async def mixed_station(desk):
    from backend.catalog.rules import Caps

    category = (await catalog.item_detail(desk["sweep"]))["category"]
    capped = await catalog.add_item(category, "敬老探访", 5, date(2026, 1, 1), caps=Caps(per_day=3))
    station = await stations.create_station(desk["admin"], (await catalog.item_detail(capped))["community"],
                                            "综合服务点", "centre", ["award"], award_items=[capped, desk["sweep"]])
    device, _ = await f.paired_device(desk["admin"], station)
    await scans.scan(device, award(desk, desk["urls"][2]), f.NOW)  # the issuer is now known as hot
    return device, capped


async def test_a_group_mixing_capped_and_uncapped_awards_moves_the_issuer_by_each_once(desk, monkeypatch):
    """A capped item's award is written as it goes (its award lines count towards the next scan's cap) and moves
    the issuer at the group's end by its postings; an uncapped one is left whole to the group's end statement."""
    device, capped = await mixed_station(desk)
    passes = count_passes(monkeypatch)
    requests = [ScanRequest(scan_id=uuid4(), mode="award", card=desk["urls"][i % 2], scanned_at=f.NOW,
                            details={"item_id": capped if i % 2 == 0 else desk["sweep"]}) for i in range(6)]
    answers = await asyncio.gather(*(scans.scan(device, r, f.NOW) for r in requests))
    assert all(a["accepted"] for a in answers) and passes and False not in passes
    assert [a["balance"] for a in answers] == [5, 10, 10, 20, 15, 30]
    assert [await f.balance(a) for a in desk["accounts"]] == [15, 30, 10]
    assert await f.balance(desk["issuer"]) == -55 and await ledger.verify() == []


async def test_one_card_awarded_a_capped_and_an_uncapped_item_in_one_group_shows_each_balance_right(desk, monkeypatch):
    """One account moved both at once (capped) and at the group's end (uncapped) would show a balance without the
    other's points: the group runs again, each scan writing as it goes."""
    device, capped = await mixed_station(desk)
    requests = [ScanRequest(scan_id=uuid4(), mode="award", card=desk["urls"][i % 2], scanned_at=f.NOW,
                            details={"item_id": capped if i % 3 == 0 else desk["sweep"]}) for i in range(6)]
    answers = await asyncio.gather(*(scans.scan(device, r, f.NOW) for r in requests))
    assert all(a["accepted"] for a in answers)
    assert [a["balance"] for a in answers] == [5, 10, 15, 15, 25, 25]
    stored = {str(r["scan_id"]): r["answer"]["balance"] for r in await Scan.select(Scan.scan_id, Scan.answer).output(load_json=True)}
    assert [stored[a["scan_id"]] for a in answers] == [5, 10, 15, 15, 25, 25]
    assert [await f.balance(a) for a in desk["accounts"]] == [25, 25, 10]
    assert await f.balance(desk["issuer"]) == -60 and await ledger.verify() == []


async def test_only_plain_reads_run_before_a_lazy_transaction_begins():
    assert db._plain_read("SELECT c.id FROM service_card c WHERE c.serial = $1")
    assert db._plain_read("  select 1")
    for sql in ("INSERT INTO x VALUES (1)", "WITH t AS (INSERT INTO x VALUES (1) RETURNING id) SELECT id FROM t",
                "SELECT id FROM person WHERE id = $1 FOR UPDATE", "SELECT id FROM a FOR NO KEY UPDATE",
                "SELECT id FROM a FOR SHARE", "SELECT id FROM a\nFOR KEY SHARE", "SELECT pg_advisory_xact_lock(7)",
                "SELECT nextval('x_id_seq')", "SAVEPOINT savepoint_1", "UPDATE a SET b = 1"):
        assert not db._plain_read(sql), sql


async def test_a_group_reads_its_scans_cards_in_one_statement(desk, monkeypatch):
    """On PostgreSQL a group's first pass reads every scan's card at once, before the scans run (one statement
    instead of one a scan); a card scanned twice in the group is read again by its second scan, which may come
    after the first one wrote. The answers are the ones each scan would get on its own, on both engines."""
    await cards.revoke(desk["admin"], desk["card_pks"][2], f.NOW)
    number = (await cards.card(desk["card_pks"][1])).number
    await scans.scan(desk["device"], award(desk, desk["urls"][0]), f.NOW)  # the issuer is now known as hot
    batches, lookups = [], []
    real_fetch, real_fetchrow = cards.fetch, cards.fetchrow

    async def fetch(sql, *args):
        batches.append(args)
        return await real_fetch(sql, *args)

    async def fetchrow(sql, *args):
        lookups.append(args)
        return await real_fetchrow(sql, *args)

    monkeypatch.setattr(cards, "fetch", fetch)
    monkeypatch.setattr(cards, "fetchrow", fetchrow)
    scanned = [desk["urls"][0], number, desk["urls"][2], desk["urls"][0], "not a card", "https://x.test/c/AAAA"]
    answers = await asyncio.gather(*(scans.scan(desk["device"], award(desk, text), f.NOW) for text in scanned))
    assert [(a["accepted"], a["reason"]) for a in answers] == [
        (True, "ok"), (True, "ok"), (False, "revoked"), (True, "ok"), (False, "malformed"), (False, "malformed")]
    assert [a["balance"] for a in answers[:2]] + [answers[3]["balance"]] == [20, 10, 30]
    if db.is_postgres():  # one read for the group; only the repeated card is read again, by its own scan
        assert len(batches) == 1 and len(lookups) == 1
        scanned_ids = [(await cards.card(pk)).card_id_hex for pk in desk["card_pks"][::2]]
        assert sorted(json.loads(batches[0][0])) == sorted(scanned_ids)
        assert json.loads(batches[0][1]) == [int(number[:-1])]  # the serial: the number without its check digit
    else:  # SQLite reads in process, inside the group's write transaction: each scan reads its own
        assert not batches and len(lookups) == 4
    assert [await f.balance(a) for a in desk["accounts"]] == [30, 10, 0] and await ledger.verify() == []


async def test_a_group_checks_each_phone_codes_signature_once(desk, monkeypatch):
    """A phone code expires, so its verification is never cached; the group's read-ahead checks it and hands the
    scan what it found instead of the scan checking it again (a signature check is a scan's costliest step)."""
    await scans.scan(desk["device"], award(desk, desk["urls"][0]), f.NOW)  # the issuer is now known as hot
    codes = []
    for pk in desk["card_pks"][:2]:
        view = await cards.card(pk)
        codes.append((await cards.phone_code(view.holder_person_id, pk, f.NOW)).url)
    checked = []
    real_verify = cards.cards.verify

    def verify(token, keys, now):
        checked.append(token)
        return real_verify(token, keys, now)

    monkeypatch.setattr(cards.cards, "verify", verify)
    answers = await asyncio.gather(*(scans.scan(desk["device"], award(desk, code), f.NOW) for code in codes))
    assert [(a["accepted"], a["balance"]) for a in answers] == [(True, 20), (True, 10)]
    assert len(checked) == 2 and len(set(checked)) == 2  # once a scan, on either engine
    assert [await f.balance(a) for a in desk["accounts"]] == [20, 10, 0] and await ledger.verify() == []


async def test_a_card_read_ahead_is_taken_once(clean_db):
    """db.read_ahead gives a row read ahead to the first lookup only; later ones (which may follow a write) read."""
    if not db.is_postgres():
        pytest.skip("groups read ahead on PostgreSQL only")
    seen = []

    async def read_many(keys):
        seen.append(list(keys))
        return {("t", k): {"k": k} for k in keys if k != "gone"} | {("t", "gone"): None}

    async def job(key):
        return db.read_ahead(("t", key)), db.read_ahead(("t", key))

    results = await asyncio.gather(*(db.grouped(lambda k=k: job(k), ahead=(read_many, k)) for k in ("a", "b", "gone")))
    assert seen == [["a", "b", "gone"]]
    assert results == [((True, {"k": "a"}), (False, None)), ((True, {"k": "b"}), (False, None)),
                       ((True, None), (False, None))]
    assert await db.grouped(lambda: job("a")) == ((False, None), (False, None))  # outside a group's read


async def test_a_group_whose_read_ahead_fails_runs_again_each_scan_reading_its_own_card(desk, monkeypatch):
    if not db.is_postgres():
        pytest.skip("groups read ahead on PostgreSQL only")
    passes = count_passes(monkeypatch)

    async def broken(texts):
        raise ConnectionResetError("the database went away for a moment")

    monkeypatch.setattr(cards, "rows_ahead", broken)
    answers = await asyncio.gather(*(scans.scan(desk["device"], award(desk, desk["urls"][i]), f.NOW) for i in range(2)))
    assert [(a["accepted"], a["balance"]) for a in answers] == [(True, 10), (True, 10)]
    assert passes == [True, False] and await ledger.verify() == []
