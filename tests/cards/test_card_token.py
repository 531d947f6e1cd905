from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from cards import (
    CardCodeError,
    Reason,
    card_url,
    extract_token,
    generate_card_id,
    load_private_key,
    load_public_key,
    new_signing_key,
    sign_card,
    sign_phone_code,
    verify,
)

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
KEY_ID = 1


def raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def text(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def reason_of(token: str, keys: dict, now: datetime = NOW) -> Reason:
    with pytest.raises(CardCodeError) as caught:
        verify(token, keys, now)
    return caught.value.reason


@pytest.fixture
def keys(signing_key):
    return {KEY_ID: signing_key[1]}


@pytest.fixture
def phone_code(signing_key):
    return sign_phone_code(b"\x01" * 8, KEY_ID, signing_key[0], NOW + timedelta(seconds=60))


def test_reason_codes_are_the_seven_stable_strings():
    assert sorted(Reason) == sorted(
        ["malformed", "unknown_version", "unknown_key", "bad_signature", "expired", "revoked", "unknown_card"]
    )
    assert CardCodeError("expired").reason is Reason.EXPIRED
    assert str(CardCodeError(Reason.REVOKED)) == "revoked"


def test_card_round_trip(signing_key, keys):
    card_id = generate_card_id()
    token = sign_card(card_id, KEY_ID, signing_key[0])
    verified = verify(token, keys, NOW)
    assert (verified.version, verified.key_id, verified.card_id, verified.expires_at) == (1, KEY_ID, card_id, None)
    assert not verified.is_phone_code
    assert len(raw(token)) == 74 and len(token) == 99


def test_phone_code_round_trip(signing_key, keys):
    expires_at = NOW + timedelta(seconds=30)
    token = sign_phone_code(b"\x07" * 8, KEY_ID, signing_key[0], expires_at)
    verified = verify(token, keys, NOW)
    assert verified.is_phone_code and verified.card_id == b"\x07" * 8
    assert verified.expires_at == expires_at
    assert len(raw(token)) == 78 and len(token) == 104


def test_phone_code_expires_at_its_expiry(phone_code, keys):
    assert verify(phone_code, keys, NOW + timedelta(seconds=59)).is_phone_code
    assert reason_of(phone_code, keys, NOW + timedelta(seconds=60)) == "expired"
    assert reason_of(phone_code, keys, NOW + timedelta(days=1)) == "expired"


def test_signature_is_checked_before_expiry(phone_code, keys):
    data = bytearray(raw(phone_code))
    data[-1] ^= 1
    assert reason_of(text(bytes(data)), keys, NOW + timedelta(days=1)) == "bad_signature"


def test_card_ids_are_random_and_eight_bytes():
    ids = {generate_card_id() for _ in range(1000)}
    assert len(ids) == 1000 and {len(i) for i in ids} == {8}


def test_key_helpers_round_trip(signing_key, keys):
    private_raw, public_raw = new_signing_key()
    assert len(private_raw) == len(public_raw) == 32
    key = load_private_key(private_raw)
    assert key.public_key().public_bytes_raw() == public_raw
    card_id = generate_card_id()
    # Ed25519 is deterministic: a key object and its raw bytes sign identically.
    assert sign_card(card_id, 3, key) == sign_card(card_id, 3, private_raw)
    assert verify(sign_card(card_id, 3, key), {3: load_public_key(public_raw)}, NOW).card_id == card_id


def test_forged_signature_is_rejected(card_token, keys):
    data = raw(card_token)
    assert reason_of(text(data[:10] + bytes(64)), keys) == "bad_signature"
    other_card = text(b"\x01\x01" + b"\xee" * 8 + data[10:])
    assert reason_of(other_card, keys) == "bad_signature"


def test_token_signed_with_another_key_under_a_known_key_id_is_rejected(keys):
    other_private, _ = new_signing_key()
    assert reason_of(sign_card(generate_card_id(), KEY_ID, other_private), keys) == "bad_signature"


def test_verifying_with_the_wrong_public_key_fails(card_token):
    _, other_public = new_signing_key()
    assert reason_of(card_token, {KEY_ID: other_public}) == "bad_signature"


def test_unknown_key_id(card_token, signing_key):
    assert reason_of(card_token, {}) == "unknown_key"
    assert reason_of(card_token, {2: signing_key[1]}) == "unknown_key"


@pytest.mark.parametrize("kind", ["card", "phone"])
def test_every_byte_flipped_is_rejected(kind, card_token, phone_code, keys):
    data = raw(card_token if kind == "card" else phone_code)
    for position in range(len(data)):
        tampered = bytearray(data)
        tampered[position] ^= 0xFF
        expected = {0: "unknown_version", 1: "unknown_key"}.get(position, "bad_signature")
        assert reason_of(text(bytes(tampered)), keys) == expected, position


@pytest.mark.parametrize("kind", ["card", "phone"])
def test_every_single_character_change_is_rejected(kind, card_token, phone_code, keys):
    token = card_token if kind == "card" else phone_code
    for position, char in enumerate(token):
        replacement = "B" if char != "B" else "C"
        tampered = token[:position] + replacement + token[position + 1 :]
        # The last character also carries unused bits; changing only those gives a non-canonical spelling.
        assert reason_of(tampered, keys) in ("unknown_version", "unknown_key", "bad_signature", "malformed")


def test_non_canonical_spelling_of_a_valid_token_is_malformed(signing_key, keys):
    for _ in range(20):
        token = sign_card(generate_card_id(), KEY_ID, signing_key[0])
        # 74 bytes leave 4 unused bits in the last character; setting one keeps the decoded bytes the same.
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        twin = token[:-1] + alphabet[alphabet.index(token[-1]) | 1]
        assert raw(twin) == raw(token) and twin != token
        assert reason_of(twin, keys) == "malformed"


@pytest.mark.parametrize("kind", ["card", "phone"])
def test_truncated_and_extended_tokens_are_malformed(kind, card_token, phone_code, keys):
    token = card_token if kind == "card" else phone_code
    for length in range(len(token)):
        assert reason_of(token[:length], keys) == "malformed", length
    data = raw(token)
    assert reason_of(text(data + b"\x00"), keys) == "malformed"
    assert reason_of(text(data[:-1]), keys) == "malformed"


def test_unknown_version_even_when_signed(signing_key, keys):
    key = load_private_key(signing_key[0])
    for version in (0, 3, 255):
        signed = bytes([version, KEY_ID]) + b"\x05" * 8
        assert reason_of(text(signed + key.sign(signed)), keys) == "unknown_version"


def test_a_card_token_cannot_pass_as_a_phone_code(card_token, keys):
    data = bytearray(raw(card_token))
    data[0] = 2
    assert reason_of(text(bytes(data)), keys) == "malformed"
    extended = bytes(data[:10]) + b"\xff\xff\xff\xff" + bytes(data[10:])
    assert reason_of(text(extended), keys) == "bad_signature"


@pytest.mark.parametrize("garbage", ["", " ", "=", "A" * 99, card_url("https://x.cn", "A" * 99), "é" * 99, "\x00"])
def test_garbage_is_rejected(garbage, keys):
    assert reason_of(garbage, keys) in ("malformed", "unknown_version")


def test_padding_and_whitespace_are_malformed_in_verify(card_token, keys):
    assert reason_of(card_token + "=", keys) == "malformed"
    assert reason_of(" " + card_token, keys) == "malformed"


def test_naive_datetimes_are_a_programming_error(card_token, keys, signing_key):
    with pytest.raises(TypeError):
        sign_phone_code(generate_card_id(), KEY_ID, signing_key[0], datetime(2026, 1, 1))
    with pytest.raises(TypeError):
        verify(card_token, keys, datetime(2026, 1, 1))


def test_sign_rejects_bad_inputs(signing_key):
    with pytest.raises(ValueError):
        sign_card(b"short", KEY_ID, signing_key[0])
    with pytest.raises(ValueError):
        sign_card(generate_card_id(), 256, signing_key[0])


class TestExtractToken:
    def test_raw_token_as_a_keyboard_wedge_types_it(self, card_token):
        assert extract_token(card_token) == card_token
        assert extract_token(f"  {card_token}\r\n") == card_token

    @pytest.mark.parametrize(
        "template",
        [
            "https://linli.example.cn/c/{}",
            "http://127.0.0.1:8000/c/{}",
            "https://linli.example.cn/C/{}",
            "HTTPS://LINLI.EXAMPLE.CN/c/{}",
            "https://gov.example.cn/shequ/linli/c/{}",
            "https://linli.example.cn/c/{}/",
            "https://linli.example.cn/c/{}\n",
        ],
    )
    def test_card_urls(self, template, card_token):
        assert extract_token(template.format(card_token)) == card_token

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "   ",
            "hello",
            "https://linli.example.cn/",
            "https://linli.example.cn/x/{}",
            "https://linli.example.cn/c/{}?utm=1",
            "https://linli.example.cn/c/{}#x",
            "https://linli.example.cn/c/",
            "/c/{}",
            "{} {}",
            "WIFI:S:home;T:WPA;P:secret;;",
            "{}!",
        ],
    )
    def test_other_texts_are_malformed(self, text, card_token):
        with pytest.raises(CardCodeError) as caught:
            extract_token(text.format(card_token, card_token))
        assert caught.value.reason == "malformed"


