from piccolo.columns import UUID, Boolean, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account
from backend.community.tables import Node
from backend.ledger.tables import LedgerTransaction
from backend.people.tables import Person, User


class Goods(Table, tablename="shop_goods"):
    """What a community's points shop (积分超市) hands out for points."""

    community = ForeignKey(Node, index=True)
    name = Varchar(length=64)
    points = Integer()  # the price of one
    # moved only by conditional UPDATEs (`stock >= q`), so two tills can never take the last one twice
    stock = Integer(default=0)
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class Offer(Table, tablename="merchant_offer"):
    """What an alliance merchant (商居联盟) gives for points: a discount, goods or a service."""

    merchant = ForeignKey(Account, index=True)  # the merchant's account, which receives the points
    community = ForeignKey(Node, index=True)
    title = Varchar(length=100)
    gives = Text()  # what the holder gets, in the merchant's words
    points = Integer()
    per_person_limit = Integer(null=True, default=None)  # None: no limit
    total_limit = Integer(null=True, default=None)  # None: no limit
    # accepted and not undone; a guarded UPDATE (`redeemed_count < total_limit`) keeps the total limit under concurrency
    redeemed_count = Integer(default=0)
    valid_from = Date()
    valid_to = Date()
    active = Boolean(default=True)
    created_by = ForeignKey(User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())


class OfferRedemption(Table, tablename="offer_redemption"):
    """One accepted offer redemption: what the per-person limit counts."""

    offer = ForeignKey(Offer, index=True)
    account = ForeignKey(Account, index=True)
    # counted per person, so a resident with a red and a green account cannot use the limit twice
    person = ForeignKey(Person, null=True, index=True)
    scan_id = UUID(unique=True)
    txn = ForeignKey(LedgerTransaction, null=True)
    points = Integer()
    redeemed_at = Timestamptz()
    undone = Boolean(default=False)


class RedemptionWindow(Table, tablename="redemption_window"):
    """When a community has windows (一季一兑换), its shop redeems only inside one of them."""

    community = ForeignKey(Node, index=True)
    starts_on = Date()
    ends_on = Date()  # inclusive
    note = Varchar(length=200, default="")
    created_by = ForeignKey(User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
