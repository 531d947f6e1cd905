"""Pure redemption decisions: prices, stock, redemption windows, offer validity and limits, who manages which
merchant's offers, and a merchant's monthly totals. No I/O; every refusal is a stable reason code."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable

from backend.errors import InvalidInput

MAX_QUANTITY = 99  # of one kind of goods in one scan
MAX_POINTS = 100_000  # a price above this is a typing mistake
MAX_STOCK = 100_000
MAX_NAME = 64
MAX_TITLE = 100
MAX_GIVES = 500
MAX_NOTE = 200
# roles that manage the offers of every merchant in their part of the tree; a merchant clerk manages only their own
OFFER_ADMIN_ROLES = ("community_admin", "district_admin")


@dataclass(frozen=True)
class Window:
    starts_on: date
    ends_on: date  # inclusive


@dataclass(frozen=True)
class ClerkGrant:
    """A role grant as offer management needs it: the role, where, and (for a clerk) which merchant account."""

    role: str
    node_path: str
    merchant_account_id: int | None = None


# --- shop goods ------------------------------------------------------------------------------------------

def check_quantity(quantity: object) -> str | None:
    """None when `quantity` can be redeemed in one scan, else the reason code."""
    if type(quantity) is not int or not 1 <= quantity <= MAX_QUANTITY:
        return "bad_quantity"
    return None


def goods_price(points_each: int, quantity: int) -> int:
    return points_each * quantity


def check_goods(name: str, points: int | None, stock: int | None) -> str:
    """New goods from a staff form; returns the cleaned name."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("name_required", field="name")
    if len(name) > MAX_NAME:
        raise InvalidInput("name_too_long", field="name", max=MAX_NAME)
    check_points(points)
    if type(stock) is not int or not 0 <= stock <= MAX_STOCK:
        raise InvalidInput("bad_stock", field="stock", max=MAX_STOCK)
    return name


def check_points(points: int | None) -> None:
    if type(points) is not int or not 1 <= points <= MAX_POINTS:
        raise InvalidInput("bad_price", field="points", max=MAX_POINTS)


def check_restock(quantity: int | None) -> None:
    if type(quantity) is not int or not 1 <= quantity <= MAX_STOCK:
        raise InvalidInput("bad_restock", field="quantity", max=MAX_STOCK)


# --- redemption windows (一季一兑换) -----------------------------------------------------------------------

def window_open(windows: Iterable[Window], day: date) -> bool:
    """A community without windows redeems every day; one with windows only inside one of them."""
    windows = list(windows)
    return not windows or any(w.starts_on <= day <= w.ends_on for w in windows)


def current_window(windows: Iterable[Window], day: date) -> Window | None:
    """The window `day` falls in (the one ending last, when they overlap)."""
    inside = [w for w in windows if w.starts_on <= day <= w.ends_on]
    return max(inside, key=lambda w: w.ends_on) if inside else None


def next_window(windows: Iterable[Window], day: date) -> Window | None:
    later = [w for w in windows if w.starts_on > day]
    return min(later, key=lambda w: w.starts_on) if later else None


def closed_until(windows: Iterable[Window], day: date) -> dict | None:
    """None when the shop redeems on `day`; else the window to tell the holder about (the next one, or the last
    one when none is planned), as the refusal's parameters."""
    windows = list(windows)
    if window_open(windows, day):
        return None
    shown = next_window(windows, day) or max(windows, key=lambda w: w.ends_on)
    return {"opens": shown.starts_on.isoformat(), "closes": shown.ends_on.isoformat()}


def check_window(starts_on: date | None, ends_on: date | None, note: str) -> str:
    """A new window from a staff form; returns the cleaned note."""
    if starts_on is None or ends_on is None:
        raise InvalidInput("window_dates", field="starts_on")
    if ends_on < starts_on:
        raise InvalidInput("window_dates", field="ends_on")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise InvalidInput("text_too_long", field="note", max=MAX_NOTE)
    return note


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def first_two_weeks_of_quarter(day: date) -> Window:
    start = quarter_start(day)
    return Window(start, start + timedelta(days=13))


