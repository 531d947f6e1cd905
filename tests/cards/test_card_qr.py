from __future__ import annotations

from datetime import datetime, timedelta, timezone

import cairosvg
import pytest

from cards import card_url, extract_token, generate_card_id, make_qr, qr_png, qr_svg, sign_card, sign_phone_code
from cards.qr import BULK_MASK
from tests.cards.qr_decoders import both_decoders


@pytest.fixture(scope="module")
def payloads(signing_key, demo_card_url, card_token):
    phone_code = sign_phone_code(
        generate_card_id(), 1, signing_key[0], datetime.now(timezone.utc) + timedelta(minutes=1)
    )
    return {
        "card url": demo_card_url,
        "phone code url": card_url("https://linli.example.cn", phone_code),
        "raw token": card_token,
        "long host": card_url("https://linli-shequ.jiedao.example.gov.cn", card_token),
    }


@pytest.mark.parametrize("kind", ["card url", "phone code url", "raw token", "long host"])
def test_png_decodes_with_both_decoders(kind, payloads):
    payload = payloads[kind]
    zbar, zxing = both_decoders(qr_png(payload))
    assert zbar == zxing == [payload]
    assert extract_token(zbar[0]) == extract_token(payload)


@pytest.mark.parametrize("kind", ["card url", "phone code url", "raw token", "long host"])
def test_svg_rasterised_decodes_with_both_decoders(kind, payloads):
    payload = payloads[kind]
    png = cairosvg.svg2png(bytestring=qr_svg(payload).encode(), output_width=600)
    assert both_decoders(png) == ([payload], [payload])


def test_small_png_scale_still_decodes(demo_card_url):
    assert both_decoders(qr_png(demo_card_url, scale=3)) == ([demo_card_url], [demo_card_url])


def test_full_qr_never_micro():
    for text in ("1", "https://a.cn/c/x", "x" * 20):
        assert not make_qr(text).is_micro
        assert both_decoders(qr_png(text)) == ([text], [text])


def test_card_url_size_for_the_demo_host(demo_card_url):
    qr = make_qr(demo_card_url)
    assert len(demo_card_url) == 126
    assert (qr.version, qr.error, qr.mode) == (8, "M", "byte")


def test_bulk_mask_codes_decode(signing_key):
    for _ in range(15):
        url = card_url("https://linli.example.cn", sign_card(generate_card_id(), 1, signing_key[0]))
        assert make_qr(url, mask=BULK_MASK).mask == BULK_MASK
        assert both_decoders(qr_png(url, mask=BULK_MASK)) == ([url], [url])
