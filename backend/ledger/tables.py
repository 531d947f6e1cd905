from piccolo.columns import ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account
from backend.community.tables import Node
from backend.people.tables import User


class LedgerTransaction(Table, tablename="ledger_transaction"):
    """Never updated or deleted: a mistake is corrected by a reversing transaction."""

    kind = Varchar(length=24)  # award | deduction | redemption | reversal | opening | ...
    memo = Text()  # why, in the words of the person who recorded it
    actor = ForeignKey(User, null=True)  # who recorded or approved it
    source_type = Varchar(length=24, default="manual")  # manual | import | demo | scan | claim | redemption ...
    source_ref = Varchar(length=64, null=True, default=None)
    source_label = Varchar(length=200, null=True, default=None)  # e.g. catalogue item and revision
    idempotency_key = Varchar(length=100, unique=True)
    community = ForeignKey(Node)  # indexed as the lead of (community, occurred_at, kind, reverses): migrations
    occurred_at = Timestamptz()  # when the deed happened
    recorded_at = Timestamptz(default=TimestamptzNow())
    # unique: a transaction is reversed at most once, even under concurrent requests (on PostgreSQL a partial
    # index, without the NULLs: see the 21:00 migration)
    reverses = ForeignKey("self", null=True, unique=True)


class Posting(Table, tablename="ledger_posting"):
    txn = ForeignKey(LedgerTransaction)  # indexed as the lead of (txn, account, amount): migrations
    account = ForeignKey(Account, index=True)
    amount = Integer()
