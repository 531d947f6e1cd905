"""Write the demo plan in one transaction: the tree through `community.add_node`, users through
`people.create_user`, every redemption, deduction and reversal through `ledger.record` / `ledger.reverse`.

People and accounts go in as bulk inserts: there is no service for them yet, and they carry no rules
beyond their columns. Awards (four in five of the transactions) go in many rows per statement by
default: `ledger.record` costs about 5 ms a call on SQLite (five queries), which made the whole load
take 15 s instead of 4. The bulk path checks each draft with the ledger's own `rules.check_draft`,
writes the same columns as `ledger.service._write`, and brings every cached balance up to date before
anything spends from it, so the overdraw guard of `ledger.record` judges real balances;
`ledger.verify()` proves the result. `load_demo(bulk_awards=False)` sends every award through
`ledger.record` instead.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from backend.accounts.tables import Account
from backend.community import service as community
from backend.community.tables import Node
from backend.db import atomic
from backend.demo import data
from backend.demo.plan import SEED, Plan, TxnPlan, build_plan
from backend.ledger import rules
from backend.ledger import service as ledger
from backend.ledger.rules import PostingDraft, TransactionDraft
from backend.ledger.tables import LedgerTransaction, Posting
from backend.people import service as people
from backend.people.tables import Person, User
from backend.servicecards import service as servicecards

# every demo user signs in with this; `linli demo load` prints it
DEMO_PASSWORD = "linli-demo-2026"
OPENED = datetime(2026, 6, 1, 1, 0, tzinfo=timezone.utc)  # when the community's own accounts were opened
_CHUNK = 100  # rows per bulk insert, well inside SQLite's limit on bound parameters


@dataclass(frozen=True)
class DemoSummary:
    """What the database holds after `load_demo()` (the whole database, which for a demo is the demo)."""

    created: bool  # False: the demo was there already and nothing was written
    nodes: int
    persons: int
    accounts: dict[str, int]  # kind -> count
    colours: dict[str, int]  # red | blue | green -> count of person accounts
    transactions: dict[str, int]  # kind -> count
    users: dict[str, str]  # username -> display name
    seconds: float = 0.0
    # the people resident1 and resident2 sign in as
    residents: dict[str, str] = field(default_factory=dict)

    @property
    def transaction_count(self) -> int:
        return sum(self.transactions.values())


async def demo_loaded() -> bool:
    """The demo street is there: loading again would duplicate everything."""
    return await Node.exists().where((Node.kind == "street") & (Node.name == data.STREET))


async def load_demo(seed: int = SEED, *, bulk_awards: bool = True) -> DemoSummary:
    """Build the demo community, or do nothing when it is already loaded. All or nothing."""
    started = time.perf_counter()
    plan = build_plan(seed)
    async with atomic():
        created = not await demo_loaded()
        if created:
            await _write(plan, bulk_awards)
    return await summary(created, time.perf_counter() - started)


async def _write(plan: Plan, bulk_awards: bool) -> None:
    nodes: dict[str, int] = {}
    for n in plan.nodes:
        nodes[n.key] = await community.add_node(n.kind, n.name, nodes[n.parent] if n.parent else None)

    persons: dict[int, int] = {}
    joined: dict[int, datetime] = {}
    for chunk in _chunks(plan.persons):
        rows = await Person.insert(*(Person(
            name=p.name, phone=p.phone, home=nodes[p.home], community=nodes[p.community],
            is_party_member=p.is_party_member, is_building_lead=p.is_building_lead, created_at=p.created_at,
        ) for p in chunk))
        for p, row in zip(chunk, rows, strict=True):
            persons[p.idx] = row["id"]
            joined[p.idx] = p.created_at

    accounts: dict[str, int] = {}
    for chunk in _chunks(plan.accounts):
        rows = await Account.insert(*(Account(
            kind=a.kind, colour=a.colour, holder=persons[a.person] if a.person is not None else None, name=a.name,
            community=nodes[a.community], may_go_negative=a.may_go_negative,
            created_at=joined[a.person] if a.person is not None else OPENED,
        ) for a in chunk))
        for a, row in zip(chunk, rows, strict=True):
            accounts[a.key] = row["id"]

    users: dict[str, int] = {}
    for u in plan.users:
        users[u.username] = await people.create_user(
            u.username, DEMO_PASSWORD, u.display_name,
            person_id=persons[u.person] if u.person is not None else None,
            role=u.role, node_id=nodes[u.node] if u.node else None,
            merchant_account_id=accounts[u.merchant_account] if u.merchant_account else None,
        )

    txns: dict[str, int] = {}
    awards = _AwardBatch()
    for t in plan.txns:
        actor = users[t.actor] if t.actor else None
        postings = tuple(PostingDraft(accounts[k], amount) for k, amount in t.postings)
        if bulk_awards and t.kind == "award":
            awards.add(_draft(t, nodes, postings, actor, None))
            continue
        # ids stay in time order, and the balances this transaction spends from are up to date
        txns.update(await awards.flush())
        await awards.settle({p.account_id for p in postings})
        if t.kind == "reversal":
            recorded = await ledger.reverse(txns[t.refers_to], memo=t.memo, actor_id=actor, idempotency_key=t.key,
                                            now=t.occurred_at)
        else:
            recorded = await ledger.record(_draft(t, nodes, postings, actor, txns.get(t.refers_to or "")))
        txns[t.key] = recorded.transaction_id
    txns.update(await awards.flush())
    await awards.settle(None)

    # one service card for every resident and organisation, a few hundred rows in a handful of statements
    await servicecards.issue_missing_cards(None, datetime.now(timezone.utc))

    # events in 东园 (one on now, one tomorrow, one next week); resident1 and five neighbours have signed up
    from backend.events.demo import add_demo_events

    residents = {u.username: u.person for u in plan.users if u.username.startswith("resident")}
    neighbours = [persons[p.idx] for p in plan.persons
                  if p.community == f"{data.STREET}/东园社区" and p.idx not in residents.values()]
    await add_demo_events(nodes[f"{data.STREET}/东园社区"], users["admin"], [persons[residents["resident1"]], *neighbours[:5]],
                          datetime.now(timezone.utc))

    # points-shop goods, merchant offers and redemption windows (东园 open today, 西园 closed: see redemption/demo.py)
    from backend.clock import local_date
    from backend.redemption.demo import add_demo_shop

    await add_demo_shop(
        {c: nodes[f"{data.STREET}/{c}"] for c in data.COMMUNITIES},
        {c: users[plan_demo_admin] for c, plan_demo_admin in (("东园社区", "admin"), ("西园社区", "district"))},
        {m: accounts[f"merchant:{m}"] for merchants in data.MERCHANTS.values() for m in merchants},
        {accounts[u.merchant_account]: users[u.username] for u in plan.users if u.merchant_account},
        local_date(datetime.now(timezone.utc)))

    # the points catalogue in the catalogue tables of both communities (in force from 2026-07-01; 东园 also has
    # this month's revision set), and resident2's claims waiting for the weekly review (see claims/demo.py)
    from backend.catalog.demo import add_demo_catalogue
    from backend.claims.demo import add_demo_claims

    east = await add_demo_catalogue(nodes[f"{data.STREET}/东园社区"], users["admin"], local_date(datetime.now(timezone.utc)), True)
    await add_demo_catalogue(nodes[f"{data.STREET}/西园社区"], users["district"], local_date(datetime.now(timezone.utc)), False)
    await add_demo_claims(users["resident2"], east, datetime.now(timezone.utc))

    # micro-wishes in 东园 on every board, one overdue (see wishes/demo.py)
    from backend.wishes.demo import add_demo_wishes

    await add_demo_wishes(nodes[f"{data.STREET}/东园社区"], users["admin"], users["station"], users["resident1"],
                          users["resident2"], [p for p in neighbours if p != persons[residents["resident2"]]], east,
                          datetime.now(timezone.utc))

    # in-service members in 东园 with their past monthly check-ins (see inservice/demo.py)
    from backend.inservice.demo import add_demo_inservice

    await add_demo_inservice(nodes[f"{data.STREET}/东园社区"], users["admin"], persons[residents["resident1"]], east,
                             datetime.now(timezone.utc))

    # last quarter's red-flag grids and this year's award shortlists in 东园 (see standings/demo.py)
    from backend.standings.demo import add_demo_standings

    await add_demo_standings(nodes[f"{data.STREET}/东园社区"], users["admin"], datetime.now(timezone.utc))

    # a published monthly notice in 东园 (the month before last; objections open for 7 days), so the public screen,
    # /notice and /staff/notices have one; last month is left for staff to close (see notices/demo.py)
    from backend.notices.demo import add_demo_notice

    await add_demo_notice(nodes[f"{data.STREET}/东园社区"], users["admin"], datetime.now(timezone.utc))


def _draft(t: TxnPlan, nodes: dict[str, int], postings: tuple[PostingDraft, ...], actor: int | None,
           refers_to: int | None) -> TransactionDraft:
    return TransactionDraft(
        kind=t.kind, memo=t.memo, idempotency_key=t.key, community_id=nodes[t.community], occurred_at=t.occurred_at,
        postings=postings, actor_id=actor, source_type="demo", source_ref=str(refers_to) if refers_to else None,
        source_label=t.label,
    )


class _AwardBatch:
    """Awards waiting to be written many rows per statement, and the balance changes not yet applied."""

    def __init__(self) -> None:
        self.drafts: list[TransactionDraft] = []
        self.unsettled: dict[int, int] = {}  # account id -> delta written in postings but not yet in the balance

    def add(self, draft: TransactionDraft) -> None:
        rules.check_draft(draft)
        self.drafts.append(draft)

    async def flush(self) -> dict[str, int]:
        """Write the waiting awards and their postings; idempotency key -> transaction id."""
        ids: dict[str, int] = {}
        now = datetime.now(timezone.utc)
        for chunk in _chunks(self.drafts):
            rows = await LedgerTransaction.insert(*(LedgerTransaction(
                kind=d.kind, memo=d.memo.strip(), actor=d.actor_id, source_type=d.source_type, source_ref=d.source_ref,
                source_label=d.source_label, idempotency_key=d.idempotency_key, community=d.community_id,
                occurred_at=d.occurred_at, recorded_at=now, reverses=None,
            ) for d in chunk))
            ids.update((d.idempotency_key, row["id"]) for d, row in zip(chunk, rows, strict=True))
            await Posting.insert(*(Posting(txn=row["id"], account=p.account_id, amount=p.amount)
                                   for d, row in zip(chunk, rows, strict=True) for p in d.postings))
            for d in chunk:
                for account_id, delta in rules.balance_deltas(d.postings):
                    self.unsettled[account_id] = self.unsettled.get(account_id, 0) + delta
        self.drafts = []
        return ids

    async def settle(self, account_ids: set[int] | None) -> None:
        """Bring these cached balances (all, for None) up to the postings written so far."""
        for account_id in sorted(self.unsettled if account_ids is None else account_ids & self.unsettled.keys()):
            delta = self.unsettled.pop(account_id)
            await Account.update({Account.balance: Account.balance + delta}, use_auto_update=False).where(
                Account.id == account_id)


def _chunks(rows: list) -> list[list]:
    return [rows[i:i + _CHUNK] for i in range(0, len(rows), _CHUNK)]


async def summary(created: bool, seconds: float = 0.0) -> DemoSummary:
    def tally(rows: list[dict], column: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in rows:
            if r[column] is not None:
                out[r[column]] = out.get(r[column], 0) + 1
        return dict(sorted(out.items()))

    accounts = await Account.select(Account.kind, Account.colour)
    user_rows = await User.select(User.username, User.display_name).order_by(User.id)
    return DemoSummary(
        created=created,
        nodes=await Node.count(),
        persons=await Person.count(),
        accounts=tally(accounts, "kind"),
        colours=tally(accounts, "colour"),
        transactions=tally(await LedgerTransaction.select(LedgerTransaction.kind), "kind"),
        users={u["username"]: u["display_name"] for u in user_rows},
        seconds=seconds,
        residents={u["username"]: u["display_name"] for u in user_rows if u["username"] in ("resident1", "resident2")},
    )
