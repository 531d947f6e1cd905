"""Stations on screen: staff set one up and pair a device; the device pairs, opens the scan screen, is
refused once switched off; a photo of a card becomes a scan."""
import re
from datetime import date, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from litestar.testing import AsyncTestClient

import cards
from backend.accounts.tables import Account
from backend.app import create_app
from backend.audit.tables import AuditEntry
from backend.catalog import service as catalog
from backend.stations import service as stations
from backend.stations.tables import Device
from backend.web.access import DEVICE_COOKIE
from tests import factories as f
from tests.web.conftest import csrf_of, sign_in

pytestmark = pytest.mark.db


@pytest.fixture
async def world(people_world):
    t = people_world["tree"]
    item = await catalog.add_item(await catalog.add_category(t["c1"], "文明实践"), "楼道清理", 10, date(2026, 1, 1))
    other_item = await catalog.add_item(await catalog.add_category(t["c2"], "志愿服务"), "敬老助残", 20, date(2026, 1, 1))
    shop = (await Account.insert(Account(kind="shop", name="东园积分超市", community=t["c1"])))[0]["id"]
    other_shop = (await Account.insert(Account(kind="shop", name="西园积分超市", community=t["c2"])))[0]["id"]
    return people_world | {"item": item, "other_item": other_item, "shop": shop, "other_shop": other_shop}


def station_form(world, **extra):
    return {"community": str(world["tree"]["c1"]), "name": "东园党群服务中心", "kind": "centre", "modes": ["award"],
            "award_items": [str(world["item"])], "receiving_account": str(world["shop"]), "pin_threshold": "50",
            "offline_limit": "0"} | extra


async def post_form(client, url: str, data: dict, page: str = "/staff/stations/new", **kwargs):
    token = csrf_of((await client.get(page)).text)
    return await client.post(url, data=data | {"_csrf_token": token}, follow_redirects=False, **kwargs)


async def new_station(client, world, **extra) -> int:
    r = await post_form(client, "/staff/stations", station_form(world, **extra))
    assert r.status_code == 303, r.text
    return int(r.headers["location"].rsplit("/", 1)[1])


async def pairing_url(client, station_id: int, name: str = "前台平板") -> str:
    r = await post_form(client, f"/staff/stations/{station_id}/pairing", {"device_name": name}, f"/staff/stations/{station_id}")
    assert r.status_code == 200, r.text
    return re.search(r'data-testid="pairing-url">([^<]+)<', r.text).group(1)


async def test_operator_creates_a_station_and_it_is_audited(client, world):
    await sign_in(client, "station_operator")
    form = (await client.get("/staff/stations/new")).text
    # the operator manages one community: the form is for it, with its own items and accounts only
    assert "楼道清理" in form and "敬老助残" not in form and "东园积分超市" in form and "西园积分超市" not in form
    station_id = await new_station(client, world)
    page = (await client.get(f"/staff/stations/{station_id}")).text
    assert "东园党群服务中心" in page and "按积分项目奖励" in page and "文明实践 · 楼道清理（10分）" in page
    assert "东园党群服务中心" in (await client.get("/staff/stations")).text
    assert await AuditEntry.count().where(AuditEntry.action == "station.create") == 1


@pytest.mark.parametrize("extra, message", [
    ({"modes": []}, "请至少选择一项本站可以办理的业务"),
    ({"award_items": []}, "请至少选择一个本站可以奖励的积分项目"),
    ({"name": " "}, "请输入名称"),
    ({"pin_threshold": "-1"}, "请输入 0 到 1,000,000 之间的整数"),
    ({"offline_limit": "lots"}, "请输入 0 到 1,000,000 之间的整数"),
])
async def test_a_wrong_station_form_says_why_and_creates_nothing(client, world, extra, message):
    await sign_in(client, "station_operator")
    r = await post_form(client, "/staff/stations", station_form(world, **extra))
    assert r.status_code == 400 and message in r.text
    assert await stations.stations_in(["/"]) == []


async def test_items_and_accounts_of_another_community_are_refused(client, world):
    await sign_in(client, "station_operator")
    r = await post_form(client, "/staff/stations", station_form(world, award_items=[str(world["other_item"])]))
    assert r.status_code == 400 and "只能奖励本社区积分项目表中的项目" in r.text
    r = await post_form(client, "/staff/stations", station_form(world, receiving_account=str(world["other_shop"])))
    assert r.status_code == 400 and "只能转入本社区的积分超市" in r.text
    r = await post_form(client, "/staff/stations", station_form(world, community=str(world["tree"]["c2"])))
    assert r.status_code == 403


async def test_district_admin_chooses_the_community_first(client, world):
    await sign_in(client, "district_admin")
    page = (await client.get("/staff/stations/new")).text
    assert 'name="community"' in page and "东园社区" in page and "西园社区" in page and "楼道清理" not in page
    page = (await client.get(f"/staff/stations/new?community={world['tree']['c2']}")).text
    assert "敬老助残" in page and "楼道清理" not in page


