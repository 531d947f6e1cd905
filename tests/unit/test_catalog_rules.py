"""The catalogue's pure rules: the value in force on a day, caps per day / month / year, revision sets."""
from datetime import date

import pytest

from backend.catalog import rules
from backend.catalog.rules import Caps
from backend.errors import Conflict, InvalidInput

REVISIONS = [(date(2026, 7, 1), 10), (date(2026, 11, 15), 15)]


@pytest.mark.parametrize(("day", "points"), [
    (date(2026, 7, 1), 10),  # the first day of the first value
    (date(2026, 11, 14), 10),  # the last day before the revision
    (date(2026, 11, 15), 15),  # the revision's own day
    (date(2027, 3, 1), 15),
])
def test_value_on_a_day_across_a_revision_boundary(day, points):
    assert rules.value_on(REVISIONS, day) == points


def test_no_value_before_the_first_revision():
    with pytest.raises(Conflict) as caught:
        rules.value_on(REVISIONS, date(2026, 6, 30))
    assert caught.value.code == "item_not_in_force"


def test_a_later_correction_with_the_same_date_wins_even_when_lower():
    assert rules.value_on([(date(2026, 7, 1), 10), (date(2026, 11, 1), 20), (date(2026, 11, 1), 12)], date(2026, 11, 2)) == 12


def test_revisions_are_judged_by_date_not_by_the_order_they_were_made():
    # a revision for next month made before a correction of this month
    made = [(date(2026, 7, 1), 10), (date(2026, 12, 1), 30), (date(2026, 11, 1), 20)]
    assert rules.value_on(made, date(2026, 11, 20)) == 20
    assert rules.value_on(made, date(2026, 12, 1)) == 30


@pytest.mark.parametrize(("colours", "account", "allowed"), [
    ([], "blue", True), (["red"], "red", True), (["red"], "blue", False), (["red", "green"], "green", True),
    (["organisation"], "organisation", True), (["red"], None, False),
])
def test_who_may_earn(colours, account, allowed):
    assert rules.colour_may_earn(colours, account) is allowed


def test_an_organisation_account_is_matched_as_organisation():
    assert rules.earner_colour("organisation", None) == "organisation"
    assert rules.earner_colour("person", "green") == "green"


DAY = date(2026, 11, 20)


@pytest.mark.parametrize(("caps", "earlier", "refusal"), [
    (Caps(), [DAY] * 50, None),
    (Caps(per_day=1), [], None),
    (Caps(per_day=1), [date(2026, 11, 19)], None),
    (Caps(per_day=1), [DAY], ("daily_cap_reached", 1)),
    (Caps(per_day=2), [DAY], None),
    (Caps(per_month=2), [date(2026, 11, 1), date(2026, 10, 31)], None),
    (Caps(per_month=2), [date(2026, 11, 1), date(2026, 11, 30)], ("monthly_cap_reached", 2)),
    (Caps(per_year=3), [date(2026, 1, 1), date(2026, 6, 1), date(2025, 12, 31)], None),
    (Caps(per_year=3), [date(2026, 1, 1), date(2026, 6, 1), date(2026, 12, 31)], ("yearly_cap_reached", 3)),
    # the tightest period is named first
    (Caps(per_day=1, per_month=1), [DAY], ("daily_cap_reached", 1)),
    (Caps(per_day=5, per_month=1), [date(2026, 11, 2)], ("monthly_cap_reached", 1)),
])
def test_caps(caps, earlier, refusal):
    assert rules.cap_refusal(caps, earlier, DAY) == refusal


def test_check_caps_raises_with_the_limit():
    with pytest.raises(Conflict) as caught:
        rules.check_caps(Caps(per_month=1), [date(2026, 11, 3)], DAY)
    assert (caught.value.code, caught.value.params) == ("monthly_cap_reached", {"limit": 1})


@pytest.mark.parametrize("caps", [Caps(per_day=0), Caps(per_month=-1), Caps(per_year=1001), Caps(per_day=True)])
def test_cap_values_are_whole_numbers_from_one(caps):
    with pytest.raises(InvalidInput) as caught:
        rules.check_cap_values(caps)
    assert caught.value.code == "bad_cap"


def test_item_settings():
    rules.check_item("楼道清理", ["red", "organisation"], Caps(per_day=1))
    for name, colours, code in (("", [], "name_required"), ("x" * 101, [], "name_too_long"), ("楼道清理", ["purple"], "bad_colour")):
        with pytest.raises(InvalidInput) as caught:
            rules.check_item(name, colours, Caps())
        assert caught.value.code == code


def test_revision_changes_keep_only_changed_values():
    changes = rules.revision_changes({1: 10, 2: 5, 3: None}, {1: 10, 2: 8, 3: 20})
    assert changes == [(2, 5, 8), (3, None, 20)]


@pytest.mark.parametrize("points", [0, -5, 1001, True])
def test_revision_values_must_be_points(points):
    with pytest.raises(InvalidInput) as caught:
        rules.revision_changes({1: 10}, {1: points})
    assert (caught.value.code, caught.value.params["field"]) == ("bad_item_points", "points_1")


TODAY = date(2026, 11, 21)


@pytest.mark.parametrize(("effective", "note", "changes", "code"), [
    (date(2026, 11, 1), "本月调整1项", [(1, 10, 15)], None),  # the first of this month is the earliest
    (date(2026, 12, 1), "下月起调整", [(1, 10, 15)], None),
    (date(2026, 10, 31), "本月调整1项", [(1, 10, 15)], "revision_too_early"),
    (date(2027, 12, 1), "明年调整", [(1, 10, 15)], "revision_too_late"),
    (date(2026, 11, 21), "  ", [(1, 10, 15)], "note_required"),
    (date(2026, 11, 21), "本月调整0项", [], "no_changes"),
])
def test_revision_sets(effective, note, changes, code):
    if code is None:
        rules.check_revision_set(note, effective, TODAY, changes)
        return
    with pytest.raises(InvalidInput) as caught:
        rules.check_revision_set(note, effective, TODAY, changes)
    assert caught.value.code == code
