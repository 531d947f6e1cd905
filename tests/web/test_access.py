"""Deny by default: walk every route with every role and compare with the capability table."""
import re
from uuid import uuid4

import pytest
from litestar.testing import AsyncTestClient

from backend.app import create_app
from backend.people.rules import CAPABILITIES
from backend.web.routes import route_handlers
from tests.web.conftest import csrf_of, sign_in

pytestmark = pytest.mark.db
ROLES = ["anonymous", "resident", "station_operator", "merchant_clerk", "reviewer", "community_admin", "district_admin"]


def all_routes(app):
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            # OPTIONS handlers are Litestar's own; the guard denies them like any undeclared route
            for method in handler.http_methods - {"OPTIONS"}:
                yield route.path, method, handler


def test_every_route_declares_who_may_use_it():
    app = create_app()
    undeclared = [(path, m) for path, m, h in all_routes(app)
                  if not (h.opt.get("public") or h.opt.get("signed_in") or h.opt.get("device")
                          or h.opt.get("capability") in CAPABILITIES)]
    assert undeclared == []
    assert len(list(all_routes(app))) > 10


def expected(handler, role):
    if handler.opt.get("device"):
        return False  # no person's session opens a device route (tests/web/test_scans.py covers devices)
    if handler.opt.get("public"):
        return True
    if role == "anonymous":
        return False
    if handler.opt.get("signed_in"):
        return True
    roles = {role} if role != "resident" else {"resident"}
    return bool(roles & CAPABILITIES[handler.opt["capability"]])


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_reaches_exactly_its_routes(role, people_world, clean_db):
    ids = {"person_id": people_world["person"], "account_id": people_world["account"], "txn_id": 1, "batch_id": 1}
    async with AsyncTestClient(app=create_app()) as client:
        if role != "anonymous":
            assert (await sign_in(client, role)).status_code == 200
        token = csrf_of((await client.get("/login")).text)
        wrong = []
        # sign-out last: it ends the session the walk runs in
        for path, method, handler in sorted(all_routes(client.app), key=lambda r: r[0] == "/logout"):
            if path.startswith("/static") or handler.opt.get("public"):
                continue
            url = re.sub(r"\{(\w+):(\w+)\}", lambda m: str(uuid4()) if m.group(2) == "uuid" else str(ids.get(m.group(1), 1)), path)
            response = await client.request(method, url, data={"_csrf_token": token} if method != "GET" else None,
                                            follow_redirects=False)
            denied = response.status_code == 403 or (response.status_code in (302, 303) and "/login?next=" in response.headers.get("location", ""))
            if denied == expected(handler, role):
                wrong.append((method, url, response.status_code))
        assert wrong == []
