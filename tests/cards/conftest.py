from __future__ import annotations

import pytest

from cards import card_url, generate_card_id, new_signing_key, sign_card

DEMO_BASE_URL = "https://linli.example.cn"  # the host the size budget is measured for (cards/README.md)


@pytest.fixture(scope="session")
def signing_key() -> tuple[bytes, bytes]:
    return new_signing_key()


@pytest.fixture(scope="session")
def card_token(signing_key: tuple[bytes, bytes]) -> str:
    return sign_card(generate_card_id(), 1, signing_key[0])


@pytest.fixture(scope="session")
def demo_card_url(card_token: str) -> str:
    return card_url(DEMO_BASE_URL, card_token)
