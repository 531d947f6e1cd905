"""Catalogue and claim screens through the test client: who reaches which screen, staff publishing a revision,
a resident filing a claim with a photo that only the right people can see, and the weekly review in a batch
(where no one can decide their own claim)."""
from datetime import date, datetime, timedelta, timezone
from io import BytesIO

import pytest
from PIL import Image

from backend.audit.tables import AuditEntry
from backend.catalog import service as catalog
from backend.catalog.tables import ItemRevision, RevisionSet
from backend.claims.tables import Claim
from backend.clock import local_date
from backend.ledger.tables import LedgerTransaction
from backend.people import service as people
from tests import factories as f
from tests.web.conftest import PASSWORD, csrf_of, sign_in

pytestmark = pytest.mark.db


def today() -> date:
    return local_date(datetime.now(timezone.utc))


@pytest.fixture
async def shop(people_world, tmp_path, monkeypatch):
    """The people world with a small catalogue in the first community and another in the second."""
    monkeypatch.setenv("LINLI_UPLOAD_DIR", str(tmp_path / "uploads"))
    t = people_world["tree"]
    category = await catalog.add_category(t["c1"], "环境整治")
    sweep = await catalog.add_item(category, "楼道清理", 10, date(2026, 1, 1))
    photo_item = await catalog.add_item(category, "参加环境卫生大扫除", 10, date(2026, 1, 1), needs_evidence=True)
    west = await catalog.add_item(await catalog.add_category(t["c2"], "志愿服务"), "值班", 5, date(2026, 1, 1))
    return people_world | {"sweep": sweep, "photo_item": photo_item, "west": west}


def jpeg() -> bytes:
    out = BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 40)).save(out, "JPEG")
    return out.getvalue()


async def file_claim(client, item: int, deed: date | None = None, photo: bytes | None = None, **extra):
    page = await client.get("/claims/new")
    assert page.status_code == 200
    data = {"_csrf_token": csrf_of(page.text), "item": str(item), "deed_date": (deed or today()).isoformat(),
            "description": "清理了三楼楼道的杂物", "witnesses": "邻居李阿姨",
            "submission_key": extra.pop("key", None) or page.text.split('name="submission_key" value="')[1].split('"')[0]} | extra
    files = {"photo": ("evidence.jpg", photo, "image/jpeg")} if photo is not None else None
    return await client.post("/claims", data=data, files=files, follow_redirects=False)


@pytest.mark.parametrize(("role", "path", "status"), [
    ("resident", "/catalog", 200), ("resident", "/claims", 200), ("resident", "/claims/new", 200),
    ("resident", "/review", 403), ("resident", "/staff/catalog", 403),
    ("reviewer", "/review", 200), ("reviewer", "/staff/catalog", 403), ("reviewer", "/claims/new", 403),
    ("community_admin", "/staff/catalog", 200), ("community_admin", "/review", 200),
    ("station_operator", "/review", 403), ("merchant_clerk", "/staff/catalog", 403),
])
async def test_who_reaches_which_screen(client, shop, role, path, status):
    await sign_in(client, role)
    assert (await client.get(path)).status_code == status


async def test_staff_publish_a_revision_residents_see_it_this_month(client, shop):
    await sign_in(client, "community_admin")
    page = await client.get("/staff/catalog")
    assert "楼道清理" in page.text and "发布分值调整" in page.text
    r = await client.post("/staff/catalog/revisions", data={
        "_csrf_token": csrf_of(page.text), "community": str(shop["tree"]["c1"]), "effective_from": today().isoformat(),
        "note": "本月调整1项", f"points_{shop['sweep']}": "12", f"points_{shop['photo_item']}": "10"}, follow_redirects=False)
    assert r.status_code == 303
    assert await RevisionSet.count() == 1 and await ItemRevision.count().where(ItemRevision.revision_set.is_not_null()) == 1
    assert (await AuditEntry.select(AuditEntry.action).where(AuditEntry.action == "catalog.revise").first()) is not None
    page = await client.get(r.headers["location"])
    assert "分值调整已发布" in page.text and "本月调整1项" in page.text and "10 → 12 分" in page.text
    history = await client.get(f"/staff/catalog/items/{shop['sweep']}")
    assert history.status_code == 200 and "本月调整1项" in history.text and "今日有效" in history.text

    await client.post("/logout", data={"_csrf_token": csrf_of(history.text)})
    await sign_in(client, "resident")
    page = await client.get("/catalog")
    assert "本月调整" in page.text and "环境整治 · 楼道清理 10 → 12 分" in page.text
    assert (await client.get(f"/catalog/items/{shop['sweep']}")).status_code == 200
    assert (await client.get(f"/catalog/items/{shop['west']}")).status_code == 404  # another community's item


