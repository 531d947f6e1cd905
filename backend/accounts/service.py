"""Reading accounts and their history, and staff adjustments (manual award/deduction, reversal)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from backend.accounts.tables import Account
from backend.audit import service as audit
from backend.db import atomic
from backend.errors import InvalidInput, NotFound
from backend.ledger import service as ledger
from backend.ledger.rules import PostingDraft, TransactionDraft
from backend.ledger.tables import LedgerTransaction, Posting
from backend.people.rules import Principal, require_scope

PAGE_SIZE = 20


@dataclass(frozen=True)
class HistoryLine:
    transaction_id: int
    kind: str
    memo: str
    amount: int
    occurred_at: datetime
    recorded_at: datetime
    source_type: str
    source_label: str | None
    actor: str | None
    counterparty: str | None
    reverses: int | None
    reversed_by: int | None


async def accounts_of_person(person_id: int) -> list[dict]:
    return await Account.select(
        Account.id, Account.kind, Account.colour, Account.name, Account.balance, Account.community.name.as_alias("community_name")
    ).where((Account.holder == person_id) & (Account.active == True)).order_by(Account.id)  # noqa: E712


async def account(account_id: int) -> dict:
    row = await Account.select(
        Account.all_columns(), Account.community.path.as_alias("community_path"),
        Account.community.name.as_alias("community_name"), Account.holder.home.path.as_alias("home_path"),
    ).where(Account.id == account_id).first()
    if row is None:
        raise NotFound("account_not_found")
    return row


async def history(account_id: int, page: int = 1, kind: str | None = None) -> tuple[list[HistoryLine], int]:
    """One page of an account's lines, newest deed first, each saying why; and the number of pages."""
    where = Posting.account == account_id
    if kind:
        where &= Posting.txn.kind == kind
    total = await Posting.count().where(where)
    rows = await Posting.select(
        Posting.amount, Posting.txn.id.as_alias("tid"), Posting.txn.kind.as_alias("kind"), Posting.txn.memo.as_alias("memo"),
        Posting.txn.occurred_at.as_alias("occurred_at"), Posting.txn.recorded_at.as_alias("recorded_at"),
        Posting.txn.source_type.as_alias("source_type"), Posting.txn.source_label.as_alias("source_label"),
        Posting.txn.actor.display_name.as_alias("actor"), Posting.txn.reverses.as_alias("reverses"),
    ).where(where).order_by(Posting.txn.occurred_at, ascending=False).order_by(Posting.id, ascending=False).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ids = [r["tid"] for r in rows]
    counterparties: dict[int, str] = {}
    reversed_by: dict[int, int] = {}
    if ids:
        for r in await Posting.select(Posting.txn, Posting.account.name.as_alias("name")).where(Posting.txn.is_in(ids) & (Posting.account != account_id)):
            counterparties.setdefault(r["txn"], r["name"])
        for r in await LedgerTransaction.select(LedgerTransaction.id, LedgerTransaction.reverses).where(LedgerTransaction.reverses.is_in(ids)):
            reversed_by[r["reverses"]] = r["id"]
    lines = [HistoryLine(
        transaction_id=r["tid"], kind=r["kind"], memo=r["memo"], amount=r["amount"], occurred_at=r["occurred_at"],
        recorded_at=r["recorded_at"], source_type=r["source_type"], source_label=r["source_label"], actor=r["actor"],
        counterparty=counterparties.get(r["tid"]), reverses=r["reverses"], reversed_by=reversed_by.get(r["tid"]),
    ) for r in rows]
    return lines, max(1, -(-total // PAGE_SIZE))


async def issuer_of(community_id: int) -> int:
    row = await Account.select(Account.id).where((Account.kind == "issuer") & (Account.community == community_id)).first()
    if row is None:
        raise NotFound("no_issuer")
    return row["id"]


async def adjust(principal: Principal, account_id: int, direction: str, points: int, memo: str,
                 idempotency_key: str, occurred_at: datetime, now: datetime) -> ledger.Recorded:
    """A manual award (issuer -> account) or deduction (account -> issuer), with a mandatory reason."""
    target = await account(account_id)
    require_scope(principal, "ledger.adjust", target["home_path"] or target["community_path"])
    if direction not in ("award", "deduction"):
        raise InvalidInput("bad_direction", field="direction")
    if type(points) is not int or points <= 0:
        raise InvalidInput("bad_amount", field="points")
    issuer = await issuer_of(target["community"])
    sign = 1 if direction == "award" else -1
    draft = TransactionDraft(
        kind=direction, memo=memo, idempotency_key=idempotency_key, community_id=target["community"],
        occurred_at=occurred_at, postings=(PostingDraft(issuer, -sign * points), PostingDraft(account_id, sign * points)),
        actor_id=principal.user_id, source_type="manual",
    )
    async with atomic():
        recorded = await ledger.record(draft)
        if recorded.created:
            await audit.log(principal.user_id, f"ledger.{direction}", "account", account_id, target["community"],
                            before={"balance": target["balance"]},
                            after={"balance": target["balance"] + sign * points, "points": points, "memo": memo,
                                   "transaction": recorded.transaction_id})
    return recorded


async def reverse_transaction(principal: Principal, txn_id: int, memo: str, idempotency_key: str, now: datetime) -> ledger.Recorded:
    """Staff correct a mistake: a reversing transaction, logged, only inside their communities."""
    original = await LedgerTransaction.select(
        LedgerTransaction.id, LedgerTransaction.community, LedgerTransaction.community.path.as_alias("path"),
    ).where(LedgerTransaction.id == txn_id).first()
    if original is None:
        raise NotFound("transaction_not_found")
    require_scope(principal, "ledger.reverse", original["path"])
    if not memo.strip():
        raise InvalidInput("memo_required", field="memo")
    async with atomic():
        recorded = await ledger.reverse(txn_id, memo=memo, actor_id=principal.user_id, idempotency_key=idempotency_key, now=now)
        if recorded.created:
            await audit.log(principal.user_id, "ledger.reversal", "transaction", txn_id, original["community"],
                            after={"reversal": recorded.transaction_id, "memo": memo})
    return recorded
