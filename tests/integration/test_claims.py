"""Claims and the weekly review on a real database: approval posts once at the value of the deed's day, two
reviewers for large claims (concurrently too), rejections post nothing, caps shared with the award scan, claims
filed by building leads, evidence photos cleaned and stored."""
import asyncio
from datetime import date, datetime, timedelta, timezone
from io import BytesIO
from uuid import uuid4

import pytest
from PIL import Image

from backend.accounts import service as accounts
from backend.audit.tables import AuditEntry
from backend.catalog import service as catalog
from backend.catalog.rules import Caps
from backend.claims import photos, service
from backend.claims.tables import Claim
from backend.errors import Conflict, InvalidInput, PermissionDenied
from backend.ledger import service as ledger
from backend.ledger.tables import LedgerTransaction
from backend.people import service as people
from backend.people.tables import Person, RoleGrant, User
from backend.scans import service as scans
from backend.scans.service import ScanRequest
from backend.stations import service as stations
from tests import factories as f

pytestmark = pytest.mark.db

NOW = f.NOW  # 2026-11-01 17:00 in Shanghai
TODAY = date(2026, 11, 1)
REVISED = date(2026, 10, 20)  # the sweep item is worth 10 before, 15 from this day


@pytest.fixture
async def world(clean_db, tmp_path, monkeypatch):
    monkeypatch.setenv("LINLI_UPLOAD_DIR", str(tmp_path / "uploads"))
    t = await f.tree()
    issuer = await f.issuer(t["c1"])
    await f.issuer(t["c2"])
    person, account = await f.person_account("王小明", t["unit"], t["c1"], colour="red")
    resident = await user("wang", "王小明", person)
    # a building lead (green account) in the same building, and a resident of the next building
    second_unit = await _node("unit", "2单元", t["building"])
    lead_person, _ = await f.person_account("赵楼长", second_unit, t["c1"], colour="green")
    await Person.update({Person.is_building_lead: True}).where(Person.id == lead_person)
    lead = await user("lead", "赵楼长", lead_person)
    far_unit = await _node("unit", "1单元", await _node("building", "2号楼", t["grid"]))
    far_person, _ = await f.person_account("钱远", far_unit, t["c1"])
    reviewers = [await user(f"reviewer{i}", f"审核员{i}", None, "reviewer", t["c1"]) for i in (1, 2, 3)]
    admin = await user("admin", "管理员", None, "community_admin", t["c1"])
    category = await catalog.add_category(t["c1"], "环境整治")
    sweep = await catalog.add_item(category, "楼道清理", 10, date(2026, 7, 1))
    await catalog.revise(sweep, 15, REVISED, "10月20日起调整")
    patrol = await catalog.add_item(category, "牵头整治楼院脏乱点", 20, date(2026, 7, 1))
    capped = await catalog.add_item(category, "认养绿地并养护", 5, date(2026, 7, 1), caps=Caps(per_month=1))
    daily = await catalog.add_item(category, "清理乱贴小广告", 5, date(2026, 7, 1), caps=Caps(per_day=1))
    evidence = await catalog.add_item(category, "参加环境卫生大扫除", 10, date(2026, 7, 1), needs_evidence=True)
    return {"t": t, "issuer": issuer, "person": person, "account": account, "resident": resident, "lead": lead,
            "lead_person": lead_person, "far_person": far_person, "reviewers": reviewers, "admin": admin,
            "category": category, "sweep": sweep, "patrol": patrol, "capped": capped, "daily": daily, "evidence": evidence}


async def user(username: str, display_name: str, person: int | None = None, role: str | None = None,
               node: int | None = None):
    """A signed-in user as the services see one (inserted directly: hashing a password per user makes tests slow)."""
    user_id = (await User.insert(User(username=username, password_hash="-", display_name=display_name, person=person)))[0]["id"]
    if role:
        await RoleGrant.insert(RoleGrant(user=user_id, role=role, node=node))
    return await people.principal(user_id)


async def _node(kind: str, name: str, parent: int) -> int:
    from backend.community import service as community

    return await community.add_node(kind, name, parent)


async def claim(world, item: str = "sweep", deed: date = date(2026, 10, 28), by: str = "resident", **extra) -> int:
    return await service.submit(world[by], item_id=world[item], deed_date=deed, description=extra.pop("description", "清理楼道杂物"),
                                witnesses=extra.pop("witnesses", ""), photo=extra.pop("photo", None),
                                submission_key=extra.pop("key", uuid4().hex), now=extra.pop("now", NOW), **extra)


