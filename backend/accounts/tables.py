from piccolo.columns import Boolean, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.community.tables import Node
from backend.people.tables import Person


class Account(Table, tablename="points_account"):
    kind = Varchar(length=16)  # person | organisation | merchant | issuer | shop
    colour = Varchar(length=8, null=True, default=None)  # red | blue | green, for person accounts
    holder = ForeignKey(Person, null=True, index=True)
    name = Varchar(length=100)
    community = ForeignKey(Node, index=True)
    # cache of the sum of this account's postings, kept in the same transaction; `linli ledger verify` proves it
    balance = Integer(default=0)
    # only an issuing account creates points, so only it runs below zero
    may_go_negative = Boolean(default=False)
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())
