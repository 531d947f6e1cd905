"""Pure micro-wish decisions (微心愿, 居民点单、小区派单、党员接单): who may move a wish from which state to which,
and the "2341" service standard (服务准则) as four clocks. No I/O; every time comes in as an argument.

States::

    posted ──take──▶ taken ──start──▶ in_progress ──complete──▶ completed ──confirm──▶ confirmed (rated 1–5)
       └──dispatch──▶ dispatched ──┘        ▲                        │
                                            └────────reopen──────────┘  (the resident: "not done yet")
    any state before completed ──cancel──▶ cancelled

A wish taken or dispatched may be dispatched again by staff (to someone else). `reopened` behaves like
`dispatched`: the same helper goes back to work, or staff send someone else.

The "2341" clocks (seed report 001: 20分钟内响应、30分钟给予回复、4个小时内协调解决、1个工作日给予解决方案), all
started by the posting of the wish:

- respond (20 minutes): stopped by the first sign that someone has seen it — staff or a volunteer acknowledging it,
  replying, taking it, dispatching it (or anything later that implies it).
- reply (30 minutes): stopped by the first answer the resident can read — a written reply to the resident, a take or
  a dispatch (the resident is told who will come), or the completion.
- coordinate (4 hours): stopped when someone is assigned — taken from the board or dispatched by staff.
- solve (1 working day): stopped by the completion. Only working-day time counts: Monday to Friday, minus public
  holidays, plus the make-up working days (调休) of the calendar; so a wish posted on Friday at 15:00 is due on
  Monday at 15:00, and one posted on Saturday is due at the end of Monday.

The first three count calendar time: the building stewards (红色楼管家) answer at any hour. A clock is `met` or
`late` once stopped, `running` or `overdue` while not; a cancelled wish's unstopped clocks say `stopped_by_cancel`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from backend.errors import Conflict, InvalidInput, PermissionDenied

KINDS = ("repair", "visit", "errand", "companionship", "other")
STATES = ("posted", "taken", "dispatched", "in_progress", "completed", "confirmed", "cancelled", "reopened")
# not yet done: where the volunteers' board and the staff's dispatch board look
OPEN_STATES = ("posted", "taken", "dispatched", "in_progress", "reopened")
ASSIGNED_STATES = ("taken", "dispatched", "in_progress", "reopened")
MAX_DESCRIPTION = 500
MAX_NOTE = 300
MAX_COMMENT = 300

# who acts: the resident the wish is for (or who posted it for themselves), staff of its community, the helper
# it is assigned to (a person, or a member of the assigned team), any other volunteer of the community
RESIDENT, STAFF, ASSIGNEE, VOLUNTEER = "resident", "staff", "assignee", "volunteer"

# action -> (states it may start from, state it leads to (None: unchanged), who may do it)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None, frozenset[str]]] = {
    "take": (("posted",), "taken", frozenset({VOLUNTEER})),
    "dispatch": (("posted", "taken", "dispatched", "in_progress", "reopened"), "dispatched", frozenset({STAFF})),
    "start": (("taken", "dispatched", "reopened"), "in_progress", frozenset({ASSIGNEE})),
    "complete": (("taken", "dispatched", "in_progress", "reopened"), "completed", frozenset({ASSIGNEE, STAFF})),
    "confirm": (("completed",), "confirmed", frozenset({RESIDENT, STAFF})),
    "reopen": (("completed",), "reopened", frozenset({RESIDENT, STAFF})),
    "cancel": (OPEN_STATES, "cancelled", frozenset({RESIDENT, STAFF})),
    "acknowledge": (OPEN_STATES, None, frozenset({STAFF, ASSIGNEE})),
    "reply": (OPEN_STATES, None, frozenset({STAFF, ASSIGNEE})),
}


def next_state(action: str, state: str, roles: set[str] | frozenset[str]) -> str:
    """The state after `action`, or the reason it is refused: PermissionDenied when the actor may not do it at
    all, Conflict when the wish is not in a state that allows it."""
    if action not in TRANSITIONS:
        raise InvalidInput("invalid", field="action")
    sources, target, allowed = TRANSITIONS[action]
    if not roles & allowed:
        raise PermissionDenied("wish_not_yours")
    if state not in sources:
        raise Conflict("wish_state", state=state)
    return target or state


def allowed_actions(state: str, roles: set[str] | frozenset[str]) -> list[str]:
    """The buttons to show this actor."""
    return [a for a, (sources, _, who) in TRANSITIONS.items() if state in sources and roles & who]


def check_post(kind: str, description: str) -> None:
    if kind not in KINDS:
        raise InvalidInput("wish_kind_required", field="kind")
    if not description.strip():
        raise InvalidInput("wish_description_required", field="description")
    if len(description.strip()) > MAX_DESCRIPTION:
        raise InvalidInput("text_too_long", field="description", max=MAX_DESCRIPTION)


def check_note(note: str, required: bool = False, field: str = "note") -> str:
    note = note.strip()
    if required and not note:
        raise InvalidInput("wish_note_required", field=field)
    if len(note) > MAX_NOTE:
        raise InvalidInput("text_too_long", field=field, max=MAX_NOTE)
    return note


MAX_TEAM_NAME = 64
MAX_DAY_NAME = 32


def check_team_name(name: str) -> str:
    """A team's name, spaces tidied (what the dispatch form and the timeline show)."""
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("name_required", field="team_name")
    if len(name) > MAX_TEAM_NAME:
        raise InvalidInput("name_too_long", field="team_name", max=MAX_TEAM_NAME)
    return name


