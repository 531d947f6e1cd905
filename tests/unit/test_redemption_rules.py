"""Pure redemption rules: windows on fixed dates, offer validity and limits, prices and the PIN threshold,
who manages which merchant, and a merchant's monthly totals."""
from datetime import date

import pytest

from backend.errors import InvalidInput
from backend.redemption import rules
from backend.redemption.rules import ClerkGrant, Window
from backend.scans.rules import needs_pin

Q4 = Window(date(2026, 10, 1), date(2026, 10, 14))
Q1 = Window(date(2027, 1, 1), date(2027, 1, 14))


@pytest.mark.parametrize(("day", "open_"), [
    (date(2026, 9, 30), False),
    (date(2026, 10, 1), True),  # first day, inclusive
    (date(2026, 10, 14), True),  # last day, inclusive
    (date(2026, 10, 15), False),
    (date(2027, 1, 7), True),
])
def test_windows_bound_the_shop(day, open_):
    assert rules.window_open([Q4, Q1], day) is open_


def test_no_windows_means_open_every_day():
    assert rules.window_open([], date(2026, 2, 28))


def test_current_and_next_window():
    assert rules.current_window([Q4, Q1], date(2026, 10, 3)) == Q4
    assert rules.current_window([Q4, Q1], date(2026, 11, 3)) is None
    assert rules.next_window([Q4, Q1], date(2026, 11, 3)) == Q1
    assert rules.next_window([Q4, Q1], date(2027, 1, 1)) is None
    long = Window(date(2026, 10, 1), date(2026, 12, 31))
    assert rules.current_window([Q4, long], date(2026, 10, 3)) == long


@pytest.mark.parametrize(("day", "start", "two_weeks_end", "following"), [
    (date(2026, 11, 21), date(2026, 10, 1), date(2026, 10, 14), date(2027, 1, 1)),
    (date(2026, 1, 1), date(2026, 1, 1), date(2026, 1, 14), date(2026, 4, 1)),
    (date(2026, 6, 30), date(2026, 4, 1), date(2026, 4, 14), date(2026, 7, 1)),
])
def test_quarters(day, start, two_weeks_end, following):
    assert rules.quarter_start(day) == start
    assert rules.first_two_weeks_of_quarter(day) == Window(start, two_weeks_end)
    assert rules.next_quarter(day) == following


def test_window_dates_are_checked():
    with pytest.raises(InvalidInput, match="window_dates"):
        rules.check_window(date(2026, 10, 14), date(2026, 10, 1), "")
    with pytest.raises(InvalidInput, match="window_dates"):
        rules.check_window(None, date(2026, 10, 1), "")
    assert rules.check_window(date(2026, 10, 1), date(2026, 10, 1), "  一天  ") == "一天"


@pytest.mark.parametrize(("active", "day", "problem"), [
    (True, date(2026, 11, 1), None),
    (True, date(2026, 11, 30), None),
    (True, date(2026, 10, 31), "offer_expired"),
    (True, date(2026, 12, 1), "offer_expired"),
    (False, date(2026, 11, 15), "offer_expired"),
])
def test_offer_validity(active, day, problem):
    assert rules.offer_problem(active, date(2026, 11, 1), date(2026, 11, 30), day) == problem


@pytest.mark.parametrize(("per_person", "used", "total", "redeemed", "problem"), [
    (None, 99, None, 999, None),
    (2, 1, 10, 9, None),
    (2, 2, 10, 0, ("person_limit_reached", {"limit": 2})),
    (2, 0, 10, 10, ("offer_limit_reached", {"limit": 10})),
    # an offer that has run out says so, whatever the person's own count
    (1, 1, 5, 5, ("offer_limit_reached", {"limit": 5})),
])
def test_offer_limits(per_person, used, total, redeemed, problem):
    assert rules.limit_problem(per_person, used, total, redeemed) == problem


@pytest.mark.parametrize(("quantity", "problem"), [
    (1, None), (99, None), (0, "bad_quantity"), (100, "bad_quantity"), (-1, "bad_quantity"), ("2", "bad_quantity"),
    (True, "bad_quantity"), (2.0, "bad_quantity"),
])
def test_quantity(quantity, problem):
    assert rules.check_quantity(quantity) == problem


