"""Pure station decisions: what a station may be set up as, pairing codes, when a device's last use is written."""
from datetime import datetime, timedelta, timezone

import pytest

from backend.stations import rules

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)


def problem(**changes):
    station = {"name": "东园党群服务中心", "kind": "centre", "modes": ["award"], "award_items": [1],
               "community_items": {1, 2}, "receiving_kind": None, "pin_threshold": 50, "offline_limit": 0} | changes
    return rules.station_problem(**station)


def test_a_sound_station_has_no_problem():
    assert problem() is None
    assert problem(modes=["redeem_shop"], award_items=[], receiving_kind="shop", pin_threshold=None) is None
    assert problem(kind="merchant", modes=["redeem_offer"], award_items=[], receiving_kind="merchant", pin_threshold=0) is None


@pytest.mark.parametrize("changes, expected", [
    ({"name": "  "}, ("name_required", "name")),
    ({"kind": "kiosk"}, ("bad_station_kind", "kind")),
    ({"modes": []}, ("modes_required", "modes")),
    ({"modes": ["teleport"]}, ("modes_required", "modes")),
    ({"award_items": [1, 3]}, ("item_not_in_community", "award_items")),
    ({"award_items": []}, ("award_items_required", "award_items")),
    ({"receiving_kind": "person"}, ("bad_receiving_account", "receiving_account")),
    ({"receiving_kind": ""}, ("bad_receiving_account", "receiving_account")),  # not found in the community
    ({"pin_threshold": -1}, ("bad_setting", "pin_threshold")),
    ({"offline_limit": -5}, ("bad_setting", "offline_limit")),
    ({"offline_limit": rules.MAX_SETTING + 1}, ("bad_setting", "offline_limit")),
])
def test_station_problems_name_the_field(changes, expected):
    assert problem(**changes) == expected


def test_modes_keep_the_known_ones_in_a_fixed_order():
    assert rules.clean_modes(["award", "bogus", "checkin"]) == ["checkin", "award"]


def test_a_pairing_code_works_once_and_for_ten_minutes():
    expires = NOW + rules.PAIRING_LIFETIME
    assert rules.pairing_usable(expires, None, NOW) is None
    assert rules.pairing_usable(expires, None, expires + timedelta(seconds=1)) == "pairing_expired"
    assert rules.pairing_usable(expires, NOW, NOW) == "pairing_used"


def test_codes_and_credentials_are_stored_as_hashes():
    assert rules.digest("abc") != "abc" and len(rules.digest("abc")) == 64 and rules.digest("abc") == rules.digest("abc")


def test_last_seen_is_written_at_most_once_a_minute():
    assert rules.seen_is_stale(None, NOW)
    assert not rules.seen_is_stale(NOW - timedelta(seconds=59), NOW)
    assert rules.seen_is_stale(NOW - timedelta(minutes=1), NOW)


def test_pairing_url_is_on_the_public_address():
    assert rules.pairing_url("https://jifen.example.cn/", "abc") == "https://jifen.example.cn/pair/abc"