async def test_pair_a_device_open_the_scan_screen_then_switch_it_off(client, world):
    await sign_in(client, "station_operator")
    station_id = await new_station(client, world)
    r = await post_form(client, f"/staff/stations/{station_id}/pairing", {"device_name": "前台平板"}, f"/staff/stations/{station_id}")
    assert '<svg role="img"' in r.text and r.headers["cache-control"] == "no-store"
    url = re.search(r'data-testid="pairing-url">([^<]+)<', r.text).group(1)
    assert url.startswith("http://127.0.0.1:8000/pair/")
    path = url.removeprefix("http://127.0.0.1:8000")

    async with AsyncTestClient(app=create_app()) as device:
        page = await device.get(path)
        assert page.status_code == 200 and "将本设备以“前台平板”的名称绑定到服务站“东园党群服务中心”" in page.text
        r = await device.post(path, data={"_csrf_token": csrf_of(page.text)}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/station"
        cookie = r.headers["set-cookie"].lower()
        assert f"{DEVICE_COOKIE}=" in cookie and "httponly" in cookie and "samesite=lax" in cookie and "max-age=31536000" in cookie
        screen = await device.get("/station")
        assert screen.status_code == 200 and 'id="station-strings"' in screen.text and "设备：前台平板" in screen.text
        assert (await device.get("/", follow_redirects=False)).headers["location"] == "/station"
        assert "前台平板" in (await device.get("/station/device")).text
        config = (await device.get("/api/v1/station")).json()
        assert config["station"]["modes"] == ["award"] and config["award_items"][0]["id"] == world["item"]
        assert (await Device.select(Device.last_seen_at).first())["last_seen_at"] is not None

        # the code worked once
        again = await device.get(path)
        assert again.status_code == 410 and "绑定码已使用过" in again.text

        # the station page's devices list, as it refreshes itself while a pairing code is on screen
        part = await client.get(f"/staff/stations/{station_id}", headers={"HX-Request": "true", "HX-Target": "devices"})
        assert part.text.startswith('<section id="devices"') and "前台平板" in part.text

        device_id = (await Device.select(Device.id).first())["id"]
        r = await post_form(client, f"/staff/stations/{station_id}/devices/{device_id}/revoke", {}, f"/staff/stations/{station_id}")
        assert r.status_code == 200 and "设备已停用" in r.text
        refused = await device.get("/station")
        assert refused.status_code == 403 and "已被工作人员停用" in refused.text
        assert (await device.get("/", follow_redirects=False)).headers["location"] == "/station"
    actions = [r["action"] for r in await AuditEntry.select(AuditEntry.action).order_by(AuditEntry.id)]
    assert actions == ["station.create", "device.pairing_code", "device.pair", "device.revoke"]


async def test_unknown_and_expired_pairing_codes_say_so(client, world):
    admin = await f.admin_principal(world["tree"]["c1"])
    station_id = await stations.create_station(admin, world["tree"]["c1"], "东园", "centre", ["award"], award_items=[world["item"]])
    old = await stations.new_pairing_code(admin, station_id, "旧平板", datetime.now(timezone.utc) - timedelta(minutes=11))
    r = await client.get(f"/pair/{old}")
    assert r.status_code == 410 and "绑定码已过期" in r.text
    r = await client.get("/pair/not-a-code")
    assert r.status_code == 404 and "绑定码无效" in r.text
    r = await client.post("/pair/not-a-code", data={"_csrf_token": csrf_of(r.text)})
    assert r.status_code == 404
    assert await Device.count() == 0


async def test_an_operator_cannot_open_a_station_of_another_community(client, world):
    admin = await f.admin_principal(world["tree"]["c2"])
    other = await stations.create_station(admin, world["tree"]["c2"], "西园", "centre", ["award"], award_items=[world["other_item"]])
    await sign_in(client, "station_operator")
    assert (await client.get(f"/staff/stations/{other}")).status_code == 403
    assert "西园" not in (await client.get("/staff/stations")).text


async def test_a_photo_of_a_card_becomes_a_scan(client, world):
    admin = await f.admin_principal(world["tree"]["c1"])
    station_id = await stations.create_station(admin, world["tree"]["c1"], "东园", "centre", ["award"], award_items=[world["item"]])
    _, credential = await f.paired_device(admin, station_id)
    _, url = await f.card_for(admin, world["account"])
    headers = {"Authorization": f"Device {credential}"}
    r = await client.post("/api/v1/scans/photo", files={"photo": ("card.png", cards.qr_png(url), "image/png")}, headers=headers)
    assert r.status_code == 200 and r.json()["card"] == cards.extract_token(url)
    scan = {"scan_id": str(uuid4()), "scanned_at": datetime.now(timezone.utc).isoformat(), "mode": "award",
            "card": r.json()["card"], "details": {"item_id": world["item"]}}
    assert (await client.post("/api/v1/scans", json=scan, headers=headers)).json()["accepted"]

    r = await client.post("/api/v1/scans/photo", files={"photo": ("blank.png", _blank_png(), "image/png")}, headers=headers)
    assert r.status_code == 422 and r.json()["reason"] == "no_code_found" and "没有找到" in r.json()["message"]
    r = await client.post("/api/v1/scans/photo", files={"photo": ("card.png", cards.qr_png(url), "image/png")})
    assert r.status_code == 403


def _blank_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (200, 200), 255).save(buffer, format="PNG")
    return buffer.getvalue()
