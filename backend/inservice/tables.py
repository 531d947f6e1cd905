from piccolo.columns import Boolean, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.catalog.tables import Item
from backend.claims.tables import Claim
from backend.community.tables import Node
from backend.ledger.tables import LedgerTransaction
from backend.people.tables import Person, User


class Member(Table, tablename="inservice_member"):
    """A party member employed elsewhere (在职党员) registered to check in at their home community each month."""

    person = ForeignKey(Person, unique=True)
    community = ForeignKey(Node, index=True)  # the home community they report to
    employer = Varchar(length=100)  # 工作单位: the yearly report goes back to it
    branch = Varchar(length=100, default="")  # the party branch their membership sits in
    since = Date()  # registered from (报到登记)
    active = Boolean(default=True)
    registered_by = ForeignKey(User, null=True, default=None)
    registered_at = Timestamptz(default=TimestamptzNow())


class Project(Table, tablename="inservice_project"):
    """A community project a member can take on when checking in (领办项目); staff keep the list."""

    community = ForeignKey(Node, index=True)
    name = Varchar(length=100)
    description = Text(default="")
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class Setting(Table, tablename="inservice_setting"):
    """A community's check-in rules: how many last days of the month count as the check-in week, whether a
    check-in outside them is refused (strict) or only marked, and the catalogue item a check-in earns."""

    community = ForeignKey(Node, unique=True)
    window_days = Integer(default=7)
    strict = Boolean(default=False)
    award_item = ForeignKey(Item, null=True, default=None)


class CheckIn(Table, tablename="inservice_checkin"):
    """One member's check-in for one month, by a card scan at a station or by a claim from the phone."""

    member = ForeignKey(Member, index=True)
    person = ForeignKey(Person, index=True)
    community = ForeignKey(Node, index=True)
    month = Varchar(length=7, index=True)  # "2026-11"
    # "<member id>:<month>", unique: one check-in per member per month, on both engines and under concurrency
    member_month = Varchar(length=24, unique=True)
    via = Varchar(length=8)  # station | claim
    day = Date()  # the day the member came, in the community's time zone
    checked_in_at = Timestamptz()
    in_window = Boolean(default=True)  # on one of the last days of the month the community counts
    late = Boolean(default=False)  # claimed after the month had ended (within the grace days)
    project = ForeignKey(Project, null=True, default=None)
    project_text = Varchar(length=200, default="")  # a project in the member's own words (claims)
    scan_id = Varchar(length=36, null=True, default=None)
    txn = ForeignKey(LedgerTransaction, null=True, default=None)
    points = Integer(default=0)
    claim = ForeignKey(Claim, null=True, default=None)  # the points claim a phone check-in filed for review
    note = Varchar(length=200, default="")  # why no points were given (no item, cap reached, colour)
