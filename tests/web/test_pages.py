import pytest

from tests.web.conftest import sign_in

pytestmark = pytest.mark.db


async def test_healthz_reports_the_database(client):
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"database": "ok"}


async def test_anonymous_is_sent_to_sign_in(client):
    r = await client.get("/me", follow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/login?next=/me")


async def test_wrong_password_says_so_in_chinese_and_english(client, people_world):
    r = await sign_in(client, "resident", "wrong-password")
    assert r.status_code == 401 and "用户名或密码错误" in r.text
    client.cookies.set("lang", "en")
    r = await sign_in(client, "resident", "wrong-password")
    assert "Wrong username or password." in r.text


async def test_resident_sees_balance_and_history(client, people_world):
    r = await sign_in(client, "resident")
    assert r.status_code == 200, r.text
    assert 'data-testid="balance-%d">30<' % people_world["account"] in r.text
    assert "测试奖励" in r.text


async def test_form_without_csrf_token_is_refused(client, people_world):
    r = await client.post("/login", data={"username": "resident", "password": "x"})
    assert r.status_code == 403 and "表单已过期" in r.text


async def test_manifest_is_installable_shape(client):
    m = (await client.get("/manifest.webmanifest")).json()
    assert m["display"] == "standalone" and {i["sizes"] for i in m["icons"]} >= {"192x192", "512x512"}
    assert any(i["purpose"] == "maskable" for i in m["icons"])