def next_quarter(day: date) -> date:
    start = quarter_start(day)
    return date(start.year + 1, 1, 1) if start.month == 10 else date(start.year, start.month + 3, 1)


# --- merchant offers -------------------------------------------------------------------------------------

def offer_problem(active: bool, valid_from: date, valid_to: date, day: date) -> str | None:
    """None when the offer may be redeemed on `day`, else the reason code."""
    if not active or not valid_from <= day <= valid_to:
        return "offer_expired"
    return None


def limit_problem(per_person_limit: int | None, used_by_person: int, total_limit: int | None,
                  redeemed: int) -> tuple[str, dict] | None:
    """None when one more redemption fits both limits, else (reason code, its parameters)."""
    if total_limit is not None and redeemed >= total_limit:
        return "offer_limit_reached", {"limit": total_limit}
    if per_person_limit is not None and used_by_person >= per_person_limit:
        return "person_limit_reached", {"limit": per_person_limit}
    return None


def check_offer(title: str, gives: str, points: int | None, per_person_limit: int | None, total_limit: int | None,
                valid_from: date | None, valid_to: date | None) -> tuple[str, str]:
    """A new offer from a form; returns the cleaned title and what it gives."""
    title, gives = (title or "").strip(), (gives or "").strip()
    if not title:
        raise InvalidInput("offer_title_required", field="title")
    if len(title) > MAX_TITLE:
        raise InvalidInput("name_too_long", field="title", max=MAX_TITLE)
    if not gives:
        raise InvalidInput("gives_required", field="gives")
    if len(gives) > MAX_GIVES:
        raise InvalidInput("text_too_long", field="gives", max=MAX_GIVES)
    check_points(points)
    for field, limit in (("per_person_limit", per_person_limit), ("total_limit", total_limit)):
        if limit is not None and (type(limit) is not int or not 1 <= limit <= MAX_STOCK):
            raise InvalidInput("bad_limit", field=field, max=MAX_STOCK)
    if valid_from is None or valid_to is None:
        raise InvalidInput("offer_dates", field="valid_from")
    if valid_to < valid_from:
        raise InvalidInput("offer_dates", field="valid_to")
    return title, gives


def may_manage_offers(grants: Iterable[ClerkGrant], merchant_account_id: int, merchant_path: str) -> bool:
    """Community and district admins manage every merchant below their grant; a merchant clerk only the
    merchant account their grant names."""
    for g in grants:
        if not merchant_path.startswith(g.node_path):
            continue
        if g.role in OFFER_ADMIN_ROLES:
            return True
        if g.role == "merchant_clerk" and g.merchant_account_id == merchant_account_id:
            return True
    return False


# --- the merchant statement ------------------------------------------------------------------------------

@dataclass(frozen=True)
class MonthTotal:
    month: str  # "2026-11"
    count: int  # redemptions kept: a reversal (an undo, a staff correction) takes one back
    points: int  # net points received


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def parse_month(text: str | None) -> str | None:
    """"2026-11" -> "2026-11"; anything else -> None."""
    if not text or len(text) != 7 or text[4] != "-":
        return None
    year, month = text[:4], text[5:]
    if not (year.isdigit() and month.isdigit() and 1 <= int(month) <= 12):
        return None
    return text


def month_totals(lines: Iterable[tuple[date, str, int]]) -> list[MonthTotal]:
    """(local day, transaction kind, points) -> per month, newest first. Reversals count against their month,
    so the totals are what the merchant keeps."""
    count: dict[str, int] = {}
    points: dict[str, int] = {}
    for day, kind, amount in lines:
        month = month_of(day)
        count[month] = count.get(month, 0) + (-1 if kind == "reversal" else 1)
        points[month] = points.get(month, 0) + amount
    return [MonthTotal(m, count[m], points[m]) for m in sorted(points, reverse=True)]
