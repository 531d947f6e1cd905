from piccolo.columns import Boolean, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.catalog.tables import Item
from backend.community.tables import Node
from backend.ledger.tables import LedgerTransaction
from backend.people.tables import Person, User


class WishTeam(Table, tablename="volunteer_team"):
    """A volunteer team (志愿服务队) staff can dispatch a wish to; any member may carry it out."""

    community = ForeignKey(Node, index=True)
    name = Varchar(length=64)
    active = Boolean(default=True)


class WishTeamMember(Table, tablename="volunteer_team_member"):
    team = ForeignKey(WishTeam, index=True)
    person = ForeignKey(Person, index=True)


class Wish(Table, tablename="wish"):
    """A small need of a resident. States and the "2341" clocks: backend/wishes/rules.py."""

    community = ForeignKey(Node, index=True)
    home = ForeignKey(Node)  # the resident's home when posted: the grid filter of the dispatch board
    kind = Varchar(length=16, index=True)  # repair | visit | errand | companionship | other
    description = Text()
    for_person = ForeignKey(Person, index=True)  # the resident who needs help
    posted_by = ForeignKey(User)  # the resident, or staff posting for a resident without a smartphone
    posted_at = Timestamptz(default=TimestamptzNow())
    state = Varchar(length=16, default="posted", index=True)
    assignee = ForeignKey(Person, null=True, default=None, index=True)  # a volunteer...
    team = ForeignKey(WishTeam, null=True, default=None, index=True)  # ...or a team
    assigned_at = Timestamptz(null=True, default=None)
    completed_by = ForeignKey(Person, null=True, default=None)  # who did it: earns the points
    completed_at = Timestamptz(null=True, default=None)
    confirmed_at = Timestamptz(null=True, default=None)
    rating = Integer(null=True, default=None)  # 1–5, by the resident
    comment = Text(default="")
    points = Integer(null=True, default=None)  # posted to the helper on confirmation
    txn = ForeignKey(LedgerTransaction, null=True, default=None)
    # made by the form, so a double tap on "post" posts one wish
    submission_key = Varchar(length=64, unique=True)


class WishStep(Table, tablename="wish_step"):
    """The timeline: every step of a wish, by whom and when (the 2341 clocks are read from it)."""

    wish = ForeignKey(Wish, index=True)
    action = Varchar(length=16)  # post | take | dispatch | start | complete | confirm | reopen | cancel | acknowledge | reply
    actor = ForeignKey(User, null=True, default=None)
    at = Timestamptz(default=TimestamptzNow())
    from_state = Varchar(length=16, default="")
    to_state = Varchar(length=16, default="")
    note = Text(default="")  # a reply's words, the dispatch target, why no points were posted, ...


class WishKindItem(Table, tablename="wish_kind_item"):
    """The catalogue item a completed wish of this kind earns its helper, per community."""

    community = ForeignKey(Node, index=True)
    kind = Varchar(length=16)
    item = ForeignKey(Item)


class WorkCalendarDay(Table, tablename="wish_calendar_day"):
    """Exceptions to Monday–Friday for the 1-working-day clock: public holidays (working=False) and the weekend
    days worked instead (调休, working=True)."""

    day = Date(unique=True)
    working = Boolean(default=False)
    name = Varchar(length=32, default="")
