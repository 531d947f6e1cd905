"""Pure event decisions: when check-in is open, who may check in or out, hours served and the points they earn.

Hours are counted in whole half hours, rounded DOWN: 2 h 59 min is 2.5 hours. The points are
floor(hours × points_per_hour), so 2.5 hours at 3 points an hour earn 7. A stay shorter than half an hour
earns nothing (the ledger holds no zero transactions).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from backend.errors import InvalidInput

# volunteers arrive early to set up: check-in opens this long before the start
CHECKIN_OPENS = timedelta(minutes=30)
MAX_TITLE = 100
MAX_PLACE = 100
MAX_CAPACITY = 10_000
MAX_POINTS_PER_HOUR = 100
MAX_LENGTH = timedelta(days=7)


@dataclass(frozen=True)
class EventRule:
    """What the decisions need of an event."""

    starts_at: datetime
    ends_at: datetime
    capacity: int | None
    cancelled: bool


def check_event(title: str, place: str, starts_at: datetime, ends_at: datetime, capacity: int | None,
                points_per_hour: int | None, item_id: int | None) -> None:
    """A new event: a title and place, a time window, and exactly one way of giving points."""
    if not title.strip():
        raise InvalidInput("title_required", field="title")
    if len(title.strip()) > MAX_TITLE:
        raise InvalidInput("title_too_long", field="title", max=MAX_TITLE)
    if not place.strip():
        raise InvalidInput("place_required", field="place")
    if len(place.strip()) > MAX_PLACE:
        raise InvalidInput("place_too_long", field="place", max=MAX_PLACE)
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInput("naive_time")
    if ends_at <= starts_at:
        raise InvalidInput("ends_before_start", field="ends_at")
    if ends_at - starts_at > MAX_LENGTH:
        raise InvalidInput("event_too_long", field="ends_at", days=MAX_LENGTH.days)
    if capacity is not None and not 1 <= capacity <= MAX_CAPACITY:
        raise InvalidInput("bad_capacity", field="capacity", max=MAX_CAPACITY)
    if (points_per_hour is None) == (item_id is None):
        raise InvalidInput("award_rule_required", field="award")
    if points_per_hour is not None and not 1 <= points_per_hour <= MAX_POINTS_PER_HOUR:
        raise InvalidInput("bad_points_per_hour", field="points_per_hour", max=MAX_POINTS_PER_HOUR)


def checkin_refusal(event: EventRule, at: datetime, *, open_stay: bool, last_checkout: datetime | None,
                    attendees: int, counted: bool) -> str | None:
    """None when a check-in at `at` is allowed, else the reason. `open_stay`: the holder is checked in now;
    `last_checkout`: the end of their latest stay here; `attendees`: people who have checked in so far;
    `counted`: the holder is one of them (coming back after a break takes no new place)."""
    if event.cancelled:
        return "event_cancelled"
    if not event.starts_at - CHECKIN_OPENS <= at < event.ends_at:
        return "outside_event_hours"
    # a stay may not overlap an earlier one (an offline check-in replayed after the check-out that followed it)
    if open_stay or (last_checkout is not None and at < last_checkout):
        return "already_checked_in"
    if event.capacity is not None and not counted and attendees >= event.capacity:
        return "event_full"
    return None


def checkout_refusal(open_stay: bool, has_stayed: bool) -> str | None:
    if open_stay:
        return None
    return "already_checked_out" if has_stayed else "not_checked_in"


def minutes_served(checked_in_at: datetime, checked_out_at: datetime, starts_at: datetime, ends_at: datetime) -> int:
    """Whole minutes inside the event's window: time before the start and after the end does not count."""
    served = min(checked_out_at, ends_at) - max(checked_in_at, starts_at)
    return max(0, int(served.total_seconds() // 60))


def half_hours(minutes: int) -> int:
    return minutes // 30


def hours_text(minutes: int) -> str:
    """The hours credited, as people write them: "2", "2.5", "0"."""
    return f"{half_hours(minutes) / 2:g}"


def hours_points(minutes: int, points_per_hour: int) -> int:
    return half_hours(minutes) * points_per_hour // 2


def earns_item(minutes: int) -> bool:
    """A fixed award is for having been there while the event ran."""
    return minutes > 0


def signup_refusal(event: EventRule, now: datetime, signups: int) -> str | None:
    if event.cancelled:
        return "event_cancelled"
    if now >= event.ends_at:
        return "event_over"
    if event.capacity is not None and signups >= event.capacity:
        return "event_full"
    return None


def withdraw_refusal(event: EventRule, now: datetime) -> str | None:
    """A sign-up can be withdrawn until the event starts; afterwards it stays, so no-shows show."""
    return "event_started" if now >= event.starts_at else None


def cancel_refusal(event: EventRule, attendees: int) -> str | None:
    """Cancelling is for an event that has not happened: nobody's hours may be left hanging."""
    if event.cancelled:
        return "event_cancelled"
    return "event_has_attendance" if attendees else None

