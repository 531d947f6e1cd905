"""Service cards against a real database (SQLite, and PostgreSQL in `make test`): issue, resolve what a scanner
delivers, report lost, key rotation, phone codes, PINs, bulk issue, printing round trip, and the command line."""
import asyncio
import base64
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image

import cards
from backend.audit.tables import AuditEntry
from backend.errors import InvalidInput, NotFound, PermissionDenied
from backend.ledger import service as ledger
from backend.people import service as people
from backend.servicecards import service
from backend.servicecards.rules import CardRejected, PinRejected
from backend.servicecards.tables import Card, SigningKey
from tests import factories as f

pytestmark = pytest.mark.db

NOW = f.NOW
LINLI = str(Path(sys.executable).parent / "linli")


@pytest.fixture
async def world(clean_db):
    t = await f.tree()
    issuer = await f.issuer(t["c1"])
    person, account = await f.person_account("王小明", t["unit"], t["c1"], colour="red")
    other_person, other_account = await f.person_account("李四", t["c2"], t["c2"])
    await f.award(issuer, account, 30, t["c1"])
    staff = await people.principal(await people.create_user("station", "correct-horse-42", "站点",
                                                            role="station_operator", node_id=t["c1"]))
    holder = await people.principal(await people.create_user("resident", "correct-horse-42", "王小明", person_id=person))
    district = await people.principal(await people.create_user("district", "correct-horse-42", "街道",
                                                               role="district_admin", node_id=t["street"]))
    return {"tree": t, "issuer": issuer, "person": person, "account": account, "other_person": other_person,
            "other_account": other_account, "staff": staff, "holder": holder, "district": district}


async def rejected(text: str, now=NOW) -> str:
    with pytest.raises(CardRejected) as caught:
        await service.resolve(text, now)
    return caught.value.code


# --- issue and resolve -----------------------------------------------------------------------------------

async def test_issue_then_resolve_by_url_token_and_typed_number(world):
    card = await service.issue(world["staff"], world["account"], NOW)
    assert card.active and card.account_id == world["account"] and cards.is_valid_card_number(card.number)
    assert 100_000_000 <= cards.serial_from_card_number(card.number) <= 999_999_999
    token = await service.card_token(card)
    url = await service.card_url(card)
    assert url.endswith(f"/c/{token}")
    full_width = "".join(chr(ord(d) + 0xFEE0) for d in card.number)
    dashed = f"{card.number[:4]}-{card.number[4:8]}-{card.number[8:]}"
    for text in (url, token, f" {url}\r\n", card.number, card.formatted_number, dashed, full_width):
        found = await service.resolve(text, NOW)
        assert found.card_pk == card.pk, text
    found = await service.resolve(url, NOW)
    assert found == service.ResolvedCard(
        card_pk=card.pk, card_id_hex=card.card_id_hex, card_number=card.number, account_id=world["account"],
        account_colour="red", account_kind="person", holder_person_id=world["person"], holder_name="王小明",
        masked_name="王*明", community_id=world["tree"]["c1"], is_phone_code=False, has_pin=False)
    entry = await AuditEntry.select().where(AuditEntry.action == "card.issue").output(load_json=True).first()
    assert entry["after"]["card_number"] == card.number and entry["actor"] == world["staff"].user_id


async def test_a_printed_code_is_the_same_text_every_time(world):
    card = await service.issue(world["staff"], world["account"], NOW)
    assert await service.card_token(card) == await service.card_token(await service.card(card.pk))


async def test_one_working_card_per_account(world):
    await service.issue(world["staff"], world["account"], NOW)
    with pytest.raises(Exception) as caught:
        await service.issue(world["staff"], world["account"], NOW)
    assert caught.value.code == "card_already_active"


async def test_concurrent_issues_give_one_card(world):
    async def attempt():
        try:
            await service.issue(world["staff"], world["account"], NOW)
            return True
        except Exception as exc:  # noqa: BLE001 - the loser's code is checked below
            assert getattr(exc, "code", None) == "card_already_active", exc
            return False

    assert sum(await asyncio.gather(*(attempt() for _ in range(6)))) == 1
    assert await Card.count().where(Card.account == world["account"]) == 1


