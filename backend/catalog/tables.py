from piccolo.columns import JSON, Boolean, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account
from backend.community.tables import Node
from backend.ledger.tables import LedgerTransaction
from backend.people.tables import Person, User


class Category(Table, tablename="catalog_category"):
    community = ForeignKey(Node, index=True)
    name = Varchar(length=64)
    position = Integer(default=0)


class Item(Table, tablename="catalog_item"):
    category = ForeignKey(Category, index=True)
    name = Varchar(length=100)
    # account colours that may earn it; empty = everyone
    colours = JSON(default=[])
    cap_per_day = Integer(null=True, default=None)
    cap_per_month = Integer(null=True, default=None)
    cap_per_year = Integer(null=True, default=None)
    needs_review = Boolean(default=False)
    needs_evidence = Boolean(default=False)
    active = Boolean(default=True)


class RevisionSet(Table, tablename="catalog_revision_set"):
    """Revisions staff published together, with one effective date and one note ("本月调整7项")."""

    community = ForeignKey(Node, index=True)
    effective_from = Date()
    note = Text()
    created_by = ForeignKey(User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())


class ItemRevision(Table, tablename="catalog_item_revision"):
    """A value in force from `effective_from` until the next revision: an award uses the one of the deed's day."""

    item = ForeignKey(Item, index=True)
    points = Integer()
    effective_from = Date()
    note = Text(default="")
    created_by = ForeignKey(User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
    # None for an item's first value and for revisions made outside the editor
    revision_set = ForeignKey(RevisionSet, null=True, default=None)


class ItemAward(Table, tablename="catalog_award"):
    """One award of an item, however it was earned (an award scan, an approved claim), written in the same
    transaction as its ledger line: what the per-person caps count. A reversed ledger line frees its place."""

    item = ForeignKey(Item, index=True)
    account = ForeignKey(Account)
    person = ForeignKey(Person, null=True, index=True)  # None for an organisation's account
    day = Date()  # the day of the deed, in the community's time zone
    txn = ForeignKey(LedgerTransaction, unique=True)
    source_type = Varchar(length=24)  # scan | claim
