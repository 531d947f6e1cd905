"""Pure catalogue decisions: the value in force on a day, who may earn an item, caps, revision sets."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from backend.errors import Conflict, InvalidInput

# who may earn an item: the colours of person accounts, and organisations; none chosen = everyone
COLOURS = ("red", "blue", "green", "organisation")
MAX_POINTS = 1000
MAX_CAP = 1000
MAX_NAME = 100
MAX_NOTE = 200
# a revision set may take effect from the first day of the current month (staff publish the month's changes
# in its first days) up to a year ahead; earlier would silently change what past months' deeds were worth
MAX_AHEAD = timedelta(days=366)


def value_on(revisions: list[tuple[date, int]], day: date) -> int:
    """The value in force on `day`: the latest revision that took effect on or before it. Revisions come in the
    order they were made, so of two with the same effective date the later one (a correction) wins."""
    found: tuple[date, int] | None = None
    for effective, points in revisions:
        if effective <= day and (found is None or effective >= found[0]):
            found = (effective, points)
    if found is None:
        raise Conflict("item_not_in_force", day=day.isoformat())
    return found[1]


def colour_may_earn(item_colours: list[str], account_colour: str | None) -> bool:
    return not item_colours or account_colour in item_colours


def earner_colour(account_kind: str, account_colour: str | None) -> str | None:
    """The word an item's colours are matched against: a person account's colour, or "organisation"."""
    return "organisation" if account_kind == "organisation" else account_colour


# --- caps -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Caps:
    """How many times one person may earn an item per calendar day, month and year (None: no limit)."""

    per_day: int | None = None
    per_month: int | None = None
    per_year: int | None = None

    @property
    def any(self) -> bool:
        return any(c is not None for c in (self.per_day, self.per_month, self.per_year))


def check_cap_values(caps: Caps) -> None:
    for name, value in (("cap_per_day", caps.per_day), ("cap_per_month", caps.per_month), ("cap_per_year", caps.per_year)):
        if value is not None and (type(value) is not int or not 1 <= value <= MAX_CAP):
            raise InvalidInput("bad_cap", field=name, max=MAX_CAP)


def cap_refusal(caps: Caps, earlier: list[date], day: date) -> tuple[str, int] | None:
    """Whether one more award on `day` would go over a cap, given the days of the person's earlier awards of the
    item: (reason code, the cap) or None. The tightest period speaks first."""
    same_day = sum(1 for d in earlier if d == day)
    same_month = sum(1 for d in earlier if (d.year, d.month) == (day.year, day.month))
    same_year = sum(1 for d in earlier if d.year == day.year)
    for code, cap, count in (("daily_cap_reached", caps.per_day, same_day),
                             ("monthly_cap_reached", caps.per_month, same_month),
                             ("yearly_cap_reached", caps.per_year, same_year)):
        if cap is not None and count >= cap:
            return code, cap
    return None


def check_caps(caps: Caps, earlier: list[date], day: date) -> None:
    refusal = cap_refusal(caps, earlier, day)
    if refusal:
        raise Conflict(refusal[0], limit=refusal[1])


# --- the editor ---------------------------------------------------------------------------------------------

def check_item(name: str, colours: list[str], caps: Caps) -> None:
    if not name.strip():
        raise InvalidInput("name_required", field="name")
    if len(name.strip()) > MAX_NAME:
        raise InvalidInput("name_too_long", field="name", max=MAX_NAME)
    if any(c not in COLOURS for c in colours):
        raise InvalidInput("bad_colour", field="colours")
    check_cap_values(caps)


def check_points(points: object, field: str = "points") -> None:
    if type(points) is not int or not 1 <= points <= MAX_POINTS:
        raise InvalidInput("bad_item_points", field=field, max=MAX_POINTS)


def month_start(day: date) -> date:
    return day.replace(day=1)


def check_effective_date(effective_from: date, today: date) -> None:
    if effective_from < month_start(today):
        raise InvalidInput("revision_too_early", field="effective_from", first=month_start(today).isoformat())
    if effective_from > today + MAX_AHEAD:
        raise InvalidInput("revision_too_late", field="effective_from")


def revision_changes(in_force: dict[int, int | None], proposed: dict[int, int]) -> list[tuple[int, int | None, int]]:
    """(item, value in force on the effective date, new value) for each item whose value changes, in item order."""
    changes = []
    for item_id in sorted(proposed):
        if item_id not in in_force:
            raise InvalidInput("unknown_item", field=f"points_{item_id}")
        check_points(proposed[item_id], f"points_{item_id}")
        if proposed[item_id] != in_force[item_id]:
            changes.append((item_id, in_force[item_id], proposed[item_id]))
    return changes


def check_revision_set(note: str, effective_from: date, today: date, changes: list) -> None:
    if not note.strip():
        raise InvalidInput("note_required", field="note")
    if len(note.strip()) > MAX_NOTE:
        raise InvalidInput("text_too_long", field="note", max=MAX_NOTE)
    check_effective_date(effective_from, today)
    if not changes:
        raise InvalidInput("no_changes")
