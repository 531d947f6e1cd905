from piccolo.columns import ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account
from backend.community.tables import Node
from backend.people.tables import User


class StandingsSettings(Table, tablename="standings_settings"):
    """One row per community; a community without one uses the defaults in rules.py."""

    community = ForeignKey(Node, unique=True)
    # lowest average monthly score for 2, 3, 4 and 5 stars, e.g. "20,40,60,80"
    star_thresholds = Varchar(length=64, default="20,40,60,80")
    red_flag_count = Integer(default=2)  # red-flag grids chosen per quarter
    shortlist_size = Integer(default=10)  # award candidates per category
    # the public screen's address carries this; None: the screen is switched off
    screen_token = Varchar(length=64, null=True, default=None)
    updated_by = ForeignKey(User, null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow())


class GridSelection(Table, tablename="standings_grid_selection"):
    """A quarter's red-flag grid or excellent grid worker, as decided by staff from the computed ranking."""

    community = ForeignKey(Node, index=True)
    quarter = Varchar(length=8)  # 2026-Q3
    kind = Varchar(length=16)  # red_flag | grid_worker
    grid = ForeignKey(Node)
    worker = ForeignKey(User, null=True, default=None)
    rank = Integer()
    per_resident = Integer()  # points per resident x 100, frozen at the decision
    decided_by = ForeignKey(User, null=True, default=None)
    decided_at = Timestamptz(default=TimestamptzNow())


class AwardCandidate(Table, tablename="standings_award"):
    """One person or organisation on a year's shortlist, and what the committee made of it."""

    community = ForeignKey(Node, index=True)
    year = Integer()
    category = Varchar(length=16)  # points_star | watch_star
    account = ForeignKey(Account)
    points = Integer()  # what put them on the shortlist, frozen when it was drawn up
    rank = Integer()
    state = Varchar(length=16, default="shortlisted")  # shortlisted | nominated | awarded | not_awarded
    note = Text(default="")
    nominated_by = ForeignKey(User, null=True, default=None)
    nominated_at = Timestamptz(null=True, default=None)
    decided_by = ForeignKey(User, null=True, default=None)
    decided_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class PeriodPoints(Table, tablename="standings_points"):
    """Points a person or organisation earned (a merchant: accepted in redemptions) in a community in a local
    month, quarter and year (three rows), unique per (community, account, period). Kept from the ledger by
    standings/rollup.py; derived data, rebuilt from the ledger at will."""

    community = Integer()
    account = Integer()
    period = Varchar(length=7)  # 2026-07 | 2026-Q3 | 2026 (rules.Period.key)
    points = Integer(default=0)
    entries = Integer(default=0)  # transactions counted (awards, redemptions), not their reversals



class PendingPosting(Table, tablename="standings_pending"):
    """A ledger posting not yet added into PeriodPoints: noted by a database trigger as the posting is written,
    taken by the next reader of the standings (rollup.catch_up)."""

    posting = Integer()
