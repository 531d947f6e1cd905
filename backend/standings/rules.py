"""Pure standings decisions: periods, ranks, stars, red-flag grids, award states. No I/O."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from backend.errors import Conflict, InvalidInput
# "earned" is the ledger's EARNING_KINDS, minus reversals of those (counted when the reversal happened, like the ledger)
from backend.ledger.rules import EARNING_KINDS  # noqa: F401 — one definition for notices, boards and statements
# accounts that appear on boards (the issuer and the shop only move points around)
BOARD_KINDS = ("person", "organisation")
PERIOD_KINDS = ("month", "quarter", "year")
COLOURS = ("red", "blue", "green")
DEFAULT_STAR_THRESHOLDS = (20, 40, 60, 80)
AWARD_CATEGORIES = ("points_star", "watch_star")  # 积分之星: all earning; 守望之星: volunteer hours
AWARD_STATES = ("shortlisted", "nominated", "awarded", "not_awarded")
AWARD_MOVES = {"nominate": ("shortlisted", "nominated"), "award": ("nominated", "awarded"),
               "not_award": ("nominated", "not_awarded"), "withdraw": ("nominated", "shortlisted")}
MAX_RED_FLAG = 20
MAX_SHORTLIST = 50


@dataclass(frozen=True)
class Period:
    kind: str  # month | quarter | year
    year: int
    number: int  # month 1-12, quarter 1-4, 1 for a year

    @property
    def key(self) -> str:
        if self.kind == "month":
            return f"{self.year}-{self.number:02d}"
        if self.kind == "quarter":
            return f"{self.year}-Q{self.number}"
        return str(self.year)

    def months(self) -> list[Period]:
        first = {"month": self.number, "quarter": 3 * self.number - 2, "year": 1}[self.kind]
        count = {"month": 1, "quarter": 3, "year": 12}[self.kind]
        return [Period("month", self.year, m) for m in range(first, first + count)]

    def first_day(self) -> date:
        return date(self.year, self.months()[0].number, 1)

    def after_last_day(self) -> date:
        last = self.months()[-1].number
        return date(self.year + 1, 1, 1) if last == 12 else date(self.year, last + 1, 1)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) in UTC: local midnight of the first day to local midnight after the last."""
        start = datetime.combine(self.first_day(), datetime.min.time(), zone)
        end = datetime.combine(self.after_last_day(), datetime.min.time(), zone)
        return start.astimezone(timezone.utc), end.astimezone(timezone.utc)

    def previous(self) -> Period:
        step = {"month": 12, "quarter": 4, "year": 1}[self.kind]
        if self.kind == "year":
            return Period("year", self.year - 1, 1)
        return Period(self.kind, self.year - 1, step) if self.number == 1 else Period(self.kind, self.year, self.number - 1)


def period_of(kind: str, day: date) -> Period:
    if kind == "month":
        return Period("month", day.year, day.month)
    if kind == "quarter":
        return Period("quarter", day.year, (day.month - 1) // 3 + 1)
    if kind == "year":
        return Period("year", day.year, 1)
    raise InvalidInput("bad_period", field="period")


def parse_period(text: str) -> Period:
    """2026-10 (month), 2026-Q4 (quarter), 2026 (year)."""
    text = (text or "").strip().upper()
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
        if 1 <= int(m[2]) <= 12:
            return Period("month", int(m[1]), int(m[2]))
    elif m := re.fullmatch(r"(\d{4})-Q([1-4])", text):
        return Period("quarter", int(m[1]), int(m[2]))
    elif m := re.fullmatch(r"(\d{4})", text):
        return Period("year", int(m[1]), 1)
    raise InvalidInput("bad_period", field="period")


def competition_ranks(values: list[int]) -> list[int]:
    """1, 2, 2, 4: equal points share a rank (values already sorted high to low)."""
    ranks: list[int] = []
    for i, value in enumerate(values):
        ranks.append(ranks[-1] if i and value == values[i - 1] else i + 1)
    return ranks


def parse_thresholds(text: str) -> tuple[int, int, int, int]:
    """"20,40,60,80": the lowest average monthly score for 2, 3, 4 and 5 stars, rising."""
    try:
        values = tuple(int(part) for part in re.split(r"[,，\s]+", (text or "").strip()) if part)
    except ValueError:
        raise InvalidInput("bad_thresholds", field="star_thresholds") from None
    if len(values) != 4 or any(v < 0 for v in values) or any(b <= a for a, b in zip(values, values[1:])):
        raise InvalidInput("bad_thresholds", field="star_thresholds")
    return values  # type: ignore[return-value]


def stars(monthly_scores: list[int], thresholds: tuple[int, ...] = DEFAULT_STAR_THRESHOLDS) -> int:
    """一季一评星: the quarter's average monthly score against the thresholds; everyone has at least one star.
    A month with no points counts as zero (missing scores are passed as 0)."""
    average = sum(monthly_scores) / len(monthly_scores) if monthly_scores else 0
    return 1 + sum(1 for t in thresholds if average >= t)


@dataclass(frozen=True)
class GridScore:
    grid_id: int
    name: str
    residents: int
    households: int
    earned: int

    @property
    def per_resident(self) -> float:
        return self.earned / self.residents if self.residents else 0.0

    @property
    def per_household(self) -> float:
        return self.earned / self.households if self.households else 0.0


def rank_grids(grids: list[GridScore]) -> list[GridScore]:
    """By points per resident (the seeds' 人均积分), then total, then name; empty grids last."""
    return sorted(grids, key=lambda g: (g.residents == 0, -g.per_resident, -g.earned, g.name))


def red_flag_grids(grids: list[GridScore], count: int) -> list[GridScore]:
    """The quarter's red-flag grids: the top `count` by points per resident; a grid with no residents or no points
    is never chosen."""
    if not 1 <= count <= MAX_RED_FLAG:
        raise InvalidInput("bad_count", field="red_flag_count", max=MAX_RED_FLAG)
    return [g for g in rank_grids(grids) if g.residents and g.earned > 0][:count]


def check_award_move(state: str, move: str) -> str:
    if move not in AWARD_MOVES:
        raise InvalidInput("bad_award_move")
    before, after = AWARD_MOVES[move]
    if state != before:
        raise Conflict("award_state", state=state)
    return after
