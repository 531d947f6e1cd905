"""Small builders for test data, going through the real services."""
from datetime import datetime, timezone
from uuid import uuid4

from backend.accounts.tables import Account
from backend.community import service as community
from backend.ledger import service as ledger
from backend.ledger.rules import PostingDraft, TransactionDraft
from backend.people.tables import Person

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)


async def tree() -> dict[str, int]:
    street = await community.add_node("street", "测试街道", None)
    c1 = await community.add_node("community", "东园社区", street)
    c2 = await community.add_node("community", "西园社区", street)
    compound = await community.add_node("compound", "东园小区", c1)
    grid = await community.add_node("grid", "第一网格", compound)
    building = await community.add_node("building", "1号楼", grid)
    unit = await community.add_node("unit", "1单元", building)
    return {"street": street, "c1": c1, "c2": c2, "compound": compound, "grid": grid, "building": building, "unit": unit}


async def person_account(name: str, home: int, community_id: int, colour: str = "blue") -> tuple[int, int]:
    person = (await Person.insert(Person(name=name, home=home, community=community_id)))[0]["id"]
    account = (await Account.insert(Account(kind="person", colour=colour, holder=person, name=name, community=community_id)))[0]["id"]
    return person, account


async def issuer(community_id: int) -> int:
    return (await Account.insert(Account(kind="issuer", name="积分发放", community=community_id, may_go_negative=True)))[0]["id"]


async def award(issuer_id: int, account_id: int, points: int, community_id: int, key: str | None = None) -> ledger.Recorded:
    return await ledger.record(TransactionDraft(
        kind="award", memo="测试奖励", idempotency_key=key or str(uuid4()), community_id=community_id,
        occurred_at=NOW, postings=(PostingDraft(issuer_id, -points), PostingDraft(account_id, points)),
    ))


async def spend(account_id: int, to_id: int, points: int, community_id: int, key: str | None = None) -> ledger.Recorded:
    return await ledger.record(TransactionDraft(
        kind="redemption", memo="测试兑换", idempotency_key=key or str(uuid4()), community_id=community_id,
        occurred_at=NOW, postings=(PostingDraft(account_id, -points), PostingDraft(to_id, points)),
    ))


async def balance(account_id: int) -> int:
    return (await Account.select(Account.balance).where(Account.id == account_id).first())["balance"]


async def admin_principal(node_id: int):
    """A community admin on `node_id`, as the services see a signed-in user."""
    from backend.people import service as people

    user = await people.create_user(f"admin{node_id}-{uuid4().hex[:6]}", "admin-password-1", "管理员",
                                    role="community_admin", node_id=node_id)
    return await people.principal(user)


async def card_for(principal, account_id: int):
    """A printed card for the account: (the card view, its URL as a QR carries it)."""
    from backend.servicecards import service as cards

    view = await cards.issue(principal, account_id, NOW)
    return view, await cards.card_url(view)


async def paired_device(principal, station_id: int):
    from backend.scans.service import DeviceRef
    from backend.stations import service as stations

    code = await stations.new_pairing_code(principal, station_id, "前台平板", NOW)
    credential = await stations.pair(code, NOW)
    device = await stations.device_from_credential(credential, NOW)
    return DeviceRef(device.device_id, device.station_id, device.name), credential


async def award_desk() -> dict:
    """A community with an issuer, 王小明 holding a printed card, a 10-point catalogue item and an award station with
    one paired device: what a scan through the API needs."""
    from datetime import date

    from backend.catalog import service as catalog
    from backend.stations import service as stations

    t = await tree()
    await issuer(t["c1"])
    _, account = await person_account("王小明", t["unit"], t["c1"])
    admin = await admin_principal(t["c1"])
    item = await catalog.add_item(await catalog.add_category(t["c1"], "文明实践"), "楼道清理", 10, date(2026, 1, 1))
    station = await stations.create_station(admin, t["c1"], "东园党群服务中心", "centre", ["award"], award_items=[item])
    device, credential = await paired_device(admin, station)
    _, url = await card_for(admin, account)
    return {"t": t, "account": account, "admin": admin, "item": item, "station": station, "device": device,
            "credential": credential, "url": url}
