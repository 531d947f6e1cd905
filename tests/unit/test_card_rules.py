"""Pure service-card decisions: typed card numbers, PIN format and lockout, phone-code timing."""
import ast
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import cards
from backend.errors import Conflict, InvalidInput
from backend.servicecards import rules
from backend.servicecards.rules import CardRejected, PinRejected

NOW = datetime(2026, 11, 1, 9, 0, 0, 250_000, tzinfo=timezone.utc)
NUMBER = cards.card_number_from_serial(123_456_789)


# --- typed card numbers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", [
    NUMBER, cards.format_card_number(NUMBER), f" {NUMBER[:3]}-{NUMBER[3:6]}-{NUMBER[6:]} ",
    "".join(chr(ord(d) + 0xFEE0) for d in NUMBER),  # full-width digits from a Chinese input method
    cards.format_card_number(NUMBER).replace(" ", "\u3000"),  # ideographic spaces
])
def test_a_typed_number_is_read_however_it_is_spaced(typed):
    assert rules.typed_card_number(typed) == rules.TypedNumber(123_456_789, NUMBER)


@pytest.mark.parametrize("typed", [
    NUMBER[:-1] + str((int(NUMBER[-1]) + 1) % 10),  # wrong check digit
    NUMBER[1] + NUMBER[0] + NUMBER[2:],  # two digits swapped
    NUMBER[:-1],  # too short
    NUMBER + "0",  # too long
])
def test_digits_that_are_not_a_card_number_are_malformed(typed):
    with pytest.raises(CardRejected) as caught:
        rules.typed_card_number(typed)
    assert caught.value.code == "malformed" and caught.value.reason is cards.Reason.MALFORMED


@pytest.mark.parametrize("text", ["", "   ", "https://example.cn/c/abc", "AbCd-1234", "卡号",
                                  "١٢٣٤٥٦٧٨٩٠"])  # Arabic-Indic digits: not card-number digits (the token reader refuses them)
def test_anything_else_is_left_to_the_token_reader(text):
    assert rules.typed_card_number(text) is None


def test_card_rejected_carries_a_stable_reason_and_is_final_for_devices():
    error = CardRejected("revoked")
    assert isinstance(error, Conflict) and error.code == "revoked" and error.reason == cards.Reason.REVOKED
    with pytest.raises(ValueError):
        CardRejected("not_a_reason")


def test_only_active_cards_may_be_used():
    assert rules.card_state_reason("active") is None
    assert rules.card_state_reason("revoked") == cards.Reason.REVOKED


# --- PIN -------------------------------------------------------------------------------------------------

def test_a_new_pin_is_six_digits_typed_twice():
    assert rules.check_new_pin("135790", "135790") == "135790"
    assert rules.check_new_pin("１３５７９０", "135790") == "135790"


@pytest.mark.parametrize(("pin", "confirm", "code"), [
    ("12345", "12345", "bad_pin"), ("1357901", "1357901", "bad_pin"), ("abcdef", "abcdef", "bad_pin"),
    ("", "", "bad_pin"), (None, None, "bad_pin"), ("135790", "135791", "pin_mismatch"),
    ("000000", "000000", "pin_too_simple"), ("123456", "123456", "pin_too_simple"),
    ("987654", "987654", "pin_too_simple"), ("777777", "777777", "pin_too_simple"),
])
def test_bad_new_pins(pin, confirm, code):
    with pytest.raises(InvalidInput) as caught:
        rules.check_new_pin(pin, confirm)
    assert caught.value.code == code


@pytest.mark.parametrize("pin", ["121212", "135790", "246801", "123457", "901234"])
def test_pins_that_are_not_too_simple(pin):
    assert not rules.too_simple(pin)


def test_five_wrong_pins_in_a_row_lock_for_fifteen_minutes():
    failures, locked = 0, None
    for expected_remaining in (4, 3, 2, 1):
        failures, locked = rules.after_wrong_pin(failures, NOW)
        assert locked is None
        error = rules.wrong_pin_error(failures, locked, NOW)
        assert (error.code, error.params) == ("wrong_pin", {"remaining": expected_remaining})
    failures, locked = rules.after_wrong_pin(failures, NOW)
    assert (failures, locked) == (0, NOW + timedelta(minutes=15))
    assert rules.wrong_pin_error(failures, locked, NOW).params == {"minutes": 15}


