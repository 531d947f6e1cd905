from piccolo.columns import JSON, ForeignKey, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.community.tables import Node
from backend.people.tables import User


class AuditEntry(Table, tablename="audit_entry"):
    actor = ForeignKey(User, null=True, index=True)
    action = Varchar(length=48)
    target_type = Varchar(length=32)
    target_id = Varchar(length=64)
    community = ForeignKey(Node, null=True, index=True)
    before = JSON(null=True, default=None)
    after = JSON(null=True, default=None)
    at = Timestamptz(default=TimestamptzNow(), index=True)
