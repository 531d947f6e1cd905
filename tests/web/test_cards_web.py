"""Service-card screens through the test client: the person's cards, the card desk, printing, NFC, photo,
the public card page, the resident's card with its rotating code and PIN, and the JSON for stations."""
import base64
import io
import re
import shutil
import subprocess
from datetime import datetime, timezone

import cairosvg
import pytest
from PIL import Image

import cards
from backend.audit.tables import AuditEntry
from backend.servicecards import service
from backend.servicecards.tables import Card
from backend.people import service as people
from tests import factories as f
from tests.web.conftest import csrf_of, sign_in

pytestmark = pytest.mark.db


async def staff(world):
    return await people.principal(world["users"]["community_admin"])


async def issued(world):
    return await service.issue(await staff(world), world["account"], datetime.now(timezone.utc))


async def post(client, url, data, headers=None):
    page = await client.get("/me" if url.startswith("/me") else "/staff")
    return await client.post(url, data={"_csrf_token": csrf_of(page.text), **data}, headers=headers or {})


# --- staff: the person's cards ----------------------------------------------------------------------------

async def test_person_page_loads_its_cards_section_and_issues_a_card(client, people_world):
    await sign_in(client, "community_admin")
    page = await client.get(f"/staff/people/{people_world['person']}")
    assert f'hx-get="/staff/people/{people_world["person"]}/cards"' in page.text
    section = await client.get(f"/staff/people/{people_world['person']}/cards", headers={"HX-Request": "true"})
    assert section.text.lstrip().startswith('<section id="person-cards"') and "还没有卡" in section.text
    assert "给王小明发卡" in section.text

    r = await post(client, "/staff/cards/issue", {"account": str(people_world["account"]),
                                                   "back": f"person:{people_world['person']}"},
                   {"HX-Request": "true", "HX-Target": "person-cards"})
    assert r.status_code == 200 and "已发卡" in r.text and "有效" in r.text
    card = (await service.cards_of_person(people_world["person"]))[0]
    assert card.formatted_number in r.text and f"/staff/cards/{card.pk}/card.pdf" in r.text
    # without JavaScript: a full page with the same section
    full = await client.get(f"/staff/people/{people_world['person']}/cards")
    assert "<html" in full.text and card.formatted_number in full.text


async def test_report_lost_then_the_old_card_page_says_revoked(client, people_world):
    card = await issued(people_world)
    old_path = "/c/" + await service.card_token(card)
    await sign_in(client, "station_operator")
    r = await post(client, f"/staff/cards/{card.pk}/lost", {"back": f"person:{people_world['person']}"})
    assert r.status_code == 200 and "已挂失作废" in r.text
    new = (await service.active_cards_of_person(people_world["person"]))[0]
    assert new.pk != card.pk and new.formatted_number in r.text
    assert await f.balance(people_world["account"]) == 30
    landing = await client.get(old_path)
    assert landing.status_code == 410 and "已挂失或已换卡" in landing.text
    again = await post(client, f"/staff/cards/{card.pk}/lost", {"back": f"person:{people_world['person']}"})
    assert again.status_code == 422 and "这张卡已作废" in again.text


async def test_staff_of_another_community_cannot_issue_or_see_cards(client, people_world):
    await sign_in(client, "community_admin")
    r = await post(client, "/staff/cards/issue", {"account": str(people_world["other_account"]), "back": ""})
    assert r.status_code == 403
    assert await Card.count() == 0
    assert (await client.get(f"/staff/people/{people_world['other_person']}/cards")).status_code == 403
    district = await people.principal(people_world["users"]["district_admin"])
    other = await service.issue(district, people_world["other_account"], datetime.now(timezone.utc))
    for url in (f"/staff/cards/{other.pk}/card.pdf", f"/staff/cards/{other.pk}/nfc"):
        assert (await client.get(url)).status_code == 403, url
    assert (await post(client, f"/staff/cards/{other.pk}/lost", {})).status_code == 403
    assert (await service.card(other.pk)).active
    r = await client.get(f"/staff/cards/sheet.pdf?node={people_world['tree']['c2']}")
    assert r.status_code == 403