def test_a_locked_pin_is_refused_before_it_is_compared():
    locked_until = NOW + timedelta(minutes=15)
    for moment, minutes in ((NOW, 15), (NOW + timedelta(minutes=14, seconds=1), 1)):
        with pytest.raises(PinRejected) as caught:
            rules.before_pin_check(True, locked_until, "135790", moment)
        assert (caught.value.code, caught.value.params) == ("pin_locked", {"minutes": minutes})
    assert rules.before_pin_check(True, locked_until, " 135790 ", locked_until) == "135790"


@pytest.mark.parametrize(("has_pin", "pin", "code"), [(False, "135790", "pin_not_set"), (True, "", "pin_required"),
                                                      (True, None, "pin_required"), (True, "  ", "pin_required")])
def test_what_is_checked_before_the_hash(has_pin, pin, code):
    with pytest.raises(PinRejected) as caught:
        rules.before_pin_check(has_pin, None, pin, NOW)
    assert caught.value.code == code


# --- phone codes -----------------------------------------------------------------------------------------

def test_a_phone_code_lives_sixty_whole_seconds():
    expires = rules.phone_code_expiry(NOW)
    assert expires == datetime(2026, 11, 1, 9, 1, 0, tzinfo=timezone.utc)
    assert timedelta(seconds=59) < expires - NOW <= rules.PHONE_CODE_LIFETIME


def test_a_refreshed_screen_always_shows_a_code_with_time_left():
    """Fresh codes come every 30 s and live 60 s: even a refresh that is a whole period late shows a live code."""
    assert rules.PHONE_CODE_LIFETIME >= 2 * rules.PHONE_CODE_REFRESH
    for late in range(0, 30):
        shown_at = NOW + rules.PHONE_CODE_REFRESH + timedelta(seconds=late)
        assert rules.phone_code_expiry(NOW) > shown_at


def test_a_code_signed_now_verifies_until_it_expires():
    private, public = cards.new_signing_key()
    card_id = cards.generate_card_id()
    token = cards.sign_phone_code(card_id, 1, private, rules.phone_code_expiry(NOW))
    assert cards.verify(token, {1: public}, NOW + timedelta(seconds=59)).is_phone_code
    with pytest.raises(cards.CardCodeError) as caught:
        cards.verify(token, {1: public}, NOW + timedelta(seconds=60))
    assert caught.value.reason == "expired"


@pytest.mark.parametrize(("requested", "seconds"), [(None, 30), (3, 3), (1, 2), (0, 2), (-5, 2), (300, 30)])
def test_the_refresh_may_be_made_faster_never_slower(requested, seconds):
    assert rules.refresh_seconds(requested) == seconds


# --- issuing ---------------------------------------------------------------------------------------------

def test_who_gets_a_card_and_its_colour():
    assert rules.may_have_card("person") and rules.may_have_card("organisation")
    assert not any(rules.may_have_card(kind) for kind in ("issuer", "merchant", "shop"))
    assert rules.card_colour("person", "red") == "red"
    assert rules.card_colour("person", None) == "blue"
    assert rules.card_colour("organisation", None) == "organisation"


def test_key_ids_are_never_reused_and_fit_a_byte():
    assert rules.next_key_id([]) == 1
    assert rules.next_key_id([1, 2, 5]) == 6
    with pytest.raises(Conflict) as caught:
        rules.next_key_id([255])
    assert caught.value.code == "no_key_ids_left"


# --- the direction of dependencies -----------------------------------------------------------------------

DOMAIN = Path(__file__).resolve().parents[2] / "backend" / "servicecards"


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", ["tables.py", "rules.py", "service.py"])
def test_the_domain_knows_nothing_of_http(module):
    names = imported(DOMAIN / module)
    assert not {n for n in names if n.split(".")[0] in ("litestar", "jinja2") or n.startswith("backend.web")}


def test_rules_do_no_io():
    names = imported(DOMAIN / "rules.py")
    assert not {n for n in names if n.split(".")[0] in ("piccolo", "asyncio") or n.startswith(("backend.db", "backend.servicecards.tables"))}