def jpeg(size=(3000, 2000), exif: bool = True) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    data = Image.Exif()
    data[0x0110] = "Phone"  # camera model
    data[0x0112] = 6  # orientation: rotated, as phones store portrait photos
    out = BytesIO()
    image.save(out, "JPEG", exif=data.tobytes() if exif else b"")
    return out.getvalue()


async def test_approval_posts_the_value_of_the_deed_day_naming_item_and_approver(world):
    claim_id = await claim(world)
    assert await service.approve(world["reviewers"][0], claim_id, NOW) == "final"
    txn = await LedgerTransaction.select().where(LedgerTransaction.idempotency_key == f"claim:{claim_id}").first()
    assert (txn["kind"], txn["source_type"], txn["source_ref"]) == ("award", "claim", str(claim_id))
    assert txn["source_label"] == "环境整治 · 楼道清理（15分）"
    assert txn["occurred_at"] == datetime(2026, 10, 28, 4, 0, tzinfo=timezone.utc)  # noon in Shanghai
    assert await f.balance(world["account"]) == 15
    lines, _ = await accounts.history(world["account"])
    assert (lines[0].amount, lines[0].source_label, lines[0].actor) == (15, "环境整治 · 楼道清理（15分）", "审核员1")
    row = await Claim.select().where(Claim.id == claim_id).first()
    assert (row["state"], row["points"], row["txn"], row["reviewer"]) == ("approved", 15, txn["id"], world["reviewers"][0].user_id)
    assert await AuditEntry.exists().where((AuditEntry.action == "claim.approve") & (AuditEntry.target_id == str(claim_id)))
    assert await ledger.verify() == []


async def test_deeds_on_either_side_of_a_revision_get_different_values(world):
    before = await claim(world, deed=REVISED - timedelta(days=1))
    after = await claim(world, deed=REVISED)
    for claim_id in (before, after):
        await service.approve(world["reviewers"][0], claim_id, NOW)
    points = {r["id"]: r["points"] for r in await Claim.select(Claim.id, Claim.points)}
    assert (points[before], points[after]) == (10, 15)
    assert await f.balance(world["account"]) == 25


async def test_approving_twice_posts_once(world):
    claim_id = await claim(world)
    await service.approve(world["reviewers"][0], claim_id, NOW)
    with pytest.raises(Conflict) as caught:
        await service.approve(world["reviewers"][1], claim_id, NOW)
    assert caught.value.code == "claim_decided"
    assert await LedgerTransaction.count() == 1 and await f.balance(world["account"]) == 15


async def test_concurrent_approvals_of_a_small_claim_post_once(world):
    claim_id = await claim(world)
    results = await asyncio.gather(*(service.approve(r, claim_id, NOW) for r in world["reviewers"]), return_exceptions=True)
    assert sum(r == "final" for r in results) == 1
    assert all(isinstance(r, Conflict) and r.code == "claim_decided" for r in results if r != "final")
    assert await LedgerTransaction.count() == 1 and await f.balance(world["account"]) == 15


async def test_a_large_claim_needs_a_second_different_reviewer(world):
    claim_id = await claim(world, "patrol")
    first, second = world["reviewers"][:2]
    assert await service.approve(first, claim_id, NOW) == "first"
    assert await LedgerTransaction.count() == 0
    with pytest.raises(Conflict) as caught:
        await service.approve(first, claim_id, NOW)
    assert caught.value.code == "second_reviewer_needed"
    assert await service.approve(second, claim_id, NOW) == "final"
    txn = await LedgerTransaction.select().first()
    assert txn["actor"] == second.user_id and await f.balance(world["account"]) == 20


async def test_concurrent_approvals_of_a_large_claim_by_different_reviewers_post_once(world):
    claim_id = await claim(world, "patrol")
    results = await asyncio.gather(*(service.approve(r, claim_id, NOW) for r in world["reviewers"]), return_exceptions=True)
    assert sorted(r for r in results if isinstance(r, str)) == ["final", "first"]
    assert [r.code for r in results if isinstance(r, Exception)] == ["claim_decided"]
    assert await LedgerTransaction.count() == 1 and await f.balance(world["account"]) == 20
    row = await Claim.select().where(Claim.id == claim_id).first()
    assert row["state"] == "approved" and row["first_reviewer"] != row["reviewer"]


