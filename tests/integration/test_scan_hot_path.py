"""The scan hot path's caches and shared commits (backend.db): a revoked device or card is refused at once, a
catalogue revision is used by the next award, and scans sharing a commit stay exactly-once and all-or-nothing."""
import asyncio
import time
from datetime import date
from uuid import uuid4

import pytest

from backend import db
from backend.accounts.tables import Account
from backend.catalog import scans as catalog_scans
from backend.catalog import service as catalog
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
    others = [award(desk, desk["urls"][i % 3]) for i in range(6)]
    results = await asyncio.gather(*(scans.scan(desk["device"], r, f.NOW) for r in [*others[:3], refused, *others[3:]]))
    assert (results[3]["accepted"], results[3]["reason"]) == (False, "item_not_allowed")
    assert all(r["accepted"] for i, r in enumerate(results) if i != 3)
    stored = await Scan.select(Scan.accepted, Scan.reason, Scan.txn).where(Scan.scan_id == refused.scan_id).first()
    assert stored == {"accepted": False, "reason": "item_not_allowed", "txn": None}
    assert await LedgerTransaction.count() == 6 and await f.balance(desk["accounts"][1]) == 20
    assert await f.balance(desk["issuer"]) == -60 and await ledger.verify() == []
    again = await scans.scan(desk["device"], refused, f.NOW)
    assert again["duplicate"] and again["reason"] == "item_not_allowed"


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


async def test_raw_sql_reads_and_writes_through_the_current_transaction(clean_db):
    with pytest.raises(RuntimeError):
        async with db.atomic():
            await db.fetch("INSERT INTO community_node (kind, name, path) VALUES (?, ?, ?)", "street", "临时街道", "/x/")
            assert await db.fetchrow("SELECT name FROM community_node WHERE path = ?", "/x/") == {"name": "临时街道"}
            raise RuntimeError("roll back")
    assert await db.fetchrow("SELECT name FROM community_node WHERE path = ?", "/x/") is None
