"""The ledger against a real database; `make test` runs this file on SQLite and on PostgreSQL."""
import asyncio
from datetime import datetime, timezone
from uuid import uuid4

import pytest

from backend.errors import Conflict, InvalidInput
from backend.ledger import service as ledger
from backend.ledger.rules import PostingDraft, TransactionDraft
from backend.ledger.tables import LedgerTransaction, Posting
from tests import factories as f

pytestmark = pytest.mark.db


@pytest.fixture
async def world(clean_db):
    t = await f.tree()
    issuer = await f.issuer(t["c1"])
    _, alice = await f.person_account("王小明", t["unit"], t["c1"])
    _, shop = await f.person_account("积分超市", t["unit"], t["c1"])
    return {"tree": t, "issuer": issuer, "alice": alice, "shop": shop, "c1": t["c1"]}


async def test_award_moves_points_and_balances_cache(world):
    await f.award(world["issuer"], world["alice"], 20, world["c1"])
    assert await f.balance(world["alice"]) == 20
    assert await f.balance(world["issuer"]) == -20
    assert await ledger.verify() == []


async def test_same_idempotency_key_is_recorded_once(world):
    first = await f.award(world["issuer"], world["alice"], 10, world["c1"], key="deed-1")
    again = await f.award(world["issuer"], world["alice"], 10, world["c1"], key="deed-1")
    assert first.created and not again.created and first.transaction_id == again.transaction_id
    assert await f.balance(world["alice"]) == 10
    with pytest.raises(Conflict, match="idempotency_key_reused"):
        await f.award(world["issuer"], world["alice"], 99, world["c1"], key="deed-1")


async def test_spending_beyond_balance_is_refused_and_nothing_is_written(world):
    await f.award(world["issuer"], world["alice"], 15, world["c1"])
    before = await LedgerTransaction.count()
    with pytest.raises(ledger.InsufficientBalance) as err:
        await f.spend(world["alice"], world["shop"], 16, world["c1"])
    assert err.value.params == {"account_id": world["alice"], "balance": 15, "needed": 16}
    assert await LedgerTransaction.count() == before
    assert await Posting.count() == 2
    assert await f.balance(world["alice"]) == 15 and await f.balance(world["shop"]) == 0


async def test_unbalanced_draft_writes_nothing(world):
    draft = TransactionDraft(kind="award", memo="x", idempotency_key="u1", community_id=world["c1"],
                             occurred_at=f.NOW, postings=(PostingDraft(world["issuer"], -5), PostingDraft(world["alice"], 4)))
    with pytest.raises(InvalidInput, match="unbalanced"):
        await ledger.record(draft)
    assert await LedgerTransaction.count() == 0


async def test_reversal_restores_balances_once_and_never_of_a_reversal(world):
    txn = await f.award(world["issuer"], world["alice"], 20, world["c1"])
    now = datetime.now(timezone.utc)
    rev = await ledger.reverse(txn.transaction_id, memo="录错了", actor_id=None, idempotency_key="rev-1", now=now)
    assert await f.balance(world["alice"]) == 0
    # the same request again (a double click) is the same reversal, not an error
    assert (await ledger.reverse(txn.transaction_id, memo="录错了", actor_id=None, idempotency_key="rev-1", now=now)).transaction_id == rev.transaction_id
    with pytest.raises(Conflict, match="already_reversed"):
        await ledger.reverse(txn.transaction_id, memo="again", actor_id=None, idempotency_key="rev-2", now=now)
    with pytest.raises(Conflict, match="reversal_of_reversal"):
        await ledger.reverse(rev.transaction_id, memo="undo undo", actor_id=None, idempotency_key="rev-3", now=now)
    assert await ledger.verify() == []


async def test_reversal_that_would_overdraw_is_refused(world):
    txn = await f.award(world["issuer"], world["alice"], 20, world["c1"])
    await f.spend(world["alice"], world["shop"], 15, world["c1"])
    with pytest.raises(ledger.InsufficientBalance):
        await ledger.reverse(txn.transaction_id, memo="x", actor_id=None, idempotency_key="r", now=f.NOW)
    assert await f.balance(world["alice"]) == 5


async def test_concurrent_spending_never_overdraws(world):
    """30 redemptions of 10 race for a balance of 100: exactly 10 succeed, the balance ends at 0."""
    await f.award(world["issuer"], world["alice"], 100, world["c1"])

    async def attempt():
        try:
            await f.spend(world["alice"], world["shop"], 10, world["c1"])
            return True
        except ledger.InsufficientBalance:
            return False

    results = await asyncio.gather(*(attempt() for _ in range(30)))
    assert sum(results) == 10
    assert await f.balance(world["alice"]) == 0
    assert await f.balance(world["shop"]) == 100
    assert await ledger.verify() == []


async def test_concurrent_reversals_reverse_once(world):
    txn = await f.award(world["issuer"], world["alice"], 20, world["c1"])

    async def attempt(i):
        try:
            await ledger.reverse(txn.transaction_id, memo="x", actor_id=None, idempotency_key=f"r{i}", now=f.NOW)
            return True
        except Conflict:
            return False

    assert sum(await asyncio.gather(*(attempt(i) for i in range(8)))) == 1
    assert await f.balance(world["alice"]) == 0


async def test_verify_finds_a_tampered_balance(world):
    from backend.accounts.tables import Account

    await f.award(world["issuer"], world["alice"], 20, world["c1"])
    await Account.update({Account.balance: 25}).where(Account.id == world["alice"])
    problems = await ledger.verify()
    assert [(p.what, p.ref, p.expected, p.found) for p in problems] == [("balance_mismatch", world["alice"], 20, 25)]
    await Posting.insert(Posting(txn=(await LedgerTransaction.select().first())["id"], account=world["shop"], amount=3))
    assert {p.what for p in await ledger.verify()} == {"balance_mismatch", "unbalanced_transaction"}


async def test_the_database_itself_lets_a_transaction_be_reversed_only_once(world):
    """Below the service's own check: the unique index on `reverses` (partial on PostgreSQL) refuses a second
    reversing row, while any number of transactions reverse nothing."""
    from backend.db import fetch

    first = await f.award(world["issuer"], world["alice"], 5, world["c1"])
    await f.award(world["issuer"], world["alice"], 5, world["c1"])  # a second one that reverses nothing
    row = ("reversal", "x", "scan", world["c1"], f.NOW, f.NOW, first.transaction_id)
    sql = ("INSERT INTO ledger_transaction (kind, memo, source_type, idempotency_key, community, occurred_at,"
           " recorded_at, reverses) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
    await fetch(sql, *row[:3], "rev-a", *row[3:])
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        await fetch(sql, *row[:3], "rev-b", *row[3:])
    assert await LedgerTransaction.count().where(LedgerTransaction.reverses.is_null()) == 2
