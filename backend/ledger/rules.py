"""Pure ledger decisions: no I/O, easy to test exhaustively."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from backend.errors import Conflict, InvalidInput

KINDS = ("award", "deduction", "redemption", "reversal", "opening", "hours", "transfer")
# what counts as "earned" wherever earnings are shown (notices, boards, statements): points credited for deeds and
# volunteer hours; redemptions, deductions, openings and transfers are not earning
EARNING_KINDS = ("award", "hours")
# a memo is mandatory for anything a person types in by hand
MAX_MEMO = 500
MAX_POINTS_PER_POSTING = 1_000_000


@dataclass(frozen=True)
class PostingDraft:
    account_id: int
    amount: int


@dataclass(frozen=True)
class TransactionDraft:
    kind: str
    memo: str
    idempotency_key: str
    community_id: int
    occurred_at: datetime
    postings: tuple[PostingDraft, ...]
    actor_id: int | None = None
    source_type: str = "manual"
    source_ref: str | None = None
    source_label: str | None = None
    reverses_id: int | None = None
    # an offline redemption the station already handed out: it may take the balance below zero (the account then
    # shows what it owes); only the offline conflict policy sets this
    overdraft_ok: bool = False


def check_draft(draft: TransactionDraft) -> None:
    """Whole numbers, at least two postings, summing to zero, one posting per account."""
    if draft.kind not in KINDS:
        raise InvalidInput("unknown_kind", kind=draft.kind)
    if not draft.memo.strip():
        raise InvalidInput("memo_required", field="memo")
    if len(draft.memo) > MAX_MEMO:
        raise InvalidInput("memo_too_long", field="memo", max=MAX_MEMO)
    if not draft.idempotency_key or len(draft.idempotency_key) > 100:
        raise InvalidInput("bad_idempotency_key")
    if draft.occurred_at.tzinfo is None:
        raise InvalidInput("naive_time")
    if len(draft.postings) < 2:
        raise InvalidInput("unbalanced")
    accounts = [p.account_id for p in draft.postings]
    if len(set(accounts)) != len(accounts):
        raise InvalidInput("duplicate_account")
    for p in draft.postings:
        # bool is an int in Python; a True amount is a bug, not one point
        if type(p.amount) is not int or p.amount == 0 or abs(p.amount) > MAX_POINTS_PER_POSTING:
            raise InvalidInput("bad_amount", field="amount")
    if sum(p.amount for p in draft.postings) != 0:
        raise InvalidInput("unbalanced")


def check_reversible(kind: str, already_reversed: bool) -> None:
    if kind == "reversal":
        raise Conflict("reversal_of_reversal")
    if already_reversed:
        raise Conflict("already_reversed")


def reversal_postings(original: list[PostingDraft]) -> tuple[PostingDraft, ...]:
    return tuple(PostingDraft(p.account_id, -p.amount) for p in original)


def same_postings(a: list[PostingDraft] | tuple[PostingDraft, ...], b: list[PostingDraft] | tuple[PostingDraft, ...]) -> bool:
    return sorted((p.account_id, p.amount) for p in a) == sorted((p.account_id, p.amount) for p in b)


def balance_deltas(postings: tuple[PostingDraft, ...]) -> list[tuple[int, int]]:
    """(account_id, delta) in account order, so concurrent transactions lock rows in one order (no deadlock)."""
    deltas: dict[int, int] = defaultdict(int)
    for p in postings:
        deltas[p.account_id] += p.amount
    return sorted(deltas.items())

