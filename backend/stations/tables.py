from piccolo.columns import JSON, Boolean, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account
from backend.community.tables import Node
from backend.people.tables import User


class Station(Table, tablename="station"):
    name = Varchar(length=100)
    community = ForeignKey(Node, index=True)
    kind = Varchar(length=16)  # centre | shop | event | merchant
    # what devices of this station may do: checkin, award, redeem_shop, redeem_offer, issue_cards
    modes = JSON(default=[])
    # catalogue items an award scan may use here (empty = none)
    award_items = JSON(default=[])
    # where redeemed points go: the points-shop account or the merchant's account
    receiving_account = ForeignKey(Account, null=True)
    # redemptions of at least this many points ask for the holder's PIN (0 = always, null = never)
    pin_threshold = Integer(null=True, default=50)
    # per-card spending allowed while offline (used by offline stations)
    offline_limit = Integer(default=0)
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class Device(Table, tablename="station_device"):
    station = ForeignKey(Station, index=True)
    name = Varchar(length=64)
    # sha256 of the device secret: a leaked database does not leak credentials
    credential_hash = Varchar(length=64, unique=True)
    paired_at = Timestamptz(default=TimestamptzNow())
    paired_by = ForeignKey(User, null=True)
    revoked_at = Timestamptz(null=True, default=None)
    last_seen_at = Timestamptz(null=True, default=None)
    clock_offset_ms = Integer(null=True, default=None)


class PairingCode(Table, tablename="station_pairing_code"):
    station = ForeignKey(Station, index=True)
    code_hash = Varchar(length=64, unique=True)
    device_name = Varchar(length=64)
    created_by = ForeignKey(User, null=True)
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
