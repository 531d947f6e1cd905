"""The demo community: believable, consistent with the ledger's rules, loaded at most once, and with a published
monthly notice whose objection period is open."""
from collections import Counter
from datetime import datetime, timezone

import pytest
from piccolo.engine.postgres import PostgresEngine

from backend.accounts.tables import Account
from backend.community.tables import Node
from backend.db import atomic
from backend.demo import DEMO_PASSWORD, data, demo_loaded, load_demo
from backend.demo.loader import _write
from backend.demo.plan import CST, END, START, build_plan
from backend.ledger import service as ledger
from backend.ledger.tables import LedgerTransaction, Posting
from backend.notices import demo as notices_demo
from backend.notices import service as notices
from backend.notices.tables import Notice, NoticeLine
from backend.people import service as people
from backend.people.tables import Person, RoleGrant, User

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


async def _empty(engine) -> None:
    """What the clean_db fixture does, for a module that loads the demo once and reads it many times."""
    from backend.piccolo_conf import APP_REGISTRY

    tables = [t._meta.tablename for app in APP_REGISTRY.app_configs.values() for t in app.table_classes]
    if isinstance(engine, PostgresEngine):
        await engine.run_ddl(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    else:
        for t in tables:
            await engine.run_ddl(f"DELETE FROM {t}")


@pytest.fixture(scope="module")
async def demo(database):
    await _empty(database)
    summary = await load_demo()
    yield summary
    await _empty(database)


async def test_the_ledger_adds_up(demo):
    assert demo.created
    assert await ledger.verify() == []


async def test_the_tree_runs_street_to_units(demo):
    kinds = Counter(r["kind"] for r in await Node.select(Node.kind))
    assert kinds["street"] == 1 and kinds["community"] == 2 and kinds["compound"] == 4 and kinds["grid"] == 10
    assert 2 * kinds["grid"] <= kinds["building"] <= 3 * kinds["grid"]
    assert kinds["unit"] == 2 * kinds["building"]
    names = {r["name"] for r in await Node.select(Node.name).where(Node.kind.is_in(["street", "community"]))}
    assert names == {"红旗街道", "东园社区", "西园社区"}


async def test_about_three_hundred_residents_each_in_a_unit_of_their_community(demo):
    rows = await Person.select(Person.name, Person.phone, Person.home.kind, Person.home.path, Person.community.path,
                               Person.is_party_member, Person.is_building_lead)
    assert len(rows) == demo.persons == 300
    assert all(r["home.kind"] == "unit" and r["home.path"].startswith(r["community.path"]) for r in rows)
    assert len({r["name"] for r in rows}) == len(rows)
    assert all(len(r["phone"]) == 11 and r["phone"].startswith("1") and r["phone"].isdigit() for r in rows)
    assert all(2 <= len(r["name"]) <= 4 for r in rows)
    party = sum(r["is_party_member"] for r in rows)
    leads = sum(r["is_building_lead"] for r in rows)
    assert 0.2 <= party / len(rows) <= 0.3 and 0.08 <= leads / len(rows) <= 0.12


async def test_account_kinds_and_colours_follow_the_holders(demo):
    accounts = await Account.select(Account.kind, Account.colour, Account.name, Account.may_go_negative,
                                    Account.holder.name, Account.holder.is_party_member, Account.holder.is_building_lead)
    kinds = Counter(a["kind"] for a in accounts)
    assert kinds["issuer"] == 2 and kinds["shop"] == 2 and kinds["organisation"] == 8 and kinds["merchant"] == 10
    assert demo.accounts == dict(sorted(kinds.items()))
    person = [a for a in accounts if a["kind"] == "person"]
    assert all(a["name"] == a["holder.name"] for a in person)
    colours = Counter(a["colour"] for a in person)
    persons = await Person.select(Person.is_party_member, Person.is_building_lead)
    assert colours["red"] == sum(p["is_party_member"] for p in persons)
    assert colours["green"] == sum(p["is_building_lead"] for p in persons)
    assert colours["blue"] == sum(not p["is_party_member"] and not p["is_building_lead"] for p in persons)
    assert all((a["colour"] == "red") == a["holder.is_party_member"] or a["colour"] == "green" for a in person)
    assert len(person) > len(persons)  # some red leads hold a green account too
    assert {a["name"] for a in accounts if a["kind"] == "issuer"} == {"东园社区积分发放账户", "西园社区积分发放账户"}
    assert all(a["may_go_negative"] == (a["kind"] == "issuer") for a in accounts)
    assert {"老王理发店", "惠民超市", "阳光药房"} <= {a["name"] for a in accounts if a["kind"] == "merchant"}


async def test_nobody_but_an_issuer_is_overdrawn(demo):
    for a in await Account.select(Account.kind, Account.balance):
        assert (a["balance"] < 0) == (a["kind"] == "issuer")


async def test_a_few_months_of_history_with_reasons(demo):
    txns = await LedgerTransaction.select()
    assert demo.transaction_count == len(txns) >= 2000
    kinds = Counter(t["kind"] for t in txns)
    assert kinds["award"] > kinds["redemption"] > 100 and kinds["deduction"] >= 2 and kinds["reversal"] >= 1
    # the plan's history; awards the notice demo records into its month when the clock is past END are not
    assert all(START <= t["occurred_at"].astimezone(CST).date() <= END for t in txns
               if not t["idempotency_key"].startswith("demo:notice:"))
    labels = {i.label for i in data.CATALOGUE}
    assert all(t["source_label"] in labels and t["source_type"] == "demo" and t["actor"] for t in txns if t["kind"] == "award")
    by_id = {t["id"]: t for t in txns}
    for t in txns:
        if t["kind"] == "reversal":
            assert by_id[t["reverses"]]["kind"] == "award"
        if t["kind"] == "deduction":
            assert by_id[int(t["source_ref"])]["kind"] == "award"
    # what an award credits and a redemption debits are residents and organisations; redemptions land at shops and merchants
    postings = await Posting.select(Posting.txn.kind, Posting.account.kind, Posting.amount)
    assert {p["account.kind"] for p in postings if p["txn.kind"] == "award" and p["amount"] < 0} == {"issuer"}
    assert {p["account.kind"] for p in postings if p["txn.kind"] == "redemption" and p["amount"] > 0} == {"shop", "merchant"}
    assert {p["account.kind"] for p in postings if p["txn.kind"] == "redemption" and p["amount"] < 0} == {"person"}


def test_the_catalogue_has_seven_categories_of_five_items():
    assert len(data.CATEGORIES) == 7 and len(data.CATALOGUE) == 35
    assert all(sum(i.category == c for i in data.CATALOGUE) == 5 for c in data.CATEGORIES)
    assert {i.points for i in data.CATALOGUE} == {5, 10, 20}
    assert data.item("垃圾分类督导").label == "文明实践 · 垃圾分类督导（10分）"


def test_the_plan_is_the_same_every_time():
    a, b = build_plan(), build_plan()
    assert (a.persons, a.accounts, a.users, a.txns) == (b.persons, b.accounts, b.users, b.txns)
    assert build_plan(seed=1).persons != a.persons


async def test_demo_users_sign_in_with_their_roles(demo):
    expected = {
        "admin": ("community_admin", "东园社区"), "district": ("district_admin", "红旗街道"),
        "reviewer": ("reviewer", "东园社区"), "station": ("station_operator", "东园社区"),
        "merchant": ("merchant_clerk", "东园社区"),
    }
    for username, (role, node) in expected.items():
        who = await people.authenticate(username, DEMO_PASSWORD, NOW)
        assert who.roles == {role} and who.person_id is None
        node_path = (await Node.select(Node.path).where(Node.name == node).first())["path"]
        assert who.can_at("staff.view", node_path)
    grant = await RoleGrant.select(RoleGrant.merchant_account_id).where(RoleGrant.role == "merchant_clerk").first()
    shop = await Account.select(Account.id).where(Account.name == "老王理发店").first()
    assert grant["merchant_account_id"] == shop["id"]

    colours = {}
    for username in ("resident1", "resident2"):
        who = await people.authenticate(username, DEMO_PASSWORD, NOW)
        assert who.roles == {"resident"} and who.person_id
        person = await Person.select(Person.name).where(Person.id == who.person_id).first()
        assert who.display_name == person["name"] == demo.residents[username]
        accounts = await Account.select(Account.id, Account.colour, Account.balance).where(Account.holder == who.person_id)
        colours[username] = {a["colour"] for a in accounts}
        lines = await Posting.count().where(Posting.account.is_in([a["id"] for a in accounts]))
        assert lines >= 4 and sum(a["balance"] for a in accounts) > 0
    assert "red" in colours["resident1"] and colours["resident2"] == {"blue"}
    assert set(demo.users) == {"admin", "district", "reviewer", "station", "merchant", "resident1", "resident2"}


async def test_loading_twice_writes_nothing_new(demo):
    assert await demo_loaded()
    again = await load_demo()
    assert not again.created
    assert (again.persons, again.accounts, again.transactions, again.users) == (
        demo.persons, demo.accounts, demo.transactions, demo.users)
    assert await User.count() == 7


async def _east() -> int:
    return (await Node.select(Node.id).where(Node.name == "东园社区").first())["id"]


async def test_a_published_notice_with_its_lines_and_objections_open(demo):
    now = datetime.now(timezone.utc)
    east = await _east()
    rows = await Notice.select().where(Notice.community == east)
    assert [(n["month"], n["state"]) for n in rows] == [(notices_demo.demo_month(now), "published")]
    notice = rows[0]
    assert notice["objection_ends_at"] > now and notice["previous"] is None and len(notice["fingerprint"]) == 64
    lines = await NoticeLine.select().where(NoticeLine.notice == notice["id"])
    accounts = await Account.count().where((Account.community == east) & Account.kind.is_in(["person", "organisation"]))
    assert len(lines) >= accounts > 100 and sum(line["earned"] for line in lines) > 0
    assert sorted(line["rank"] for line in lines if line["earned"] > 0)[0] == 1
    board = await notices.published_board(east, limit=10)
    assert board["month"] == notice["month"] and board["state"] == "published" and len(board["rows"]) == 10
    assert board["rows"][0]["earned"] == max(line["earned"] for line in lines)
    # staff see it on /staff/notices, the month just ended is still theirs to close; the chain checks out
    admin = await people.authenticate("admin", DEMO_PASSWORD, NOW)
    listed = await notices.staff_notices(admin)
    assert [(n["id"], n["state"]) for n in listed] == [(notice["id"], "published")]
    assert notices.default_month(now) > notice["month"]
    assert await notices.verify_chain() == [] and await ledger.verify() == []
    # not in the west
    assert await Notice.count().where(Notice.community != east) == 0


# Changes the database the tests above read: after them.
async def test_a_month_without_demo_history_gets_backdated_awards_first(demo):
    """With the clock past the demo history (2027-03), the month before last has no earnings: awards are recorded
    into it through the ledger, then it is closed and published after the demo's first notice."""
    later = datetime(2027, 3, 10, 2, 0, tzinfo=timezone.utc)
    east = await _east()
    admin = (await User.select(User.id).where(User.username == "admin").first())["id"]
    assert notices_demo.demo_month(later) == "2027-01" and await notices_demo.earnings_in(east, "2027-01") == 0
    before = await LedgerTransaction.count()
    notice_id = await notices_demo.add_demo_notice(east, admin, later)
    added = await LedgerTransaction.select().where(LedgerTransaction.idempotency_key.like("demo:notice:2027-01:%"))
    assert len(added) == notices_demo.BACKDATED == await LedgerTransaction.count() - before
    assert {t["occurred_at"].astimezone(CST).strftime("%Y-%m") for t in added} == {"2027-01"}
    assert all(t["kind"] == "award" and t["source_type"] == "demo" and t["actor"] for t in added)
    notice = await Notice.select().where(Notice.id == notice_id).first()
    assert notice["state"] == "published" and notice["month"] == "2027-01" and notice["previous"] is not None
    # the notice covers what the demo's notice did not (October and November too: a skipped month falls into the
    # next notice), so each backdated credit is within its account's line
    lines = await NoticeLine.select().where(NoticeLine.notice == notice_id)
    earned = {line["account"]: line["earned"] for line in lines}
    credited: dict[int, int] = {}
    for p in await Posting.select(Posting.account, Posting.amount).where(
            Posting.txn.is_in([t["id"] for t in added]) & (Posting.amount > 0)):
        credited[p["account"]] = credited.get(p["account"], 0) + p["amount"]
    assert credited and all(earned[account] >= points > 0 for account, points in credited.items())
    assert await notices.verify_chain() == [] and await ledger.verify() == []


# Last in the module: it empties the database the tests above read.
async def test_bulk_awards_write_what_ledger_record_writes(database):
    """The first 400 planned transactions, once with awards in bulk and once all through ledger.record."""
    plan = build_plan()
    plan.txns = plan.txns[:400]
    assert {t.kind for t in plan.txns} >= {"award", "redemption"}

    async def written(bulk: bool):
        await _empty(database)
        async with atomic():
            await _write(plan, bulk)
        assert await ledger.verify() == []
        txns = await LedgerTransaction.select(
            LedgerTransaction.id, LedgerTransaction.kind, LedgerTransaction.memo, LedgerTransaction.actor,
            LedgerTransaction.source_type, LedgerTransaction.source_ref, LedgerTransaction.source_label,
            LedgerTransaction.idempotency_key, LedgerTransaction.community, LedgerTransaction.occurred_at,
            LedgerTransaction.reverses,
        ).order_by(LedgerTransaction.id)
        postings = await Posting.select(Posting.txn, Posting.account, Posting.amount).order_by(Posting.id)
        balances = await Account.select(Account.id, Account.balance).order_by(Account.id)
        return txns, sorted((p["txn"], p["account"], p["amount"]) for p in postings), balances

    assert await written(True) == await written(False)
    await _empty(database)
