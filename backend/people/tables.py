from piccolo.columns import Boolean, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.community.tables import Node


class Person(Table, tablename="person"):
    name = Varchar(length=64)
    phone = Varchar(length=20, null=True)
    # the unit (or, failing that, the community) they live in
    home = ForeignKey(Node)
    community = ForeignKey(Node, index=True)
    is_party_member = Boolean(default=False)
    is_building_lead = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())


class User(Table, tablename="app_user"):
    username = Varchar(length=64, unique=True)
    password_hash = Varchar(length=200)
    display_name = Varchar(length=64)
    person = ForeignKey(Person, null=True)
    language = Varchar(length=8, null=True)
    active = Boolean(default=True)
    failed_logins = Integer(default=0)
    locked_until = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class RoleGrant(Table, tablename="role_grant"):
    """A staff role on a node covers that node and everything below it."""

    user = ForeignKey(User, index=True)
    role = Varchar(length=24)
    node = ForeignKey(Node)
    # merchant clerks act for one merchant account
    merchant_account_id = Integer(null=True, default=None)
