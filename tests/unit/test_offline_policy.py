"""The offline conflict policy's pure rules (backend/scans/offline.py)."""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from backend.errors import InvalidInput
from backend.scans import offline
from backend.scans.flagged import check_resolution
from backend.scans.rules import MAX_AGE, MAX_FUTURE
from backend.scans.service import ScanRequest

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)


def request(accepted: bool | None = True, reason: str = "ok", offline_: bool = True, at: datetime = NOW,
            offset_ms: int | None = None) -> ScanRequest:
    verdict = None if accepted is None else {"accepted": accepted, "reason": reason}
    return ScanRequest(scan_id=uuid4(), mode="redeem_shop", card="x", scanned_at=at, offline=offline_,
                       device_verdict=verdict, clock_offset_ms=offset_ms)


@dataclass
class Card:
    active: bool
    revoked_at: datetime | None


def test_what_the_device_showed():
    assert offline.refused_on_device(request(accepted=False))
    assert not offline.refused_on_device(request(accepted=True))
    assert not offline.refused_on_device(request(accepted=None))  # an old client: judged strictly
    assert not offline.refused_on_device(request(accepted=False, offline_=False))  # online: no device verdict counts
    assert offline.accepted_on_device(request(accepted=True))
    assert not offline.accepted_on_device(request(accepted=None))
    assert not offline.accepted_on_device(request(accepted=True, offline_=False))


@pytest.mark.parametrize(("reason", "stored"), [
    ("insufficient_balance", "insufficient_balance"), ("offline_limit_exceeded", "offline_limit_exceeded"),
    ("ok", "refused_on_device"), ("", "refused_on_device"), ("DROP TABLE", "refused_on_device"),
    ("x" * 40, "refused_on_device"),
])
def test_a_device_refusal_keeps_its_reason_if_it_looks_like_one(reason, stored):
    assert offline.device_refusal(request(accepted=False, reason=reason)) == (stored, {"on_device": True})


def test_online_scans_are_judged_at_their_time():
    assert offline.timing(NOW - timedelta(days=30), 10 ** 9, False, NOW) == offline.Timing(NOW - timedelta(days=30), ())


def test_a_small_offset_is_corrected_without_a_flag():
    timing = offline.timing(NOW - timedelta(hours=1), 60_000, True, NOW)  # device a minute fast
    assert timing == offline.Timing(NOW - timedelta(hours=1, minutes=1), ())


def test_a_large_offset_is_corrected_and_flagged():
    timing = offline.timing(NOW - timedelta(hours=1), 3_600_000, True, NOW)  # device an hour fast
    assert timing == offline.Timing(NOW - timedelta(hours=2), ("clock_skew",))
    # an hour slow: its scans look an hour older than they are
    timing = offline.timing(NOW - timedelta(hours=3), -3_600_000, True, NOW)
    assert timing == offline.Timing(NOW - timedelta(hours=2), ("clock_skew",))


def test_the_skew_tolerance_edge():
    edge = int(offline.CLOCK_SKEW_TOLERANCE.total_seconds() * 1000)
    assert offline.timing(NOW - timedelta(hours=1), edge, True, NOW).flags == ()
    assert offline.timing(NOW - timedelta(hours=1), edge + 1, True, NOW).flags == ("clock_skew",)


@pytest.mark.parametrize("at", [NOW + MAX_FUTURE + timedelta(seconds=1), NOW - MAX_AGE - timedelta(seconds=1),
                                NOW + timedelta(days=400)])
def test_an_unbelievable_time_is_judged_at_arrival_and_flagged(at):
    assert offline.timing(at, None, True, NOW) == offline.Timing(NOW, ("implausible_time",))


def test_a_little_ahead_counts_as_just_before_arrival():
    assert offline.timing(NOW + timedelta(minutes=2), None, True, NOW) == offline.Timing(NOW, ())
    assert offline.timing(NOW - MAX_AGE, None, True, NOW) == offline.Timing(NOW - MAX_AGE, ())


