import re

import pytest

from backend.accounts.tables import Account
from backend.audit.tables import AuditEntry
from backend.ledger import service as ledger
from backend.ledger.tables import LedgerTransaction
from tests import factories as f
from tests.web.conftest import csrf_of, sign_in

pytestmark = pytest.mark.db


async def adjust(client, world, **fields):
    page = await client.get(f"/staff/people/{world['person']}")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)
    data = {"_csrf_token": csrf_of(page.text), "idempotency_key": key, "direction": "award", "points": "10", "memo": "楼道清理"} | fields
    return await client.post(f"/staff/people/{world['person']}/accounts/{world['account']}/adjustments", data=data), data


async def test_admin_awards_with_a_reason_and_it_is_audited(client, people_world):
    await sign_in(client, "community_admin")
    r, _ = await adjust(client, people_world)
    assert r.status_code == 200 and "已奖励 10 分" in r.text
    assert await f.balance(people_world["account"]) == 40
    entry = await AuditEntry.select().output(load_json=True).first()
    assert entry["action"] == "ledger.award" and entry["before"] == {"balance": 30} and entry["after"]["balance"] == 40
    assert "楼道清理" in (await client.get("/staff/audit")).text


async def test_double_submit_records_once(client, people_world):
    await sign_in(client, "community_admin")
    _, data = await adjust(client, people_world)
    r = await client.post(f"/staff/people/{people_world['person']}/accounts/{people_world['account']}/adjustments", data=data)
    assert "已经记录过了" in r.text
    assert await f.balance(people_world["account"]) == 40


@pytest.mark.parametrize(("fields", "message"), [
    ({"memo": ""}, "请填写原因"),
    ({"points": "abc"}, "请求无效"),
    ({"points": "-5"}, "积分必须是"),
    ({"direction": "deduction", "points": "31"}, "积分不足：余额 30 分，需要 31 分"),
])
async def test_bad_adjustments_say_why_and_write_nothing(client, people_world, fields, message):
    await sign_in(client, "community_admin")
    before = await LedgerTransaction.count()
    r, _ = await adjust(client, people_world, **fields)
    assert r.status_code == 422 and message in r.text
    assert await LedgerTransaction.count() == before and await f.balance(people_world["account"]) == 30


async def test_reversal_once_and_never_of_a_reversal(client, people_world):
    await sign_in(client, "community_admin")
    txn = (await LedgerTransaction.select().first())["id"]
    page = await client.get(f"/staff/people/{people_world['person']}")
    url = f"/staff/transactions/{txn}/reversal?person={people_world['person']}&account={people_world['account']}"
    r = await client.post(url, data={"_csrf_token": csrf_of(page.text), "memo": "录错了", "idempotency_key": "k1"})
    assert r.status_code == 200 and "该交易已冲正" in r.text
    assert await f.balance(people_world["account"]) == 0
    r = await client.post(url, data={"_csrf_token": csrf_of(page.text), "memo": "again", "idempotency_key": "k2"})
    assert r.status_code == 422 and "已经冲正过了" in r.text
    reversal = (await LedgerTransaction.select().where(LedgerTransaction.reverses == txn).first())["id"]
    r = await client.post(f"/staff/transactions/{reversal}/reversal?person={people_world['person']}&account={people_world['account']}",
                          data={"_csrf_token": csrf_of(page.text), "memo": "undo", "idempotency_key": "k3"})
    assert r.status_code == 422 and "冲正记录不能再冲正" in r.text
    assert await ledger.verify() == []


async def test_admin_cannot_touch_another_community(client, people_world):
    await sign_in(client, "community_admin")
    r = await client.get(f"/staff/people/{people_world['other_person']}")
    assert r.status_code == 403 and "其他社区" in r.text
    page = await client.get(f"/staff/people/{people_world['person']}")
    r = await client.post(f"/staff/people/{people_world['person']}/accounts/{people_world['other_account']}/adjustments",
                          data={"_csrf_token": csrf_of(page.text), "idempotency_key": "x", "direction": "award", "points": "5", "memo": "m"})
    assert r.status_code == 403
    assert (await Account.select(Account.balance).where(Account.id == people_world["other_account"]).first())["balance"] == 0
    r = await client.get("/staff/people?q=李四")
    assert "找到 0 人" in r.text


async def test_district_admin_sees_both_communities(client, people_world):
    await sign_in(client, "district_admin")
    r = await client.get("/staff/people")
    assert "找到 2 人" in r.text
    assert (await client.get(f"/staff/people/{people_world['other_person']}")).status_code == 200


async def test_search_filters_by_name_and_colour(client, people_world):
    await sign_in(client, "district_admin")
    assert "找到 1 人" in (await client.get("/staff/people?q=小明")).text
    assert "找到 1 人" in (await client.get("/staff/people?colour=red")).text
    assert "找到 0 人" in (await client.get("/staff/people?colour=green")).text
    r = await client.get("/staff/people?q=小明", headers={"HX-Request": "true", "HX-Target": "results"})
    assert r.text.lstrip().startswith('<section id="results"')


async def test_tree_shows_places_with_head_counts(client, people_world):
    await sign_in(client, "community_admin")
    r = await client.get("/staff")
    assert "东园社区" in r.text and "西园社区" not in r.text and "第一网格" in r.text


async def test_expired_session_asks_to_sign_in_again(client, people_world, monkeypatch):
    await sign_in(client, "resident")
    monkeypatch.setenv("LINLI_SESSION_HOURS", "0")
    r = await client.get("/me", follow_redirects=True)
    assert "登录已过期" in r.text


async def test_search_form_with_blank_filters_works_without_javascript(client, people_world):
    await sign_in(client, "district_admin")
    r = await client.get("/staff/people?q=&node=&colour=")
    assert r.status_code == 200 and "找到 2 人" in r.text