async def test_concurrent_approvals_by_the_same_reviewer_count_once(world):
    claim_id = await claim(world, "patrol")
    reviewer = world["reviewers"][0]
    results = await asyncio.gather(*(service.approve(reviewer, claim_id, NOW) for _ in range(3)), return_exceptions=True)
    assert [r for r in results if isinstance(r, str)] == ["first"]
    assert await LedgerTransaction.count() == 0


async def test_a_rejected_claim_posts_nothing_and_says_why(world):
    claim_id = await claim(world)
    with pytest.raises(InvalidInput):
        await service.reject(world["reviewers"][0], claim_id, " ", NOW)
    await service.reject(world["reviewers"][0], claim_id, "照片与描述不符", NOW)
    with pytest.raises(Conflict):
        await service.approve(world["reviewers"][1], claim_id, NOW)
    assert await LedgerTransaction.count() == 0 and await f.balance(world["account"]) == 0
    mine = await service.my_claims(world["resident"])
    assert (mine[0]["state"], mine[0]["reason"], mine[0]["reviewer_name"]) == ("rejected", "照片与描述不符", "审核员1")


async def test_a_reviewer_cannot_decide_their_own_claim(world):
    reviewer_person, _ = await f.person_account("孙审核", world["t"]["unit"], world["t"]["c1"])
    both = await user("both", "孙审核", reviewer_person, "reviewer", world["t"]["c1"])
    own = await service.submit(both, item_id=world["sweep"], deed_date=date(2026, 10, 28), description="清理楼道", witnesses="",
                               photo=None, submission_key=uuid4().hex, now=NOW)
    for decide in (lambda: service.approve(both, own, NOW), lambda: service.reject(both, own, "自审", NOW)):
        with pytest.raises(PermissionDenied) as caught:
            await decide()
        assert caught.value.code == "own_claim"
    queue = await service.queue(both)
    assert [(c["id"], c["conflict"]) for c in queue.claims] == [(own, "own_claim")]


async def test_reviewers_of_another_community_cannot_decide(world):
    elsewhere = await user("west", "西园审核员", None, "reviewer", world["t"]["c2"])
    claim_id = await claim(world)
    with pytest.raises(PermissionDenied):
        await service.approve(elsewhere, claim_id, NOW)
    assert (await service.queue(elsewhere)).claims == []


async def test_a_building_lead_files_for_a_neighbour_who_confirms_it(world):
    claim_id = await claim(world, by="lead", for_person=world["person"])
    row = await Claim.select().where(Claim.id == claim_id).first()
    assert (row["person"], row["account"], row["needs_confirmation"]) == (world["person"], world["account"], True)
    assert (await service.queue(world["reviewers"][0])).claims == []  # not before the resident confirms
    with pytest.raises(Conflict) as caught:
        await service.approve(world["reviewers"][0], claim_id, NOW)
    assert caught.value.code == "claim_not_confirmed"
    with pytest.raises(Conflict):
        await service.confirm(world["lead"], claim_id, NOW)  # only the resident confirms
    await service.confirm(world["resident"], claim_id, NOW)
    assert [c["id"] for c in (await service.queue(world["reviewers"][0])).claims] == [claim_id]
    mine = await service.my_claims(world["lead"])
    assert mine[0]["on_behalf"] and mine[0]["person_name"] == "王小明"


async def test_the_lead_who_filed_a_claim_cannot_review_it(world):
    lead_reviewer = await user("lead-reviewer", "赵楼长", world["lead_person"], "reviewer", world["t"]["c1"])
    claim_id = await claim(world, by="lead", for_person=world["person"])
    await service.confirm(world["resident"], claim_id, NOW)
    with pytest.raises(PermissionDenied) as caught:
        await service.approve(lead_reviewer, claim_id, NOW)
    assert caught.value.code == "filed_by_reviewer"


async def test_a_lead_files_only_in_their_own_building_and_residents_not_at_all(world):
    with pytest.raises(PermissionDenied) as caught:
        await claim(world, by="lead", for_person=world["far_person"])
    assert caught.value.code == "not_your_building"
    with pytest.raises(PermissionDenied):
        await claim(world, by="resident", for_person=world["lead_person"])
    assert [n["name"] for n in await service.neighbours(world["lead"])] == ["王小明"]
    assert await service.neighbours(world["resident"]) == []


