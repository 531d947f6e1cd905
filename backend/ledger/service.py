"""Recording, reversing and checking ledger transactions. Every write is one database transaction."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from backend.accounts.tables import Account
from backend.db import atomic
from backend.errors import Conflict, NotFound
from backend.ledger import rules
from backend.ledger.rules import PostingDraft, TransactionDraft
from backend.ledger.tables import LedgerTransaction, Posting


class InsufficientBalance(Conflict):
    code = "insufficient_balance"


@dataclass(frozen=True)
class Recorded:
    transaction_id: int
    # False when the idempotency key had been used for the same transaction before: nothing new was written
    created: bool
    # the accounts' balances right after this transaction (only when it was created)
    balances: dict[int, int] = field(default_factory=dict)


async def _find_by_key(key: str) -> dict | None:
    return await LedgerTransaction.select().where(LedgerTransaction.idempotency_key == key).first()


async def _postings_of(txn_id: int) -> list[PostingDraft]:
    rows = await Posting.select(Posting.account, Posting.amount).where(Posting.txn == txn_id)
    return [PostingDraft(r["account"], r["amount"]) for r in rows]


async def _replay(draft: TransactionDraft, existing: dict) -> Recorded:
    """A key seen before: the same transaction is a harmless replay, a different one is a client bug."""
    if existing["kind"] != draft.kind or not rules.same_postings(await _postings_of(existing["id"]), draft.postings):
        raise Conflict("idempotency_key_reused")
    return Recorded(existing["id"], created=False)


async def record(draft: TransactionDraft) -> Recorded:
    rules.check_draft(draft)
    existing = await _find_by_key(draft.idempotency_key)
    if existing:
        return await _replay(draft, existing)
    try:
        async with atomic():
            txn_id, balances = await _write(draft)
    except Conflict:
        raise
    except Exception:
        # a concurrent request with the same key (or reversing the same transaction) won the unique index
        existing = await _find_by_key(draft.idempotency_key)
        if existing:
            return await _replay(draft, existing)
        if draft.reverses_id is not None and await _reversal_of(draft.reverses_id):
            raise Conflict("already_reversed") from None
        raise
    return Recorded(txn_id, created=True, balances=balances)


async def _write(draft: TransactionDraft) -> tuple[int, dict[int, int]]:
    inserted = await LedgerTransaction.insert(
        LedgerTransaction(
            kind=draft.kind,
            memo=draft.memo.strip(),
            actor=draft.actor_id,
            source_type=draft.source_type,
            source_ref=draft.source_ref,
            source_label=draft.source_label,
            idempotency_key=draft.idempotency_key,
            community=draft.community_id,
            occurred_at=draft.occurred_at,
            recorded_at=datetime.now(timezone.utc),
            reverses=draft.reverses_id,
        )
    )
    txn_id = inserted[0]["id"]
    await Posting.insert(*(Posting(txn=txn_id, account=p.account_id, amount=p.amount) for p in draft.postings))
    balances = {account_id: await _apply(account_id, delta, draft.overdraft_ok) for account_id, delta in rules.balance_deltas(draft.postings)}
    return txn_id, balances


async def _apply(account_id: int, delta: int, overdraft_ok: bool = False) -> int:
    """Move the cached balance. The guard sits in the UPDATE itself, so it holds under concurrency:
    PostgreSQL locks the row, SQLite has a single writer."""
    query = Account.update({Account.balance: Account.balance + delta}, use_auto_update=False).where(
        (Account.id == account_id) & (Account.active == True)  # noqa: E712 — piccolo builds SQL from ==
    )
    if delta < 0 and not overdraft_ok:
        query = query.where((Account.may_go_negative == True) | (Account.balance >= -delta))  # noqa: E712
    updated = await query.returning(Account.balance)
    if updated:
        return updated[0]["balance"]
    account = await Account.select(Account.balance, Account.active).where(Account.id == account_id).first()
    if account is None or not account["active"]:
        raise NotFound("account_not_found", account_id=account_id)
    raise InsufficientBalance(account_id=account_id, balance=account["balance"], needed=-delta)


async def _reversal_of(txn_id: int) -> dict | None:
    return await LedgerTransaction.select(LedgerTransaction.id).where(LedgerTransaction.reverses == txn_id).first()


async def reverse(txn_id: int, *, memo: str, actor_id: int | None, idempotency_key: str, now: datetime) -> Recorded:
    """A new transaction with every posting negated, pointing at the original; at most once."""
    original = await LedgerTransaction.select().where(LedgerTransaction.id == txn_id).first()
    if original is None:
        raise NotFound("transaction_not_found")
    existing = await _find_by_key(idempotency_key)
    if existing and existing["reverses"] == txn_id:
        return Recorded(existing["id"], created=False)
    rules.check_reversible(original["kind"], already_reversed=bool(await _reversal_of(txn_id)))
    draft = TransactionDraft(
        kind="reversal",
        memo=memo,
        idempotency_key=idempotency_key,
        community_id=original["community"],
        occurred_at=now,
        postings=rules.reversal_postings(await _postings_of(txn_id)),
        actor_id=actor_id,
        source_type="reversal",
        source_ref=str(txn_id),
        source_label=original["source_label"],
        reverses_id=txn_id,
    )
    return await record(draft)


@dataclass(frozen=True)
class LedgerProblem:
    what: str  # "balance_mismatch" | "unbalanced_transaction"
    ref: int
    expected: int
    found: int


async def verify() -> list[LedgerProblem]:
    """Every cached balance equals the sum of its postings, and every transaction sums to zero."""
    problems: list[LedgerProblem] = []
    rows = await Account.raw(
        "SELECT a.id, a.balance, COALESCE(SUM(p.amount), 0) AS total FROM points_account a "
        "LEFT JOIN ledger_posting p ON p.account = a.id GROUP BY a.id, a.balance"
    )
    problems += [LedgerProblem("balance_mismatch", r["id"], r["total"], r["balance"]) for r in rows if r["total"] != r["balance"]]
    rows = await Posting.raw(
        "SELECT t.id, COALESCE(SUM(p.amount), 0) AS total, COUNT(p.id) AS n FROM ledger_transaction t "
        "LEFT JOIN ledger_posting p ON p.txn = t.id GROUP BY t.id HAVING COALESCE(SUM(p.amount), 0) <> 0 OR COUNT(p.id) < 2"
    )
    problems += [LedgerProblem("unbalanced_transaction", r["id"], 0, r["total"]) for r in rows]
    return problems

