"""The monthly notice's pure rules: months that may close, the objection window, resolutions, and the fingerprint's
canonical form and chaining (recomputed here by hand from the documented form)."""
import hashlib
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from backend.errors import Conflict, InvalidInput, PermissionDenied
from backend.notices import rules
from backend.notices.rules import CanonicalTransaction

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc


def test_month_bounds_are_local_months_in_utc():
    start, end = rules.month_bounds("2026-10", SHANGHAI)
    assert start == datetime(2026, 9, 30, 16, tzinfo=UTC) and end == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert rules.month_bounds("2026-12", SHANGHAI)[1] == datetime(2026, 12, 31, 16, tzinfo=UTC)
    assert rules.next_month("2026-12") == "2027-01"


@pytest.mark.parametrize("text", ["", "2026-13", "2026-00", "26-10", "2026/10", "2026-1", None, "abcd-ef"])
def test_bad_months_are_refused(text):
    with pytest.raises(InvalidInput):
        rules.parse_month(text)


def test_a_month_closes_once_after_it_ended_and_in_order():
    just_after = datetime(2026, 10, 31, 16, 0, 1, tzinfo=UTC)  # 1 November 00:00:01 in Shanghai
    rules.check_closable("2026-10", just_after, SHANGHAI, [])
    with pytest.raises(Conflict) as exc:
        rules.check_closable("2026-10", just_after - timedelta(seconds=2), SHANGHAI, [])
    assert exc.value.code == "month_still_open"
    with pytest.raises(Conflict) as exc:
        rules.check_closable("2026-10", just_after, SHANGHAI, ["2026-09", "2026-10"])
    assert exc.value.code == "month_already_closed"
    with pytest.raises(Conflict) as exc:
        rules.check_closable("2026-08", just_after, SHANGHAI, ["2026-09"])
    assert exc.value.code == "month_before_last_notice"
    rules.check_closable("2026-10", just_after, SHANGHAI, ["2026-08"])  # a skipped month is allowed


def test_objection_window():
    published = datetime(2026, 11, 2, 1, tzinfo=UTC)
    ends = rules.objection_window_end(published, rules.objection_days(None))
    assert ends == published + timedelta(days=7)
    assert rules.may_object("published", ends, ends - timedelta(seconds=1))
    assert not rules.may_object("published", ends, ends)
    assert not rules.may_object("draft", ends, published)
    assert not rules.may_object("final", ends, published)
    for bad in (0, 32, -1, True):
        with pytest.raises(InvalidInput):
            rules.objection_days(bad)


def test_who_may_object_and_with_what():
    ends = datetime(2026, 11, 9, tzinfo=UTC)
    now = ends - timedelta(days=1)
    rules.check_objection("published", ends, now, True, "他没有参加")
    with pytest.raises(PermissionDenied):
        rules.check_objection("published", ends, now, False, "他没有参加")
    with pytest.raises(Conflict):
        rules.check_objection("published", ends, ends, True, "晚了")
    with pytest.raises(InvalidInput):
        rules.check_objection("published", ends, now, True, "   ")
    with pytest.raises(InvalidInput):
        rules.check_objection("published", ends, now, True, "长" * 501)


def test_resolutions():
    rules.check_resolution("open", "upheld", "补记", 5)
    rules.check_resolution("open", "upheld", "核实属实，无需更正", None)
    rules.check_resolution("open", "rejected", "核实无误", None)
    with pytest.raises(Conflict):
        rules.check_resolution("upheld", "rejected", "x", None)
    rules.check_resolution("open", "upheld", "冲正", None, reverses=12)
    for decision, note, points in (("maybe", "x", None), ("upheld", " ", 5), ("rejected", "x", 5), ("upheld", "x", 0),
                                   ("upheld", "x", -5), ("upheld", "x", 10_001), ("upheld", "x", True)):
        with pytest.raises(InvalidInput):
            rules.check_resolution("open", decision, note, points)
    with pytest.raises(InvalidInput):
        rules.check_resolution("open", "rejected", "x", None, reverses=12)
    with pytest.raises(InvalidInput):  # one correction at a time
        rules.check_resolution("open", "upheld", "x", 5, reverses=12)


def test_finalising_waits_for_the_period_and_the_objections():
    ends = datetime(2026, 11, 9, tzinfo=UTC)
    rules.check_finalisable("published", ends, ends, 0)
    with pytest.raises(Conflict):
        rules.check_finalisable("published", ends, ends - timedelta(seconds=1), 0)
    with pytest.raises(Conflict):
        rules.check_finalisable("published", ends, ends, 1)
    with pytest.raises(Conflict):
        rules.check_finalisable("draft", ends, ends, 0)


TXNS = [
    CanonicalTransaction(7, "award", datetime(2026, 10, 3, 9, 30, tzinfo=SHANGHAI), ((12, 20), (3, -20))),
    CanonicalTransaction(9, "reversal", datetime(2026, 10, 4, 1, 2, 3, 450000, tzinfo=UTC), ((3, 20), (12, -20))),
]


def test_canonical_line_is_the_documented_form():
    assert rules.canonical_line(TXNS[0]) == "7|award|2026-10-03T01:30:00.000000Z|3:-20,12:20\n"
    assert rules.canonical_line(TXNS[1]) == "9|reversal|2026-10-04T01:02:03.450000Z|3:20,12:-20\n"


def test_fingerprint_recomputed_by_hand_and_chained():
    by_hand = hashlib.sha256(("prev\n5\n2026-10\n" + "7|award|2026-10-03T01:30:00.000000Z|3:-20,12:20\n"
                              "9|reversal|2026-10-04T01:02:03.450000Z|3:20,12:-20\n").encode()).hexdigest()
    assert rules.fingerprint("prev", 5, "2026-10", TXNS) == by_hand
    # every input matters: the previous fingerprint, community, month, and each transaction's fields
    first = rules.fingerprint("", 5, "2026-10", TXNS)
    assert first != by_hand
    assert rules.fingerprint("", 6, "2026-10", TXNS) != first
    assert rules.fingerprint("", 5, "2026-11", TXNS) != first
    changed = [TXNS[0], CanonicalTransaction(9, "reversal", TXNS[1].occurred_at, ((3, 21), (12, -21)))]
    assert rules.fingerprint("", 5, "2026-10", changed) != first
    moved = [CanonicalTransaction(7, "award", TXNS[0].occurred_at + timedelta(microseconds=1), TXNS[0].postings), TXNS[1]]
    assert rules.fingerprint("", 5, "2026-10", moved) != first
    assert rules.fingerprint("", 5, "2026-10", TXNS[:1]) != first
    # the empty month still has a fingerprint, chained to the previous one
    assert rules.fingerprint(first, 5, "2026-11", []) != rules.fingerprint(by_hand, 5, "2026-11", [])


def test_transactions_must_come_in_id_order():
    with pytest.raises(ValueError):
        rules.fingerprint("", 5, "2026-10", list(reversed(TXNS)))


def test_short_form_groups_the_fingerprint_for_reading_aloud():
    assert rules.short("0123456789abcdef" * 4).split(" ")[:2] == ["01234567", "89abcdef"]
    assert len(rules.short("a" * 64).split(" ")) == 8
