from piccolo.columns import Boolean, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account
from backend.catalog.tables import Item
from backend.community.tables import Node
from backend.ledger.tables import LedgerTransaction
from backend.people.tables import Person, User


class Claim(Table, tablename="claim"):
    """A deed a resident reports for a catalogue item, waiting for the committee's review.
    States: pending -> (approved_once ->) approved | rejected; a claim filed on someone's behalf waits for them to
    confirm it first (`needs_confirmation` until `confirmed_at`), or ends `declined`."""

    community = ForeignKey(Node, index=True)
    item = ForeignKey(Item)
    person = ForeignKey(Person, index=True)  # who did the deed and earns the points
    account = ForeignKey(Account)  # the account the points go to
    submitted_by = ForeignKey(User)  # the resident, or the building lead who filed it for them
    deed_date = Date()
    description = Text()
    witnesses = Varchar(length=200, default="")
    photo = Varchar(length=64, null=True, default=None)  # a random file name under the upload directory
    state = Varchar(length=16, default="pending", index=True)
    needs_confirmation = Boolean(default=False)
    confirmed_at = Timestamptz(null=True, default=None)
    submitted_at = Timestamptz(default=TimestamptzNow())
    first_reviewer = ForeignKey(User, null=True, default=None)  # the first of two approvals a large claim needs
    first_reviewed_at = Timestamptz(null=True, default=None)
    reviewer = ForeignKey(User, null=True, default=None)  # who decided: the final approver, or who rejected
    reviewed_at = Timestamptz(null=True, default=None)
    reason = Text(default="")  # why it was rejected (or the approver's note)
    points = Integer(null=True, default=None)  # the item's value on the deed's day, set when approved
    txn = ForeignKey(LedgerTransaction, null=True, default=None)
    # made by the form, so a double tap on "submit" files one claim
    submission_key = Varchar(length=64, unique=True)