async def test_staff_cannot_issue_for_another_community(world):
    with pytest.raises(PermissionDenied):
        await service.issue(world["staff"], world["other_account"], NOW)
    assert await Card.count() == 0
    card = await service.issue(world["district"], world["other_account"], NOW)
    assert card.community_id == world["tree"]["c2"]


async def test_issuers_and_merchants_get_no_card(world):
    with pytest.raises(Exception) as caught:
        await service.issue(world["staff"], world["issuer"], NOW)
    assert caught.value.code == "no_card_for_account_kind"


@pytest.mark.parametrize(("text", "reason"), [
    ("", "malformed"),
    ("hello world", "malformed"),
    ("1234 5678 91", "malformed"),  # wrong check digit
    ("12345", "malformed"),
    ("https://example.cn/c/short", "malformed"),
    ("https://example.cn/c/" + "A" * 99 + "?x=1", "malformed"),
    ("x" * 5000, "malformed"),
])
async def test_garbage_is_malformed(world, text, reason):
    assert await rejected(text) == reason


async def test_unknown_number_unknown_card_unknown_key_bad_signature(world):
    card = await service.issue(world["staff"], world["account"], NOW)
    serial = cards.serial_from_card_number(card.number)
    other = cards.card_number_from_serial(serial + 1 if serial < 999_999_999 else serial - 1)
    assert await rejected(other) == "unknown_card"
    key = await SigningKey.select().first()
    # well signed with the real key, but no such card
    assert await rejected(cards.sign_card(cards.generate_card_id(), key["key_id"], bytes.fromhex(key["private_key"]))) == "unknown_card"
    # signed with a key this instance never had
    stranger, _ = cards.new_signing_key()
    assert await rejected(cards.sign_card(bytes.fromhex(card.card_id_hex), 77, stranger)) == "unknown_key"
    # the real key id, a forged signature
    assert await rejected(cards.sign_card(bytes.fromhex(card.card_id_hex), key["key_id"], stranger)) == "bad_signature"
    raw = bytearray(base64.urlsafe_b64decode(await service.card_token(card) + "="))
    raw[0] = 9
    assert await rejected(base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()) == "unknown_version"


async def test_identify_tells_what_a_code_is_even_when_it_may_not_be_used(world):
    card = await service.issue(world["staff"], world["account"], NOW)
    await service.report_lost(world["staff"], card.pk, NOW)
    found = await service.identify(await service.card_url(card), NOW)
    assert found.reason == "revoked" and found.card.pk == card.pk
    # pages anyone can open never look card numbers up
    assert (await service.identify(card.number, NOW, numbers=False)).reason == "malformed"
    assert (await service.identify(card.number, NOW)).card.pk == card.pk


# --- report lost -----------------------------------------------------------------------------------------

async def test_report_lost_revokes_at_once_and_the_points_stay(world):
    old = await service.issue(world["staff"], world["account"], NOW)
    old_url = await service.card_url(old)
    new = await service.report_lost(world["staff"], old.pk, NOW)
    assert new.account_id == old.account_id and new.pk != old.pk and new.number != old.number
    assert await rejected(old_url) == "revoked"
    assert await rejected(old.number) == "revoked"
    assert (await service.resolve(await service.card_url(new), NOW)).card_pk == new.pk
    assert await f.balance(world["account"]) == 30
    assert await ledger.verify() == []
    revoked = await service.card(old.pk)
    assert (revoked.state, revoked.revoke_reason, revoked.replaced_by) == ("revoked", "lost", new.pk)
    assert await service.revocation_list() == [old.card_id_hex]
    entry = await AuditEntry.select().where(AuditEntry.action == "card.lost").output(load_json=True).first()
    assert entry["before"]["card_number"] == old.number and entry["after"]["new_card_number"] == new.number
    with pytest.raises(Exception) as caught:
        await service.report_lost(world["staff"], old.pk, NOW)
    assert caught.value.code == "card_not_active"


