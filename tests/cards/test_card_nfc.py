from __future__ import annotations

import ndef
import pytest

from cards import NTAG213_USER_BYTES, NdefTooLarge, ndef_uri_message, ntag213_image, tag_image


def decode(message: bytes) -> list[str]:
    return [record.iri for record in ndef.message_decoder(message)]


def test_card_url_round_trips_through_ndeflib(demo_card_url):
    message = ndef_uri_message(demo_card_url)
    records = list(ndef.message_decoder(message))
    assert len(records) == 1 and isinstance(records[0], ndef.UriRecord)
    assert records[0].uri == demo_card_url
    assert message[0] & 0x10, "short record"
    assert message[4] == 0x04, "https:// abbreviated by identifier code 4"


def test_ntag213_image_for_the_demo_host(demo_card_url):
    image = ntag213_image(demo_card_url)
    assert len(image) == 126 <= NTAG213_USER_BYTES
    assert image[0] == 0x03 and image[1] == len(image) - 3 and image[-1] == 0xFE
    assert decode(image[2:-1]) == [demo_card_url]


def test_too_long_url_raises_with_sizes(card_token):
    url = f"https://linli-community-points.jiedao.example.gov.cn/c/{card_token}"
    with pytest.raises(NdefTooLarge) as caught:
        ntag213_image(url)
    assert caught.value.capacity == 144 and caught.value.size == len(tag_image(url, 10_000))
    assert str(caught.value.size) in str(caught.value)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://www.example.cn/c/x", 0x02),
        ("http://www.example.cn/c/x", 0x01),
        ("http://192.168.1.5:8000/c/x", 0x03),
        ("https://example.cn/c/x", 0x04),
        ("urn:epc:id:x", 0x1E),
        ("web+linli://x", 0x00),
    ],
)
def test_uri_identifier_codes(url, code):
    message = ndef_uri_message(url)
    assert message[4] == code
    assert decode(message) == [url]


def test_non_ascii_iri_and_long_record():
    url = "https://社区.example.cn/c/" + "x" * 300
    message = ndef_uri_message(url)
    assert not message[0] & 0x10, "payload over 255 bytes needs a long record"
    assert decode(message) == [url]
    image = tag_image(url, 1000)
    assert image[1] == 0xFF and int.from_bytes(image[2:4], "big") == len(message)
    assert decode(image[4:-1]) == [url]