def test_a_correction_can_make_an_implausible_time_plausible():
    # the device clock is a year behind, measured: its scans are believable once corrected
    year = timedelta(days=365)
    timing = offline.timing(NOW - year - timedelta(hours=1), -int(year.total_seconds() * 1000), True, NOW)
    assert timing == offline.Timing(NOW - timedelta(hours=1), ("clock_skew",))


def test_as_judged_keeps_everything_but_the_time():
    original = request(at=NOW - timedelta(hours=1), offset_ms=3_600_000)
    judged = offline.as_judged(original, NOW)
    assert judged.scanned_at == NOW - timedelta(hours=2) and judged.scan_id == original.scan_id
    assert judged.device_verdict == original.device_verdict
    plain = request(at=NOW - timedelta(hours=1))
    assert offline.as_judged(plain, NOW) is plain


@pytest.mark.parametrize(("active", "revoked_at", "device_accepted", "verdict"), [
    (True, None, True, "ok"),
    (False, NOW + timedelta(minutes=1), False, "ok"),  # revoked after the scan: the card was good then
    (False, NOW, True, "flag"),  # revoked at the very moment: already revoked
    (False, NOW - timedelta(hours=1), True, "flag"),
    (False, NOW - timedelta(hours=1), False, "refuse"),
    (False, None, True, "flag"),  # revoked, time unknown: long ago
])
def test_card_verdict(active, revoked_at, device_accepted, verdict):
    assert offline.card_verdict(revoked_at, active, NOW, device_accepted) == verdict


@pytest.mark.parametrize(("spent", "points", "limit", "verdict"), [
    (0, 50, 50, "allowed"), (0, 51, 50, "refused"), (30, 20, 50, "allowed"), (30, 21, 50, "refused"),
    (0, 1, 0, "refused"),  # no offline limit: no overdraft
])
def test_overdraft_verdict(spent, points, limit, verdict):
    assert offline.overdraft_verdict(spent, points, limit) == verdict


def test_owes_and_stock():
    assert [offline.owes(b) for b in (-40, 0, 25)] == [40, 0, 0]
    assert [offline.stock_taken(s, q) for s, q in ((5, 2), (1, 3), (0, 3), (-2, 1))] == [2, 1, 0, 0]


def test_stored_flags():
    late = request(at=NOW - timedelta(days=30))
    assert offline.stored_flags(late, True, NOW) == ("implausible_time",)
    assert offline.stored_flags(request(), False, NOW) == ("overruled",)  # the station said yes, the server no
    assert offline.stored_flags(request(accepted=False), False, NOW) == ()  # both said no
    assert offline.stored_flags(request(accepted=None), False, NOW) == ()  # unknown what the station said
    assert offline.stored_flags(request(), True, NOW, Card(False, NOW - timedelta(hours=1))) == ("revoked_card",)
    assert offline.stored_flags(request(), True, NOW, Card(False, NOW + timedelta(hours=1))) == ()
    assert offline.stored_flags(request(), True, NOW, Card(True, None)) == ()
    assert offline.stored_flags(request(offline_=False), False, NOW) == ()


def test_a_resolution_needs_a_known_action_and_a_note():
    assert check_resolution("accept", "  checked with the shop  ") == "checked with the shop"
    for action, note, code in (("accept", "  ", "note_required"), ("reverse", None, "note_required"),
                               ("delete", "x", "bad_action"), ("accept", "x" * 501, "note_too_long")):
        with pytest.raises(InvalidInput) as exc:
            check_resolution(action, note)
        assert exc.value.code == code


def test_a_device_refusal_keeps_the_numbers_its_message_needs_and_nothing_odd():
    refused = ScanRequest(scan_id=uuid4(), mode="redeem_shop", card="x", scanned_at=NOW, offline=True,
                          device_verdict={"accepted": False, "reason": "insufficient_balance",
                                          "params": {"balance": 3, "needed": 10, "Bad Key": 1, "long": "x" * 65}})
    assert offline.device_refusal(refused) == ("insufficient_balance", {"balance": 3, "needed": 10, "on_device": True})
