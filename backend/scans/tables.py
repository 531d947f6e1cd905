from piccolo.columns import JSON, UUID, Boolean, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account
from backend.ledger.tables import LedgerTransaction
from backend.people.tables import User
from backend.stations.tables import Device, Station


class Scan(Table, tablename="scan"):
    """One scan as the device made it. The first answer is kept so a replay gets exactly the same one."""

    scan_id = UUID(unique=True)  # made on the device
    device = ForeignKey(Device, index=True)
    station = ForeignKey(Station, index=True)
    mode = Varchar(length=16)
    card_pk = Integer(null=True, default=None, index=True)
    account = ForeignKey(Account, null=True, index=True)
    scanned_at = Timestamptz()
    received_at = Timestamptz(default=TimestamptzNow())
    offline = Boolean(default=False)
    accepted = Boolean()
    reason = Varchar(length=32)  # "ok" or a stable refusal code
    points = Integer(default=0)
    details = JSON(default={})
    answer = JSON(default={})
    txn = ForeignKey(LedgerTransaction, null=True)
    undone_at = Timestamptz(null=True, default=None)
    flagged = Boolean(default=False)
    flags = JSON(default=[])  # why it is flagged: implausible_time, overdraft, revoked_card …
    # the moment it was judged at, in server time: scanned_at, or for an offline scan corrected by the device's clock
    # offset (backend/scans/offline.py); None for scans stored before this was kept
    judged_at = Timestamptz(null=True, default=None)


class ScanResolution(Table, tablename="scan_resolution"):
    """How staff settled a flagged scan (backend/scans/flagged.py): accepted as is, or reversed. One per scan;
    a reversal is a ledger transaction of its own, never an edit."""

    scan = ForeignKey(Scan, unique=True)
    action = Varchar(length=16)  # accept | reverse
    note = Varchar(length=500)
    resolved_by = ForeignKey(User, null=True)
    resolved_at = Timestamptz()
    txn = ForeignKey(LedgerTransaction, null=True)  # the reversal
