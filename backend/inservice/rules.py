"""Pure decisions for the in-service members' monthly check-in (在职党员 "回家报到").

The seed scheme (000): members "check in at the community on any day of the last week of each month, take on a
points project and do volunteer service" (每月最后一周任意一天主动到社区报到, 领办积分项目). So a month has one
check-in per member; the window is the month's last `window_days` days (7 by default, configurable per community).
A community may make the window strict (a check-in outside it is refused) or not (it is accepted and marked);
the default is not strict, because coming home mid-month is still coming home, and staff see the mark."""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from backend.errors import Conflict, InvalidInput

WINDOW_DAYS = 7
MAX_WINDOW_DAYS = 28
# a check-in claimed from the phone may be for last month during the first days of the next (marked late)
GRACE_DAYS = 3
MAX_TEXT = 100
MAX_PROJECT_TEXT = 200
VIA = ("station", "claim")


@dataclass(frozen=True)
class Window:
    days: int = WINDOW_DAYS
    strict: bool = False


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def parse_month(text: str) -> tuple[int, int]:
    try:
        year, month = (int(p) for p in text.split("-"))
    except ValueError:
        raise InvalidInput("bad_month", field="month") from None
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        raise InvalidInput("bad_month", field="month")
    return year, month


def last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def window_of(year: int, month: int, days: int) -> tuple[date, date]:
    """The first and last day of the check-in window: the month's last `days` days."""
    end = last_day(year, month)
    return end - timedelta(days=min(days, end.day) - 1), end


def in_window(day: date, days: int) -> bool:
    return window_of(day.year, day.month, days)[0] <= day


def check_window_days(days: object) -> None:
    if type(days) is not int or not 1 <= days <= MAX_WINDOW_DAYS:
        raise InvalidInput("bad_window_days", field="window_days", max=MAX_WINDOW_DAYS)


@dataclass(frozen=True)
class Timing:
    month: str  # the month the check-in counts for
    in_window: bool
    late: bool


def station_timing(day: date, window: Window) -> Timing:
    """A card scan counts for the month it is made in; a strict window refuses it outside the last days."""
    inside = in_window(day, window.days)
    if window.strict and not inside:
        start, end = window_of(day.year, day.month, window.days)
        raise Conflict("outside_report_week", opens=start.isoformat(), closes=end.isoformat())
    return Timing(month_key(day), inside, False)


def claim_timing(day: date, today: date, window: Window) -> Timing:
    """A check-in claimed from the phone names the day the member came. Not in the future; for this month, or
    for last month during the first GRACE_DAYS of this one (then it is marked late)."""
    if day > today:
        raise InvalidInput("deed_in_future", field="day")
    this_month = (today.year, today.month)
    if (day.year, day.month) != this_month:
        previous = today.replace(day=1) - timedelta(days=1)
        if (day.year, day.month) != (previous.year, previous.month) or today.day > GRACE_DAYS:
            raise Conflict("report_month_closed", month=month_key(day))
    inside = in_window(day, window.days)
    if window.strict and not inside:
        start, end = window_of(day.year, day.month, window.days)
        raise Conflict("outside_report_week", opens=start.isoformat(), closes=end.isoformat())
    return Timing(month_key(day), inside, (day.year, day.month) != this_month)


def check_not_reported(earlier_month: str | None) -> None:
    """One check-in per member per month."""
    if earlier_month is not None:
        raise Conflict("already_reported", month=earlier_month)


def check_member(member_active: bool | None) -> None:
    if not member_active:
        raise Conflict("not_in_service_member")


def check_registration(employer: str, branch: str, since: date, today: date, is_party_member: bool) -> None:
    if not is_party_member:
        raise Conflict("not_party_member")
    if not employer.strip():
        raise InvalidInput("employer_required", field="employer")
    for name, text in (("employer", employer), ("branch", branch)):
        if len(text.strip()) > MAX_TEXT:
            raise InvalidInput("text_too_long", field=name, max=MAX_TEXT)
    if since > today:
        raise InvalidInput("since_in_future", field="since")


def check_project(name: str, description: str) -> None:
    if not name.strip():
        raise InvalidInput("name_required", field="name")
    if len(name.strip()) > MAX_TEXT:
        raise InvalidInput("name_too_long", field="name", max=MAX_TEXT)
    if len(description.strip()) > 1000:
        raise InvalidInput("text_too_long", field="description", max=1000)


def check_project_choice(project_id: int | None, project_text: str) -> None:
    """A check-in takes on a project: one from the community's list, or one in the member's own words."""
    if project_id is None and not project_text.strip():
        raise InvalidInput("project_required", field="project")
    if len(project_text.strip()) > MAX_PROJECT_TEXT:
        raise InvalidInput("text_too_long", field="project_text", max=MAX_PROJECT_TEXT)


def year_months(year: int) -> list[str]:
    return [f"{year:04d}-{m:02d}" for m in range(1, 13)]


@dataclass(frozen=True)
class YearSummary:
    months: list[tuple[str, dict | None]]  # each month of the year with its check-in (or None)
    checked_in: int
    in_window: int
    due: int  # months the member was expected to check in, from the month they registered up to `today`


def year_summary(year: int, check_ins: list[dict], since: date, today: date) -> YearSummary:
    """The yearly report's table: twelve months, which had a check-in, and how many were due."""
    by_month = {c["month"]: c for c in check_ins}
    months = [(m, by_month.get(m)) for m in year_months(year)]
    first = max(since.replace(day=1), date(year, 1, 1))
    due = sum(1 for m in range(1, 13) if first <= date(year, m, 1) <= today)
    return YearSummary(months, sum(1 for _, c in months if c), sum(1 for _, c in months if c and c["in_window"]), due)


def month_counts(rows: list[dict]) -> dict[str, int]:
    """The monthly list's counts: members, checked in (in the window or not), not yet."""
    done = [r for r in rows if r.get("check_in")]
    return {"members": len(rows), "checked_in": len(done),
            "in_window": sum(1 for r in done if r["check_in"]["in_window"]), "not_yet": len(rows) - len(done)}
