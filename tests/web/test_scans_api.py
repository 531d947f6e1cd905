"""POST /api/v1/scans as a device sees it: status codes decide what its queue does with each scan."""
from uuid import uuid4

import pytest

from backend.stations import service as stations
from tests import factories as f

pytestmark = pytest.mark.db


@pytest.fixture
async def device(client):
    desk = await f.award_desk()
    account, admin, item, credential, url = desk["account"], desk["admin"], desk["item"], desk["credential"], desk["url"]
    return {"headers": {"Authorization": f"Device {credential}"}, "url": url, "item": item, "admin": admin,
            "account": account, "credential": credential}


def scan(device, **extra):
    return {"scan_id": str(uuid4()), "scanned_at": "2026-11-01T09:00:00+08:00", "mode": "award", "card": device["url"],
            "details": {"item_id": device["item"]}} | extra


async def test_accepted_then_replayed(client, device):
    body = scan(device)
    r = await client.post("/api/v1/scans", json=body, headers=device["headers"])
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] and r.json()["message"] == "奖励 10 分。" and r.json()["balance"] == 10
    again = await client.post("/api/v1/scans", json=body, headers=device["headers"])
    assert again.status_code == 200 and again.json()["duplicate"] and again.json()["balance"] == 10
    assert await f.balance(device["account"]) == 10


async def test_refused_is_final_422_with_reason_in_the_devices_language(client, device):
    r = await client.post("/api/v1/scans", json=scan(device, card="0000000000"), headers=device["headers"])
    assert r.status_code == 422 and r.json()["reason"] == "unknown_card" and "找不到" in r.json()["message"]
    r = await client.post("/api/v1/scans", json=scan(device, card="0000000000"),
                          headers=device["headers"] | {"Accept-Language": "en"})
    assert r.json()["message"] == "There is no card with this code or number."


async def test_malformed_request_is_a_clear_400(client, device):
    r = await client.post("/api/v1/scans", json={"scan_id": "not-a-uuid", "mode": "award"}, headers=device["headers"])
    assert r.status_code == 400 and r.json()["reason"] == "invalid"
    r = await client.post("/api/v1/scans", json=scan(device, scanned_at="2026-11-01T09:00:00"), headers=device["headers"])
    assert r.status_code == 400 and r.json()["reason"] == "naive_time"
    r = await client.post("/api/v1/scans", content=b'{"scan_id": 1', headers=device["headers"] | {
        "Content-Type": "application/json", "Accept-Language": "en"})  # not JSON at all: not "try again"
    assert r.status_code == 400 and r.json() == {"reason": "invalid", "message": "The request is not valid."}


async def test_no_or_revoked_device_is_refused(client, device):
    r = await client.post("/api/v1/scans", json=scan(device))
    assert r.status_code == 403 and r.json()["reason"] == "device_unknown"
    await stations.revoke_device(device["admin"], int(device["credential"].split(".")[0]), f.NOW)
    r = await client.post("/api/v1/scans", json=scan(device), headers=device["headers"])
    assert r.status_code == 403 and r.json()["reason"] == "device_revoked"


async def test_batch_answers_each_scan_on_its_own(client, device):
    good, bad = scan(device), scan(device, card="0000000000")
    r = await client.post("/api/v1/scans/batch", json={"scans": [good, bad, good]}, headers=device["headers"])
    assert r.status_code == 200
    assert [(x["status"], x["reason"], x["duplicate"]) for x in r.json()] == [(200, "ok", False), (422, "unknown_card", False), (200, "ok", True)]


async def test_undo_gives_the_points_back_once(client, device):
    body = scan(device)
    await client.post("/api/v1/scans", json=body, headers=device["headers"])
    r = await client.post(f"/api/v1/scans/{body['scan_id']}/undo", headers=device["headers"])
    assert r.status_code == 200 and await f.balance(device["account"]) == 0
    r = await client.post(f"/api/v1/scans/{body['scan_id']}/undo", headers=device["headers"])
    assert r.status_code == 422 and r.json()["reason"] == "already_undone"


async def test_station_config_and_openapi(client, device):
    config = (await client.get("/api/v1/station", headers=device["headers"])).json()
    assert config["station"]["modes"] == ["award"] and config["award_items"][0]["label"] == "文明实践 · 楼道清理（10分）"
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/scans" in schema["paths"] and "/api/v1/scans/batch" in schema["paths"]
