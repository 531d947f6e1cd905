"""Micro-wish rules: who may move a wish where, and the "2341" clocks judged with a fake clock, over weekends,
public holidays and make-up working days."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from backend.errors import Conflict, InvalidInput, PermissionDenied
from backend.wishes import rules
from backend.wishes.rules import ASSIGNEE, RESIDENT, STAFF, VOLUNTEER, WorkCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
NONE = WorkCalendar()


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


class FakeClock:
    """Time that moves only when the test says so."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def advance(self, **span) -> datetime:
        self.now += timedelta(**span)
        return self.now


# --- transitions ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("action, state, roles, after", [
    ("take", "posted", {VOLUNTEER}, "taken"),
    ("dispatch", "posted", {STAFF}, "dispatched"),
    ("dispatch", "taken", {STAFF}, "dispatched"),  # staff may send someone else
    ("start", "dispatched", {ASSIGNEE}, "in_progress"),
    ("complete", "in_progress", {ASSIGNEE}, "completed"),
    ("complete", "taken", {ASSIGNEE}, "completed"),
    ("complete", "dispatched", {STAFF}, "completed"),
    ("confirm", "completed", {RESIDENT}, "confirmed"),
    ("confirm", "completed", {STAFF}, "confirmed"),  # for a resident without a smartphone
    ("reopen", "completed", {RESIDENT}, "reopened"),
    ("complete", "reopened", {ASSIGNEE}, "completed"),
    ("cancel", "posted", {RESIDENT}, "cancelled"),
    ("cancel", "in_progress", {STAFF}, "cancelled"),
    ("acknowledge", "posted", {STAFF}, "posted"),
    ("reply", "taken", {ASSIGNEE}, "taken"),
])
def test_allowed_moves(action, state, roles, after):
    assert rules.next_state(action, state, roles) == after


@pytest.mark.parametrize("action, state, roles", [
    ("take", "posted", {RESIDENT}),  # one's own wish is not taken from the board
    ("take", "posted", {STAFF}),
    ("dispatch", "posted", {VOLUNTEER, RESIDENT}),
    ("confirm", "completed", {ASSIGNEE}),  # the helper does not confirm their own work
    ("confirm", "completed", {VOLUNTEER}),
    ("complete", "taken", {VOLUNTEER}),  # someone else's task
    ("cancel", "posted", {VOLUNTEER}),
    ("acknowledge", "posted", {RESIDENT}),
])
def test_refused_actors(action, state, roles):
    with pytest.raises(PermissionDenied):
        rules.next_state(action, state, roles)


@pytest.mark.parametrize("action, state, roles", [
    ("take", "taken", {VOLUNTEER}),  # someone was quicker
    ("confirm", "posted", {RESIDENT}),
    ("confirm", "confirmed", {RESIDENT}),
    ("cancel", "completed", {RESIDENT}),
    ("cancel", "cancelled", {STAFF}),
    ("dispatch", "confirmed", {STAFF}),
    ("start", "posted", {ASSIGNEE}),
    ("reply", "confirmed", {STAFF}),
])
def test_refused_states(action, state, roles):
    with pytest.raises(Conflict):
        rules.next_state(action, state, roles)


def test_unknown_action_is_invalid():
    with pytest.raises(InvalidInput):
        rules.next_state("teleport", "posted", {STAFF})


def test_buttons_follow_the_table():
    assert rules.allowed_actions("posted", {VOLUNTEER}) == ["take"]
    assert set(rules.allowed_actions("completed", {RESIDENT})) == {"confirm", "reopen"}
    assert rules.allowed_actions("confirmed", {RESIDENT, STAFF, ASSIGNEE}) == []


def test_post_and_rating_checks():
    rules.check_post("repair", "水龙头漏水")
    with pytest.raises(InvalidInput):
        rules.check_post("magic", "x")
    with pytest.raises(InvalidInput):
        rules.check_post("visit", "   ")
    with pytest.raises(InvalidInput):
        rules.check_post("visit", "字" * (rules.MAX_DESCRIPTION + 1))
    rules.check_rating(5, "很好")
    for bad in (0, 6, "5", True, None):
        with pytest.raises(InvalidInput):
            rules.check_rating(bad, "")
    with pytest.raises(InvalidInput):
        rules.check_note(" ", required=True)


