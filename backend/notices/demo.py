"""The demo's monthly public notice in 东园: a month closed and published by the community admin through the
notices service, as staff would, so a fresh demo has a notice on the public screen, on `/notice` and on
`/staff/notices`, with its objection period open (residents can object at once).

The month published is the one before last (`MONTHS_BACK`): the month just ended is left for staff to close
themselves, which is what `/staff/notices` offers by default (and what the notices and standings browser tests
do). The demo history (backend/demo/plan.py) runs on fixed dates; when the clock has moved past it, that month
has no earnings, so a few of the latest demo awards are recorded again through `ledger.record`, dated in that
month, before it is closed (never an edit of ledger rows)."""
from __future__ import annotations

from calendar import monthrange
from datetime import datetime, timedelta

from backend.clock import local_date, zone
from backend.ledger import service as ledger
from backend.ledger.rules import PostingDraft, TransactionDraft
from backend.ledger.tables import LedgerTransaction, Posting
from backend.notices import rules, service
from backend.people import service as people

MONTHS_BACK = 2  # the month before last: the month just ended stays for staff to close
EARNING_KINDS = ("award", "hours")
BACKDATED = 12  # awards recorded into the month when the demo history has none there


def demo_month(now: datetime, months_back: int = MONTHS_BACK) -> str:
    month = rules.month_of(local_date(now))
    for _ in range(months_back):
        first = rules.month_start(month)
        month = rules.month_of(first - timedelta(days=1))
    return month


async def earnings_in(community_id: int, month: str) -> int:
    start, end = rules.month_bounds(month, zone())
    return await LedgerTransaction.count().where(
        (LedgerTransaction.community == community_id) & LedgerTransaction.kind.is_in(list(EARNING_KINDS))
        & (LedgerTransaction.occurred_at >= start) & (LedgerTransaction.occurred_at < end))


async def _backdate_awards(community_id: int, month: str) -> int:
    """Record the community's latest demo awards again, dated in `month`; how many were recorded."""
    latest = await LedgerTransaction.select(
        LedgerTransaction.id, LedgerTransaction.memo, LedgerTransaction.actor, LedgerTransaction.source_label,
        LedgerTransaction.occurred_at).where(
        (LedgerTransaction.community == community_id) & (LedgerTransaction.kind == "award")
        & (LedgerTransaction.source_type == "demo")).order_by(LedgerTransaction.id, ascending=False).limit(BACKDATED)
    first = rules.month_start(month)
    days = monthrange(first.year, first.month)[1]
    recorded = 0
    for i, txn in enumerate(reversed(latest)):
        postings = await Posting.select(Posting.account, Posting.amount).where(Posting.txn == txn["id"]).order_by(
            Posting.id)
        local = txn["occurred_at"].astimezone(zone())
        day = first.replace(day=1 + (i * days) // max(len(latest), 1))
        await ledger.record(TransactionDraft(
            kind="award", memo=txn["memo"], idempotency_key=f"demo:notice:{month}:{i + 1:02d}",
            community_id=community_id,
            occurred_at=datetime(day.year, day.month, day.day, local.hour, local.minute, tzinfo=zone()),
            postings=tuple(PostingDraft(p["account"], p["amount"]) for p in postings), actor_id=txn["actor"],
            source_type="demo", source_label=txn["source_label"]))
        recorded += 1
    return recorded


async def add_demo_notice(community_id: int, admin_user_id: int, now: datetime,
                          months_back: int = MONTHS_BACK) -> int:
    """Close and publish the community's notice for that month (7 days for objections, from `now`); its id."""
    month = demo_month(now, months_back)
    if not await earnings_in(community_id, month):
        await _backdate_awards(community_id, month)
    admin = await people.principal(admin_user_id)
    notice_id = await service.close_month(admin, community_id, month, now)
    await service.publish(admin, notice_id, now)
    return notice_id
