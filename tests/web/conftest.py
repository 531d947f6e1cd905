import re

import pytest
from litestar.testing import AsyncTestClient

from backend.app import create_app
from backend.people import service as people
from tests import factories as f

PASSWORD = "correct-horse-42"


@pytest.fixture
async def client(clean_db):
    async with AsyncTestClient(app=create_app()) as c:
        yield c


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


async def sign_in(client, username: str, password: str = PASSWORD):
    page = await client.get("/login")
    return await client.post("/login", data={"username": username, "password": password, "_csrf_token": csrf_of(page.text)})


@pytest.fixture
async def people_world(clean_db):
    """A tree, a resident with points, and one user per role on the first community."""
    t = await f.tree()
    issuer = await f.issuer(t["c1"])
    person, account = await f.person_account("王小明", t["unit"], t["c1"], colour="red")
    other_person, other_account = await f.person_account("李四", t["c2"], t["c2"])
    await f.issuer(t["c2"])
    await f.award(issuer, account, 30, t["c1"])
    users = {"resident": await people.create_user("resident", PASSWORD, "王小明", person_id=person)}
    for role in ("station_operator", "merchant_clerk", "reviewer", "community_admin"):
        users[role] = await people.create_user(role, PASSWORD, role, role=role, node_id=t["c1"])
    users["district_admin"] = await people.create_user("district_admin", PASSWORD, "district", role="district_admin", node_id=t["street"])
    return {"tree": t, "issuer": issuer, "person": person, "account": account,
            "other_person": other_person, "other_account": other_account, "users": users}
