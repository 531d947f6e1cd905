"""The in-service check-in rules: which days are the month's check-in week, strict and lenient windows, claims
for last month in the grace days, one check-in a month, the yearly summary and the monthly counts."""
from datetime import date

import pytest

from backend.errors import Conflict, InvalidInput
from backend.inservice import rules
from backend.inservice.rules import Window


@pytest.mark.parametrize(("day", "days", "inside"), [
    (date(2026, 11, 24), 7, True), (date(2026, 11, 23), 7, False), (date(2026, 11, 30), 7, True),
    (date(2026, 2, 22), 7, True), (date(2026, 2, 21), 7, False),  # February has 28 days in 2026
    (date(2028, 2, 23), 7, True), (date(2028, 2, 22), 7, False),  # and 29 in 2028
    (date(2026, 12, 31), 1, True), (date(2026, 12, 30), 1, False),
    (date(2026, 11, 1), 28, False), (date(2026, 11, 3), 28, True),
])
def test_the_window_is_the_months_last_days(day, days, inside):
    assert rules.in_window(day, days) is inside


def test_window_dates():
    assert rules.window_of(2026, 11, 7) == (date(2026, 11, 24), date(2026, 11, 30))
    assert rules.window_of(2026, 2, 28) == (date(2026, 2, 1), date(2026, 2, 28))


@pytest.mark.parametrize("days", [0, 29, -1, "7", 7.0, None])
def test_window_days_are_checked(days):
    with pytest.raises(InvalidInput) as caught:
        rules.check_window_days(days)
    assert caught.value.code == "bad_window_days"


def test_a_lenient_window_marks_a_station_check_in_outside_it():
    timing = rules.station_timing(date(2026, 11, 10), Window(7, strict=False))
    assert timing == rules.Timing("2026-11", False, False)
    assert rules.station_timing(date(2026, 11, 28), Window()).in_window


def test_a_strict_window_refuses_outside_it_and_says_when():
    with pytest.raises(Conflict) as caught:
        rules.station_timing(date(2026, 11, 10), Window(7, strict=True))
    assert caught.value.code == "outside_report_week"
    assert caught.value.params == {"opens": "2026-11-24", "closes": "2026-11-30"}
    assert rules.station_timing(date(2026, 11, 24), Window(7, strict=True)).in_window


def test_a_claim_names_the_day_not_in_the_future():
    with pytest.raises(InvalidInput):
        rules.claim_timing(date(2026, 11, 29), date(2026, 11, 28), Window())


def test_a_claim_for_last_month_is_late_within_the_grace_days_only():
    timing = rules.claim_timing(date(2026, 10, 30), date(2026, 11, 2), Window())
    assert timing == rules.Timing("2026-10", True, True)
    with pytest.raises(Conflict) as caught:
        rules.claim_timing(date(2026, 10, 30), date(2026, 11, 4), Window())
    assert caught.value.code == "report_month_closed"
    with pytest.raises(Conflict):  # two months back: never
        rules.claim_timing(date(2026, 9, 30), date(2026, 11, 1), Window())
    # across the year's end
    assert rules.claim_timing(date(2026, 12, 31), date(2027, 1, 3), Window()).month == "2026-12"


def test_one_check_in_a_month():
    rules.check_not_reported(None)
    with pytest.raises(Conflict) as caught:
        rules.check_not_reported("2026-11")
    assert caught.value.code == "already_reported"


def test_only_active_registered_members_check_in():
    rules.check_member(True)
    for value in (False, None):
        with pytest.raises(Conflict) as caught:
            rules.check_member(value)
        assert caught.value.code == "not_in_service_member"


def test_registration_needs_a_party_member_and_an_employer():
    today = date(2026, 11, 21)
    rules.check_registration("区财政局", "机关第二支部", date(2026, 1, 1), today, True)
    with pytest.raises(Conflict):
        rules.check_registration("区财政局", "", date(2026, 1, 1), today, False)
    with pytest.raises(InvalidInput) as caught:
        rules.check_registration("  ", "", date(2026, 1, 1), today, True)
    assert caught.value.params["field"] == "employer"
    with pytest.raises(InvalidInput) as caught:
        rules.check_registration("区财政局", "", date(2026, 11, 22), today, True)
    assert caught.value.code == "since_in_future"


def test_a_check_in_takes_on_a_project():
    rules.check_project_choice(3, "")
    rules.check_project_choice(None, "帮独居老人买菜")
    with pytest.raises(InvalidInput) as caught:
        rules.check_project_choice(None, "   ")
    assert caught.value.code == "project_required"


def test_parse_month():
    assert rules.parse_month("2026-11") == (2026, 11)
    for bad in ("2026-13", "nov", "", "2026"):
        with pytest.raises(InvalidInput):
            rules.parse_month(bad)


def test_year_summary_counts_the_months_due_since_registration():
    check_ins = [{"month": "2026-03", "in_window": True}, {"month": "2026-05", "in_window": False}]
    summary = rules.year_summary(2026, check_ins, date(2026, 3, 15), date(2026, 6, 10))
    assert [m for m, c in summary.months if c] == ["2026-03", "2026-05"]
    assert len(summary.months) == 12
    assert (summary.checked_in, summary.in_window, summary.due) == (2, 1, 4)  # March to June
    # a member registered in an earlier year owes every month of this one up to today
    assert rules.year_summary(2026, [], date(2024, 5, 1), date(2026, 12, 31)).due == 12


def test_month_counts():
    rows = [{"check_in": {"in_window": True}}, {"check_in": {"in_window": False}}, {"check_in": None}]
    assert rules.month_counts(rows) == {"members": 3, "checked_in": 2, "in_window": 1, "not_yet": 1}


def test_an_accepted_scan_says_why_it_brought_no_points():
    from backend.web.i18n import current_language
    from backend.web.messages import scan_success_text

    answer = {"mode": "checkout", "points": 0, "summary": {"event": "下午场", "notes": [
        {"reason": "daily_cap_reached", "limit": 1}, {"reason": "hours_recorded_no_points"}]}}
    token = current_language.set("en")
    try:
        assert scan_success_text(answer) == ("Checked out: 0 points for the hours served. This item can be earned at most "
                                             "1 times a day per person. The hours are recorded, but no points were added for them.")
        assert scan_success_text({"mode": "report_in", "points": 10, "summary": {"notes": []}}) == \
            "Checked in for this month: 10 points."
    finally:
        current_language.reset(token)
    assert scan_success_text(answer).endswith("服务时长已记录，但这次不再加分。")
