"""Recording, reversing and checking ledger transactions. Every write is one database transaction."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from backend.accounts.tables import Account
from backend.db import (BalanceAfter, NewId, TTLCache, atomic, balance_settled, defer_balance_move, defer_insert,
                        defer_move, fetch, in_group, is_postgres, moved_now, moving_now, writes_deferred)
from backend.errors import Conflict, DomainError, NotFound
from backend.ledger import rules
from backend.ledger.rules import PostingDraft, TransactionDraft
from backend.ledger.tables import LedgerTransaction, Posting


class InsufficientBalance(Conflict):
    code = "insufficient_balance"


@dataclass(frozen=True)
class Recorded:
    transaction_id: int  # a db.NewId until its group commits, when record(deferrable=True) left it to the group
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


async def record(draft: TransactionDraft, *, deferrable: bool = False) -> Recorded:
    """`deferrable`: the caller uses the result only in rows it defers too (backend.db.defer_insert) and in the
    answer it returns. Then, on PostgreSQL in a group's first pass, a transaction that only credits accounts
    (and moves issuers) is written by the group's end statement: `transaction_id` is a db.NewId and the balances
    are db.BalanceAfter, whose values are there once the group has committed."""
    rules.check_draft(draft)
    try:
        async with atomic():
            deltas = rules.balance_deltas(draft.postings)
            written = _defer(draft, deltas) if deferrable and writes_deferred() else None
            written = written or await _write(draft, deltas)
    except DomainError:  # refused (a closed account, too little balance): not a replay, even though this call's
        raise  # own transaction row is there until the caller rolls back
    except Exception:
        # a concurrent request reversing the same transaction won the unique index (or the key, on SQLite's
        # other processes)
        existing = await _find_by_key(draft.idempotency_key)
        if existing:
            return await _replay(draft, existing)
        if draft.reverses_id is not None and await _reversal_of(draft.reverses_id):
            raise Conflict("already_reversed") from None
        raise
    if written is None:  # the key was used before: nothing new was written
        existing = await _find_by_key(draft.idempotency_key)
        if existing is None:  # cannot happen: a conflicting key is a committed one (or our own transaction's)
            raise RuntimeError("idempotency key taken by a transaction that is not there")
        return await _replay(draft, existing)
    txn_id, balances = written
    return Recorded(txn_id, created=True, balances=balances)


# Raw SQL: this runs on every scan, and piccolo's query building cost more than the statements themselves.
_INSERT_TRANSACTION = (
    "INSERT INTO ledger_transaction (kind, memo, actor, source_type, source_ref, source_label, idempotency_key,"
    " community, occurred_at, recorded_at, reverses) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id")
_INSERT_WITH_POSTINGS = (
    f"WITH t AS ({_INSERT_TRANSACTION}), p AS (INSERT INTO ledger_posting (txn, account, amount)"
    " SELECT t.id, v.account, v.amount FROM t, unnest(?::int[], ?::int[]) AS v(account, amount)) SELECT id FROM t")
# PostgreSQL, when one account's balance moves here (an award: the issuer's moves at the group's commit): the
# transaction, its postings and that move in one round trip. The move's guard is _MOVE_GUARDED's.
_INSERT_AND_MOVE = (
    f"WITH t AS ({_INSERT_TRANSACTION}), p AS (INSERT INTO ledger_posting (txn, account, amount)"
    " SELECT t.id, v.account, v.amount FROM t, unnest(?::int[], ?::int[]) AS v(account, amount)),"
    " m AS (UPDATE points_account a SET balance = a.balance + ?::int FROM t WHERE a.id = ? AND a.active"
    " AND (NOT ?::bool OR a.may_go_negative OR a.balance >= -?::int) RETURNING a.balance)"
    " SELECT t.id, (SELECT balance FROM m) AS balance, (SELECT count(*) FROM m) AS moved FROM t")
_MOVE = "UPDATE points_account SET balance = balance + ? WHERE id = ? AND active"
# the overdraw guard sits in the UPDATE itself, so it holds under concurrency: PostgreSQL locks the row,
# SQLite has a single writer
_MOVE_GUARDED = _MOVE + " AND (may_go_negative OR balance >= ?)"


def _transaction_row(draft: TransactionDraft) -> dict:
    """The ledger_transaction row of a draft, column by column in _INSERT_TRANSACTION's order."""
    return {"kind": draft.kind, "memo": draft.memo.strip(), "actor": draft.actor_id, "source_type": draft.source_type,
            "source_ref": draft.source_ref, "source_label": draft.source_label, "idempotency_key": draft.idempotency_key,
            "community": draft.community_id, "occurred_at": draft.occurred_at, "recorded_at": datetime.now(timezone.utc),
            "reverses": draft.reverses_id}