async def test_the_pin_carries_over_to_the_replacement(world):
    old = await service.issue(world["staff"], world["account"], NOW)
    await service.set_pin(world["holder"], old.pk, "246801", "246801", None, NOW)
    new = await service.report_lost(world["staff"], old.pk, NOW)
    assert new.has_pin
    await service.check_pin(new.pk, "246801", NOW)


async def test_only_staff_of_the_community_report_lost(world):
    card = await service.issue(world["district"], world["other_account"], NOW)
    with pytest.raises(PermissionDenied):
        await service.report_lost(world["staff"], card.pk, NOW)
    assert (await service.card(card.pk)).active


async def test_revoke_without_replacement(world):
    card = await service.issue(world["staff"], world["account"], NOW)
    await service.revoke(world["staff"], card.pk, NOW)
    assert await rejected(card.number) == "revoked"
    again = await service.issue(world["staff"], world["account"], NOW)
    assert again.active


# --- keys ------------------------------------------------------------------------------------------------

async def test_key_rotation_keeps_old_cards_and_signs_new_ones_with_the_new_key(world):
    old = await service.issue(world["staff"], world["account"], NOW)
    first_key = old.key_id
    new_key, _ = await service.rotate_keys(NOW)
    assert new_key == first_key + 1
    assert (await service.resolve(await service.card_url(old), NOW)).card_pk == old.pk
    other = await service.issue(world["district"], world["other_account"], NOW)
    assert other.key_id == new_key
    assert set(await service.public_keys()) == {first_key, new_key}
    # the phone code is signed with the newest key
    code = await service.phone_code(world["person"], old.pk, NOW)
    assert cards.verify(code.token, await service.public_keys(), NOW).key_id == new_key

    with pytest.raises(Exception) as caught:
        await service.rotate_keys(NOW, retire=first_key)
    assert caught.value.code == "key_in_use" and caught.value.params == {"key_id": first_key, "cards": 1}
    assert set(await service.public_keys()) == {first_key, new_key}  # the refused rotation wrote nothing

    replacement = await service.report_lost(world["staff"], old.pk, NOW, reason="replaced")
    assert replacement.key_id == new_key
    third, retired = await service.rotate_keys(NOW, retire=first_key)
    assert retired == first_key and set(await service.public_keys()) == {new_key, third}
    assert (await service.resolve(await service.card_url(other), NOW)).card_pk == other.pk
    assert (await service.resolve(await service.card_url(replacement), NOW)).card_pk == replacement.pk
    # a code signed with the retired key is now unknown
    assert await rejected(cards.sign_card(bytes.fromhex(old.card_id_hex), first_key, bytes.fromhex(
        (await SigningKey.select().where(SigningKey.key_id == first_key).first())["private_key"]))) == "unknown_key"


async def test_forced_retirement_makes_its_cards_unknown_key(world):
    card = await service.issue(world["staff"], world["account"], NOW)
    url = await service.card_url(card)
    await service.rotate_keys(NOW, retire=card.key_id, force=True)
    assert await rejected(url) == "unknown_key"
    with pytest.raises(Exception) as caught:
        await service.card_url(card)
    assert caught.value.code == "card_key_retired"


async def test_a_key_retired_by_another_process_stops_verifying_once_the_cache_expires(world, monkeypatch):
    card = await service.issue(world["staff"], world["account"], NOW)
    url = await service.card_url(card)
    await service.resolve(url, NOW)  # the keys are cached now
    # another process (`linli keys rotate --retire … --force`) retires the key behind this one's back
    await SigningKey.update({SigningKey.retired_at: NOW}).where(SigningKey.key_id == card.key_id)
    assert (await service.resolve(url, NOW)).card_pk == card.pk
    monkeypatch.setattr(service, "KEYS_CACHE_SECONDS", 0.0)
    assert await rejected(url) == "unknown_key"


# --- phone codes -----------------------------------------------------------------------------------------

