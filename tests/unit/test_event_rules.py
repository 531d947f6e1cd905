"""Event decisions with fixed times: the check-in window, places, hours and their points."""
from datetime import datetime, timedelta, timezone

import pytest

from backend.errors import InvalidInput
from backend.events import rules
from backend.events.rules import EventRule

START = datetime(2026, 11, 21, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai
END = START + timedelta(hours=3)
EVENT = EventRule(START, END, capacity=2, cancelled=False)


def at(minutes: int) -> datetime:
    return START + timedelta(minutes=minutes)


def checkin(event=EVENT, when=START, open_stay=False, last_checkout=None, attendees=0, counted=False):
    return rules.checkin_refusal(event, when, open_stay=open_stay, last_checkout=last_checkout, attendees=attendees,
                                 counted=counted)


@pytest.mark.parametrize(("minutes", "reason"), [
    (-31, "outside_event_hours"), (-30, None), (0, None), (179, None), (180, "outside_event_hours"), (24 * 60, "outside_event_hours"),
])
def test_check_in_opens_half_an_hour_early_and_closes_at_the_end(minutes, reason):
    assert checkin(when=at(minutes)) == reason


def test_a_cancelled_event_refuses_before_anything_else():
    assert checkin(EventRule(START, END, None, cancelled=True), when=at(-300)) == "event_cancelled"


def test_already_checked_in_while_the_stay_is_open_or_overlaps_an_earlier_one():
    assert checkin(open_stay=True, counted=True) == "already_checked_in"
    # an offline check-in replayed after the check-out that came later
    assert checkin(when=at(30), last_checkout=at(60), counted=True) == "already_checked_in"
    # back after a break
    assert checkin(when=at(90), last_checkout=at(60), counted=True) is None


def test_capacity_counts_people_who_came_and_a_returning_one_takes_no_new_place():
    assert checkin(attendees=1) is None
    assert checkin(attendees=2) == "event_full"
    assert checkin(attendees=2, counted=True, last_checkout=at(-10)) is None
    assert checkin(EventRule(START, END, None, False), attendees=10_000) is None


def test_check_out_needs_an_open_stay():
    assert rules.checkout_refusal(open_stay=True, has_stayed=True) is None
    assert rules.checkout_refusal(open_stay=False, has_stayed=False) == "not_checked_in"
    assert rules.checkout_refusal(open_stay=False, has_stayed=True) == "already_checked_out"


@pytest.mark.parametrize(("checked_in", "checked_out", "minutes"), [
    (0, 150, 150),
    (-25, 150, 150),  # time before the start does not count
    (30, 200, 150),  # nor time after the end
    (-25, -5, 0),  # left before it started
    (60, 30, 0),  # a check-out stamped before the check-in (clocks) counts nothing
    (0, 0, 0),
])
def test_minutes_served_inside_the_window(checked_in, checked_out, minutes):
    assert rules.minutes_served(at(checked_in), at(checked_out), START, END) == minutes


def test_seconds_are_dropped():
    assert rules.minutes_served(START, START + timedelta(minutes=29, seconds=59), START, END) == 29


@pytest.mark.parametrize(("minutes", "per_hour", "hours", "points"), [
    (29, 10, "0", 0),
    (30, 10, "0.5", 5),
    (59, 10, "0.5", 5),
    (60, 10, "1", 10),
    (150, 3, "2.5", 7),  # 7.5 points, floored
    (179, 4, "2.5", 10),  # rounded down to the half hour
    (180, 4, "3", 12),
    (45, 1, "0.5", 0),
])
def test_hours_round_down_to_the_half_hour_and_points_are_floored(minutes, per_hour, hours, points):
    assert rules.hours_text(minutes) == hours
    assert rules.hours_points(minutes, per_hour) == points


def test_an_item_is_earned_by_being_there_while_it_ran():
    assert rules.earns_item(1) and not rules.earns_item(0)


def test_signing_up_and_withdrawing():
    assert rules.signup_refusal(EVENT, at(-600), signups=1) is None
    assert rules.signup_refusal(EVENT, at(-600), signups=2) == "event_full"
    assert rules.signup_refusal(EVENT, at(100), signups=0) is None  # walking in during the event
    assert rules.signup_refusal(EVENT, at(180), signups=0) == "event_over"
    assert rules.signup_refusal(EventRule(START, END, None, True), at(-600), 0) == "event_cancelled"
    assert rules.withdraw_refusal(EVENT, at(-1)) is None
    assert rules.withdraw_refusal(EVENT, at(0)) == "event_started"


def test_cancelling_an_event_nobody_attended():
    assert rules.cancel_refusal(EVENT, attendees=0) is None
    assert rules.cancel_refusal(EVENT, attendees=1) == "event_has_attendance"
    assert rules.cancel_refusal(EventRule(START, END, None, True), 0) == "event_cancelled"


def good(**change):
    values = {"title": "清洁家园", "place": "东园小区广场", "starts_at": START, "ends_at": END, "capacity": 20,
              "points_per_hour": 4, "item_id": None} | change
    rules.check_event(**values)


@pytest.mark.parametrize(("change", "code"), [
    ({"title": "  "}, "title_required"),
    ({"title": "长" * 101}, "title_too_long"),
    ({"place": ""}, "place_required"),
    ({"ends_at": START}, "ends_before_start"),
    ({"ends_at": START + timedelta(days=8)}, "event_too_long"),
    ({"starts_at": START.replace(tzinfo=None)}, "naive_time"),
    ({"capacity": 0}, "bad_capacity"),
    ({"points_per_hour": None}, "award_rule_required"),
    ({"item_id": 3}, "award_rule_required"),
    ({"points_per_hour": 0}, "bad_points_per_hour"),
    ({"points_per_hour": 101}, "bad_points_per_hour"),
])
def test_a_new_event_is_checked(change, code):
    with pytest.raises(InvalidInput) as caught:
        good(**change)
    assert caught.value.code == code


def test_a_good_event_passes_with_either_award_rule():
    good()
    good(points_per_hour=None, item_id=3, capacity=None)