async def test_a_revision_before_this_month_is_refused_with_the_reason(client, shop):
    await sign_in(client, "community_admin")
    page = await client.get("/staff/catalog")
    r = await client.post("/staff/catalog/revisions", data={
        "_csrf_token": csrf_of(page.text), "community": str(shop["tree"]["c1"]),
        "effective_from": (today().replace(day=1) - timedelta(days=1)).isoformat(), "note": "补录",
        f"points_{shop['sweep']}": "12"})
    assert r.status_code == 400 and "本月第一天" in r.text and 'value="补录"' in r.text
    assert await RevisionSet.count() == 0


async def test_an_admin_edits_only_their_own_communitys_catalogue(client, shop):
    await sign_in(client, "community_admin")
    token = csrf_of((await client.get("/staff/catalog")).text)
    r = await client.post("/staff/catalog/revisions", data={
        "_csrf_token": token, "community": str(shop["tree"]["c2"]), "effective_from": today().isoformat(),
        "note": "越权", f"points_{shop['west']}": "50"})
    assert r.status_code == 403
    assert (await client.get(f"/staff/catalog/items/{shop['west']}")).status_code == 403
    r = await client.post(f"/staff/catalog/items/{shop['west']}", data={"_csrf_token": token, "name": "改名", "active": "on"})
    assert r.status_code == 403 and await RevisionSet.count() == 0


async def test_staff_add_an_item_with_caps_and_change_its_settings(client, shop):
    await sign_in(client, "district_admin")
    page = await client.get(f"/staff/catalog?community={shop['tree']['c2']}")
    assert "值班" in page.text
    category = await catalog.add_category(shop["tree"]["c2"], "平安创建")
    r = await client.post("/staff/catalog/items", data={
        "_csrf_token": csrf_of(page.text), "community": str(shop["tree"]["c2"]), "category": str(category),
        "name": "参加治安巡逻", "points": "10", "effective_from": today().isoformat(), "colours": ["red", "green"],
        "cap_per_day": "1", "cap_per_month": "", "cap_per_year": "", "needs_review": "on"}, follow_redirects=False)
    assert r.status_code == 303 and f"community={shop['tree']['c2']}" in r.headers["location"]
    item = await catalog.item_on((await catalog.catalogue(shop["tree"]["c2"], today()))[-1]["items"][0]["id"], today())
    assert (item.name, item.points, item.colours, item.caps.per_day) == ("参加治安巡逻", 10, ["red", "green"], 1)
    r = await client.post(f"/staff/catalog/items/{item.id}", data={
        "_csrf_token": csrf_of(page.text), "name": "参加治安巡逻", "cap_per_day": "0", "active": "on"})
    assert r.status_code == 400 and "不填则不限" in r.text
    r = await client.post(f"/staff/catalog/items/{item.id}", data={
        "_csrf_token": csrf_of(page.text), "name": "参加夜间治安巡逻", "cap_per_month": "4"}, follow_redirects=False)
    assert r.status_code == 303
    detail = await catalog.item_detail(item.id)
    assert (detail["name"], detail["cap_per_day"], detail["cap_per_month"], detail["active"], detail["colours"]) == (
        "参加夜间治安巡逻", None, 4, False, [])