async def test_a_declined_claim_never_reaches_the_queue(world):
    claim_id = await claim(world, by="lead", for_person=world["person"])
    await service.decline(world["resident"], claim_id, NOW)
    with pytest.raises(Conflict):
        await service.confirm(world["resident"], claim_id, NOW)
    assert (await Claim.select(Claim.state).where(Claim.id == claim_id).first())["state"] == "declined"
    assert (await service.queue(world["reviewers"][0])).claims == []


async def test_monthly_cap_is_checked_at_approval_and_at_filing(world):
    first = await claim(world, "capped", deed=date(2026, 10, 5))
    second = await claim(world, "capped", deed=date(2026, 10, 25))
    other_month = await claim(world, "capped", deed=date(2026, 11, 1))
    await service.approve(world["reviewers"][0], first, NOW)
    with pytest.raises(Conflict) as caught:
        await service.approve(world["reviewers"][0], second, NOW)
    assert (caught.value.code, caught.value.params) == ("monthly_cap_reached", {"limit": 1})
    assert await service.approve(world["reviewers"][0], other_month, NOW) == "final"
    with pytest.raises(Conflict) as caught:
        await claim(world, "capped", deed=date(2026, 10, 30))
    assert caught.value.code == "monthly_cap_reached"
    # a reversed award frees its place
    txn = (await Claim.select(Claim.txn).where(Claim.id == first).first())["txn"]
    await ledger.reverse(txn, memo="录入错误，冲正", actor_id=None, idempotency_key="undo-first", now=NOW)
    assert await service.approve(world["reviewers"][0], second, NOW) == "final"


async def test_concurrent_approvals_of_two_claims_respect_the_cap(world):
    claims = [await claim(world, "capped", deed=date(2026, 10, d)) for d in (3, 4, 5)]
    results = await asyncio.gather(*(service.approve(r, c, NOW) for r, c in zip(world["reviewers"], claims)),
                                   return_exceptions=True)
    assert results.count("final") == 1
    assert await f.balance(world["account"]) == 5


async def test_award_scans_and_claims_share_the_daily_cap(world):
    admin = world["admin"]
    station = await stations.create_station(admin, world["t"]["c1"], "东园党群服务中心", "centre", ["award"],
                                            award_items=[world["daily"]])
    device, _ = await f.paired_device(admin, station)
    _, url = await f.card_for(admin, world["account"])

    def award():
        return ScanRequest(scan_id=uuid4(), mode="award", card=url, scanned_at=NOW, details={"item_id": world["daily"]})

    first = award()
    assert (await scans.scan(device, first, NOW))["accepted"]
    refused = await scans.scan(device, award(), NOW)
    assert (refused["accepted"], refused["reason"], refused["params"]) == (False, "daily_cap_reached", {"limit": 1})
    with pytest.raises(Conflict):  # a claim for the same day is refused at once
        await claim(world, "daily", deed=TODAY)
    # undoing the scan reverses its line, which frees the day's place
    await scans.undo(device, first.scan_id, NOW + timedelta(seconds=30))
    claim_id = await claim(world, "daily", deed=TODAY)
    assert await service.approve(world["reviewers"][0], claim_id, NOW) == "final"
    assert (await scans.scan(device, award(), NOW))["reason"] == "daily_cap_reached"


async def test_a_photo_is_resized_turned_upright_and_stripped(world):
    claim_id = await claim(world, "evidence", photo=jpeg())
    path = await service.photo(world["resident"], claim_id)
    assert path.parent == photos.folder() and path.suffix == ".jpg"
    with Image.open(path) as stored:
        # 3000 × 2000 with "rotated" in its EXIF: upright it is 2000 × 3000, resized to fit 1600
        assert (stored.format, stored.size) == ("JPEG", (1067, 1600))
        assert not stored.getexif()
    # reviewers of the community see it; a stranger does not
    assert await service.photo(world["reviewers"][0], claim_id) == path
    stranger = await user("stranger", "路人", world["far_person"])
    with pytest.raises(PermissionDenied):
        await service.photo(stranger, claim_id)


async def test_a_transparent_png_becomes_a_jpeg_on_white(world):
    image = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    out = BytesIO()
    image.save(out, "PNG")
    claim_id = await claim(world, "evidence", photo=out.getvalue())
    with Image.open(await service.photo(world["resident"], claim_id)) as stored:
        assert stored.format == "JPEG" and stored.size == (40, 20) and stored.getpixel((5, 5))[0] > 240