# --- working time --------------------------------------------------------------------------------------------

def test_a_working_day_on_a_weekday_is_the_same_time_next_day():
    assert rules.add_working_time(local(2026, 11, 17, 10), timedelta(days=1), NONE, SHANGHAI) == local(2026, 11, 18, 10)


def test_friday_afternoon_is_due_on_monday_afternoon():
    # 2026-11-20 is a Friday
    assert rules.add_working_time(local(2026, 11, 20, 15), timedelta(days=1), NONE, SHANGHAI) == local(2026, 11, 23, 15)


def test_a_wish_posted_on_saturday_is_due_at_the_end_of_monday():
    assert rules.add_working_time(local(2026, 11, 21, 9), timedelta(days=1), NONE, SHANGHAI) == local(2026, 11, 24, 0)


def test_holidays_do_not_count_and_make_up_days_do():
    # National Day: Thursday 2026-10-01 to Wednesday 10-07 off; posted Wednesday 09-30 at 16:00
    holidays = frozenset(date(2026, 10, d) for d in range(1, 8))
    due = rules.add_working_time(local(2026, 9, 30, 16), timedelta(days=1), WorkCalendar(holidays=holidays), SHANGHAI)
    assert due == local(2026, 10, 8, 16)
    # with Saturday 10-10 worked instead (调休): posted Friday 10-09 at 16:00 -> Saturday 16:00
    due = rules.add_working_time(local(2026, 10, 9, 16), timedelta(days=1),
                                 WorkCalendar(holidays=holidays, workdays=frozenset({date(2026, 10, 10)})), SHANGHAI)
    assert due == local(2026, 10, 10, 16)