async def test_a_resident_files_a_claim_with_a_photo_only_the_right_people_see(client, shop):
    await sign_in(client, "resident")
    r = await file_claim(client, shop["photo_item"])
    assert r.status_code == 400 and "须上传照片作为证明" in r.text and "清理了三楼楼道的杂物" in r.text
    r = await file_claim(client, shop["photo_item"], photo=jpeg())
    assert r.status_code == 303
    stored = await Claim.select().first()
    assert (stored["person"], stored["state"], stored["witnesses"]) == (shop["person"], "pending", "邻居李阿姨")
    page = await client.get(r.headers["location"])
    assert "申报已提交" in page.text and "参加环境卫生大扫除" in page.text and "待审核" in page.text
    photo = await client.get(f"/claims/{stored['id']}/photo")
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg" and photo.content[:3] == b"\xff\xd8\xff"
    assert "private" in photo.headers["cache-control"]

    await client.post("/logout", data={"_csrf_token": csrf_of(page.text)})
    await sign_in(client, "reviewer")
    assert (await client.get(f"/claims/{stored['id']}/photo")).status_code == 200
    queue = await client.get("/review")
    assert f'src="/claims/{stored["id"]}/photo"' in queue.text

    outsider_person, _ = await f.person_account("周外", shop["tree"]["c2"], shop["tree"]["c2"])
    await people.create_user("outsider", PASSWORD, "周外", person_id=outsider_person)
    await client.post("/logout", data={"_csrf_token": csrf_of(queue.text)})
    await sign_in(client, "outsider")
    assert (await client.get(f"/claims/{stored['id']}/photo")).status_code == 403
    assert (await client.get(f"/claims/{stored['id'] + 1}/photo")).status_code == 404


async def test_a_future_deed_and_a_double_submission(client, shop):
    await sign_in(client, "resident")
    r = await file_claim(client, shop["sweep"], deed=today() + timedelta(days=1))
    assert r.status_code == 400 and "事项日期不能晚于今天" in r.text
    first = await file_claim(client, shop["sweep"], key="same-form")
    again = await file_claim(client, shop["sweep"], key="same-form")
    assert first.status_code == again.status_code == 303 and await Claim.count() == 1


async def test_the_review_queue_approves_in_a_batch_and_the_resident_sees_it(client, shop):
    await sign_in(client, "resident")
    await file_claim(client, shop["sweep"])
    await file_claim(client, shop["sweep"], deed=today() - timedelta(days=1))
    ids = [r["id"] for r in await Claim.select(Claim.id).order_by(Claim.id)]
    page = await client.get("/claims")
    await client.post("/logout", data={"_csrf_token": csrf_of(page.text)})

    await sign_in(client, "reviewer")
    queue = await client.get("/review")
    assert "2 条申报待审核" in queue.text
    r = await client.post("/review", data={"_csrf_token": csrf_of(queue.text), "claim": [str(i) for i in ids],
                                           "decision": "reject", "reason": ""})
    assert r.status_code == 400 and "请填写原因" in r.text
    r = await client.post("/review", data={"_csrf_token": csrf_of(queue.text), "claim": [str(ids[0])], "decision": "approve"})
    assert r.status_code == 200 and "已处理 1 条申报" in r.text and "1 条申报待审核" in r.text
    r = await client.post("/review", data={"_csrf_token": csrf_of(queue.text), "claim": [str(ids[1])], "decision": "reject",
                                           "reason": "同一天重复申报"})
    assert "没有待审核的申报" in r.text
    assert await LedgerTransaction.count().where(LedgerTransaction.source_type == "claim") == 1

    await client.post("/logout", data={"_csrf_token": csrf_of(r.text)})
    await sign_in(client, "resident")
    mine = await client.get("/claims")
    assert "已通过" in mine.text and "reviewer 于" in mine.text
    assert "未通过" in mine.text and "理由：同一天重复申报" in mine.text
    me = await client.get("/me")
    assert "环境整治 · 楼道清理（10分）" in me.text and "reviewer" in me.text


async def test_the_reviewer_cannot_review_their_own_claim(client, shop):
    reviewer_person, _ = await f.person_account("孙审核", shop["tree"]["unit"], shop["tree"]["c1"])
    await people.create_user("reviewing-resident", PASSWORD, "孙审核", person_id=reviewer_person, role="reviewer",
                             node_id=shop["tree"]["c1"])
    await sign_in(client, "reviewing-resident")
    assert (await file_claim(client, shop["sweep"])).status_code == 303
    own = (await Claim.select(Claim.id).first())["id"]
    queue = await client.get("/review")
    assert "您不能审核自己的申报" in queue.text and f'name="claim" value="{own}"' not in queue.text
    # a hand-made post is refused all the same, and says why
    r = await client.post("/review", data={"_csrf_token": csrf_of(queue.text), "claim": [str(own)], "decision": "approve"})
    assert r.status_code == 200 and f"申报 {own}：您不能审核自己的申报" in r.text
    assert await LedgerTransaction.count().where(LedgerTransaction.source_type == "claim") == 0
    assert (await Claim.select(Claim.state).first())["state"] == "pending"