# --- properties -----------------------------------------------------------------------------------------------

private_keys = st.binary(min_size=32, max_size=32).map(Ed25519PrivateKey.from_private_bytes)
key_ids = st.integers(0, 255)
card_ids = st.binary(min_size=8, max_size=8)


@settings(max_examples=150, deadline=None)
@given(card_id=card_ids, key_id=key_ids, key=private_keys)
def test_property_card_round_trip(card_id, key_id, key):
    token = sign_card(card_id, key_id, key)
    verified = verify(extract_token(card_url("https://a.cn", token)), {key_id: key.public_key()}, NOW)
    assert (verified.version, verified.key_id, verified.card_id) == (1, key_id, card_id)


@settings(max_examples=150, deadline=None)
@given(card_id=card_ids, key_id=key_ids, key=private_keys, lifetime=st.integers(1, 10**8))
def test_property_phone_code_round_trip(card_id, key_id, key, lifetime):
    expires_at = NOW + timedelta(seconds=lifetime)
    token = sign_phone_code(card_id, key_id, key, expires_at)
    verified = verify(token, {key_id: key.public_key().public_bytes_raw()}, NOW)
    assert (verified.card_id, verified.expires_at) == (card_id, expires_at)
    assert reason_of(token, {key_id: key.public_key()}, expires_at) == "expired"


_KEY = Ed25519PrivateKey.from_private_bytes(b"\x11" * 32)
_KEYS = {k: _KEY.public_key() for k in range(0, 256, 3)}

structured_garbage = st.one_of(
    st.text(),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=", max_size=300),
    st.binary(max_size=200).map(text),
    # Right version and length, random key id, card and signature.
    st.builds(lambda v, rest: text(bytes([v]) + rest), st.sampled_from([1, 2]), st.binary(min_size=73, max_size=77)),
)


@settings(max_examples=400, deadline=None)
@given(garbage=structured_garbage)
def test_property_garbage_only_ever_raises_card_code_error(garbage):
    with pytest.raises(CardCodeError) as caught:
        verify(garbage, _KEYS, NOW)
    assert caught.value.reason in ("malformed", "unknown_version", "unknown_key", "bad_signature")


@settings(max_examples=300, deadline=None)
@given(garbage=st.text())
def test_property_extract_token_only_ever_raises_card_code_error(garbage):
    try:
        token = extract_token(garbage)
    except CardCodeError as error:
        assert error.reason == "malformed"
    else:
        assert token in garbage