@pytest.mark.parametrize(("content", "code"), [
    (b"GIF89a not really", "photo_not_image"),
    (b"\xff\xd8\xff" + b"\0" * 100, "photo_not_image"),
    (b"\0" * (photos.MAX_BYTES + 1), "file_too_large"),
])
async def test_bad_photos_are_refused_and_nothing_is_stored(world, content, code):
    with pytest.raises(InvalidInput) as caught:
        await claim(world, "evidence", photo=content)
    assert caught.value.code == code
    assert await Claim.count() == 0
    assert not photos.folder().exists() or list(photos.folder().iterdir()) == []


async def test_evidence_is_required_where_the_item_says(world):
    with pytest.raises(InvalidInput) as caught:
        await claim(world, "evidence")
    assert caught.value.code == "evidence_required"


@pytest.mark.parametrize(("deed", "code"), [(TODAY + timedelta(days=1), "deed_in_future"), (TODAY - timedelta(days=61), "deed_too_old")])
async def test_deed_dates_are_checked(world, deed, code):
    with pytest.raises(InvalidInput) as caught:
        await claim(world, deed=deed)
    assert caught.value.code == code


async def test_a_repeated_submission_files_one_claim(world):
    key = uuid4().hex
    first = await claim(world, key=key)
    assert await claim(world, key=key) == first
    results = await asyncio.gather(*(claim(world, key="same-at-once") for _ in range(3)))
    assert len(set(results)) == 1 and await Claim.count() == 2


async def test_colour_restricted_items_need_an_eligible_account(world):
    members_only = await catalog.add_item(world["category"], "党员先锋岗", 10, date(2026, 7, 1), colours=["green"])
    with pytest.raises(Conflict) as caught:
        await service.submit(world["resident"], item_id=members_only, deed_date=TODAY, description="值守", witnesses="",
                             photo=None, submission_key=uuid4().hex, now=NOW)
    assert caught.value.code == "colour_not_eligible"


async def test_the_queue_filters_by_grid_category_and_week(world):
    other_category = await catalog.add_category(world["t"]["c1"], "志愿服务")
    other_item = await catalog.add_item(other_category, "志愿服务满2小时", 5, date(2026, 7, 1))
    this_week = await claim(world)  # submitted Sunday 2026-11-01: the week of 2026-10-26
    last_week = await claim(world, deed=date(2026, 10, 20), now=NOW - timedelta(days=7))
    far = await service.submit(await user("far", "钱远", world["far_person"]), item_id=other_item, deed_date=TODAY,
        description="社区值班", witnesses="", photo=None, submission_key=uuid4().hex, now=NOW)
    reviewer = world["reviewers"][0]
    everything = await service.queue(reviewer)
    assert [c["id"] for c in everything.claims] == [last_week, this_week, far]  # oldest first
    assert everything.weeks == [date(2026, 10, 26), date(2026, 10, 19)]
    assert [c["id"] for c in (await service.queue(reviewer, week=date(2026, 10, 21))).claims] == [last_week]
    assert [c["id"] for c in (await service.queue(reviewer, category_id=other_category)).claims] == [far]
    second_grid = await _node("grid", "第二网格", world["t"]["compound"])
    assert (await service.queue(reviewer, grid_id=second_grid)).claims == []
    assert len((await service.queue(reviewer, grid_id=world["t"]["grid"])).claims) == 3
    row = everything.claims[0]
    assert (row["grid"], row["building"], row["points"], row["conflict"]) == ("第一网格", "1号楼", 15, None)


async def test_a_batch_decides_each_claim_on_its_own(world):
    ok = await claim(world)
    large = await claim(world, "patrol")
    capped = [await claim(world, "capped", deed=date(2026, 10, d)) for d in (3, 4)]
    decisions = await service.review(world["reviewers"][0], [ok, large, *capped], "approve", "", NOW)
    assert [(d.claim_id, d.outcome, d.reason) for d in decisions] == [
        (ok, "approved", None), (large, "approved_once", None), (capped[0], "approved", None),
        (capped[1], "refused", "monthly_cap_reached")]
    decisions = await service.review(world["reviewers"][1], [large, capped[1]], "reject", "重复申报", NOW)
    assert [d.outcome for d in decisions] == ["rejected", "rejected"]
    assert await LedgerTransaction.count() == 2
