from __future__ import annotations

import random

import pytest

from cards import (
    card_number_from_serial,
    format_card_number,
    is_valid_card_number,
    normalize_card_number,
    serial_from_card_number,
)
from cards.number import MAX_SERIAL, damm_check_digit

SAMPLE_SERIALS = [0, 1, 9, 10, 123456789, MAX_SERIAL] + random.Random(7).sample(range(MAX_SERIAL), 300)


def test_damm_reference_values():
    # Worked examples from the literature: 572 -> 4, 5724 is valid.
    assert damm_check_digit("572") == "4"
    assert damm_check_digit("5724") == "0"


def test_card_number_shape():
    assert card_number_from_serial(0) == "0000000000"
    number = card_number_from_serial(123456789)
    assert len(number) == 10 and number[:9] == "123456789" and is_valid_card_number(number)
    assert format_card_number(number) == "1234 5678 " + number[8:]


@pytest.mark.parametrize("serial", [-1, MAX_SERIAL + 1])
def test_serial_out_of_range(serial):
    with pytest.raises(ValueError):
        card_number_from_serial(serial)


def test_normalize_accepts_what_people_type():
    number = card_number_from_serial(42)
    spaced = format_card_number(number)
    assert normalize_card_number(spaced) == number
    assert normalize_card_number(" " + spaced.replace(" ", "-") + "\n") == number
    full_width = "".join(chr(ord(d) + 0xFEE0) for d in number)  # as a Chinese input method types digits
    assert normalize_card_number(full_width) == number
    assert is_valid_card_number(full_width) and is_valid_card_number(spaced)
    assert serial_from_card_number(spaced) == 42


@pytest.mark.parametrize("text", ["", "123", "12345678901", "abcdefghij", "١٢٣٤٥٦٧٨٩٠", "0000000001"])
def test_invalid_shapes(text):
    assert not is_valid_card_number(text)
    with pytest.raises(ValueError):
        serial_from_card_number(text)


@pytest.mark.parametrize("serial", SAMPLE_SERIALS)
def test_every_single_digit_error_is_detected(serial):
    number = card_number_from_serial(serial)
    assert is_valid_card_number(number)
    for position in range(len(number)):
        for digit in "0123456789":
            if digit != number[position]:
                assert not is_valid_card_number(number[:position] + digit + number[position + 1 :])


@pytest.mark.parametrize("serial", SAMPLE_SERIALS)
def test_every_adjacent_transposition_is_detected(serial):
    number = card_number_from_serial(serial)
    for position in range(len(number) - 1):
        a, b = number[position], number[position + 1]
        if a != b:
            assert not is_valid_card_number(number[:position] + b + a + number[position + 2 :])


def test_adjacent_transposition_exhaustive_over_all_digit_pairs():
    # Every prefix state and every pair of distinct digits: the property that makes Damm catch all of them.
    for prefix in ("", "7", "31", "904"):
        for a in "0123456789":
            for b in "0123456789":
                if a != b:
                    assert damm_check_digit(prefix + a + b) != damm_check_digit(prefix + b + a)
