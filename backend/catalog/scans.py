"""The award scan: a station awards a catalogue item to the card holder, at the value in force that day, within
the item's per-person caps (a refusal says which cap)."""
from backend.accounts.service import issuer_of
from backend.catalog import rules, service
from backend.clock import local_date
from backend.db import TTLCache
from backend.ledger import service as ledger
from backend.ledger.rules import PostingDraft, TransactionDraft
from backend.scans.rules import Refused
from backend.scans.service import Outcome, ScanContext


# a community's issuer account never changes once set up; kept a minute (every award needs it)
_issuers = TTLCache(60.0)


async def _issuer(community_id: int) -> int:
    found = _issuers.get(community_id)
    if found is None:
        found = _issuers.put(community_id, await issuer_of(community_id))
    return found


async def award(ctx: ScanContext) -> Outcome:
    item_id = ctx.request.details.get("item_id")
    if not isinstance(item_id, int) or item_id not in ctx.station["award_items"]:
        raise Refused("item_not_allowed")
    day = local_date(ctx.request.scanned_at)
    item = await service.item_in_force(item_id, day)
    if not rules.colour_may_earn(item.colours, ctx.card.account_colour):
        raise Refused("colour_not_eligible")
    await service.check_caps(item, ctx.card.account_id, ctx.card.holder_person_id, day)
    issuer = await _issuer(ctx.card.community_id)
    ctx.begin_writes()  # every refusal comes before this (see scans.service.Mode.marks_writes)
    recorded = await ledger.record(TransactionDraft(
        kind="award", memo=item.name, idempotency_key=ctx.ledger_key, community_id=ctx.card.community_id,
        occurred_at=ctx.request.scanned_at,
        postings=(PostingDraft(issuer, -item.points), PostingDraft(ctx.card.account_id, item.points)),
        source_type="scan", source_ref=str(ctx.request.scan_id), source_label=f"{item.label} · {ctx.station['name']}",
    ), deferrable=not item.caps.any and not ctx.request.offline)  # see below: its award line is then deferred too,
    # and so is an online scan's row (an offline one's goes in at once: see scans.service._judge)
    # an undone scan reverses this line, which takes the award out of the caps' count
    await service.record_award(item.id, ctx.card.account_id, ctx.card.holder_person_id, day, recorded.transaction_id, "scan",
                               capped=item.caps.any)
    return Outcome(points=item.points, balance=recorded.balances.get(ctx.card.account_id), txn_id=recorded.transaction_id,
                   summary={"item": item.label})
