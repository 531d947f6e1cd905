from piccolo.columns import UUID, Boolean, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account
from backend.catalog.tables import Item
from backend.community.tables import Node
from backend.ledger.tables import LedgerTransaction
from backend.people.tables import Person, User


class Event(Table, tablename="event"):
    """A community activity volunteers check in and out of. Points come from exactly one rule:
    `points_per_hour` (volunteer hours -> points) or a catalogue `item` (a fixed award for attending)."""

    community = ForeignKey(Node, index=True)
    title = Varchar(length=100)
    place = Varchar(length=100)
    starts_at = Timestamptz()
    ends_at = Timestamptz(index=True)
    capacity = Integer(null=True, default=None)  # None: unlimited
    item = ForeignKey(Item, null=True, default=None)
    points_per_hour = Integer(null=True, default=None)
    created_by = ForeignKey(User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
    cancelled = Boolean(default=False)


class Signup(Table, tablename="event_signup"):
    """A resident said they will come. Unique per event and person (an index in the migration)."""

    event = ForeignKey(Event, index=True)
    person = ForeignKey(Person, index=True)
    created_at = Timestamptz(default=TimestamptzNow())


class Attendance(Table, tablename="event_attendance"):
    """One stay at an event, from a check-in scan to a check-out scan (or the automatic one at the end).
    At most one open stay per event and account (a partial unique index in the migration)."""

    event = ForeignKey(Event, index=True)
    account = ForeignKey(Account, index=True)  # the points account of the card scanned
    person = ForeignKey(Person, null=True, index=True)  # None for an organisation's card
    checked_in_at = Timestamptz()
    checked_out_at = Timestamptz(null=True, default=None)
    auto_checked_out = Boolean(default=False)
    minutes = Integer(null=True, default=None)
    points = Integer(default=0)
    checkin_scan = UUID(null=True, default=None)
    txn = ForeignKey(LedgerTransaction, null=True, default=None)