async def test_reviewers_see_cards_but_cannot_act(client, people_world):
    await issued(people_world)
    await sign_in(client, "reviewer")
    r = await client.get(f"/staff/people/{people_world['person']}/cards", headers={"HX-Request": "true"})
    assert r.status_code == 200 and "有效" in r.text and "挂失补卡" not in r.text and "发卡" not in r.text


async def test_staff_reset_a_pin(client, people_world):
    card = await issued(people_world)
    await sign_in(client, "station_operator")
    r = await post(client, f"/staff/cards/{card.pk}/pin-reset",
                   {"new_pin": "975310", "confirm_pin": "975310", "back": f"place:{people_world['tree']['grid']}"})
    assert r.status_code == 200 and "新密码已设置" in r.text
    await service.check_pin(card.pk, "975310", datetime.now(timezone.utc))
    r = await post(client, f"/staff/cards/{card.pk}/pin-reset", {"new_pin": "111111", "confirm_pin": "111111",
                                                                  "back": f"place:{people_world['tree']['grid']}"})
    assert r.status_code == 400 and "太容易被猜到" in r.text


# --- printing --------------------------------------------------------------------------------------------

async def test_card_and_place_sheets_download(client, people_world):
    card = await issued(people_world)
    await sign_in(client, "station_operator")
    pdf = await client.get(f"/staff/cards/{card.pk}/card.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and card.number in pdf.headers["content-disposition"]
    svg = await client.get(f"/staff/cards/{card.pk}/card.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and "便民服务卡" in svg.text and "王小明" in svg.text
    grid = people_world["tree"]["grid"]
    sheet = await client.get(f"/staff/cards/sheet.pdf?node={grid}")
    assert sheet.status_code == 200 and sheet.content.startswith(b"%PDF")
    assert (await client.get(f"/staff/cards/sheet.svg?node={grid}&page=1")).status_code == 200
    assert (await client.get(f"/staff/cards/sheet.svg?node={grid}&page=2")).status_code == 404
    assert (await client.get(f"/staff/cards/sheet.pdf?node={people_world['tree']['compound']}")).status_code == 200
    await client.post("/lang", data={"_csrf_token": csrf_of((await client.get("/staff")).text), "language": "en"})
    english = await client.get(f"/staff/cards/{card.pk}/card.svg")
    assert "Convenience service card" in english.text


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs Debian poppler-utils")
async def test_the_printed_pdf_decodes_to_a_code_resolve_accepts(client, people_world, tmp_path):
    from cards.sheet import PAGE_WIDTH, qr_box
    from pyzbar.pyzbar import decode

    card = await issued(people_world)
    await sign_in(client, "station_operator")
    (tmp_path / "card.pdf").write_bytes((await client.get(f"/staff/cards/{card.pk}/card.pdf")).content)
    subprocess.run(["pdftoppm", "-r", "200", "-png", "card.pdf", "page"], cwd=tmp_path, check=True)
    page = Image.open(next(tmp_path.glob("page-*.png"))).convert("L")
    x, y, size = qr_box(0)
    px = page.width / PAGE_WIDTH
    texts = [s.data.decode() for s in decode(page.crop((round(x * px), round(y * px),
                                                         round((x + size) * px), round((y + size) * px))))]
    assert len(texts) == 1
    assert (await service.resolve(texts[0], datetime.now(timezone.utc))).card_pk == card.pk


# --- the card desk ---------------------------------------------------------------------------------------

async def test_desk_issues_every_missing_card_of_a_grid(client, people_world):
    t = people_world["tree"]
    for name in ("赵一", "钱二"):
        await f.person_account(name, t["unit"], t["c1"])
    await sign_in(client, "station_operator")
    page = await client.get("/staff/cards")
    assert page.status_code == 200 and "第一网格" in page.text and "西园社区" not in page.text
    desk = await client.get(f"/staff/cards?node={t['grid']}")
    assert re.search(r'data-testid="desk-missing">3<', desk.text)
    r = await post(client, "/staff/cards/bulk", {"node": str(t["grid"])},
                   {"HX-Request": "true", "HX-Target": "desk"})
    assert r.status_code == 200 and r.text.lstrip().startswith('<section id="desk"')
    assert "已为第一网格发放 3 张新卡" in r.text and re.search(r'data-testid="desk-missing">0<', r.text)
    again = await post(client, "/staff/cards/bulk", {"node": str(t["grid"])})
    assert "每个人都已经有卡了" in again.text
    assert await AuditEntry.count().where(AuditEntry.action == "card.issue_bulk") == 1
    assert (await post(client, "/staff/cards/bulk", {"node": str(t["c2"])})).status_code == 403


# --- NFC and photo ---------------------------------------------------------------------------------------

async def test_nfc_page_shows_the_link_and_whether_it_fits(client, people_world):
    card = await issued(people_world)
    await sign_in(client, "station_operator")
    r = await client.get(f"/staff/cards/{card.pk}/nfc")
    url = await service.card_url(card)
    size = len(cards.ntag213_image(url))
    assert r.status_code == 200 and f'data-url="{url}"' in r.text and "nfc-write.js" in r.text
    assert f"标签上占 {size} 字节" in r.text and "NTAG213（144 字节）放得下" in r.text


async def test_photo_says_which_card_or_that_there_is_none(client, people_world):
    card = await issued(people_world)
    await sign_in(client, "reviewer")
    token = csrf_of((await client.get("/staff/cards/photo")).text)
    png = cards.qr_png(await service.card_url(card))
    r = await client.post("/staff/cards/photo", data={"_csrf_token": token}, files={"photo": ("card.png", png, "image/png")})
    assert r.status_code == 200 and "有效卡" in r.text and "王*明" in r.text and card.formatted_number in r.text
    assert "王小明" not in r.text.split("</header>")[1]
    blank = Image.new("RGB", (400, 300), "white")
    buffer = io.BytesIO()
    blank.save(buffer, "PNG")
    r = await client.post("/staff/cards/photo", data={"_csrf_token": token},
                          files={"photo": ("blank.png", buffer.getvalue(), "image/png")})
    assert r.status_code == 422 and "没有找到卡码" in r.text
    r = await client.post("/staff/cards/photo", data={"_csrf_token": token}, files={"photo": ("x.txt", b"hello", "text/plain")})
    assert r.status_code == 422
    r = await client.post("/staff/cards/photo", data={"_csrf_token": token})
    assert r.status_code == 400 and "请选择文件" in r.text


# --- the public card page --------------------------------------------------------------------------------

async def test_card_page_tells_strangers_only_the_community(client, people_world):
    card = await issued(people_world)
    path = "/c/" + await service.card_token(card)
    r = await client.get(path)
    assert r.status_code == 200 and "东园社区的便民服务卡" in r.text
    assert "王" not in r.text.split("</header>")[1] and card.formatted_number not in r.text
    assert (await client.get("/c/" + "A" * 99)).status_code == 404
    r = await client.get(f"/c/{card.number}")
    assert r.status_code == 404 and "不是有效的卡码" in r.text
    await sign_in(client, "resident")
    r = await client.get(path, follow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["location"] == "/me/card"
    await client.post("/logout", data={"_csrf_token": csrf_of((await client.get("/me")).text)})
    await sign_in(client, "reviewer")
    assert (await client.get(path, follow_redirects=False)).status_code == 200


# --- the resident's card ---------------------------------------------------------------------------------

async def test_my_card_shows_a_rotating_code_and_the_printed_one_for_offline(client, people_world):
    card = await issued(people_world)
    await sign_in(client, "resident")
    me = await client.get("/me")
    assert 'href="/me/card"' in me.text
    page = await client.get("/me/card")
    assert page.status_code == 200 and card.formatted_number in page.text
    assert 'hx-trigger="load delay:30s, retry-code"' in page.text and "实体卡上的卡码" in page.text
    assert await service.card_url(card) in page.text or "data-static" in page.text
    fast = await client.get("/me/card?refresh=1")
    assert 'load delay:2s' in fast.text
    widget = await client.get(f"/me/card/{card.pk}/phone-code?refresh=3", headers={"HX-Request": "true"})
    assert widget.text.lstrip().startswith('<div class="phone-code"') and "load delay:3s" in widget.text
    assert widget.headers["cache-control"] == "no-store"


async def test_phone_code_widget_holds_a_short_lived_code(client, people_world):
    from pyzbar.pyzbar import decode

    card = await issued(people_world)
    await sign_in(client, "resident")
    widget = await client.get(f"/me/card/{card.pk}/phone-code")
    svg = re.search(r"<svg.*?</svg>", widget.text, re.S).group(0)
    # inline SVG in HTML needs no namespace and sizes itself with CSS; a stand-alone renderer needs the one, not the other
    svg = re.sub(r' style="[^"]*"', "", svg).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
    png = cairosvg.svg2png(bytestring=svg.encode(), output_width=600)
    text = decode(Image.open(io.BytesIO(png)).convert("L"))[0].data.decode()
    found = await service.resolve(text, datetime.now(timezone.utc))
    assert found.card_pk == card.pk and found.is_phone_code
    other_card = await service.issue(await people.principal(people_world["users"]["district_admin"]),
                                     people_world["other_account"], datetime.now(timezone.utc))
    assert (await client.get(f"/me/card/{other_card.pk}/phone-code")).status_code == 403


async def test_resident_sets_and_changes_the_pin(client, people_world):
    card = await issued(people_world)
    await sign_in(client, "resident")
    url = f"/me/card/{card.pk}/pin"
    r = await post(client, url, {"new_pin": "135790", "confirm_pin": "135790"}, {"HX-Request": "true"})
    assert r.status_code == 200 and "密码已保存" in r.text and r.text.lstrip().startswith(f'<form id="pin-{card.pk}"')
    assert "当前密码" in r.text
    r = await post(client, url, {"new_pin": "246801", "confirm_pin": "246801", "current_pin": "000000"}, {"HX-Request": "true"})
    assert r.status_code == 422 and "密码错误。再错 4 次" in r.text
    r = await post(client, url, {"new_pin": "246801", "confirm_pin": "246802", "current_pin": "135790"})
    assert r.status_code == 400 and "两次输入的密码不一致" in r.text and "<html" in r.text
    r = await post(client, url, {"new_pin": "246801", "confirm_pin": "246801", "current_pin": "135790"})
    assert r.status_code == 200
    await service.check_pin(card.pk, "246801", datetime.now(timezone.utc))


# --- JSON for stations -----------------------------------------------------------------------------------

async def test_keys_and_revocations_for_offline_stations(client, people_world):
    card = await issued(people_world)
    keys = (await client.get("/api/v1/cards/keys")).json()
    assert keys["algorithm"] == "Ed25519" and [k["key_id"] for k in keys["keys"]] == [card.key_id]
    public = {k["key_id"]: base64.urlsafe_b64decode(k["public_key"] + "=") for k in keys["keys"]}
    verified = cards.verify(await service.card_token(card), public, datetime.now(timezone.utc))
    assert verified.card_id.hex() == card.card_id_hex
    assert (await client.get("/api/v1/cards/revocations")).json()["card_ids"] == []
    await service.report_lost(await staff(people_world), card.pk, datetime.now(timezone.utc))
    body = (await client.get("/api/v1/cards/revocations")).json()
    assert body["card_ids"] == [card.card_id_hex] and body["generated_at"]
