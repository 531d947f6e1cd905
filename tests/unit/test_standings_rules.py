"""Standings rules: periods in Beijing time, ranks with ties, the star rule, red-flag grids, award steps, charts."""
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from backend.errors import Conflict, InvalidInput
from backend.people.rules import mask_name
from backend.standings import charts, rules
from backend.standings.rules import GridScore, Period

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_month_runs_from_local_midnight_to_local_midnight():
    start, end = Period("month", 2026, 10).bounds(SHANGHAI)
    assert start == datetime(2026, 9, 30, 16, 0, tzinfo=timezone.utc)
    assert end == datetime(2026, 10, 31, 16, 0, tzinfo=timezone.utc)


def test_quarter_and_year_bounds_and_december_wrap():
    start, end = Period("quarter", 2026, 4).bounds(SHANGHAI)
    assert (start, end) == (datetime(2026, 9, 30, 16, tzinfo=timezone.utc), datetime(2026, 12, 31, 16, tzinfo=timezone.utc))
    start, end = Period("year", 2026, 1).bounds(SHANGHAI)
    assert (start, end) == (datetime(2025, 12, 31, 16, tzinfo=timezone.utc), datetime(2026, 12, 31, 16, tzinfo=timezone.utc))
    assert [m.key for m in Period("quarter", 2026, 2).months()] == ["2026-04", "2026-05", "2026-06"]
    assert len(Period("year", 2026, 1).months()) == 12


def test_a_deed_just_after_local_midnight_belongs_to_the_new_month():
    start, _ = Period("month", 2026, 11).bounds(SHANGHAI)
    deed = datetime(2026, 10, 31, 16, 30, tzinfo=timezone.utc)  # 00:30 on 1 November in Beijing
    assert deed >= start
    assert rules.period_of("month", deed.astimezone(SHANGHAI).date()) == Period("month", 2026, 11)


@pytest.mark.parametrize("text, key", [("2026-10", "2026-10"), ("2026-1", "2026-01"), ("2026-q4", "2026-Q4"), (" 2026 ", "2026")])
def test_parse_period(text, key):
    assert rules.parse_period(text).key == key


@pytest.mark.parametrize("text", ["", "2026-13", "2026-Q5", "abc", "26-10", "2026-00"])
def test_parse_period_refuses(text):
    with pytest.raises(InvalidInput):
        rules.parse_period(text)


def test_period_of_and_previous():
    day = date(2026, 1, 15)
    assert rules.period_of("quarter", day) == Period("quarter", 2026, 1)
    assert Period("month", 2026, 1).previous() == Period("month", 2025, 12)
    assert Period("quarter", 2026, 1).previous() == Period("quarter", 2025, 4)
    assert Period("year", 2026, 1).previous() == Period("year", 2025, 1)


def test_equal_points_share_a_rank():
    assert rules.competition_ranks([50, 40, 40, 30, 30, 30, 10]) == [1, 2, 2, 4, 4, 4, 7]
    assert rules.competition_ranks([]) == []


@pytest.mark.parametrize("monthly, expected", [
    ([0, 0, 0], 1), ([19, 20, 20], 1), ([20, 20, 20], 2), ([40, 40, 41], 3), ([60, 60, 60], 4), ([80, 80, 80], 5),
    ([240, 0, 0], 5), ([], 1),
])
def test_star_rule_uses_the_quarters_average_monthly_score(monthly, expected):
    assert rules.stars(monthly, (20, 40, 60, 80)) == expected


def test_star_thresholds_are_configurable():
    assert rules.stars([10, 10, 10], rules.parse_thresholds("5, 10，15 20")) == 3
    for bad in ("20,40,60", "20,20,60,80", "80,60,40,20", "a,b,c,d", "-1,2,3,4"):
        with pytest.raises(InvalidInput):
            rules.parse_thresholds(bad)


def test_red_flag_grids_by_points_per_resident():
    grids = [GridScore(1, "一", residents=10, households=4, earned=300),   # 30 per resident
             GridScore(2, "二", residents=2, households=1, earned=100),    # 50: small but most active
             GridScore(3, "三", residents=0, households=0, earned=0),      # empty grid: never chosen
             GridScore(4, "四", residents=20, households=8, earned=600),   # 30, more in total than 一
             GridScore(5, "五", residents=5, households=2, earned=0)]
    assert [g.grid_id for g in rules.red_flag_grids(grids, 2)] == [2, 4]
    assert [g.grid_id for g in rules.red_flag_grids(grids, 10)] == [2, 4, 1]
    assert [g.grid_id for g in rules.rank_grids(grids)][-1] == 3
    assert grids[0].per_household == 75
    with pytest.raises(InvalidInput):
        rules.red_flag_grids(grids, 0)


def test_award_steps():
    assert rules.check_award_move("shortlisted", "nominate") == "nominated"
    assert rules.check_award_move("nominated", "award") == "awarded"
    assert rules.check_award_move("nominated", "not_award") == "not_awarded"
    assert rules.check_award_move("nominated", "withdraw") == "shortlisted"
    with pytest.raises(Conflict):
        rules.check_award_move("shortlisted", "award")  # the committee nominates before it decides
    with pytest.raises(Conflict):
        rules.check_award_move("awarded", "award")
    with pytest.raises(InvalidInput):
        rules.check_award_move("nominated", "delete")


def test_boards_mask_names():
    assert [mask_name(n) for n in ("张三", "王小明", "欧阳小明", "A")] == ["张*", "王*明", "欧**明", "A"]


def test_charts_carry_a_title_and_description():
    svg = charts.bar_chart("每月积分", "共 30 分", ["1", "2"], [10, 20])
    assert 'role="img"' in svg and "<title" in svg and "每月积分" in svg and "<desc" in svg
    assert svg.count("<rect") == 2
    mix = charts.share_chart("类别", "2 类", [("志愿服务", 30), ("环境整治", 10)])
    assert "75%" in mix and "25%" in mix
    assert "<rect" in charts.bar_chart("空", "无", ["1"], [0])  # an empty month still draws (a zero-height bar)