async def test_phone_code_lives_a_minute_and_cannot_be_tampered_with(world):
    card = await service.issue(world["staff"], world["account"], NOW)
    code = await service.phone_code(world["person"], card.pk, NOW)
    assert code.expires_at == NOW + timedelta(seconds=60)
    found = await service.resolve(code.url, NOW + timedelta(seconds=59))
    assert found.card_pk == card.pk and found.is_phone_code
    assert await rejected(code.url, NOW + timedelta(seconds=60)) == "expired"
    # a later code is a different text: a screenshot of an old one is worth nothing
    assert (await service.phone_code(world["person"], card.pk, NOW + timedelta(seconds=30))).token != code.token
    raw = bytearray(base64.urlsafe_b64decode(code.token + "=" * (-len(code.token) % 4)))
    raw[10:14] = (int.from_bytes(raw[10:14], "big") + 3600).to_bytes(4, "big")  # push the expiry an hour on
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert await rejected(forged, NOW + timedelta(seconds=90)) == "bad_signature"
    assert await rejected(code.token[:-4], NOW) == "malformed"


async def test_phone_codes_are_only_for_the_holder_and_die_with_the_card(world):
    card = await service.issue(world["staff"], world["account"], NOW)
    with pytest.raises(PermissionDenied):
        await service.phone_code(world["other_person"], card.pk, NOW)
    code = await service.phone_code(world["person"], card.pk, NOW)
    await service.report_lost(world["staff"], card.pk, NOW)
    assert await rejected(code.url, NOW + timedelta(seconds=5)) == "revoked"
    with pytest.raises(Exception) as caught:
        await service.phone_code(world["person"], card.pk, NOW)
    assert caught.value.code == "card_not_active"


# --- PINs ------------------------------------------------------------------------------------------------

async def pin_error(card_pk, pin, now) -> PinRejected:
    with pytest.raises(PinRejected) as caught:
        await service.check_pin(card_pk, pin, now)
    return caught.value


async def test_pin_lockout_after_five_wrong_in_a_row(world):
    card = await service.issue(world["staff"], world["account"], NOW)
    assert (await pin_error(card.pk, "135790", NOW)).code == "pin_not_set"
    await service.set_pin(world["holder"], card.pk, "１３５７９０", "135790", None, NOW)  # full-width digits count
    assert (await service.resolve(card.number, NOW)).has_pin
    assert (await pin_error(card.pk, "", NOW)).code == "pin_required"
    await service.check_pin(card.pk, "135790", NOW)
    for remaining in (4, 3, 2, 1):
        error = await pin_error(card.pk, "000001", NOW)
        assert (error.code, error.params) == ("wrong_pin", {"remaining": remaining})
    error = await pin_error(card.pk, "000001", NOW)
    assert (error.code, error.params) == ("pin_locked", {"minutes": 15})
    # locked: even the right PIN is refused, without being compared
    assert (await pin_error(card.pk, "135790", NOW + timedelta(minutes=14))).code == "pin_locked"
    await service.check_pin(card.pk, "135790", NOW + timedelta(minutes=15, seconds=1))
    row = await Card.select(Card.pin_failures).where(Card.id == card.pk).first()
    assert row["pin_failures"] == 0


async def test_a_right_pin_resets_the_count(world):
    card = await service.issue(world["staff"], world["account"], NOW)
    await service.set_pin(world["holder"], card.pk, "135790", "135790", None, NOW)
    for _ in range(4):
        await pin_error(card.pk, "000001", NOW)
    await service.check_pin(card.pk, "135790", NOW)
    assert (await pin_error(card.pk, "000001", NOW)).params == {"remaining": 4}


async def test_concurrent_wrong_pins_are_all_counted(world):
    card = await service.issue(world["staff"], world["account"], NOW)
    await service.set_pin(world["holder"], card.pk, "135790", "135790", None, NOW)
    errors = await asyncio.gather(*(pin_error(card.pk, "000001", NOW) for _ in range(5)))
    assert sorted(e.code for e in errors) == ["pin_locked"] + ["wrong_pin"] * 4
    assert (await pin_error(card.pk, "135790", NOW)).code == "pin_locked"


