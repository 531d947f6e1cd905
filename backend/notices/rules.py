"""Pure decisions of the monthly public notice (一月一公示): which months may close, what counts as earned, who may
object and until when, and the fingerprint chain. No I/O.

## What a notice covers
A notice of month M for community C covers every ledger transaction of C that happened (`occurred_at`, in the
community's time zone) before the end of M and had been recorded when the month was closed (`id <= last_txn_id`),
except those the previous notice of C already covered (for C's first notice: except those before M began). So a
late arrival (an offline scan synced after closing, with a time inside M) is not lost and does not change the closed
notice: it falls into the next notice.

## Earned
A line's `earned` is what the account earned in the transactions the notice covers; `to_date` is what it earned in
every covered transaction so far. Both are independent of the balance: spending never lowers them.
- credits from awards (catalogue items, claims, wishes, check-ins) and volunteer hours count (`award`, `hours`);
- a reversal of one of those counts, negative, in the notice that covers the reversal (a closed month never
  changes) — the same definition as the leaderboards (backend/standings/rules.py), so the notice and the public
  screen agree;
- an opening balance (imported from the paper ledger) counts to date, but not as earned in any one month;
- redemptions, deductions, transfers, and reversals of them do not count.
Only person and organisation accounts have lines; issuers, shops and merchants do not earn.

## Fingerprint
Each covered transaction is written as one canonical line (UTF-8, ASCII only):

    <id>|<kind>|<occurred_at>|<account>:<amount>,<account>:<amount>,...\\n

- `id`: the transaction's id in decimal; lines are in ascending id order;
- `occurred_at`: UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ` (always six fraction digits);
- postings sorted by account id then amount, amounts signed decimal (`12:-5`).

fingerprint = sha256(previous_fingerprint + "\\n" + community + "\\n" + month + "\\n" + canonical lines), hex.
The first notice of a community has previous_fingerprint = "" (empty). Anyone holding the exports of two notices
and the ledger rows can recompute it; `linli ledger verify` does so for every notice.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterable
from zoneinfo import ZoneInfo

from backend.errors import Conflict, InvalidInput, PermissionDenied
from backend.ledger.rules import EARNING_KINDS  # noqa: F401 — the same "earned" as the boards

STATES = ("draft", "published", "final")
OBJECTION_STATES = ("open", "upheld", "rejected")
# the seeds publish for "supervision by the masses" without naming a period; a week is what the issue suggests
DEFAULT_OBJECTION_DAYS = 7
MAX_OBJECTION_DAYS = 31
MAX_REASON = 500
MAX_CORRECTION = 10_000
TO_DATE_ONLY_KINDS = ("opening",)
LINE_ACCOUNT_KINDS = ("person", "organisation")


# --- months ---------------------------------------------------------------------------------------------------

def parse_month(text: str | None) -> str:
    text = (text or "").strip()
    if len(text) != 7 or text[4] != "-" or not (text[:4].isdigit() and text[5:].isdigit()) or not 1 <= int(text[5:]) <= 12:
        raise InvalidInput("bad_month", field="month")
    return text


def month_start(month: str) -> date:
    return date(int(month[:4]), int(month[5:]), 1)


def next_month(month: str) -> str:
    start = month_start(month)
    after = date(start.year + 1, 1, 1) if start.month == 12 else date(start.year, start.month + 1, 1)
    return f"{after.year:04d}-{after.month:02d}"


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the month in the community's time zone, as aware datetimes in UTC."""
    start = month_start(month)
    end = month_start(next_month(month))
    return (datetime(start.year, start.month, 1, tzinfo=tz).astimezone(timezone.utc),
            datetime(end.year, end.month, 1, tzinfo=tz).astimezone(timezone.utc))


def check_closable(month: str, now: datetime, tz: ZoneInfo, closed_months: Iterable[str]) -> None:
    """A month closes once it is over, once, and never behind a month already closed (the chain runs forwards)."""
    closed = list(closed_months)
    if month in closed:
        raise Conflict("month_already_closed", month=month)
    if month_bounds(month, tz)[1] > now:
        raise Conflict("month_still_open", month=month)
    if closed and month < max(closed):
        raise Conflict("month_before_last_notice", month=month, last=max(closed))


# --- states and objections ------------------------------------------------------------------------------------