@pytest.mark.parametrize(("each", "quantity", "threshold", "phone", "asks"), [
    (10, 4, 50, False, False),  # 40 points: below the station's threshold
    (10, 5, 50, False, True),  # 50 points: at the threshold the PIN is asked
    (10, 5, 50, True, False),  # a live phone code proves the holder's phone is there
    (10, 1, 0, False, True),  # threshold 0: always
    (80, 9, None, False, False),  # no threshold: never
])
def test_the_whole_basket_decides_the_pin(each, quantity, threshold, phone, asks):
    assert needs_pin(rules.goods_price(each, quantity), threshold, phone) is asks


def test_new_goods_are_checked():
    assert rules.check_goods("  洗衣液 ", 50, 0) == "洗衣液"
    for name, points, stock, code in (("", 5, 1, "name_required"), ("x" * 65, 5, 1, "name_too_long"),
                                      ("米", 0, 1, "bad_price"), ("米", None, 1, "bad_price"), ("米", 5, -1, "bad_stock"),
                                      ("米", 5, None, "bad_stock")):
        with pytest.raises(InvalidInput, match=code):
            rules.check_goods(name, points, stock)
    with pytest.raises(InvalidInput, match="bad_restock"):
        rules.check_restock(0)


def test_new_offers_are_checked():
    day = date(2026, 11, 1)
    assert rules.check_offer(" 理发 ", " 理发一次 ", 30, None, 100, day, day) == ("理发", "理发一次")
    for args, code in (
        (("", "x", 30, None, None, day, day), "offer_title_required"),
        (("t", " ", 30, None, None, day, day), "gives_required"),
        (("t", "x", 0, None, None, day, day), "bad_price"),
        (("t", "x", 30, 0, None, day, day), "bad_limit"),
        (("t", "x", 30, None, -3, day, day), "bad_limit"),
        (("t", "x", 30, None, None, None, day), "offer_dates"),
        (("t", "x", 30, None, None, day, date(2026, 10, 31)), "offer_dates"),
    ):
        with pytest.raises(InvalidInput, match=code):
            rules.check_offer(*args)


def test_who_manages_a_merchants_offers():
    east, west = "/1/2/", "/1/3/"
    clerk = [ClerkGrant("merchant_clerk", east, merchant_account_id=7)]
    assert rules.may_manage_offers(clerk, 7, east)
    assert not rules.may_manage_offers(clerk, 8, east)  # another merchant of the same community
    assert not rules.may_manage_offers([ClerkGrant("merchant_clerk", west, 7)], 7, east)
    assert rules.may_manage_offers([ClerkGrant("community_admin", east)], 8, east)
    assert not rules.may_manage_offers([ClerkGrant("community_admin", west)], 8, east)
    assert rules.may_manage_offers([ClerkGrant("district_admin", "/1/")], 8, east)
    assert not rules.may_manage_offers([ClerkGrant("station_operator", east), ClerkGrant("reviewer", east)], 8, east)


def test_month_totals_net_of_reversals():
    lines = [(date(2026, 11, 2), "redemption", 30), (date(2026, 11, 2), "reversal", -30), (date(2026, 11, 20), "redemption", 20),
             (date(2026, 10, 31), "redemption", 10)]
    assert rules.month_totals(lines) == [rules.MonthTotal("2026-11", 1, 20), rules.MonthTotal("2026-10", 1, 10)]


@pytest.mark.parametrize(("text", "month"), [
    ("2026-11", "2026-11"), ("2026-13", None), ("2026-1", None), ("", None), (None, None), ("abcd-ef", None),
])
def test_parse_month(text, month):
    assert rules.parse_month(text) == month


def test_a_closed_shop_names_the_next_window_or_else_the_last():
    assert rules.closed_until([Q4, Q1], date(2026, 10, 5)) is None
    assert rules.closed_until([Q4, Q1], date(2026, 11, 5)) == {"opens": "2027-01-01", "closes": "2027-01-14"}
    assert rules.closed_until([Q4], date(2026, 11, 5)) == {"opens": "2026-10-01", "closes": "2026-10-14"}
    assert rules.closed_until([], date(2026, 11, 5)) is None


@pytest.mark.parametrize("today", [date(2026, 11, 21), date(2027, 1, 3), date(2027, 1, 14), date(2027, 1, 15),
                                   date(2027, 3, 31)])
def test_the_demo_opens_dongyuan_today_and_closes_xiyuan(today):
    """What browser tests rely on, whatever day the demo is loaded."""
    from backend.redemption.demo import _windows

    east = [w for w, _ in _windows("东园社区", today)]
    west = [w for w, _ in _windows("西园社区", today)]
    assert rules.window_open(east, today) and not rules.window_open(west, today)
    assert rules.first_two_weeks_of_quarter(today) in east
    assert rules.next_window(west, today) is not None
