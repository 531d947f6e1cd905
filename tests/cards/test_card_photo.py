from __future__ import annotations

import io
from collections import defaultdict

import pytest
from PIL import Image

from cards import NoCodeFound, card_url, decode_photo, load_private_key, qr_png, sign_card
from tests.cards.card_photo_samples import printed_card, samples


def png(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **params)
    return buffer.getvalue()


# A fixed key and card id: Ed25519 signatures are deterministic, so the photos and their outcome are too.
PHOTO_KEY = load_private_key(bytes(range(32)))
CARD_TOKEN = sign_card(b"photo-01", 1, PHOTO_KEY)


@pytest.fixture(scope="module")
def card_token() -> str:
    return CARD_TOKEN


@pytest.fixture(scope="module")
def card(card_token) -> Image.Image:
    return printed_card(card_url("https://linli.example.cn", card_token))


@pytest.fixture(scope="module")
def outcomes(card, card_token) -> dict[str, list[bool]]:
    results = defaultdict(list)
    for category, _, photo in samples(card):
        try:
            results[category].append(decode_photo(photo) == [card_token])
        except NoCodeFound:
            results[category].append(False)
    return results


def test_clean_card_photo(card, card_token):
    assert decode_photo(png(card)) == [card_token]


def test_degraded_photos_mostly_decode(outcomes):
    results = [ok for oks in outcomes.values() for ok in oks]
    assert len(results) >= 20
    rate = sum(results) / len(results)
    assert rate >= 0.9, {category: f"{sum(oks)}/{len(oks)}" for category, oks in outcomes.items()}


def test_every_degradation_category_has_a_success(outcomes):
    assert len(outcomes) >= 7
    assert all(any(oks) for oks in outcomes.values()), outcomes


def test_photo_with_exif_orientation(card, card_token):
    # zbar also reads mirrored codes, so this shows the EXIF path works rather than that it is needed.
    stored = card.transpose(Image.Transpose.TRANSPOSE)
    exif = Image.Exif()
    exif[0x0112] = 5  # orientation: transposed
    assert decode_photo(png(stored, exif=exif)) == [card_token]


def test_photo_without_a_code(card):
    blank = Image.new("RGB", (800, 600), (150, 120, 90))
    with pytest.raises(NoCodeFound):
        decode_photo(png(blank))


def test_other_qr_codes_are_ignored(card, card_token):
    other = Image.open(io.BytesIO(qr_png("https://example.com/hello"))).convert("RGB")
    with pytest.raises(NoCodeFound):
        decode_photo(png(other))
    photo = Image.new("RGB", (card.width + other.width + 40, max(card.height, other.height) + 20), "white")
    photo.paste(other, (10, 10))
    photo.paste(card, (other.width + 30, 10))
    assert decode_photo(png(photo)) == [card_token]


def test_two_cards_in_one_photo(card, card_token):
    second_token = sign_card(b"photo-02", 1, PHOTO_KEY)
    second = printed_card(card_url("https://linli.example.cn", second_token))
    photo = Image.new("RGB", (card.width, card.height * 2 + 30), "white")
    photo.paste(card, (0, 0))
    photo.paste(second, (0, card.height + 30))
    assert sorted(decode_photo(png(photo))) == sorted([card_token, second_token])


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40])
def test_unreadable_bytes(data):
    with pytest.raises(NoCodeFound):
        decode_photo(data)


def test_transparent_png_is_flattened_on_white(card_token):
    code = Image.open(io.BytesIO(qr_png(card_url("https://linli.example.cn", card_token)))).convert("L")
    # Light modules fully transparent with black underneath: shown on white, it is an ordinary code.
    transparent = Image.new("RGBA", code.size, (0, 0, 0, 0))
    transparent.putalpha(code.point(lambda value: 0 if value > 128 else 255))
    assert decode_photo(png(transparent)) == [card_token]