def check_calendar_day(day: date, working: bool, name: str, today: date | None) -> str:
    """A holiday or a make-up working day for the calendar; returns its tidied name. A make-up day is a Saturday or
    Sunday worked (a weekday is a working day already). With `today`, earlier days are refused: the clocks of the
    past have been judged and reported, and changing the calendar under them would change those reports."""
    name = " ".join(name.split())
    if len(name) > MAX_DAY_NAME:
        raise InvalidInput("wish_day_note_long", field="note", max=MAX_DAY_NAME)
    if today is not None and day < today:
        raise InvalidInput("wish_day_past", field="day")
    if working and day.weekday() < 5:
        raise InvalidInput("wish_workday_not_weekend", field="day")
    return name


def check_rating(rating: object, comment: str) -> None:
    if type(rating) is not int or not 1 <= rating <= 5:
        raise InvalidInput("bad_rating", field="rating")
    if len(comment.strip()) > MAX_COMMENT:
        raise InvalidInput("text_too_long", field="comment", max=MAX_COMMENT)


# --- working days ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WorkCalendar:
    """Monday to Friday, except `holidays`; plus `workdays` (weekend days worked to make up for a holiday)."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def is_working(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


def add_working_time(start: datetime, span: timedelta, calendar: WorkCalendar, zone: tzinfo) -> datetime:
    """The moment `span` of working-day time after `start` (local days in `zone`; time on days off does not count)."""
    local = start.astimezone(zone)
    left = span
    day = local.date()
    moment = local
    for _ in range(3660):  # ten years of days off in a row would be a broken calendar, not a wish
        day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        if calendar.is_working(day):
            available = day_end - moment
            if left <= available:
                return (moment + left).astimezone(start.tzinfo)
            left -= available
        day += timedelta(days=1)
        moment = day_end
    raise ValueError("no working day within ten years")


# --- the 2341 clocks --------------------------------------------------------------------------------------------

RESPOND, REPLY, COORDINATE, SOLVE = "respond", "reply", "coordinate", "solve"
CLOCKS = (RESPOND, REPLY, COORDINATE, SOLVE)
LIMITS = {RESPOND: timedelta(minutes=20), REPLY: timedelta(minutes=30), COORDINATE: timedelta(hours=4),
          SOLVE: timedelta(days=1)}
# the steps that stop each clock (the first one of them in the timeline)
STOPPED_BY = {
    RESPOND: frozenset({"acknowledge", "reply", "take", "dispatch", "start", "complete"}),
    REPLY: frozenset({"reply", "take", "dispatch", "complete"}),
    COORDINATE: frozenset({"take", "dispatch"}),
    SOLVE: frozenset({"complete"}),
}


@dataclass(frozen=True)
class Clock:
    name: str
    due: datetime
    stopped_at: datetime | None
    status: str  # running | overdue | met | late | stopped_by_cancel

    @property
    def overdue(self) -> bool:
        return self.status == "overdue"


def due_at(name: str, posted_at: datetime, calendar: WorkCalendar, zone: tzinfo) -> datetime:
    if name == SOLVE:
        return add_working_time(posted_at, LIMITS[SOLVE], calendar, zone)
    return posted_at + LIMITS[name]


def clocks(posted_at: datetime, steps: list[tuple[str, datetime]], now: datetime, calendar: WorkCalendar,
           zone: tzinfo) -> list[Clock]:
    """The four clocks of a wish posted at `posted_at`, given its timeline's (action, time) steps, judged at `now`."""
    cancelled = next((at for action, at in steps if action == "cancel"), None)
    found = []
    for name in CLOCKS:
        due = due_at(name, posted_at, calendar, zone)
        stopped = min((at for action, at in steps if action in STOPPED_BY[name]), default=None)
        if stopped is not None:
            status = "met" if stopped <= due else "late"
        elif cancelled is not None:
            status = "stopped_by_cancel"
        else:
            status = "overdue" if now > due else "running"
        found.append(Clock(name, due, stopped, status))
    return found


def overdue_clocks(found: list[Clock]) -> list[str]:
    return [c.name for c in found if c.overdue]


def next_due(found: list[Clock]) -> Clock | None:
    """The running clock that runs out first: what the dispatch board shows as "due by"."""
    running = [c for c in found if c.status == "running"]
    return min(running, key=lambda c: c.due) if running else None


# --- points ---------------------------------------------------------------------------------------------------

def points_refusal(has_item: bool, has_account: bool, cap_refusal: str | None) -> str | None:
    """Why confirming a wish posts no points to its helper (the confirmation itself still stands: the resident's
    rating is theirs to give, and staff see the reason in the timeline)."""
    if not has_item:
        return "no_item_for_kind"
    if not has_account:
        return "colour_not_eligible"
    return cap_refusal