def objection_days(value: int | None) -> int:
    days = DEFAULT_OBJECTION_DAYS if value is None else value
    if type(days) is not int or not 1 <= days <= MAX_OBJECTION_DAYS:
        raise InvalidInput("bad_objection_days", field="days", max=MAX_OBJECTION_DAYS)
    return days


def objection_window_end(published_at: datetime, days: int) -> datetime:
    return published_at + timedelta(days=days)


def check_publishable(state: str) -> None:
    if state != "draft":
        raise Conflict("notice_not_draft")


def may_object(state: str, objection_ends_at: datetime | None, now: datetime) -> bool:
    return state == "published" and objection_ends_at is not None and now < objection_ends_at


def check_objection(state: str, objection_ends_at: datetime | None, now: datetime, same_community: bool, reason: str) -> None:
    """Any resident of the community may object to any line: the seeds publish the notice "to accept the
    supervision of the masses" (广泛接受群众监督) — a neighbour who saw a deed, or saw none, is the point of it."""
    if not same_community:
        raise PermissionDenied("not_your_community")
    if not may_object(state, objection_ends_at, now):
        raise Conflict("objection_closed")
    if not reason.strip():
        raise InvalidInput("reason_required", field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput("reason_too_long", field="reason", max=MAX_REASON)


def check_resolution(objection_state: str, decision: str, note: str, points: int | None,
                     reverses: int | None = None) -> None:
    """An upheld objection may correct the points, the ledger's way: award what was missing (`points` > 0), or
    reverse the transaction that should not have been (`reverses`); never both, never an edit."""
    if objection_state != "open":
        raise Conflict("objection_already_resolved")
    if decision not in ("upheld", "rejected"):
        raise InvalidInput("bad_decision", field="decision")
    if not note.strip():
        raise InvalidInput("resolution_required", field="resolution")
    if len(note) > MAX_REASON:
        raise InvalidInput("reason_too_long", field="resolution", max=MAX_REASON)
    if points is not None or reverses is not None:
        if decision != "upheld":
            raise InvalidInput("correction_needs_upheld", field="points")
        if points is not None and reverses is not None:
            raise InvalidInput("one_correction", field="points")
    if points is not None and (type(points) is not int or not 0 < points <= MAX_CORRECTION):
        raise InvalidInput("bad_correction", field="points", max=MAX_CORRECTION)


def check_finalisable(state: str, objection_ends_at: datetime | None, now: datetime, open_objections: int) -> None:
    if state != "published":
        raise Conflict("notice_not_published")
    if objection_ends_at is not None and now < objection_ends_at:
        raise Conflict("objection_period_running", ends=objection_ends_at.isoformat())
    if open_objections:
        raise Conflict("objections_open", count=open_objections)


# --- the fingerprint -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CanonicalTransaction:
    id: int
    kind: str
    occurred_at: datetime
    postings: tuple[tuple[int, int], ...]  # (account id, amount)


def utc_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise InvalidInput("naive_time")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_line(txn: CanonicalTransaction) -> str:
    postings = ",".join(f"{account}:{amount}" for account, amount in sorted(txn.postings))
    return f"{txn.id}|{txn.kind}|{utc_text(txn.occurred_at)}|{postings}\n"


class Fingerprint:
    """sha256 fed incrementally, so a month of a million postings is never one string in memory."""

    def __init__(self, previous: str, community_id: int, month: str):
        self._hash = hashlib.sha256(f"{previous}\n{community_id}\n{month}\n".encode())
        self._last_id = 0
        self.count = 0

    def add(self, txn: CanonicalTransaction) -> None:
        if txn.id <= self._last_id:
            raise ValueError("transactions must come in ascending id order")
        self._last_id = txn.id
        self.count += 1
        self._hash.update(canonical_line(txn).encode())

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def fingerprint(previous: str, community_id: int, month: str, txns: Iterable[CanonicalTransaction]) -> str:
    chain = Fingerprint(previous, community_id, month)
    for txn in txns:
        chain.add(txn)
    return chain.hexdigest()


def short(fingerprint_hex: str) -> str:
    """How the printed notice groups the fingerprint so a person can read it aloud and compare."""
    return " ".join(fingerprint_hex[i:i + 8] for i in range(0, len(fingerprint_hex), 8))