async def _write(draft: TransactionDraft, deltas: list[tuple[int, int]]) -> tuple[int, dict[int, int]] | None:
    """The transaction, its postings and the moved balances; None if its idempotency key is taken (the key's
    unique index decides, so two concurrent requests cannot both write)."""
    row = tuple(_transaction_row(draft).values())
    hot = await _hot_accounts() if in_group() else frozenset()
    for account_id, _ in deltas:
        if account_id not in hot:
            moving_now(account_id)  # before anything is written
    if is_postgres():
        moving = [(a, d) for a, d in deltas if a not in hot]
        if len(moving) == 1:  # the transaction, its postings and the one move: one round trip
            (account_id, delta), = moving
            inserted = await fetch(_INSERT_AND_MOVE, *row, [p.account_id for p in draft.postings],
                                   [p.amount for p in draft.postings], delta, account_id,
                                   delta < 0 and not draft.overdraft_ok, delta)
            if not inserted:
                return None
            txn_id = inserted[0]["id"]
            for hot_id in {p.account_id for p in draft.postings} & hot:
                defer_move(hot_id, txn_id)
            if not inserted[0]["moved"]:
                await _refuse_move(account_id, delta)
            return txn_id, {account_id: inserted[0]["balance"]}
        # one round trip for the transaction and its postings
        inserted = await fetch(_INSERT_WITH_POSTINGS, *row, [p.account_id for p in draft.postings],
                               [p.amount for p in draft.postings])
        if not inserted:
            return None
        txn_id = inserted[0]["id"]
    else:  # SQLite: statements on the loop's own connection, microseconds each
        inserted = await fetch(_INSERT_TRANSACTION, *row)
        if not inserted:
            return None
        txn_id = inserted[0]["id"]
        values = ", ".join(["(?, ?, ?)"] * len(draft.postings))
        await fetch(f"INSERT INTO ledger_posting (txn, account, amount) VALUES {values}",
                    *(v for p in draft.postings for v in (txn_id, p.account_id, p.amount)))
    balances = {}
    for account_id, delta in deltas:
        if account_id in hot and defer_move(account_id, txn_id):
            continue  # an issuer, moved once at the group's commit (backend.db.grouped); no balance to report
        balances[account_id] = await _apply(account_id, delta, draft.overdraft_ok)
    return txn_id, balances


def _defer(draft: TransactionDraft, deltas: list[tuple[int, int]]) -> tuple[NewId, dict[int, BalanceAfter]] | None:
    """The transaction, its postings and its moves, left to the group's end statement; None if a move needs the
    overdraw guard, or for a reversal (written as they go). A taken idempotency key fails that statement, and the
    group then runs again, each job writing as it goes (and finding the key)."""
    hot = _hot.get("issuers") or frozenset()
    if draft.reverses_id is not None or any((delta < 0 or moved_now(account_id)) and account_id not in hot
                                            for account_id, delta in deltas):
        return None
    txn = NewId(LedgerTransaction)
    defer_insert(LedgerTransaction, {"id": txn, **_transaction_row(draft)})
    for posting in draft.postings:
        defer_insert(Posting, {"txn": txn, "account": posting.account_id, "amount": posting.amount})
    balances = {account_id: defer_balance_move(account_id, delta) for account_id, delta in deltas}
    return txn, {account_id: balance for account_id, balance in balances.items() if account_id not in hot}


# Issuer accounts: nearly every transaction moves one, they may go negative (no guard to check) and they are
# set up once. Inside a group commit their balance moves at the commit (see backend.db.grouped).
_hot = TTLCache(60.0)


async def _hot_accounts() -> frozenset[int]:
    found = _hot.get("issuers")
    if found is None:
        rows = await fetch("SELECT id FROM points_account WHERE kind = 'issuer' AND may_go_negative AND active")
        found = _hot.put("issuers", frozenset(r["id"] for r in rows))
    return found


async def _apply(account_id: int, delta: int, overdraft_ok: bool = False) -> int:
    """Move the cached balance; refuse (InsufficientBalance) to take an account below zero unless it may go
    negative or the draft allows an overdraft."""
    if delta < 0 and not overdraft_ok:
        updated = await fetch(_MOVE_GUARDED + " RETURNING balance", delta, account_id, -delta)
    else:
        updated = await fetch(_MOVE + " RETURNING balance", delta, account_id)
    if updated:
        return updated[0]["balance"]
    await _refuse_move(account_id, delta)


async def balance(account_id: int) -> int | None:
    """An account's balance as the current transaction sees it (None: no such account)."""
    balance_settled(account_id)  # a move of it left to a group's end is not in the row yet
    row = await Account.select(Account.balance).where(Account.id == account_id).first()
    return row["balance"] if row else None


async def _refuse_move(account_id: int, delta: int) -> None:
    """Why a move did not happen: the account is not there (or closed), or it would go below zero."""
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

