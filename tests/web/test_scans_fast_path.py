"""POST /api/v1/scans skips the framework's layers (backend.scans.web.scan_fast_path): ordinary scans are answered
there, exactly as the framework's route would; anything unusual is handed to that route with its body."""
import json
from datetime import datetime, timezone
from uuid import uuid4

import pytest
from litestar.testing import AsyncTestClient

from backend.app import create_app
from backend.scans.web import MAX_FAST_BODY, scan_fast_path
from backend.stations import service as stations
from tests import factories as f

pytestmark = pytest.mark.db


@pytest.fixture
async def world(clean_db):
    """The app with a count of the requests that reached the framework, and a paired award station."""
    app = create_app()
    reached = []
    framework = app.asgi_handler.framework

    async def counted(scope, receive, send):
        if scope["type"] == "http":
            reached.append(scope["path"])
        await framework(scope, receive, send)

    app.asgi_handler = scan_fast_path(counted)
    desk = await f.award_desk()
    account, admin, item, credential, url = desk["account"], desk["admin"], desk["item"], desk["credential"], desk["url"]
    device = desk["device"]
    async with AsyncTestClient(app=app) as client:
        yield {"client": client, "app": app, "reached": reached, "credential": credential, "url": url, "item": item,
               "account": account, "admin": admin, "device_id": device.device_id,
               "headers": {"Authorization": f"Device {credential}"}}


def scan(w, **extra):
    return {"scan_id": str(uuid4()), "scanned_at": "2026-11-01T09:00:00+08:00", "mode": "award", "card": w["url"],
            "details": {"item_id": w["item"]}} | extra


async def test_an_ordinary_scan_is_answered_without_the_framework(world):
    w = world
    r = await w["client"].post("/api/v1/scans", json=scan(w), headers=w["headers"])
    assert r.status_code == 200 and r.json()["accepted"] and r.json()["balance"] == 10
    assert r.headers["content-type"] == "application/json" and int(r.headers["content-length"]) == len(r.content)
    refused = await w["client"].post("/api/v1/scans", json=scan(w, card="0000000000"), headers=w["headers"])
    assert refused.status_code == 422 and refused.json()["reason"] == "unknown_card"
    assert w["reached"] == []
    assert await f.balance(w["account"]) == 10


async def test_the_answer_is_the_frameworks_answer(world):
    """The same scan through both ways: the replay (a duplicate) differs only in `duplicate`."""
    w = world
    for first_fast in (True, False):
        body = scan(w)
        # a session cookie is left to the framework (its session middleware may rewrite it)
        framework_way = {"Authorization": f"Device {w['credential']}", "Cookie": "session=null"}
        fast_way = {"Authorization": f"Device {w['credential']}"}
        first = await w["client"].post("/api/v1/scans", json=body, headers=fast_way if first_fast else framework_way)
        again = await w["client"].post("/api/v1/scans", json=body, headers=framework_way if first_fast else fast_way)
        assert first.status_code == again.status_code == 200
        assert first.json() | {"duplicate": True} == again.json()
        # the same headers (bar the session middleware's cookie, which is why sessions go the framework's way)
        assert set(first.headers) - {"set-cookie"} == set(again.headers) - {"set-cookie"} == {
            "content-type", "content-length"}
    assert w["reached"] == ["/api/v1/scans", "/api/v1/scans"]
    assert await f.balance(w["account"]) == 20


async def test_the_device_cookie_and_the_language_cookie(world):
    w = world
    w["client"].cookies.set("linli_device", w["credential"])
    w["client"].cookies.set("lang", "en")
    r = await w["client"].post("/api/v1/scans", json=scan(w, card="0000000000"))
    assert r.status_code == 422 and r.json()["message"] == "There is no card with this code or number."
    r = await w["client"].post("/api/v1/scans", json=scan(w))
    assert r.status_code == 200 and r.json()["accepted"]
    assert w["reached"] == []


async def test_the_browsers_language(world):
    w = world
    r = await w["client"].post("/api/v1/scans", json=scan(w, card="0000000000"),
                               headers=w["headers"] | {"Accept-Language": "en-GB,en;q=0.8"})
    assert r.json()["message"] == "There is no card with this code or number." and w["reached"] == []


async def test_what_is_unusual_goes_the_frameworks_way(world):
    w = world
    client = w["client"]
    r = await client.post("/api/v1/scans", json=scan(w))  # no credential
    assert r.status_code == 403 and r.json()["reason"] == "device_unknown"
    r = await client.post("/api/v1/scans", json={"scan_id": "not-a-uuid", "mode": "award"}, headers=w["headers"])
    assert r.status_code == 400 and r.json()["reason"] == "invalid"
    r = await client.post("/api/v1/scans", json=scan(w, scanned_at="2026-11-01T09:00:00"), headers=w["headers"])
    assert r.status_code == 400 and r.json()["reason"] == "naive_time"
    r = await client.post("/api/v1/scans", json=scan(w), headers={"Authorization": "Device 999.nope"})
    assert r.status_code == 403 and r.json()["reason"] == "device_unknown"
    assert w["reached"] == ["/api/v1/scans"] * 4
    await stations.revoke_device(w["admin"], w["device_id"], datetime.now(timezone.utc))
    r = await client.post("/api/v1/scans", json=scan(w), headers=w["headers"])
    assert r.status_code == 403 and r.json()["reason"] == "device_revoked"
    assert len(w["reached"]) == 5
    assert await f.balance(w["account"]) == 0


async def test_a_body_in_pieces_and_a_body_too_large(world):
    """Raw ASGI: the body may come in several messages; one larger than MAX_FAST_BODY is replayed whole."""
    w = world

    async def post(parts: list[bytes]) -> tuple[int, dict]:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
                 "path": "/api/v1/scans", "raw_path": b"/api/v1/scans", "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"test"), (b"content-type", b"application/json"),
                             (b"authorization", f"Device {w['credential']}".encode()),
                             (b"content-length", str(sum(map(len, parts))).encode())],
                 "client": ("127.0.0.1", 1), "server": ("test", 80), "state": {}}
        messages = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]
        sent = []

        async def receive():
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        await w["app"](scope, receive, send)
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return sent[0]["status"], json.loads(body)

    body = json.dumps(scan(w)).encode()
    status, answer = await post([body[:10], body[10:50], body[50:]])
    assert status == 200 and answer["accepted"] and w["reached"] == []
    padded = json.dumps(scan(w, pin=" " * (MAX_FAST_BODY + 10_000))).encode()
    parts = [padded[i:i + 4096] for i in range(0, len(padded), 4096)]
    status, answer = await post(parts)
    assert status == 200 and answer["accepted"] and w["reached"] == ["/api/v1/scans"]
    assert await f.balance(w["account"]) == 20