async def test_changing_a_pin_needs_the_current_one_and_staff_can_reset(world):
    card = await service.issue(world["staff"], world["account"], NOW)
    await service.set_pin(world["holder"], card.pk, "135790", "135790", None, NOW)
    with pytest.raises(InvalidInput) as caught:
        await service.set_pin(world["holder"], card.pk, "246801", "246801", None, NOW)
    assert caught.value.code == "current_pin_required"
    with pytest.raises(PinRejected):
        await service.set_pin(world["holder"], card.pk, "246801", "246801", "999999", NOW)
    await service.set_pin(world["holder"], card.pk, "246801", "246801", "135790", NOW)
    await service.check_pin(card.pk, "246801", NOW)
    for code, new, confirm in (("bad_pin", "12345", "12345"), ("pin_mismatch", "246802", "246803"),
                               ("pin_too_simple", "123456", "123456")):
        with pytest.raises(InvalidInput) as caught:
            await service.set_pin(world["holder"], card.pk, new, confirm, "246801", NOW)
        assert caught.value.code == code
    with pytest.raises(PermissionDenied):  # someone else's card
        other = await people.principal(await people.create_user("li", "correct-horse-42", "李四",
                                                                person_id=world["other_person"]))
        await service.set_pin(other, card.pk, "246801", "246801", None, NOW)

    assert not await service.reset_pin(world["staff"], card.pk, None, None, NOW)
    assert (await pin_error(card.pk, "246801", NOW)).code == "pin_not_set"
    assert await service.reset_pin(world["staff"], card.pk, "975310", "975310", NOW)
    await service.check_pin(card.pk, "975310", NOW)
    actions = [r["action"] for r in await AuditEntry.select(AuditEntry.action).order_by(AuditEntry.id)]
    assert actions.count("card.pin_reset") == 2 and "card.pin_set" in actions
    with pytest.raises(PermissionDenied):
        await service.reset_pin(world["staff"], (await service.issue(world["district"], world["other_account"], NOW)).pk,
                                None, None, NOW)


async def test_check_pin_of_a_missing_card(world):
    with pytest.raises(NotFound):
        await service.check_pin(12345, "135790", NOW)


# --- bulk issue and printing -----------------------------------------------------------------------------

async def test_bulk_issue_gives_everyone_under_a_grid_one_card(world):
    t = world["tree"]
    for name in ("赵一", "钱二", "孙三"):
        await f.person_account(name, t["unit"], t["c1"])
    first = await service.issue(world["staff"], world["account"], NOW)
    done = await service.issue_bulk(world["staff"], t["grid"], NOW)
    assert len(done.issued) == 3 and done.already == 1
    again = await service.issue_bulk(world["staff"], t["grid"], NOW)
    assert again.issued == [] and again.already == 4
    under = await service.cards_under("/" + "/".join(map(str, [t["street"], t["c1"], t["compound"], t["grid"]])) + "/")
    assert len(under) == 4 and first.pk in {c.pk for c in under}
    assert len({c.number for c in under}) == 4
    with pytest.raises(PermissionDenied):
        await service.issue_bulk(world["staff"], t["c2"], NOW)
    entry = await AuditEntry.select().where(AuditEntry.action == "card.issue_bulk").output(load_json=True).first()
    assert entry["after"]["issued"] == 3


