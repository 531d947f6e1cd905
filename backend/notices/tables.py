from piccolo.columns import ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account
from backend.community.tables import Node
from backend.ledger.tables import LedgerTransaction
from backend.people.tables import Person, User


class Notice(Table, tablename="notice"):
    """One community's month. States: draft (closed, frozen, not yet shown) -> published (objections open until
    `objection_ends_at`) -> final. Lines and fingerprint are fixed when staff close the month."""

    community = ForeignKey(Node, index=True)
    month = Varchar(length=7)  # "2026-10", in the community's time zone
    state = Varchar(length=12, default="draft", index=True)  # draft | published | final
    # the highest ledger transaction id the notice saw: a transaction recorded later (an offline scan synced late)
    # belongs to the next notice, so a closed notice never changes and its fingerprint stays checkable
    last_txn_id = Integer(default=0)
    txn_count = Integer(default=0)
    fingerprint = Varchar(length=64)
    previous = ForeignKey("self", null=True, default=None)
    previous_fingerprint = Varchar(length=64, default="")
    closed_by = ForeignKey(User, null=True, default=None)
    closed_at = Timestamptz(default=TimestamptzNow())
    published_by = ForeignKey(User, null=True, default=None)
    published_at = Timestamptz(null=True, default=None)
    objection_ends_at = Timestamptz(null=True, default=None)
    finalised_by = ForeignKey(User, null=True, default=None)
    finalised_at = Timestamptz(null=True, default=None)
    # "<community id>:<month>": closing the same month twice fails on this even under concurrency
    community_month = Varchar(length=32, unique=True)


class NoticeLine(Table, tablename="notice_line"):
    """Frozen when the month is closed; never edited (a correction is a ledger transaction in a later month)."""

    notice = ForeignKey(Notice, index=True)
    account = ForeignKey(Account, index=True)
    holder = ForeignKey(Person, null=True, default=None)
    name = Varchar(length=100)  # masked for a person, the organisation's own name for an organisation
    account_kind = Varchar(length=16)
    colour = Varchar(length=8, null=True, default=None)
    home_path = Varchar(length=255, default="")  # where the holder lived at closing (grid / building)
    earned = Integer(default=0)  # earned in the transactions this notice covers
    to_date = Integer(default=0)  # earned in every transaction up to this notice (balance-independent)
    rank = Integer(default=0)  # by `earned`, ties share a rank


class Objection(Table, tablename="notice_objection"):
    """A resident says a line is wrong. States: open -> upheld (maybe with a correcting ledger transaction) | rejected."""

    notice = ForeignKey(Notice, index=True)
    line = ForeignKey(NoticeLine, index=True)
    person = ForeignKey(Person)  # who objects
    raised_by = ForeignKey(User)
    reason = Text()
    state = Varchar(length=12, default="open", index=True)
    raised_at = Timestamptz(default=TimestamptzNow())
    resolved_by = ForeignKey(User, null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
    resolution = Text(default="")
    correction_txn = ForeignKey(LedgerTransaction, null=True, default=None)
    correction_points = Integer(null=True, default=None)  # + award, - deduction, None: no points moved