def test_working_time_keeps_the_callers_zone():
    start = datetime(2026, 11, 17, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai
    due = rules.add_working_time(start, timedelta(days=1), NONE, SHANGHAI)
    assert due == datetime(2026, 11, 18, 2, 0, tzinfo=timezone.utc) and due.tzinfo == timezone.utc


# --- the 2341 clocks with a fake clock ------------------------------------------------------------------------

def _by_name(found):
    return {c.name: c for c in found}


def test_clocks_run_then_run_out_in_order():
    posted = local(2026, 11, 17, 10)  # Tuesday
    clock = FakeClock(posted)
    steps: list = []
    assert {c.status for c in rules.clocks(posted, steps, clock.now, NONE, SHANGHAI)} == {"running"}
    clock.advance(minutes=20)
    assert rules.overdue_clocks(rules.clocks(posted, steps, clock.now, NONE, SHANGHAI)) == []  # due at, not after
    clock.advance(minutes=1)
    assert rules.overdue_clocks(rules.clocks(posted, steps, clock.now, NONE, SHANGHAI)) == ["respond"]
    clock.advance(minutes=10)
    assert rules.overdue_clocks(rules.clocks(posted, steps, clock.now, NONE, SHANGHAI)) == ["respond", "reply"]
    clock.advance(hours=4)
    assert rules.overdue_clocks(rules.clocks(posted, steps, clock.now, NONE, SHANGHAI)) == ["respond", "reply", "coordinate"]
    clock.now = local(2026, 11, 18, 10, 1)
    assert rules.overdue_clocks(rules.clocks(posted, steps, clock.now, NONE, SHANGHAI)) == list(rules.CLOCKS)


def test_steps_stop_their_clocks():
    posted = local(2026, 11, 17, 10)
    clock = FakeClock(posted)
    steps = [("acknowledge", clock.advance(minutes=5))]
    found = _by_name(rules.clocks(posted, steps, clock.advance(hours=1), NONE, SHANGHAI))
    assert found["respond"].status == "met" and found["respond"].stopped_at == local(2026, 11, 17, 10, 5)
    assert found["reply"].status == "overdue"  # an acknowledgement is not an answer
    steps.append(("dispatch", clock.now))  # 11:05: late for the reply, in time to coordinate
    found = _by_name(rules.clocks(posted, steps, clock.advance(hours=30), NONE, SHANGHAI))
    assert (found["reply"].status, found["coordinate"].status, found["solve"].status) == ("late", "met", "overdue")
    steps.append(("complete", clock.now))
    found = _by_name(rules.clocks(posted, steps, clock.advance(days=3), NONE, SHANGHAI))
    assert found["solve"].status == "late" and rules.overdue_clocks(list(found.values())) == []


def test_the_solve_clock_waits_over_the_weekend():
    posted = local(2026, 11, 20, 15)  # Friday
    found = _by_name(rules.clocks(posted, [("take", posted + timedelta(minutes=3))], local(2026, 11, 22, 20), NONE, SHANGHAI))
    assert found["solve"].status == "running" and found["solve"].due == local(2026, 11, 23, 15)
    assert rules.next_due(list(found.values())).name == "solve"
    found = _by_name(rules.clocks(posted, [], local(2026, 11, 23, 15, 1), NONE, SHANGHAI))
    assert found["solve"].status == "overdue"


def test_the_solve_clock_waits_over_a_holiday():
    holidays = WorkCalendar(holidays=frozenset({date(2026, 11, 18)}))  # a Wednesday off
    found = _by_name(rules.clocks(local(2026, 11, 17, 10), [], local(2026, 11, 18, 23), holidays, SHANGHAI))
    assert found["solve"].status == "running" and found["solve"].due == local(2026, 11, 19, 10)


def test_cancel_stops_what_is_still_running():
    posted = local(2026, 11, 17, 10)
    found = _by_name(rules.clocks(posted, [("take", posted + timedelta(minutes=40)), ("cancel", posted + timedelta(hours=1))],
                                  posted + timedelta(days=5), NONE, SHANGHAI))
    assert found["respond"].status == "late" and found["coordinate"].status == "met"
    assert found["solve"].status == "stopped_by_cancel" and not found["solve"].overdue


def test_why_no_points():
    assert rules.points_refusal(False, True, None) == "no_item_for_kind"
    assert rules.points_refusal(True, False, None) == "colour_not_eligible"
    assert rules.points_refusal(True, True, "monthly_cap_reached") == "monthly_cap_reached"
    assert rules.points_refusal(True, True, None) is None


@pytest.mark.parametrize("module", ["tables.py", "rules.py", "service.py", "demo.py"])
def test_the_wish_domain_knows_nothing_of_http(module):
    import ast
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "backend" / "wishes" / module
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    assert not {n for n in names if n.split(".")[0] in ("litestar", "jinja2") or n.startswith("backend.web")}


def test_settings_checks_team_names_and_calendar_days():
    assert rules.check_team_name("  红色  楼管家 ") == "红色 楼管家"
    for bad, code in (("   ", "name_required"), ("队" * 65, "name_too_long")):
        with pytest.raises(InvalidInput) as refused:
            rules.check_team_name(bad)
        assert refused.value.code == code
    today = date(2026, 11, 18)  # a Wednesday
    assert rules.check_calendar_day(date(2026, 11, 18), False, " 测试 ", today) == "测试"  # today may still change
    assert rules.check_calendar_day(date(2026, 11, 21), True, "调休", today) == "调休"  # a Saturday worked
    assert rules.check_calendar_day(date(2026, 1, 1), False, "元旦", None) == "元旦"  # the loader fills any year
    for day, working, name, code in ((date(2026, 11, 17), False, "", "wish_day_past"),
                                     (date(2026, 11, 20), True, "", "wish_workday_not_weekend"),
                                     (date(2026, 11, 22), False, "节" * 33, "wish_day_note_long")):
        with pytest.raises(InvalidInput) as refused:
            rules.check_calendar_day(day, working, name, today)
        assert refused.value.code == code