async def test_a_printed_card_decodes_to_a_code_resolve_accepts(world, tmp_path):
    """The backend's print path end to end: faces -> PDF -> pixels -> pyzbar and zxing -> resolve."""
    from cards.sheet import PAGE_WIDTH, qr_box
    from tests.cards.qr_decoders import both_decoders

    card = await service.issue(world["staff"], world["account"], NOW)
    place, views = await service.printable_place(world["staff"], world["tree"]["grid"])
    faces = await service.faces(views, "便民服务卡", "卡号")
    assert [face.holder_name for face in faces] == ["王小明"] and faces[0].colour == "red"
    (tmp_path / "sheet.pdf").write_bytes(cards.render_sheet_pdf(faces))
    subprocess.run(["pdftoppm", "-r", "200", "-png", "sheet.pdf", "page"], cwd=tmp_path, check=True)
    page = Image.open(next(tmp_path.glob("page-*.png"))).convert("RGB")
    x, y, size = qr_box(0)
    px = page.width / PAGE_WIDTH
    crop = page.crop((round(x * px), round(y * px), round((x + size) * px), round((y + size) * px)))
    by_zbar, by_zxing = both_decoders(crop)
    assert by_zbar == by_zxing == [faces[0].url]
    assert (await service.resolve(by_zbar[0], NOW)).card_pk == card.pk
    assert cards.decode_photo(cards.qr_png(faces[0].url)) == [await service.card_token(card)]


# --- command line ----------------------------------------------------------------------------------------

def linli(*args: str, binary: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "LINLI_BASE_URL": "https://jifen.example.cn"}
    return subprocess.run([LINLI, *args], env=env, capture_output=True, text=not binary, timeout=60)


async def test_cli_lists_shows_and_prints_cards(world, tmp_path):
    card = await service.issue(world["staff"], world["account"], NOW)
    lost = await service.issue(world["district"], world["other_account"], NOW)
    await service.revoke(world["district"], lost.pk, NOW)

    listed = linli("cards", "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split("\t") == [card.number, "active", "王*明", str(world["account"])]
    assert lines[1].split("\t")[:2] == [lost.number, "revoked"]
    assert linli("cards", "list", "--state", "active").stdout.splitlines() == lines[:1]

    url = linli("cards", "show", card.formatted_number, "--format", "url")
    assert url.returncode == 0 and url.stdout.strip() == f"https://jifen.example.cn/c/{await service.card_token(card)}"
    png = linli("cards", "show", card.number, "--format", "png", binary=True)
    assert png.stdout.startswith(b"\x89PNG") and cards.decode_photo(png.stdout) == [await service.card_token(card)]
    svg = linli("cards", "show", card.number, "--format", "svg")
    assert svg.stdout.lstrip().startswith("<?xml") and "<svg" in svg.stdout
    ndef = linli("cards", "show", card.number, "--format", "ndef", binary=True)
    import ndef as ndeflib
    assert [r.iri for r in ndeflib.message_decoder(ndef.stdout)] == [url.stdout.strip()]
    bad = linli("cards", "show", "1234 5678 91")
    assert bad.returncode == 1 and "bad_card_number" in bad.stderr
    revoked = linli("cards", "show", lost.number, "--format", "url")
    assert revoked.returncode == 1 and "revoked" in revoked.stderr

    out = tmp_path / "grid.pdf"
    printed = linli("cards", "print", "--node", str(world["tree"]["grid"]), "--output", str(out))
    assert printed.returncode == 0, printed.stderr
    assert out.read_bytes().startswith(b"%PDF") and "1 card" in printed.stdout
    svg_out = tmp_path / "grid.svg"
    assert linli("cards", "print", "--node", str(world["tree"]["grid"]), "--output", str(svg_out)).returncode == 0
    assert "<svg" in svg_out.read_text()
    empty = linli("cards", "print", "--node", str(world["tree"]["c2"]), "--output", str(tmp_path / "none.pdf"))
    assert empty.returncode == 1 and "no_cards_to_print" in empty.stderr


async def test_cli_rotates_keys(world):
    card = await service.issue(world["staff"], world["account"], NOW)
    rotated = linli("keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert f"key {card.key_id + 1}" in rotated.stdout
    refused = linli("keys", "rotate", "--retire", str(card.key_id))
    assert refused.returncode == 1 and "key_in_use" in refused.stderr
    listed = linli("keys", "list")
    assert listed.returncode == 0 and listed.stdout.count("\n") >= 2
    assert (await service.resolve(card.number, NOW)).card_pk == card.pk
